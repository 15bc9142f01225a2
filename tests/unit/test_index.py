"""hess_dr.index: GADF obs-index and hdu-index files."""
from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from hess_dr_dev import synthetic as synth
from hess_dr import dl3, index
from unit_support import make_collection


# --------------------------------------------------------------------------
# the real DR1 index files
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dr1_obs(dr1_dir):
    return index.read_obs_index(dr1_dir / "obs-index.fits.gz")


@pytest.fixture(scope="module")
def dr1_hdus(dr1_dir):
    return index.read_hdu_index(dr1_dir / "hdu-index.fits.gz")


def test_dr1_obs_index(dr1_obs):
    assert len(dr1_obs) == 105
    assert min(dr1_obs, key=int) == "20136" and max(dr1_obs, key=int) == "47829"
    crab = dr1_obs["23523"]
    assert len(crab) == 31
    assert crab["target_name"] == "Crab"
    assert crab["target_tag"] == "crab"
    assert crab["object"] == "Crab Nebula"
    assert crab["zen_pnt"] == pytest.approx(48.61, abs=0.005)
    assert crab["alt_pnt"] == pytest.approx(41.3897890380338, abs=1e-5)  # float32
    assert crab["event_count"] == 7613 and isinstance(crab["event_count"], int)
    assert crab["quality"] == 0
    assert (crab["date_obs"], crab["time_obs"]) == ("2004-12-04", "22:08:10.184")
    assert crab["safe_energy_lo"] == pytest.approx(0.870963589956081, rel=1e-6)


def test_dr1_obs_index_totals(dr1_obs):
    """The totals SUMMARY.md lists."""
    assert sum(r["event_count"] for r in dr1_obs.values()) == 1046156
    assert sum(r["ontime"] for r in dr1_obs.values()) == pytest.approx(174801, abs=0.5)
    assert {r["n_tels"] for r in dr1_obs.values()} == {4}
    crab = sorted(int(k) for k, r in dr1_obs.items() if r["target_name"] == "Crab")
    assert crab == [23523, 23526, 23559, 23592]
    assert len({r["target_name"] for r in dr1_obs.values()}) == 6


def test_dr1_hdu_index(dr1_dir, dr1_hdus):
    assert len(dr1_hdus) == 105
    assert sum(len(refs) for refs in dr1_hdus.values()) == 630
    for obs_id, refs in dr1_hdus.items():
        assert len(refs) == 6
        assert {r.hdu_type for r in refs} == {"events", "gti", "aeff", "edisp", "psf", "bkg"}
        (path,) = {r.path for r in refs}  # all six HDUs in one file
        assert path == dr1_dir / "data" / f"hess_dl3_dr1_obs_id_{int(obs_id):06d}.fits.gz"
    refs = {r.hdu_type: r for r in dr1_hdus["23523"]}
    assert refs["psf"].hdu_class == "psf_table" and refs["psf"].hdu == "psf"
    assert refs["bkg"].hdu_class == "bkg_3d"
    paths = {r.path for refs in dr1_hdus.values() for r in refs}
    assert len(paths) == 105
    assert all(p.is_absolute() and p.is_file() for p in paths)


def test_find_index_files_climbs_to_the_collection_root(dr1_dir):
    event_file = dr1_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    found = index.find_index_files(event_file, dr1_dir)
    assert found.obs_index_path == dr1_dir / "obs-index.fits.gz"
    assert found.hdu_index_path == dr1_dir / "hdu-index.fits.gz"
    assert found.obs_row("23523")["target_name"] == "Crab"
    assert len(found.irfs("23523")) == 6
    assert found.obs_row("1") == {} and found.irfs("1") == ()
    # never above the root
    assert index.find_index_files(event_file, dr1_dir / "data") is index.EMPTY


def test_dr1_event_file_gets_index_values(dr1_dir):
    run = dl3.read_run(dr1_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz",
                       make_collection(dr1_dir))
    assert (run.target_name, run.target_tag, run.quality) == ("Crab", "crab", 0)
    assert run.object_name == "Crab Nebula"
    assert run.zen_pnt == pytest.approx(90 - 41.3897890380338)  # header ALT_PNT wins


# --------------------------------------------------------------------------
# obs_id_key
# --------------------------------------------------------------------------

@pytest.mark.parametrize("value, key", [
    (23523, "23523"), (np.int64(23523), "23523"), (np.int32(7), "7"), (23523.0, "23523"),
    (np.float32(23523.0), "23523"), (1.5, "1.5"), ("ABC-123", "ABC-123"),
    (" 42 ", "42"), (b"run_7   ", "run_7"),
])
def test_obs_id_key(value, key):
    assert index.obs_id_key(value) == key


# --------------------------------------------------------------------------
# synthetic index files
# --------------------------------------------------------------------------

