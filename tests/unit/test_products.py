"""Unit tests of hess_dr.products: single-IRF files and event bundles."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from hess_dr_dev import synthetic as synth
from unit_support import SAMPLE_DIR
from hess_dr import dl3
from hess_dr.products import MissingIRFError, bundle, single_irf, write_bytes

# HDU type -> (EXTNAME in the DR1 files, gammapy class name, a data column to compare)
IRFS = {"aeff": ("AEFF", "EffectiveAreaTable2D", "EFFAREA"),
        "edisp": ("EDISP", "EnergyDispersion2D", "MATRIX"),
        "psf": ("PSF", "PSF3D", "RPSF"),
        "bkg": ("BKG", "Background3D", "BKG")}


def sample_path(key: str):
    return SAMPLE_DIR / f"hess_dl3_dr1_obs_id_{key}.fits.gz"


@pytest.fixture(scope="module")
def run(sample_collection):
    return dl3.read_run(sample_path("023526"), sample_collection)


def write(hdulist, tmp_path, name="product.fits"):
    path = tmp_path / name
    path.write_bytes(write_bytes(hdulist))
    return path


# --------------------------------------------------------------------------
# single IRFs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("hdu_type", sorted(IRFS))
def test_single_irf_is_valid_gadf_and_readable_by_gammapy(run, hdu_type, tmp_path):
    import gammapy.irf
    extname, class_name, column = IRFS[hdu_type]
    path = write(single_irf(run, hdu_type), tmp_path)
    with fits.open(path, checksum=True) as hdus, fits.open(sample_path("023526")) as source:
        assert [h.name for h in hdus] == ["PRIMARY", extname]
        primary = hdus[0].header
        assert (primary["OBS_ID"], primary["TELESCOP"], primary["INSTRUME"]) == (
            23526, "HESS", "H.E.S.S. Phase I")
        assert primary["CREATOR"] == "hess_dr 0.1.0"
        assert primary["ORIGFILE"] == "hess_dl3_dr1_obs_id_023526.fits.gz"
        assert f"HDU {extname} of hess_dl3_dr1_obs_id_023526.fits.gz" in str(primary["HISTORY"])
        irf = hdus[1]
        for key in ("HDUCLASS", "HDUCLAS1", "HDUCLAS2", "HDUCLAS3", "HDUCLAS4"):
            assert irf.header[key] == source[extname].header[key]
        np.testing.assert_array_equal(irf.data[column], source[extname].data[column])
    cls = getattr(gammapy.irf, class_name)
    ours, theirs = cls.read(path, hdu=extname), cls.read(sample_path("023526"), hdu=extname)
    np.testing.assert_array_equal(ours.data, theirs.data)
    assert ours.axes.names == theirs.axes.names


def test_single_irf_type_is_case_insensitive(run):
    assert single_irf(run, " AEFF ")[1].name == "AEFF"


def test_run_without_that_irf(run):
    with pytest.raises(MissingIRFError) as info:
        single_irf(run, "rad_max")
    error = info.value
    assert isinstance(error, KeyError)
    assert error.http_status == 404
    assert str(error) == "run 23526 has no 'rad_max' IRF (available: aeff, edisp, psf, bkg)"


def test_run_with_only_some_irfs(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "aeff_only.fits", obs_id=7, irfs=["aeff"])
    partial = dl3.read_run(path, collection)
    assert single_irf(partial, "aeff")[1].name == "AEFF"
    with pytest.raises(KeyError, match="available: aeff"):
        single_irf(partial, "psf")


def test_unknown_irf_type(run):
    with pytest.raises(ValueError, match="unknown IRF type 'events'"):
        single_irf(run, "events")


@pytest.fixture
def separate_irf_run(tmp_path, collection):
    events = synth.write_event_list(tmp_path / "events" / "run_001.fits.gz", obs_id=1,
                                    n_events=300)
    synth.write_irf_file(tmp_path / "irfs" / "irf_001.fits.gz", obs_id=1)
    synth.write_hdu_index(tmp_path, [
        *synth.hdu_index_rows(1, "run_001.fits.gz", file_dir="events", types=["events", "gti"]),
        *synth.hdu_index_rows(1, "irf_001.fits.gz", file_dir="irfs", types=synth.IRF_TYPES)])
    return dl3.read_run(events, collection)


def test_single_irf_from_a_separate_file(separate_irf_run, tmp_path):
    from gammapy.irf import PSF3D
    path = write(single_irf(separate_irf_run, "psf"), tmp_path)
    with fits.open(path) as hdus:
        assert hdus[0].header["ORIGFILE"] == "irf_001.fits.gz"
        assert hdus[0].header["OBS_ID"] == 1
    psf = PSF3D.read(path, hdu="PSF")
    np.testing.assert_array_equal(psf.data, PSF3D.read(synth.DR1_SAMPLE, hdu="PSF").data)


# --------------------------------------------------------------------------
# bundles
# --------------------------------------------------------------------------

def test_bundle_holds_the_whole_run(run, tmp_path):
    from gammapy.data import Observation
    path = write(bundle(run), tmp_path, "bundle.fits")
    with fits.open(path) as hdus, fits.open(sample_path("023526")) as source:
        assert [h.name for h in hdus] == ["PRIMARY", "EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"]
        assert len(hdus["EVENTS"].data) == len(source["EVENTS"].data) == 7581
        for column in source["EVENTS"].columns.names:
            np.testing.assert_array_equal(hdus["EVENTS"].data[column], source["EVENTS"].data[column])
        np.testing.assert_array_equal(hdus["GTI"].data["START"], source["GTI"].data["START"])
        np.testing.assert_array_equal(hdus["GTI"].data["STOP"], source["GTI"].data["STOP"])
        for key in ("TSTART", "TSTOP", "ONTIME", "LIVETIME", "DEADC", "DATE-OBS", "TIME-OBS"):
            assert hdus["EVENTS"].header[key] == source["EVENTS"].header[key]
        history = str(hdus["EVENTS"].header["HISTORY"])
        assert "bundle of hess_dl3_dr1_obs_id_023526.fits.gz" in history
        assert "7581 of its 7581 events kept" in history
        assert "CUTOUT" not in hdus["EVENTS"].header
    observation = Observation.read(path)
    assert len(observation.events.table) == 7581
    assert observation.obs_id == 23526


def test_bundle_collects_irfs_from_separate_files(separate_irf_run, tmp_path):
    from gammapy.data import Observation
    path = write(bundle(separate_irf_run), tmp_path)
    with fits.open(path) as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"]
    observation = Observation.read(path)
    assert len(observation.events.table) == 300
    assert observation.aeff is not None and observation.edisp is not None


def test_bundle_of_a_file_without_gti_or_irfs(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "bare.fits", gti=None, n_events=50,
                                  tstart=123890826.0, tstop=123891826.0)
    bare = dl3.read_run(path, collection)
    out = bundle(bare)
    assert [h.name for h in out] == ["PRIMARY", "EVENTS", "GTI"]
    gti = out["GTI"]
    assert gti.data["START"].tolist() == [123890826.0]
    assert gti.data["STOP"].tolist() == [123891826.0]
    assert (gti.header["HDUCLASS"], gti.header["HDUCLAS1"]) == ("GADF", "GTI")
    assert gti.header["MJDREFI"] == out["EVENTS"].header["MJDREFI"]
    assert gti.header["TIMESYS"] == "TT"


def test_bundle_of_an_empty_event_list(tmp_path, collection):
    from gammapy.data import EventList
    path = synth.write_event_list(tmp_path / "empty.fits", n_events=0, irfs=True)
    out_path = write(bundle(dl3.read_run(path, collection)), tmp_path, "empty_bundle.fits")
    assert len(EventList.read(out_path).table) == 0
