"""hess_dr benchmarks: `make bench` writes bench/results.json and bench/results.md.

Each benchmark runs against a private DaCHS instance (own database, own port)
on this machine, like the integration tests.  Figures are wall-clock times
on whatever machine runs them; the README quotes the committed results.

The full H.E.S.S. DR1 first (import against Gammapy and the read floor;
DataLink, cutouts against Gammapy in-process with the counts checked against
an exact astropy selection, 16 concurrent clients, a burst of heavy requests:
bench/serving.py), then the synthetic archives of ``BENCH_SIZES`` (default
``1000,10000``; ``BENCH_SIZES= make bench`` runs DR1 only: bench/scale.py).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "dev")]  # hess_dr and hess_dr_dev

from hess_dr_dev import instance as hinst  # noqa: E402

DEFAULT_DR1 = CHECKOUT.parent / "shared" / "data" / "hess-dl3-dr1"


def _children_peak_rss_mb() -> float:
    """Peak resident memory of the largest finished child process, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench_import(inst: hinst.Instance, label: str, n_runs: int, first: int = 2,
                 again: int = 2) -> dict:
    """Time full imports (`dachs drop`, then `dachs imp hess_dr/q`): ``first``
    first imports, then ``again`` re-imports.

    A first import starts without hess_dr's cache (DaCHS's cacheDir/hess_dr:
    decompressed events, IRF pieces, the coverage MOC), as on a site's first
    import of these files; a re-import finds what the previous one left (a
    re-import after `dachs drop`, e.g. after a change of the configuration).
    Each kind is reported by its best time (the machine's other work only
    ever adds to a time), the Gammapy reference likewise.
    """
    cache = inst.root / "cache" / "hess_dr"
    firsts, agains = [], []
    for i in range(first + again):
        inst.run_dachs("drop", "hess_dr/q", check=False)
        if i < first:
            shutil.rmtree(cache, ignore_errors=True)
        start = time.perf_counter()
        inst.run_dachs("imp", "hess_dr/q")
        (firsts if i < first else agains).append(time.perf_counter() - start)
    inst.run_dachs("imp", "hess_dr/hea")
    best = min(agains or firsts)
    return {"what": f"dachs imp hess_dr/q, {label}", "runs": n_runs,
            "seconds_first_no_cache": round(min(firsts), 2),
            "seconds_first_all": [round(t, 2) for t in firsts],
            "seconds_best": round(best, 2), "seconds_all": [round(t, 2) for t in agains],
            "runs_per_s": round(n_runs / best, 1),
            "peak_rss_mb": round(_children_peak_rss_mb(), 1)}


def _percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=300) as response:
        return response.read()


