"""Scale benchmarks on synthetic archives (hess_dr_dev.archive): import cost against
N and against two references, TAP latency on the largest archive, DataLink and
cutout latency under concurrent clients.

Called by bench/run.py; sizes come from ``BENCH_SIZES`` (default
``1000,10000``; CTAO scale: ``BENCH_SIZES=1000,10000,100000``).
"""
from __future__ import annotations

import concurrent.futures
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "dev")]  # hess_dr and hess_dr_dev

from hess_dr_dev import archive  # noqa: E402
from hess_dr_dev import instance as hinst  # noqa: E402

ARCHIVE_ROOT = CHECKOUT / "var" / "bench"
#: Gammapy's to_obscore_table reads every observation (~70 ms each here):
#: the reference is run up to this size only.
GAMMAPY_MAX_RUNS = 1000


def _ms(seconds) -> dict:
    ms = np.asarray(seconds, dtype=float) * 1000
    return {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def ensure_archive(n_max: int) -> Path:
    """The full synthetic archive of n_max runs (written once, then reused)."""
    root = ARCHIVE_ROOT / f"archive-{n_max}"
    stamp = root / ".complete"
    if not stamp.exists():
        smaller = sorted((int(p.name.split("-")[1]), p) for p in ARCHIVE_ROOT.glob("archive-*")
                         if (p / ".complete").exists() and int(p.name.split("-")[1]) < n_max)
        reuse = smaller[-1][1] if smaller else None
        print(f"[bench] writing a synthetic archive of {n_max} runs in {root}"
              f" (reusing {reuse})", flush=True)
        archive.write_archive(root, n_max, reuse=reuse,
                              progress=lambda done: done % 10000 == 0 and print(
                                  f"[bench]   {done} runs written", flush=True))
        stamp.write_text("ok\n")
    return root


def subset(full: Path, n: int) -> Path:
    """A folder holding the first n runs of ``full`` as symbolic links, with
    the instruments' IRF files and hdu-indexes (archives are prefixes)."""
    dest = ARCHIVE_ROOT / f"subset-{n}"
    stamp = dest / ".complete"
    if stamp.exists():
        return dest
    for index in range(n):
        spec = archive.run_spec(index)
        source = archive.run_path(full, spec)
        link = dest / source.relative_to(full)
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(source)
    for instrument in archive.INSTRUMENTS:
        for name in ("hdu-index.fits.gz", "irf"):
            link = dest / instrument.name / name
            if (full / instrument.name / name).exists() and not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(full / instrument.name / name)
    stamp.write_text("ok\n")
    return dest


def event_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.fits.gz")
                  if p.name != "hdu-index.fits.gz" and "irf" not in p.parts)


def read_floor(files: list[Path]) -> float:
    """Seconds to open every file and read every HDU's data with astropy
    (decompressing it), in one process: the floor any importer pays."""
    from astropy.io import fits
    start = time.perf_counter()
    for path in files:
        with fits.open(path, memmap=False) as hdus:
            for hdu in hdus:
                hdu.data  # noqa: B018 -- reading is the point
    return time.perf_counter() - start


def _read_floor_chunk(paths: list[str]) -> None:
    read_floor([Path(p) for p in paths])


def parallel_read_floor(files: list[Path], processes: int) -> float:
    """:func:`read_floor` spread over ``processes`` processes (the import
    reads with one worker a CPU): the floor of a parallel importer."""
    import multiprocessing
    chunks = [[str(f) for f in files[i::processes]] for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_read_floor_chunk, [chunks[0][:10]] * processes)  # start-up is not reading
        start = time.perf_counter()
        pool.map(_read_floor_chunk, chunks)
        return time.perf_counter() - start


