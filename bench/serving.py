"""Serving benchmarks on the full DR1: cutouts against Gammapy in-process (with
the event counts checked against an exact astropy selection), dlmeta and
cutouts from 16 concurrent clients, and a burst of heavy requests with a
dlmeta probe (heavy work must not stall light requests).

Called by bench/run.py with a running instance that has imported DR1; the
functions only need the instance's ``url`` and ``tap_url``.
"""
from __future__ import annotations

import concurrent.futures
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

#: The cutout of the latency comparison: ENERGY 1-10 TeV within 1 deg of
#: the pointing.
CUTOUT_ENERGY_TEV = (1.0, 10.0)
CUTOUT_RADIUS_DEG = 1.0


def _ms(seconds) -> dict:
    ms = np.asarray(seconds, dtype=float) * 1000
    if ms.size == 0:
        return {"n": 0}
    return {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "max_ms": round(float(ms.max()), 1)}


def fetch(url: str, timeout: float = 300) -> tuple[int, bytes, dict]:
    """(HTTP status, body, headers) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def dr1_datasets(tap_url: str) -> list[dict]:
    """obs_id, obs_publisher_did, access_url, s_ra, s_dec of every dataset."""
    query = urllib.parse.urlencode({
        "LANG": "ADQL", "REQUEST": "doQuery", "FORMAT": "csv",
        "QUERY": "SELECT obs_id, obs_publisher_did, access_url, s_ra, s_dec"
                 " FROM ivoa.obscore ORDER BY obs_id"})
    lines = fetch(f"{tap_url}/sync?{query}")[1].decode().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def local_path(dataset: dict, data_dir: Path) -> Path:
    """The file of a dataset (its accref is hess_dr/<collection>/<path
    below the data directory>)."""
    relative = urllib.parse.unquote(dataset["access_url"]).split("/getproduct/")[1]
    return data_dir / relative.split("/", 2)[2]


def exact_selection(path: Path, ra: float, dec: float, radius: float,
                    energy_tev: tuple[float, float]) -> int:
    """Events with lo <= ENERGY <= hi (TeV) and angular separation <= radius
    from (ra, dec): the count an exact cutout must return (astropy only)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    with fits.open(path) as hdus:
        events = hdus["EVENTS"]
        unit = u.Unit(events.columns["ENERGY"].unit or "TeV")
        energy = (np.asarray(events.data["ENERGY"], float) * unit).to_value(u.TeV)
        positions = SkyCoord(np.asarray(events.data["RA"], float) * u.deg,
                             np.asarray(events.data["DEC"], float) * u.deg)
    inside = positions.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg <= radius
    return int(np.sum(inside & (energy >= energy_tev[0]) & (energy <= energy_tev[1])))


def _cutout_url(dl: str, dataset: dict, **params) -> str:
    return f"{dl}/dlget?" + urllib.parse.urlencode({"ID": dataset["obs_publisher_did"], **params})


def _rows_of(body: bytes) -> int:
    import io
    from astropy.io import fits
    with fits.open(io.BytesIO(body)) as hdus:
        return len(hdus["EVENTS"].data)