def _timed(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    body = _fetch(url)
    return time.perf_counter() - start, body


def _dr1_datasets(inst: hinst.Instance) -> list[dict]:
    query = urllib.parse.urlencode({
        "LANG": "ADQL", "REQUEST": "doQuery", "FORMAT": "csv",
        "QUERY": "SELECT obs_id, obs_publisher_did, access_url, s_ra, s_dec"
                 " FROM ivoa.obscore ORDER BY obs_id"})
    lines = _fetch(f"{inst.tap_url}/sync?{query}").decode().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def bench_datalink(inst: hinst.Instance, datasets: list[dict]) -> list[dict]:
    """dlmeta latency (one client), preview latencies."""
    results = []
    dl = f"{inst.url}/hess_dr/q/dl"
    prod = f"{inst.url}/hess_dr/q/prod/dlget"
    did_q = [urllib.parse.quote(d["obs_publisher_did"]) for d in datasets]

    _fetch(f"{dl}/dlmeta?ID={did_q[0]}")  # warm-up: loads the RD
    seconds = [_timed(f"{dl}/dlmeta?ID={did}")[0] for did in did_q]
    results.append({"what": f"DataLink dlmeta, {len(did_q)} DR1 runs, one client",
                    **_percentiles(seconds)})

    first, cached = [], []
    for did in did_q[:20]:
        for kind in ("preview-image", "preview-plot"):
            url = f"{prod}?ID={did}&PRODUCT={kind}"
            first.append(_timed(url)[0])
            cached.append(_timed(url)[0])
    results.append({"what": "preview PNG, first request (rendered)", **_percentiles(first)})
    results.append({"what": "preview PNG, later request (from the cache)", **_percentiles(cached)})
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dr1", type=Path,
                        default=Path(os.environ.get("HESS_DR_FULL_DATA") or DEFAULT_DR1))
    parser.add_argument("--out", type=Path, default=CHECKOUT / "bench")
    args = parser.parse_args(argv)
    if not args.dr1.is_dir():
        print(f"make bench: DR1 not found at {args.dr1} (set HESS_DR_FULL_DATA)", file=sys.stderr)
        return 2

    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}",
               # other work on the machine (1, 5, 15 min), at start and end
               "load_average_start": [round(x, 2) for x in os.getloadavg()],
               "benchmarks": []}
    with tempfile.TemporaryDirectory(prefix="hess_dr_bench_") as tmp:
        tmp = Path(tmp)
        config = hinst.write_operator_config(tmp / "hess_dr.yaml", args.dr1)
        dbname, prefix = "hess_dr_bench", "hessdr_bench_"
        hinst.drop_database_and_roles(dbname, prefix)
        inst = hinst.create_or_reuse(tmp / "root", hinst.free_port(), dbname, prefix,
                                     extra_env={"HESS_DR_CONFIG": str(config)})
        try:
            inst.import_resource(out=open(os.devnull, "w"))
            dr1 = bench_import(inst, "H.E.S.S. DL3 DR1", 105)
            import scale
            import serving
            files = sorted((args.dr1 / "data").glob("*.fits.gz"))
            floor = min(scale.read_floor(files) for _ in range(2))  # best of two
            dr1["read_floor_ms_per_run"] = round(1000 * floor / len(files), 1)
            dr1["import_over_read_floor"] = round(dr1["seconds_best"] / floor, 2)
            dr1["first_import_over_read_floor"] = round(dr1["seconds_first_no_cache"] / floor, 2)
            references = []
            for attempt in range(3):  # the best of three, as for the imports
                workdir = tmp / f"gammapy-dr1-{attempt}"
                workdir.mkdir()
                references.append(scale.gammapy_reference(args.dr1, files, workdir))
            timed = [r for r in references if "seconds" in r]
            reference = dict(min(timed, key=lambda r: r["seconds"]) if timed else references[0])
            reference["seconds_all"] = [r.get("seconds") for r in references]
            dr1["gammapy_datastore_plus_obscore"] = reference
            if "seconds" in reference:
                dr1["gammapy_over_import"] = round(reference["seconds"] / dr1["seconds_best"], 2)
                dr1["gammapy_over_first_import"] = round(
                    reference["seconds"] / dr1["seconds_first_no_cache"], 2)
            results["benchmarks"].append(dr1)
            print(f"[bench]   {dr1}", flush=True)
            with inst.serve():
                datasets = _dr1_datasets(inst)
                results["benchmarks"].extend(bench_datalink(inst, datasets))
                results["benchmarks"].extend(serving.run(
                    inst.url, inst.tap_url, args.dr1,
                    mixed_seconds=float(os.environ.get("BENCH_MIXED_SECONDS", 60))))
                # the analysis jobs (UWS): the Crab job's wall time, and
                # dlmeta while two jobs run
                import jobs
                results["benchmarks"].extend(jobs.run(inst.url, inst.tap_url))
        finally:
            inst.destroy()
    sizes = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,10000").split(",") if n]
    if sizes:
        import scale
        results["benchmarks"].extend(scale.run(sizes))

    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(render_markdown(results))
    print(render_markdown(results))
    return 0


def render_markdown(results: dict) -> str:
    lines = ["# hess_dr benchmark results", "",
             f"{results['date']}, {results['machine']}", ""]
    if "load_average_start" in results:
        lines[-1:-1] = [f"Load average (1, 5, 15 min) at the start {results['load_average_start']},"
                        f" at the end {results.get('load_average_end')}"
                        " (other work on the machine shares its cores).", ""]
    for bench in results["benchmarks"]:
        lines.append(f"- **{bench['what']}**: " + ", ".join(
            f"{key} {value}" for key, value in bench.items() if key != "what"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
