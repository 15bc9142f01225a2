"""What `dachs imp hess_dr/q` tells while it imports the full H.E.S.S. DL3
DR1 (105 files), and what it keeps afterwards."""
from __future__ import annotations

import os
import re

import pyvo


def test_progress_and_summary_of_the_dr1_import(dr1_service):
    output = dr1_service.import_output
    progress = re.findall(r"hess_dr: import: (\d+)/105 files \((\d+) %\), ([\d.]+) files/s,"
                          r" about (.+?) left, (\d+) published, (\d+) skipped", output)
    # every quarter of the files is told, with a rate and the time left
    done = [int(p[0]) for p in progress]
    assert {27, 53, 79, 105} <= set(done), output[-3000:]
    assert done == sorted(done)
    assert all(float(p[2]) > 0 for p in progress)
    assert progress[-1][3] == "0 s" and progress[-1][4:] == ("105", "0")
    assert re.search(r"hess_dr: import summary: 105 file\(s\) read in .+: 105 published,"
                     r" 0 skipped, 0 not event lists, 0 removed; 0 problem\(s\) noted in 0"
                     r" published file\(s\)", output)
    assert "hess_dr: 105 run(s) published in all" in output
    # the readers were forked from `dachs imp` (which then had one thread),
    # and the DaCHS process went on using its database session after them
    cpus = os.cpu_count()
    assert f"hess_dr: reading 105 files with {cpus} forked worker process(es)" in output
    assert re.search(r"hess_dr: coverage of hess-dl3-dr1: 105 runs, MOC order 6", output)
    tap = pyvo.dal.TAPService(dr1_service.tap_url)
    runs = tap.run_sync("SELECT files_read, published, skipped, runs_published, duration"
                        " FROM hess_dr.import_runs").to_table()
    assert len(runs) == 1
    assert (runs["files_read"][0], runs["published"][0], runs["skipped"][0],
            runs["runs_published"][0]) == (105, 105, 0, 105)
    assert runs["duration"][0] > 0