def bench_cutout_latency(url: str, datasets: list[dict], data_dir: Path) -> list[dict]:
    """SODA cutout over HTTP against Gammapy reading and selecting the same
    events in-process (EventList.read + select_energy + select_region),
    measured alternately on every run; the cutout's event count is checked
    against :func:`exact_selection`."""
    from astropy import units as u
    from gammapy.data import EventList
    from regions import CircleSkyRegion
    from astropy.coordinates import SkyCoord

    dl = f"{url}/hess_dr/q/dl"
    lo, hi = CUTOUT_ENERGY_TEV
    server_s, local_s = [], []
    kept, exact, gammapy_kept, mismatches = 0, 0, 0, []
    fetch(_cutout_url(dl, datasets[0], ENERGY=f"{lo} {hi}"))  # warm-up
    EventList.read(local_path(datasets[0], data_dir))
    for dataset in datasets:
        ra, dec = float(dataset["s_ra"]), float(dataset["s_dec"])
        cutout_url = _cutout_url(dl, dataset, ENERGY=f"{lo} {hi}",
                                 CIRCLE=f"{ra} {dec} {CUTOUT_RADIUS_DEG}")
        start = time.perf_counter()
        status, body, _ = fetch(cutout_url)
        server_s.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"cutout of {dataset['obs_id']}: HTTP {status}: {body[:300]!r}")
        path = local_path(dataset, data_dir)
        start = time.perf_counter()
        events = EventList.read(path)
        region = CircleSkyRegion(SkyCoord(ra * u.deg, dec * u.deg), CUTOUT_RADIUS_DEG * u.deg)
        selected = events.select_energy([lo, hi] * u.TeV).select_region(region)
        local_s.append(time.perf_counter() - start)
        rows = _rows_of(body)
        expected = exact_selection(path, ra, dec, CUTOUT_RADIUS_DEG, (lo, hi))
        kept += rows
        exact += expected
        gammapy_kept += len(selected.table)
        if rows != expected:
            mismatches.append(dataset["obs_id"])
    server, local = _ms(server_s), _ms(local_s)
    return [
        {"what": f"SODA cutout over HTTP (ENERGY {lo:g}-{hi:g} TeV, {CUTOUT_RADIUS_DEG:g} deg"
                 f" circle around the pointing), {len(datasets)} DR1 runs",
         **server, "events_kept": kept, "exact_astropy_selection": exact,
         "counts_equal_exact": not mismatches, "runs_with_other_counts": mismatches},
        {"what": "same selection in-process: gammapy EventList.read + select_energy"
                 " + select_region", **local, "events_kept": gammapy_kept,
         "cutout_p50_over_gammapy_p50": round(server["p50_ms"] / local["p50_ms"], 2)},
    ]


def bench_mixed(url: str, datasets: list[dict], clients: int = 16,
                seconds: float = 60.0) -> list[dict]:
    """``clients`` concurrent clients for ``seconds``, each request a dlmeta
    or a cutout (ENERGY 1-10 TeV, 1.5 deg circle) of a random DR1 run."""
    dl = f"{url}/hess_dr/q/dl"
    latencies = {"dlmeta": [], "cutout": []}
    errors = {"dlmeta": 0, "cutout": 0}
    statuses: dict[int, int] = {}
    error_samples: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        while time.perf_counter() < stop_at:
            dataset = rng.choice(datasets)
            kind = "cutout" if rng.random() < 0.5 else "dlmeta"
            if kind == "dlmeta":
                request = f"{dl}/dlmeta?" + urllib.parse.urlencode(
                    {"ID": dataset["obs_publisher_did"]})
            else:
                request = _cutout_url(dl, dataset, ENERGY="1 10",
                                      CIRCLE=f"{dataset['s_ra']} {dataset['s_dec']} 1.5")
            start = time.perf_counter()
            try:
                status, body, _ = fetch(request, timeout=120)
            except OSError as exc:
                status, body = -1, str(exc).encode()
            elapsed = time.perf_counter() - start
            with lock:
                latencies[kind].append(elapsed)
                errors[kind] += status != 200
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200 and len(error_samples) < 5:  # what the server said
                    error_samples.append(f"{status} {kind} after {elapsed:.2f} s: "
                                         + _error_text(body))

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    duration = time.perf_counter() - started
    results = []
    for kind in ("dlmeta", "cutout"):
        results.append({"what": f"DR1 {kind}, {clients} concurrent clients (mixed dlmeta and"
                                f" cutouts), {seconds:g} s",
                        **_ms(latencies[kind]), "errors": errors[kind],
                        "per_s": round(len(latencies[kind]) / duration, 1)})
    total = sum(len(v) for v in latencies.values())
    results.append({"what": f"DR1 mixed, {clients} concurrent clients: all requests",
                    "requests": total, "per_s": round(total / duration, 1),
                    "errors": sum(errors.values()), "statuses": statuses,
                    **({"error_samples": error_samples} if error_samples else {})})
    return results


def _error_text(body: bytes) -> str:
    """The message of a DALI error document (or the start of a body)."""
    text = body.decode("utf-8", "replace")
    found = re.search(r'<INFO[^>]*name="QUERY_STATUS"[^>]*>(.*?)</INFO>', text, re.S)
    return " ".join((found.group(1) if found else text).split())[:300]


