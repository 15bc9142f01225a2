"""hess_dr benchmarks: `make bench` writes bench/results.json and bench/results.md.

Each benchmark runs against a private DaCHS instance (own database, own port)
on this machine, like the integration tests.  Figures are wall-clock times
on whatever machine runs them; the README quotes the committed results.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))

from hess_dr import instance as hinst  # noqa: E402

DEFAULT_DR1 = CHECKOUT.parent / "shared" / "data" / "hess-dl3-dr1"


def _children_peak_rss_mb() -> float:
    """Peak resident memory of the largest finished child process, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench_import(inst: hinst.Instance, label: str, n_runs: int, repeat: int = 3) -> dict:
    """Time `dachs imp hess_dr/q` (a full re-import) ``repeat`` times."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        inst.run_dachs("imp", "hess_dr/q")
        times.append(time.perf_counter() - start)
    best = min(times)
    return {"what": f"dachs imp hess_dr/q, {label}", "runs": n_runs,
            "seconds_best": round(best, 2), "seconds_all": [round(t, 2) for t in times],
            "runs_per_s": round(n_runs / best, 1),
            "peak_rss_mb": round(_children_peak_rss_mb(), 1)}


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
            results["benchmarks"].append(bench_import(inst, "H.E.S.S. DL3 DR1", 105))
        finally:
            inst.destroy()

    args.out.mkdir(exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(render_markdown(results))
    print(render_markdown(results))
    return 0


def render_markdown(results: dict) -> str:
    lines = [f"# hess_dr benchmark results", "",
             f"{results['date']}, {results['machine']}", ""]
    for bench in results["benchmarks"]:
        lines.append(f"- **{bench['what']}**: " + ", ".join(
            f"{key} {value}" for key, value in bench.items() if key != "what"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