def test_synthetic_obs_index_types(tmp_path):
    path = synth.write_obs_index(tmp_path, [
        {"OBS_ID": 1, "ZEN_PNT": 20.5, "QUALITY": 0, "TARGET_NAME": "A", "DATE-OBS": "2020-01-01"},
        {"OBS_ID": 2, "TARGET_NAME": "B"}])
    with fits.open(path) as hdus:
        assert hdus[1].name == "OBS_INDEX" and hdus[1].header["HDUCLAS2"] == "OBS"
        assert hdus[1].columns["ZEN_PNT"].unit == "deg"
    obs = index.read_obs_index(path)
    assert obs["1"] == {"obs_id": 1, "zen_pnt": 20.5, "quality": 0.0, "target_name": "A",
                        "date_obs": "2020-01-01"}
    # missing numbers are NaN in the file and None in the row; missing text is ''
    assert obs["2"]["zen_pnt"] is None and obs["2"]["date_obs"] == ""


def test_hdu_index_file_dir_and_base_dir(tmp_path):
    rows = synth.hdu_index_rows("A-1", "run.fits", file_dir="sub", types=["events", "psf"])
    path = synth.write_hdu_index(tmp_path, rows)
    refs = index.read_hdu_index(path)["A-1"]
    assert [(r.hdu_type, r.hdu_class, r.hdu) for r in refs] == [
        ("events", "events", "EVENTS"), ("psf", "psf_table", "PSF")]
    assert {r.path for r in refs} == {tmp_path / "sub" / "run.fits"}

    other = tmp_path / "other"
    path = synth.write_hdu_index(tmp_path / "b", rows, header_overrides={"BASE_DIR": str(other)})
    assert index.read_hdu_index(path)["A-1"][0].path == other / "sub" / "run.fits"

    rows = synth.hdu_index_rows(3, "x.fits", file_dir="../up/./d")
    refs = index.read_hdu_index(synth.write_hdu_index(tmp_path / "c", rows))["3"]
    assert refs[0].path == tmp_path / "up" / "d" / "x.fits"  # normalised


def test_uncompressed_index_names_and_index_without_extname(tmp_path):
    synth.write_obs_index(tmp_path, [{"OBS_ID": 9, "QUALITY": 1}], name="obs-index.fits",
                          header_overrides={"HDUCLAS2": None, "EXTNAME": "SOMETHING"})
    found = index.find_index_files(tmp_path / "run.fits", tmp_path)
    assert found.obs_index_path == tmp_path / "obs-index.fits"
    assert found.hdu_index_path is None
    assert found.obs_row("9")["quality"] == 1


def test_nearest_index_wins(tmp_path):
    synth.write_obs_index(tmp_path, [{"OBS_ID": 1, "TARGET_NAME": "top"}])
    synth.write_obs_index(tmp_path / "a", [{"OBS_ID": 1, "TARGET_NAME": "near"}])
    assert index.find_index_files(tmp_path / "a" / "b" / "r.fits", tmp_path) \
        .obs_row("1")["target_name"] == "near"
    assert index.find_index_files(tmp_path / "x" / "r.fits", tmp_path) \
        .obs_row("1")["target_name"] == "top"


def test_no_index_files(tmp_path):
    assert index.find_index_files(tmp_path / "r.fits", tmp_path) is index.EMPTY
    assert index.find_index_files(tmp_path / "r.fits", None) is index.EMPTY


def test_rewritten_index_is_read_again(tmp_path):
    synth.write_obs_index(tmp_path, [{"OBS_ID": 1, "TARGET_NAME": "old"}])
    assert index.find_index_files(tmp_path / "r.fits", tmp_path).obs_row("1")["target_name"] == "old"
    path = synth.write_obs_index(tmp_path, [{"OBS_ID": 1, "TARGET_NAME": "new"}])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert index.find_index_files(tmp_path / "r.fits", tmp_path).obs_row("1")["target_name"] == "new"


def test_hdu_index_is_a_mapping_built_on_demand(tmp_path):
    rows = (synth.hdu_index_rows(7, "run7.fits", types=["events", "gti", "aeff"])
            + synth.hdu_index_rows(8, "run8.fits", types=["events"])
            + synth.hdu_index_rows(7, "irf.fits", file_dir="irf", types=["psf"]))
    refs = index.read_hdu_index(synth.write_hdu_index(tmp_path, rows))
    assert len(refs) == 2 and sorted(refs) == ["7", "8"]
    assert refs.get("9") is None and "9" not in refs
    # an observation's rows in file order, wherever they are in the index
    assert [(r.hdu_type, r.path.name) for r in refs["7"]] == [
        ("events", "run7.fits"), ("gti", "run7.fits"), ("aeff", "run7.fits"),
        ("psf", "irf.fits")]
    assert refs["7"] == refs["7"]  # built again, equal
    assert dict(refs)["8"] == refs["8"]


def test_obs_index_rows_are_independent_dicts(dr1_dir):
    # its own reading: the module's dr1_obs is shared and must stay unchanged
    obs = index.read_obs_index(dr1_dir / "obs-index.fits.gz")
    first = obs["23523"]
    first["target_name"] = "changed"
    assert obs["23523"]["target_name"] == "Crab"
    assert dict(obs).keys() == set(obs)
