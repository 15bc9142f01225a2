"""Gammapy's own TAP -> DataStore reader, unmodified, against hess_dr.

``make_data_store_from_query_result`` (Gammapy's main branch, copied
verbatim to ../shared/clients/gammapy_ivoa_main.py) runs in a venv of its
own with Gammapy 2.1 (``make gammapy2-venv``, which ``make test`` runs), on
``SELECT * FROM hess_dr.obs_index`` for the four DR1 Crab runs.  Each run's
DataLink links its IRFs to the event list file that holds them, so the
reader downloads one file per run and indexes every HDU once; a 1D spectral
analysis of the result fits the Crab's power law.
"""
from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from dachs_support import CHECKOUT

GAMMAPY2_PYTHON = CHECKOUT / ".venv-gammapy2" / "bin" / "python"
CLIENT = CHECKOUT.parent / "shared" / "clients" / "gammapy_ivoa_main.py"
DRIVER = Path(__file__).with_name("gammapy_reader_driver.py")
CRAB_RUNS = (23523, 23526, 23559, 23592)


@pytest.fixture(scope="module")
def reader_result(dr1_service, tmp_path_factory):
    if not GAMMAPY2_PYTHON.exists():
        pytest.fail(f"{GAMMAPY2_PYTHON} missing: run `make gammapy2-venv` (make test does)")
    if not CLIENT.exists():
        pytest.fail(f"Gammapy's reader not found at {CLIENT}")
    save_dir = tmp_path_factory.mktemp("gammapy_reader")
    result = subprocess.run(
        [str(GAMMAPY2_PYTHON), str(DRIVER), dr1_service.tap_url,
         ",".join(map(str, CRAB_RUNS)), str(save_dir), str(CLIENT)],
        capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_one_download_per_run(reader_result):
    assert reader_result["downloads"] == [
        f"TapResult-{run}-event-bundle.fits.gz" for run in CRAB_RUNS]


def test_one_hdu_index_row_per_run_and_type(reader_result):
    rows = Counter((obs_id, hdu_type) for obs_id, hdu_type, _ in reader_result["hdu_index_rows"])
    expected = {(run, hdu_type) for run in CRAB_RUNS
                for hdu_type in ("events", "gti", "aeff", "edisp", "psf", "bkg")}
    assert set(rows) == expected
    assert set(rows.values()) == {1}
    assert reader_result["multiple_hdu_warnings"] == 0
    assert reader_result["obs_index_ids"] == list(CRAB_RUNS)


def test_the_upstream_gti_bug_and_its_workaround(reader_result):
    """The reader writes HDU_CLASS 'git' for every GTI HDU (an upstream bug
    the README names); after the workaround each observation has its GTI."""
    classes = {hdu_class for _, hdu_type, hdu_class in reader_result["hdu_index_rows"]
               if hdu_type == "gti"}
    assert classes == {"git"}
    assert reader_result["gti_rows_fixed"] == len(CRAB_RUNS)
    assert reader_result["fit"]["gti_rows"] == [1] * len(CRAB_RUNS)


def test_the_crab_spectrum_fits(reader_result):
    fit = reader_result["fit"]
    assert fit["fit_success"]
    assert fit["observations"] == list(CRAB_RUNS)
    assert 2.3 < fit["index"] < 2.9
    assert 2e-11 < fit["amplitude"] < 6e-11
