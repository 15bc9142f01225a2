"""Benchmark of the point_source analysis jobs (UWS) on the full DR1.

* the Crab job alone: wall time from submission to COMPLETED (client
  side), the job's own start-to-end time, and the analysis' part of it;
* DataLink dlmeta latency idle, then while two Crab jobs execute at the
  same time (the jobs run in their own processes, at a lower CPU
  priority): p50/p95 and their ratio to the idle figures (the goal: within
  2x).

Called by bench/run.py with a served instance that has imported DR1::

    import jobs
    results["benchmarks"].extend(jobs.run(inst.url, inst.tap_url))

or on its own: ``.venv/bin/python bench/jobs.py`` (creates, imports and
serves a private DR1 instance, prints the results as JSON), or
``bench/jobs.py --url http://127.0.0.1:8080`` against a running server.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_DR1 = CHECKOUT.parent / "shared" / "data" / "hess-dl3-dr1"
CRAB = {"RA": "83.633", "DEC": "22.0145", "MODEL": "pl"}
FINAL = ("COMPLETED", "ERROR", "ABORTED")


def _percentiles(seconds) -> dict:
    ms = np.asarray(seconds, dtype=float) * 1000
    return {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def _request(url: str, data: dict | None = None) -> tuple[int, dict, bytes]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=body), timeout=300) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def submit(uws_url: str, parameters: dict) -> str:
    """Create and start a job (PHASE=RUN at creation); its URL."""
    status, headers, body = _request(uws_url, {**parameters, "PHASE": "RUN"})
    if status != 303:
        raise RuntimeError(f"job refused ({status}): {body[:300]!r}")
    return headers["Location"]


def job_summary(job_url: str, wait: int | None = None):
    from pyvo.io.uws import parse_job
    url = job_url if wait is None else f"{job_url}?WAIT={wait}"
    status, _, body = _request(url)
    if status != 200:
        raise RuntimeError(f"{url}: HTTP {status}")
    return parse_job(io.BytesIO(body))


def wait_final(job_url: str, timeout: float = 1800):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = job_summary(job_url, wait=10)
        if summary.phase in FINAL:
            return summary
    raise RuntimeError(f"{job_url} not finished after {timeout} s")


def _dids(tap_url: str) -> list[str]:
    query = urllib.parse.urlencode({
        "LANG": "ADQL", "REQUEST": "doQuery", "FORMAT": "csv",
        "QUERY": "SELECT obs_publisher_did FROM ivoa.obscore ORDER BY obs_id"})
    _, _, body = _request(f"{tap_url}/sync?{query}")
    return [line.strip() for line in body.decode().splitlines()[1:] if line.strip()]


def _dlmeta(url: str, did: str) -> float:
    start = time.perf_counter()
    status, _, _ = _request(f"{url}/hess_dr/q/dl/dlmeta?ID={urllib.parse.quote(did)}")
    if status != 200:
        raise RuntimeError(f"dlmeta {did}: HTTP {status}")
    return time.perf_counter() - start


def bench_crab_job(url: str) -> dict:
    """The Crab job alone."""
    uws_url = f"{url}/hess_dr/q/analysis/uws.xml"
    start = time.perf_counter()
    job_url = submit(uws_url, CRAB)
    summary = wait_final(job_url)
    wall = time.perf_counter() - start
    if summary.phase != "COMPLETED":
        raise RuntimeError(f"Crab job ended in {summary.phase}")
    _, _, body = _request(f"{job_url}/results/fit.json")
    fit = json.loads(body)
    _request(job_url, {"ACTION": "DELETE"})
    return {"what": "point_source job on the Crab (4 DR1 runs, power law), alone",
            "submission_to_completed_s": round(wall, 2),
            "job_start_to_end_s": round((summary.endtime - summary.starttime).to_value("s"), 2),
            "analysis_s": fit["wall_time_s"], "index": round(fit["index"], 3),
            "dnde_1tev": float(f"{fit['dnde_1tev']:.4g}")}


def bench_dlmeta_under_jobs(url: str, tap_url: str, idle_requests: int = 100,
                            jobs: int = 2) -> list[dict]:
    """dlmeta latency idle, then while ``jobs`` Crab jobs execute."""
    dids = _dids(tap_url)
    _dlmeta(url, dids[0])  # warm-up
    idle = [_dlmeta(url, dids[i % len(dids)]) for i in range(idle_requests)]
    uws_url = f"{url}/hess_dr/q/analysis/uws.xml"
    job_urls = [submit(uws_url, CRAB) for _ in range(jobs)]
    busy, index = [], 0
    start = time.perf_counter()
    while True:
        phases = [job_summary(job_url).phase for job_url in job_urls]
        if all(phase in FINAL for phase in phases):
            break
        if all(phase == "EXECUTING" for phase in phases):
            for _ in range(5):
                busy.append(_dlmeta(url, dids[index % len(dids)]))
                index += 1
        else:
            time.sleep(0.2)
    elapsed = time.perf_counter() - start
    ended = [job_summary(job_url).phase for job_url in job_urls]
    for job_url in job_urls:
        _request(job_url, {"ACTION": "DELETE"})
    idle_stats, busy_stats = _percentiles(idle), _percentiles(busy) if busy else {}
    result = [{"what": "DataLink dlmeta, idle, one client", **idle_stats}]
    if busy:
        ratio50 = busy_stats["p50_ms"] / idle_stats["p50_ms"]
        ratio95 = busy_stats["p95_ms"] / idle_stats["p95_ms"]
        result.append({"what": f"DataLink dlmeta while {jobs} Crab jobs execute", **busy_stats,
                       "p50_over_idle": round(ratio50, 2), "p95_over_idle": round(ratio95, 2),
                       "within_2x": bool(ratio50 <= 2 and ratio95 <= 2),
                       "jobs_wall_s": round(elapsed, 1), "jobs_ended": ended})
    else:
        result.append({"what": f"DataLink dlmeta while {jobs} Crab jobs execute",
                       "error": "the jobs never executed at the same time",
                       "jobs_ended": ended})
    return result


def run(url: str, tap_url: str) -> list[dict]:
    """Every benchmark of this module (a served DR1 instance)."""
    return [bench_crab_job(url), *bench_dlmeta_under_jobs(url, tap_url)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server with DR1 (default: make one)")
    parser.add_argument("--dr1", type=Path,
                        default=Path(os.environ.get("HESS_DR_FULL_DATA") or DEFAULT_DR1))
    args = parser.parse_args(argv)
    if args.url:
        results = run(args.url.rstrip("/"), args.url.rstrip("/") + "/tap")
    else:
        sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "dev")]
        from hess_dr_dev import instance as hinst
        with tempfile.TemporaryDirectory(prefix="hess_dr_bench_jobs_") as tmp:
            tmp = Path(tmp)
            config = hinst.write_operator_config(tmp / "hess_dr.yaml", args.dr1)
            dbname, prefix = "hess_dr_bench_jobs", "hessdr_benchjobs_"
            hinst.drop_database_and_roles(dbname, prefix)
            inst = hinst.create_or_reuse(tmp / "root", hinst.free_port(), dbname, prefix,
                                         extra_env={"HESS_DR_CONFIG": str(config)})
            try:
                inst.import_resource(out=open(os.devnull, "w"))
                with inst.serve():
                    results = run(inst.url, inst.tap_url)
            finally:
                inst.destroy()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
