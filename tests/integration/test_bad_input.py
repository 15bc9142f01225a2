"""A folder mixing good event lists with broken files, imported into a live
instance: every bad file is named with its reason, every good one is served."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pyvo
from astropy.io import fits

from dachs_support import SAMPLE_DATA, make_service, write_config

from hess_dr_dev import synthetic as synth

GOOD = ("hess_dl3_dr1_obs_id_020136.fits.gz", "hess_dl3_dr1_obs_id_023523.fits.gz",
        "hess_dl3_dr1_obs_id_023526.fits.gz")


def _write_bad_files(directory: Path) -> dict[str, str]:
    """Write broken files; return {file name: expected reason fragment}."""
    source = SAMPLE_DATA / GOOD[1]
    synth.truncated_copy(source, directory / "truncated.fits.gz", keep=0.4)
    (directory / "empty.fits").write_bytes(b"")
    (directory / "notes.fits").write_text("this is not FITS at all\n")
    fits.HDUList([fits.PrimaryHDU()]).writeto(directory / "primary_only.fits")
    synth.write_event_list(directory / "no_mjdref.fits", obs_id=99,
                           header_overrides={"MJDREFI": None, "MJDREFF": None})
    # (a file whose TSTOP is before TSTART is published, noted: Gammapy reads it)
    synth.write_event_list(directory / "no_energy.fits", obs_id=98,
                           column_overrides={"ENERGY": None})
    return {
        "truncated.fits.gz": "truncated",
        "empty.fits": "empty file (0 bytes)",
        "notes.fits": "not a readable FITS file",
        "primary_only.fits": "no EVENTS table",
        "no_mjdref.fits": "no time reference",
        "no_energy.fits": "EVENTS table has no ENERGY column",
    }


@pytest.fixture(scope="module")
def mixed_service(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("mixed_data")
    for name in GOOD:
        shutil.copy(SAMPLE_DATA / name, data_dir / name)
    nested = data_dir / "night2"
    nested.mkdir()
    expected = _write_bad_files(nested)
    config = write_config(tmp_path_factory, data_dir, "mixed")
    with make_service(tmp_path_factory, config, "mixed") as service:
        yield service, expected, nested


def test_every_bad_file_is_named_with_its_reason(mixed_service):
    service, expected, directory = mixed_service
    lines = service.import_output.splitlines()
    for name, reason in expected.items():
        path = str(directory / name)
        matching = [line for line in lines if path in line]
        assert matching, f"{name} not reported"
        assert any(reason in line for line in matching), (name, matching)


def test_good_files_are_all_served(mixed_service):
    service, _, _ = mixed_service
    tap = pyvo.dal.TAPService(service.tap_url)
    table = tap.run_sync("SELECT obs_id, access_url FROM ivoa.obscore"
                         " ORDER BY obs_id").to_table()
    assert list(table["obs_id"]) == ["20136", "23523", "23526"]
    gti = tap.run_sync("SELECT COUNT(*) AS n FROM hess_dr.gti").to_table()
    assert gti["n"][0] == 3