def gammapy_reference(folder: Path, files: list[Path], workdir: Path) -> dict:
    """Gammapy 1.3: DataStore index of the files plus to_obscore_table."""
    code = f"""
import sys, time, warnings, resource
warnings.simplefilter("ignore")
from pathlib import Path
from gammapy.data import DataStore
from gammapy.data.ivoa import to_obscore_table
files = [line for line in open({str(workdir / 'files.txt')!r}).read().split()]
start = time.perf_counter()
store = DataStore.from_events_files(files)
store.hdu_table.write({str(workdir / 'hdu-index.fits.gz')!r}, overwrite=True)
store.obs_table.write({str(workdir / 'obs-index.fits.gz')!r}, overwrite=True)
indexed = time.perf_counter() - start
table = to_obscore_table({str(workdir)!r})
total = time.perf_counter() - start
print(len(table), indexed, total, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    (workdir / "files.txt").write_text("\n".join(str(f) for f in files))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1][:300]}
    rows, indexed, total, rss = result.stdout.split()
    return {"rows": int(rows), "index_s": round(float(indexed), 1),
            "seconds": round(float(total), 1),
            "runs_per_s": round(len(files) / float(total), 1), "peak_rss_mb": round(float(rss))}


class ProcessSampler:
    """Samples, every ``interval`` seconds, the memory of a process and its
    descendants (DaCHS and its reader workers: the sum of their proportional
    set sizes, and the largest resident size of one), and the CPU
    time of the PostgreSQL server processes (the import's backend lives only
    as long as the import: its last sample is what is counted)."""

    def __init__(self, interval: float = 0.25):
        import psutil
        self._psutil, self._interval = psutil, interval
        self.peak_rss_mb = 0.0
        self.largest_process_rss_mb = 0.0
        self._stop = threading.Event()
        self._postgres_start = self._postgres_cpu()
        self._postgres_last = dict(self._postgres_start)

    def _postgres_cpu(self) -> dict:
        seconds = {}
        for process in self._psutil.process_iter(["pid", "name", "cpu_times"]):
            times = process.info["cpu_times"]
            if (process.info["name"] or "").startswith("postgres") and times:
                seconds[process.info["pid"]] = times.user + times.system
        return seconds

    def _sample(self, pid: int) -> None:
        try:
            root = self._psutil.Process(pid)
            tree = [root] + root.children(recursive=True)
            memory = [p.memory_full_info() for p in tree if p.is_running()]
            # The tree's memory is the sum of proportional set sizes: the
            # readers are forked from DaCHS and share its pages, which a
            # sum of resident sizes would count once per process.
            self.peak_rss_mb = max(self.peak_rss_mb, sum(m.pss for m in memory) / 2**20)
            self.largest_process_rss_mb = max([self.largest_process_rss_mb,
                                               *(m.rss / 2**20 for m in memory)])
        except self._psutil.Error:
            pass
        self._postgres_last.update(self._postgres_cpu())

    def watch(self, pid: int) -> None:
        def run():
            while not self._stop.is_set():
                self._sample(pid)
                self._stop.wait(self._interval)
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """Stop sampling; return the PostgreSQL CPU seconds used meanwhile."""
        self._stop.set()
        self._thread.join()
        self._postgres_last.update(self._postgres_cpu())
        return sum(cpu - self._postgres_start.get(pid, 0.0)
                   for pid, cpu in self._postgres_last.items())


def timed_import(inst: hinst.Instance) -> dict:
    """A full import (drop, then imp): wall seconds, peak memory of the
    DaCHS process tree, CPU seconds of DaCHS (with its workers) and of
    PostgreSQL."""
    inst.run_dachs("drop", "hess_dr/q", check=False)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = ProcessSampler()
    start = time.perf_counter()
    process = subprocess.Popen(inst.dachs_command("imp", "hess_dr/q"), env=inst.env,
                               cwd=inst.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    sampler.watch(process.pid)
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    postgres_cpu = sampler.stop()
    if process.returncode:
        raise hinst.DachsError(f"dachs imp failed:\n{stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    dachs_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": seconds, "peak_rss_mb": sampler.peak_rss_mb,
            # (not RUSAGE_CHILDREN's ru_maxrss: the maximum over every child
            # this benchmark has waited for, earlier imports included)
            "largest_process_rss_mb": sampler.largest_process_rss_mb,
            "dachs_cpu_s": dachs_cpu, "postgres_cpu_s": postgres_cpu}


def bench_imports(sizes: list[int]) -> tuple[list[dict], hinst.Instance | None, Path]:
    """Import cost against N; returns the results and the instance holding the
    largest archive (imported), for the query benchmarks."""
    results = []
    full = ensure_archive(max(sizes))
    tmp = Path(tempfile.mkdtemp(prefix="hess_dr_scale_"))
    dbname, prefix = "hess_dr_bench_scale", "hessdr_bscale_"
    hinst.drop_database_and_roles(dbname, prefix)
    inst = None
    for n in sorted(sizes):
        folder = subset(full, n) if n < max(sizes) else full
        files = event_files(folder)
        assert len(files) == n, (folder, len(files))
        config = hinst.write_operator_config(tmp / f"hess_dr-{n}.yaml", folder)
        if inst is None:
            inst = hinst.create_or_reuse(tmp / "root", hinst.free_port(), dbname, prefix,
                                         extra_env={"HESS_DR_CONFIG": str(config)})
            inst.import_resource(out=open(os.devnull, "w"))
        inst.extra_env["HESS_DR_CONFIG"] = str(config)
        print(f"[bench] importing {n} runs", flush=True)
        measured = timed_import(inst)
        seconds = measured["seconds"]
        floor = read_floor(files)
        workers = os.cpu_count() or 1
        floor_parallel = parallel_read_floor(files, workers)
        start = time.perf_counter()
        inst.run_dachs("imp", "hess_dr/q")
        nothing_new = time.perf_counter() - start
        entry = {"what": f"import of {n} synthetic runs", "runs": n,
                 "seconds": round(seconds, 1), "runs_per_s": round(n / seconds, 1),
                 "ms_per_run": round(1000 * seconds / n, 2),
                 "peak_rss_mb": round(measured["peak_rss_mb"]),
                 "largest_process_rss_mb": round(measured["largest_process_rss_mb"]),
                 "cpu_ms_per_run": {"dachs_and_readers": round(1000 * measured["dachs_cpu_s"] / n, 2),
                                    "postgresql": round(1000 * measured["postgres_cpu_s"] / n, 2)},
                 "read_floor_ms_per_run": round(1000 * floor / n, 2),
                 "cost_over_floor": round(seconds / floor, 2),
                 f"read_floor_{workers}_processes_ms_per_run": round(1000 * floor_parallel / n, 2),
                 f"cost_over_{workers}_process_floor": round(seconds / floor_parallel, 2),
                 "reimport_nothing_new_s": round(nothing_new, 1)}
        if n <= GAMMAPY_MAX_RUNS:
            workdir = tmp / f"gammapy-{n}"
            workdir.mkdir()
            entry["gammapy_datastore_plus_obscore"] = gammapy_reference(folder, files, workdir)
        results.append(entry)
        print(f"[bench]   {entry}", flush=True)
    inst.run_dachs("imp", "hess_dr/hea")
    return results, inst, full


TAP_QUERIES = {
    "cone": "SELECT obs_id, t_min, t_exptime FROM ivoa.obscore"
            " WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {ra}, {dec}, 3))",
    "cone + energy + time": "SELECT o.obs_id FROM ivoa.obscore AS o"
            " WHERE 1 = CONTAINS(POINT('ICRS', {ra}, {dec}), o.s_region)"
            " AND o.em_min < 1.24e-18 AND o.em_max > 1.24e-19"
            " AND o.t_min < {t1} AND o.t_max > {t0}",
    "target name": "SELECT obs_id FROM hess_dr.obs_index WHERE object = '{target}'",
    "GTI covering an instant": "SELECT obs_id FROM hess_dr.gti"
            " WHERE t_start <= {t} AND t_stop >= {t}",
    "join with obscore_hea": "SELECT o.obs_id, h.ev_xel, h.energy_min FROM ivoa.obscore AS o"
            " JOIN ivoa.obscore_hea AS h ON o.obs_publisher_did = h.obs_publisher_did"
            " WHERE 1 = CONTAINS(POINT('ICRS', {ra}, {dec}), o.s_region)",
}


def _query_parameters(rng: random.Random, sample: list[dict]) -> dict:
    row = rng.choice(sample)
    t = float(row["t_min"]) + 0.005
    return {"ra": float(row["s_ra"]), "dec": float(row["s_dec"]), "t": t,
            "t0": float(row["t_min"]) - 30, "t1": float(row["t_min"]) + 30,
            "target": row["object"]}


def _fetch(url: str, data: bytes | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=120) as f:
        return f.read()


def bench_tap(inst: hinst.Instance, repeat: int = 30) -> list[dict]:
    """TAP latency over HTTP and the same SQL in PostgreSQL directly."""
    import psycopg2
    templates = sql_templates(inst)
    sample_sql = ("SELECT s_ra, s_dec, t_min, object FROM hess_dr.obs_index"
                  " ORDER BY obs_publisher_did LIMIT 500")
    connection = psycopg2.connect(dbname=inst.dbname)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sample_sql)
        sample = [dict(zip(("s_ra", "s_dec", "t_min", "object"), r)) for r in cursor.fetchall()]
    results = []
    rng = random.Random(1)
    for name, template in TAP_QUERIES.items():
        http, sql = [], []
        for _ in range(repeat):
            parameters = _query_parameters(rng, sample)
            query = template.format(**parameters)
            body = urllib.parse.urlencode({"LANG": "ADQL", "REQUEST": "doQuery",
                                           "QUERY": query, "MAXREC": "10000"}).encode()
            start = time.perf_counter()
            _fetch(f"{inst.tap_url}/sync", body)
            http.append(time.perf_counter() - start)
            translated = _fill(templates[name], parameters)
            start = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(translated)
                cursor.fetchall()
            sql.append(time.perf_counter() - start)
        results.append({"what": f"TAP {name}", "http": _ms(http), "sql_direct": _ms(sql)})
    connection.close()
    return results


SENTINELS = {"ra": "111.111111", "dec": "-22.222222", "t": "33333.333333",
             "t0": "44444.444444", "t1": "55555.555555", "target": "Sentinel Target"}


def sql_templates(inst: hinst.Instance) -> dict[str, str]:
    """The PostgreSQL DaCHS runs for each ADQL template, with sentinel
    literals to substitute (translated once, by DaCHS itself)."""
    code = (
        "import json, sys\n"
        "from gavo import api\n"
        "from gavo.protocols import adqlglue\n"
        "templates, sentinels = json.load(sys.stdin)\n"
        "print(json.dumps({name: adqlglue.morphADQL(t.format(**sentinels), maxrec=10000)[0]"
        " for name, t in templates.items()}))\n")
    import json
    result = subprocess.run([inst.python, "-c", code], input=json.dumps([TAP_QUERIES, SENTINELS]),
                            capture_output=True, text=True, env=inst.env, check=True)
    return {name: sql.replace("%%", "%") for name, sql in
            json.loads(result.stdout.strip().splitlines()[-1]).items()}


def _fill(sql: str, parameters: dict) -> str:
    for key, sentinel in SENTINELS.items():
        sql = sql.replace(sentinel, str(parameters[key]))
    return sql


def bench_concurrency(inst: hinst.Instance, clients_list=(1, 4, 16),
                      seconds: dict | None = None) -> list[dict]:
    """DataLink dlmeta and SODA cutouts from N concurrent clients."""
    import psycopg2
    seconds = seconds or {1: 20, 4: 20, 16: 60}
    connection = psycopg2.connect(dbname=inst.dbname)
    with connection.cursor() as cursor:
        cursor.execute("SELECT obs_publisher_did, ra_pnt, dec_pnt FROM hess_dr.obs_index"
                       " ORDER BY obs_publisher_did LIMIT 2000")
        datasets = cursor.fetchall()
    connection.close()
    dl = f"{inst.url}/hess_dr/q/dl"
    results = []
    for clients in clients_list:
        duration = seconds.get(clients, 20)
        stop_at = time.perf_counter() + duration
        latencies = {"dlmeta": [], "cutout": []}
        errors = {"dlmeta": 0, "cutout": 0}
        lock = threading.Lock()

        def client(number: int) -> None:
            rng = random.Random(number)
            while time.perf_counter() < stop_at:
                did, ra, dec = rng.choice(datasets)
                kind = "cutout" if rng.random() < 0.5 else "dlmeta"
                if kind == "dlmeta":
                    url = f"{dl}/dlmeta?ID={urllib.parse.quote(did)}"
                else:
                    url = f"{dl}/dlget?" + urllib.parse.urlencode(
                        {"ID": did, "ENERGY": "1 10", "CIRCLE": f"{ra} {dec} 1.5"})
                start = time.perf_counter()
                try:
                    _fetch(url)
                    ok = True
                except (urllib.error.URLError, OSError):
                    ok = False
                elapsed = time.perf_counter() - start
                with lock:
                    latencies[kind].append(elapsed)
                    errors[kind] += 0 if ok else 1

        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        for kind in ("dlmeta", "cutout"):
            results.append({"what": f"{kind}, {clients} concurrent clients, {duration} s",
                            **_ms(latencies[kind]), "requests": len(latencies[kind]),
                            "errors": errors[kind],
                            "per_s": round(len(latencies[kind]) / duration, 1)})
        print(f"[bench]   {results[-2:]}", flush=True)
    return results


def run(sizes: list[int]) -> list[dict]:
    results, inst, _ = bench_imports(sizes)
    try:
        with inst.serve():
            results += bench_tap(inst)
            results += bench_concurrency(inst)
    finally:
        inst.destroy()
    return results
