"""hess_dr.ingest: one source file -> its rows or the reason it is skipped."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from unit_support import SAMPLE_DIR, make_collection

from hess_dr import ingest, synthetic
from hess_dr.config import Config

CRAB = "hess_dl3_dr1_obs_id_023523.fits.gz"


@pytest.fixture
def configuration(tmp_path) -> Config:
    return Config(source=tmp_path / "hess_dr.yaml", collections=(make_collection(tmp_path),))


def test_a_good_file_gives_its_rows(tmp_path, configuration):
    path = tmp_path / "night" / CRAB
    path.parent.mkdir()
    shutil.copy(SAMPLE_DIR / CRAB, path)
    outcome = ingest.ingest(str(path), configuration, str(tmp_path / "inputs"), "hess_dr")
    assert outcome.level == "ok" and outcome.message is None
    assert outcome.obs["obs_id"] == "23523"
    assert outcome.obs["accref"] == f"hess_dr/synthetic/night/{CRAB}"
    assert outcome.obs["source_path"] == str(path)  # outside the inputs directory
    assert outcome.obs["event_count"] == 7613
    assert [g["met_start"] for g in outcome.gtis] == [123890826.0]
    assert outcome.gtis[0]["accref"] == outcome.obs["accref"]
    # it travels to and from worker processes
    again = pickle.loads(pickle.dumps(outcome))
    assert again.obs == outcome.obs and again.gtis == outcome.gtis


@pytest.mark.parametrize("make, level, fragment", [
    (lambda d: (d / "empty.fits").write_bytes(b"") or d / "empty.fits",
     "warning", "empty file (0 bytes)"),
    (lambda d: synthetic.write_event_list(d / "no_obs_id.fits", header_overrides={"OBS_ID": None}),
     "warning", "missing required keyword OBS_ID"),
    (lambda d: synthetic.write_irf_file(d / "irf.fits.gz"), "info", "not an event list"),
    (lambda d: synthetic.write_event_list(d / "n\u00e9.fits"), "warning", "non-ASCII file name"),
])
def test_skipped_files_say_why(tmp_path, configuration, make, level, fragment):
    path = Path(make(tmp_path))
    outcome = ingest.ingest(str(path), configuration, str(tmp_path), "hess_dr")
    assert outcome.level == level
    assert str(path) in outcome.message and fragment in outcome.message
    assert outcome.obs is None


def test_a_file_outside_every_data_dir(tmp_path, configuration):
    elsewhere = tmp_path.parent / "elsewhere.fits"
    outcome = ingest.ingest(str(elsewhere), configuration, str(tmp_path), "hess_dr")
    assert outcome.level == "warning"
    assert "not below any configured data_dir" in outcome.message