def bench_burst(url: str, datasets: list[dict], cutouts: int = 48, previews: int = 48,
                probe_interval: float = 0.25) -> dict:
    """A burst of whole-sky cutouts and uncached previews sent at once, and
    a dlmeta probe every ``probe_interval`` s while it lasts.

    The previews are the first ``previews`` (run, kind) pairs from the end
    of the list (runs the latency benchmarks did not preview)."""
    dl = f"{url}/hess_dr/q/dl"
    prod = f"{url}/hess_dr/q/prod/dlget"
    heavy = [_cutout_url(dl, datasets[i % len(datasets)], POS="RANGE 0 360 -90 90")
             for i in range(cutouts)]
    pairs = [(d, kind) for d in reversed(datasets) for kind in ("preview-image", "preview-plot")]
    heavy += [f"{prod}?" + urllib.parse.urlencode({"ID": d["obs_publisher_did"], "PRODUCT": kind})
              for d, kind in pairs[:previews]]
    random.Random(7).shuffle(heavy)
    probe_url = f"{dl}/dlmeta?" + urllib.parse.urlencode({"ID": datasets[0]["obs_publisher_did"]})
    fetch(probe_url)
    done = threading.Event()
    probe_s, probe_status = [], []

    def probe() -> None:
        while not done.is_set():
            start = time.perf_counter()
            status = fetch(probe_url, timeout=60)[0]
            elapsed = time.perf_counter() - start
            probe_s.append(elapsed)
            probe_status.append(status)
            done.wait(max(0.0, probe_interval - elapsed))

    answers: list[tuple[int, bool, float]] = []

    def one(request: str) -> None:
        start = time.perf_counter()
        try:
            status, _, headers = fetch(request, timeout=300)
        except OSError:
            status, headers = -1, {}
        answers.append((status, "Retry-After" in headers, time.perf_counter() - start))

    prober = threading.Thread(target=probe)
    prober.start()
    time.sleep(0.5)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(heavy)) as pool:
        list(pool.map(one, heavy))
    burst_s = time.perf_counter() - start
    time.sleep(0.5)
    done.set()
    prober.join()
    statuses: dict[int, int] = {}
    for status, _, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    busy = [a for a in answers if a[0] == 503]
    return {"what": f"burst of {cutouts} whole-sky cutouts + {previews} uncached previews at"
                    f" once, dlmeta probe every {probe_interval:g} s",
            "burst_seconds": round(burst_s, 1), "statuses": statuses,
            "all_200_or_503": set(statuses) <= {200, 503},
            "503_with_retry_after": sum(a[1] for a in busy),
            "probe": _ms(probe_s), "probe_errors": sum(s != 200 for s in probe_status)}


def bench_same_preview(url: str, dataset: dict, kind: str = "preview-plot",
                       copies: int = 20) -> dict:
    """One uncached preview requested ``copies`` times at once."""
    request = f"{url}/hess_dr/q/prod/dlget?" + urllib.parse.urlencode(
        {"ID": dataset["obs_publisher_did"], "PRODUCT": kind})
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(copies) as pool:
        answers = list(pool.map(lambda _: fetch(request), range(copies)))
    elapsed = time.perf_counter() - start
    bodies = {body for status, body, _ in answers if status == 200}
    statuses: dict[int, int] = {}
    for status, _, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return {"what": f"the same uncached {kind} requested {copies} times at once",
            "seconds": round(elapsed, 2), "statuses": statuses,
            "distinct_bodies": len(bodies)}


def run(url: str, tap_url: str, data_dir: Path, mixed_seconds: float = 60.0) -> list[dict]:
    datasets = dr1_datasets(tap_url)
    results = bench_cutout_latency(url, datasets, data_dir)
    print(f"[bench]   {results}", flush=True)
    results += bench_mixed(url, datasets, seconds=mixed_seconds)
    print(f"[bench]   {results[-3:]}", flush=True)
    results.append(bench_same_preview(url, datasets[-1]))
    results.append(bench_burst(url, datasets[:-1]))
    print(f"[bench]   {results[-2:]}", flush=True)
    return results
