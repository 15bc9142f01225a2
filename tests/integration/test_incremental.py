"""Incremental import: new files are read, changed files re-read, vanished
files' rows removed, unchanged files not read again."""
from __future__ import annotations

import os
import shutil
import time
import urllib.request

import pyvo

from dachs_support import SAMPLE_DATA, make_service, write_config

CRAB_1, CRAB_2, MSH = ("hess_dl3_dr1_obs_id_023523.fits.gz", "hess_dl3_dr1_obs_id_023526.fits.gz",
                       "hess_dl3_dr1_obs_id_020136.fits.gz")


def _reimport(service) -> str:
    """Re-import with the server stopped (a serving DaCHS may hold locks)."""
    service.instance.stop_server()
    try:
        result = service.instance.run_dachs("imp", "hess_dr/q")
    finally:
        service.instance.start_server()
    return result.stdout + result.stderr


def _read_files(output: str) -> set[str]:
    return {os.path.basename(line.split()[1]) for line in output.splitlines()
            if line.startswith("Starting ") and line.split()[1].endswith(".fits.gz")}


def _state(service):
    tap = pyvo.dal.TAPService(service.tap_url)
    obs = tap.run_sync("SELECT o.obs_id, h.ev_xel FROM ivoa.obscore AS o"
                       " JOIN ivoa.obscore_hea AS h"
                       " ON o.obs_publisher_did = h.obs_publisher_did").to_table()
    gti = tap.run_sync("SELECT obs_id FROM hess_dr.gti").to_table()
    return ({str(r["obs_id"]): int(r["ev_xel"]) for r in obs},
            sorted(str(r) for r in gti["obs_id"]))


def test_incremental_import(tmp_path_factory):
    data = tmp_path_factory.mktemp("incremental_data")
    nested = data / "2004-12"
    nested.mkdir()
    shutil.copy(SAMPLE_DATA / CRAB_1, nested / CRAB_1)
    shutil.copy(SAMPLE_DATA / MSH, data / MSH)
    config = write_config(tmp_path_factory, data, "incremental")
    with make_service(tmp_path_factory, config, "incremental") as service:
        assert _read_files(service.import_output) == {CRAB_1, MSH}
        assert _state(service) == ({"23523": 7613, "20136": 11243}, ["20136", "23523"])

        # nothing changed: nothing is read, nothing changes
        assert _read_files(_reimport(service)) == set()
        assert _state(service) == ({"23523": 7613, "20136": 11243}, ["20136", "23523"])

        # a new file, a changed file (other content under the same name),
        # a vanished file
        shutil.copy(SAMPLE_DATA / CRAB_2, data / CRAB_2)
        time.sleep(0.01)  # mtimes must differ from the first import's
        shutil.copy(SAMPLE_DATA / CRAB_2, nested / CRAB_1)
        os.utime(nested / CRAB_1)
        (data / MSH).unlink()
        output = _reimport(service)
        assert _read_files(output) == {CRAB_1, CRAB_2}
        assert f"{data / MSH} is gone; removing its rows" in output
        # the changed file now holds run 23526: two datasets of it, 7581 events each
        obs, gti = _state(service)
        assert sorted(obs.items()) == [("23526", 7581)]
        tap = pyvo.dal.TAPService(service.tap_url)
        counts = tap.run_sync("SELECT COUNT(*) AS n FROM ivoa.obscore").to_table()
        assert counts["n"][0] == 2
        assert gti == ["23526", "23526"]
        # the products table follows: both access URLs serve the new content
        urls = tap.run_sync("SELECT access_url FROM ivoa.obscore").to_table()["access_url"]
        for url in urls:
            with urllib.request.urlopen(str(url)) as response:
                assert len(response.read()) == (SAMPLE_DATA / CRAB_2).stat().st_size


def test_nothing_to_do_is_cheap(dr1_service):
    """A re-import of an unchanged DR1 reads no file."""
    output = _reimport(dr1_service)
    assert _read_files(output) == set()
    tap = pyvo.dal.TAPService(dr1_service.tap_url)
    assert tap.run_sync("SELECT COUNT(*) AS n FROM ivoa.obscore").to_table()["n"][0] == 105
