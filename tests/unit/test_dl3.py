"""hess_dr.dl3.read_run: the real DR1 sample, the quirks of other instruments'
files (REFERENCE.md section 3) and files that must be refused."""
from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time

from hess_dr_dev import synthetic as synth
from unit_support import SAMPLE_DIR, make_collection
from hess_dr import dl3, rows

# h c from CODATA via astropy (never the module's own constant): lambda = hc / E.
HC_EV_M = (const.h * const.c).to_value(u.eV * u.m)

# Independent numbers of the three bundled files (SUMMARY.md and the files'
# own EVENTS tables read with plain astropy).
SAMPLE = {
    "023523": dict(obs_id="23523", events=7613, e_min=0.244085, e_max=100.978,
                   object="Crab Nebula", lo_thres=0.870963589956081),
    "020136": dict(obs_id="20136", events=11243, e_min=0.223197, e_max=104.283,
                   object="MSH15-52", lo_thres=0.407380277804113),
    "023526": dict(obs_id="23526", events=7581, e_min=0.288497, e_max=84.8573,
                   object="Crab Nebula", lo_thres=0.707945784384138),
}


def sample_path(key: str) -> Path:
    return SAMPLE_DIR / f"hess_dl3_dr1_obs_id_{key}.fits.gz"


@pytest.fixture(scope="module")
def sample_runs(sample_collection):
    """The three bundled runs, read once."""
    return {key: dl3.read_run(sample_path(key), sample_collection) for key in SAMPLE}


def independent_utc_mjd(header, met: float) -> float:
    """MJD (UTC) of a MET value, straight from the header with astropy."""
    epoch = Time(header["MJDREFI"] + header["MJDREFF"], format="mjd",
                 scale=header["TIMESYS"].strip().lower())
    return (epoch + met * u.s).utc.mjd


# --------------------------------------------------------------------------
# the real H.E.S.S. DR1 files
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_sample_identity_and_events(sample_runs, key):
    run, want = sample_runs[key], SAMPLE[key]
    assert run.obs_id == want["obs_id"]
    assert run.event_count == want["events"]
    assert run.object_name == want["object"]
    assert run.energy_min.unit == u.TeV
    assert run.energy_min.value == pytest.approx(want["e_min"], rel=5e-6)
    assert run.energy_max.value == pytest.approx(want["e_max"], rel=5e-6)
    assert run.path == sample_path(key)
    assert run.file_size == sample_path(key).stat().st_size
    assert run.problems == ()


@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_sample_times_match_independent_astropy(sample_runs, sample_collection, key):
    run = sample_runs[key]
    header = fits.getheader(sample_path(key), "EVENTS")
    row = rows.obs_row(run, sample_collection, "x")
    assert row["t_min"] == pytest.approx(independent_utc_mjd(header, header["TSTART"]), abs=1e-9)
    assert row["t_max"] == pytest.approx(independent_utc_mjd(header, header["TSTOP"]), abs=1e-9)
    assert (row["t_max"] - row["t_min"]) * 86400 == pytest.approx(header["ONTIME"], abs=1e-3)
    assert row["tstart"] == header["TSTART"] and row["tstop"] == header["TSTOP"]


def test_sample_23523_starts_on_a_whole_utc_second(sample_runs):
    run = sample_runs["023523"]
    assert run.t_start.utc.isot == "2004-12-04T22:07:06.000"
    assert run.t_stop.utc.isot == "2004-12-04T22:35:13.000"
    # DATE-OBS/TIME-OBS are kept as written (TT, hence the .184)
    assert (run.date_obs, run.time_obs) == ("2004-12-04", "22:08:10.184")
    assert run.t_start.tt.isot == "2004-12-04T22:08:10.184"


@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_sample_wavelengths_are_hc_over_energy(sample_runs, sample_collection, key):
    run, want = sample_runs[key], SAMPLE[key]
    row = rows.obs_row(run, sample_collection, "x")
    # em_min comes from the highest energy; abs=0: the values are ~1e-20 m and
    # approx's default absolute tolerance (1e-12) would accept anything
    assert row["em_min"] == pytest.approx(HC_EV_M / (want["e_max"] * 1e12), rel=5e-6, abs=0)
    assert row["em_max"] == pytest.approx(HC_EV_M / (want["e_min"] * 1e12), rel=5e-6, abs=0)
    # and, to float precision, astropy's spectral equivalency of the run's extremes
    assert row["em_min"] == pytest.approx(
        run.energy_max.to_value(u.m, equivalencies=u.spectral()), rel=1e-12, abs=0)
    assert row["em_max"] == pytest.approx(
        run.energy_min.to_value(u.m, equivalencies=u.spectral()), rel=1e-12, abs=0)
    assert row["em_min"] < row["em_max"]
    assert row["energy_min"] == pytest.approx(want["e_min"] * 1e12, rel=5e-6)
    assert row["energy_max"] == pytest.approx(want["e_max"] * 1e12, rel=5e-6)


@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_sample_resolution_is_gammapy_psf68(sample_runs, sample_collection, key):
    from gammapy.irf import PSF3D
    psf = PSF3D.read(sample_path(key), hdu="PSF")
    expected = psf.containment_radius(fraction=0.68, energy_true=1 * u.TeV,
                                      offset=0.5 * u.deg).to_value(u.arcsec)
    row = rows.obs_row(sample_runs[key], sample_collection, "x")
    assert row["s_resolution"] == pytest.approx(float(np.ravel(expected)[0]), rel=1e-9)
    # an H.E.S.S. PSF at 1 TeV: between 0.05 and 0.3 deg
    assert 0.05 * 3600 < row["s_resolution"] < 0.3 * 3600
    assert row["s_ref_energy"] == pytest.approx(1e12)
    assert row["s_ref_oaa"] == 0.5


def test_sample_obs_row_values_and_units(sample_runs, sample_collection):
    run = sample_runs["023523"]
    accref = rows.product_accref(run, sample_collection)
    row = rows.obs_row(run, sample_collection, accref)
    assert accref == "hess_dr/hess-dl3-dr1/hess_dl3_dr1_obs_id_023523.fits.gz"
    assert set(row) == {
        "accref", "access_path", "access_format", "collection", "obs_collection", "obs_id", "obs_title",
        "facility_name", "telescop", "instrume", "object", "target_name", "target_tag",
        "obs_mode", "ev_class", "ra_pnt", "dec_pnt", "glon_pnt", "glat_pnt", "alt_pnt",
        "az_pnt", "zen_pnt", "ra_obj", "dec_obj", "ontime", "livetime", "deadc", "tstart",
        "tstop", "mjdrefi", "mjdreff", "timesys", "date_obs", "time_obs", "date_end",
        "time_end", "t_min", "t_max", "n_tels", "tellist", "quality", "muoneff", "geolon",
        "geolat", "altitude", "event_count", "safe_energy_lo", "safe_energy_hi",
        "energy_min", "energy_max", "em_min", "em_max", "s_ra", "s_dec", "s_fov",
        "s_region_vertices", "s_region_origin", "s_resolution", "s_ref_energy", "s_ref_oaa", "t_intervals", "gti_count",
        "tracking_mode", "scan_mode", "pointing_mode", "analysis_mode", "messenger_name",
        "messenger_pdgid", "irf_types", "owner", "embargo", "obs_release_date", "problems", "calib_level"}
    assert row["access_path"] == str(sample_path("023523"))
    assert row["obs_title"] == "H.E.S.S. DL3 DR1 run 23523 (Crab Nebula)"
    assert row["obs_collection"] == "HESS-DL3-DR1"
    assert (row["telescop"], row["instrume"], row["obs_mode"], row["ev_class"]) == (
        "HESS", "H.E.S.S. Phase I", "WOBBLE", "std")
    assert row["ra_pnt"] == pytest.approx(83.633333333333)
    assert row["dec_pnt"] == pytest.approx(21.514444444444)
    # GLON/GLAT_PNT as written in the header (deg)
    crab = SkyCoord(83.633333333333 * u.deg, 21.514444444444 * u.deg).galactic
    assert row["glon_pnt"] == pytest.approx(crab.l.deg, abs=1e-3)
    assert row["glat_pnt"] == pytest.approx(crab.b.deg, abs=1e-3)
    # DR1 EVENTS headers have ALT_PNT only; ZEN_PNT is derived
    assert row["zen_pnt"] == pytest.approx(90 - 41.3897890380338)
    assert row["zen_pnt"] == pytest.approx(48.61021, abs=1e-4)  # obs-index value
    assert (row["ontime"], row["livetime"]) == (1687.0, pytest.approx(1581.73681640625))
    assert row["deadc"] == pytest.approx(0.937603298574686)
    assert (row["mjdrefi"], row["timesys"]) == (51910, "TT")
    assert row["mjdreff"] == pytest.approx(0.000742870370370241, abs=1e-15)
    assert (row["n_tels"], row["tellist"], row["event_count"]) == (4, "1,2,3,4", 7613)
    assert isinstance(row["event_count"], int) and isinstance(row["n_tels"], int)
    assert row["altitude"] == 1835.0
    assert row["safe_energy_lo"] == pytest.approx(0.870963589956081)  # TeV, AEFF LO_THRES
    assert row["safe_energy_hi"] == pytest.approx(100.0)
    assert row["s_fov"] == 5.0
    assert row["gti_count"] == 1
    assert row["t_intervals"].startswith("t61/")
    assert (row["tracking_mode"], row["scan_mode"], row["pointing_mode"]) == (
        "sidereal", "on-source", "parallel")
    assert row["analysis_mode"] == "full-enclosure"
    assert row["irf_types"] == "aeff edisp psf bkg"
    assert (row["messenger_name"], row["messenger_pdgid"]) == ("photon", 22)
    assert row["calib_level"] == 2
    assert row["problems"] is None and row["owner"] is None


@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_sample_gti_rows(sample_runs, key):
    run = sample_runs[key]
    header = fits.getheader(sample_path(key), "EVENTS")
    with fits.open(sample_path(key)) as hdus:
        start, stop = hdus["GTI"].data["START"][0], hdus["GTI"].data["STOP"][0]
    (row,) = rows.gti_rows(run)
    assert row["obs_id"] == SAMPLE[key]["obs_id"]
    assert row["collection"] == "hess-dl3-dr1"
    assert row["gti_index"] == 0
    assert (row["met_start"], row["met_stop"]) == (start, stop)
    assert row["duration"] == header["ONTIME"]
    assert row["t_start"] == pytest.approx(independent_utc_mjd(header, start), abs=1e-9)
    assert row["t_stop"] == pytest.approx(independent_utc_mjd(header, stop), abs=1e-9)


@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_sample_s_region_vertices_on_fov_circle(sample_runs, sample_collection, key):
    run = sample_runs[key]
    row = rows.obs_row(run, sample_collection, "x")
    vertices = np.array(row["s_region_vertices"])
    assert vertices.shape == (rows.FOV_POLYGON_VERTICES, 2)
    centre = SkyCoord(run.ra_pnt * u.deg, run.dec_pnt * u.deg)
    points = SkyCoord(vertices[:, 0] * u.deg, vertices[:, 1] * u.deg)
    np.testing.assert_allclose(centre.separation(points).deg, 2.5, atol=1e-6)


@pytest.mark.parametrize("key", sorted(SAMPLE))
def test_sample_irfs_in_the_event_file(sample_runs, key):
    run = sample_runs[key]
    assert [r.hdu_type for r in run.irfs] == ["aeff", "edisp", "psf", "bkg"]
    assert [r.hdu_class for r in run.irfs] == ["aeff_2d", "edisp_2d", "psf_table", "bkg_3d"]
    assert {r.path for r in run.irfs} == {sample_path(key)}
    assert run.irf("psf").hdu == "PSF"
    assert run.irf("rad_max") is None
    assert run.irf_containment == "full-enclosure"
    assert run.safe_energy_lo.to_value(u.TeV) == pytest.approx(SAMPLE[key]["lo_thres"])


# --------------------------------------------------------------------------
# quirks of DL3 files from other instruments (REFERENCE.md section 3)
# --------------------------------------------------------------------------

def read(tmp_path, collection, name="run.fits.gz", **kwargs):
    path = synth.write_event_list(tmp_path / name, **kwargs)
    return dl3.read_run(path, collection)


@pytest.fixture
def reference_run(tmp_path, collection):
    """A synthetic run with the default (DR1-like) header."""
    return read(tmp_path, collection, name="reference.fits.gz")


# (write_event_list keyword arguments, expected Run attributes)
SIMPLE_QUIRKS = [
    pytest.param(dict(obs_id="ABC-123"), {"obs_id": "ABC-123"}, id="OBS_ID-string"),
    pytest.param(dict(obs_id=23523.0), {"obs_id": "23523"}, id="OBS_ID-float"),
    pytest.param(dict(header_overrides={"DATE-OBS": "2004-12-04T22:08:10.184", "TIME-OBS": None,
                                        "DATE-END": "2004-12-04T22:36:17.184", "TIME-END": None}),
                 {"date_obs": "2004-12-04", "time_obs": "22:08:10.184",
                  "date_end": "2004-12-04", "time_end": "22:36:17.184"}, id="DATE-OBS-isot"),
    pytest.param(dict(header_overrides={"DATE-OBS": None, "TIME-OBS": None,
                                        "DATE_OBS": "2004-12-04", "TIME_OBS": "22:08:10.184"}),
                 {"date_obs": "2004-12-04", "time_obs": "22:08:10.184"}, id="DATE_OBS-underscore"),
    pytest.param(dict(header_overrides={"DATE-OBS": None, "TIME-OBS": None}),
                 {"date_obs": None, "time_obs": None, "date_end": "2004-12-04"},
                 id="DATE-OBS-missing"),
    pytest.param(dict(header_overrides={"EQUINOX": ""}), {"ra_pnt": 83.633333333333},
                 id="EQUINOX-empty"),
    pytest.param(dict(header_overrides={"EQUINOX": "J2000"}), {"dec_pnt": 21.514444444444},
                 id="EQUINOX-string"),
    pytest.param(dict(header_overrides={"N_TELS": None}), {"n_tels": None, "tellist": "1,2,3,4"},
                 id="N_TELS-missing"),
    pytest.param(dict(header_overrides={"TELLIST": None}), {"tellist": None, "n_tels": 4},
                 id="TELLIST-missing"),
    pytest.param(dict(header_overrides={"ALT_PNT": None}),
                 {"alt_pnt": None, "zen_pnt": None, "az_pnt": 22.4817052274739},
                 id="ALT_PNT-and-ZEN_PNT-missing"),
    pytest.param(dict(header_overrides={"ALT_PNT": 60.0}), {"alt_pnt": 60.0, "zen_pnt": 30.0},
                 id="ZEN_PNT-from-ALT_PNT"),
    pytest.param(dict(header_overrides={"ALT_PNT": None, "ZEN_PNT": 25.0}),
                 {"alt_pnt": 65.0, "zen_pnt": 25.0}, id="ALT_PNT-from-ZEN_PNT"),
    pytest.param(dict(header_overrides={"AZ_PNT": None}), {"az_pnt": None}, id="AZ_PNT-missing"),
    pytest.param(dict(header_overrides={"OBS_MODE": None}), {"obs_mode": None},
                 id="OBS_MODE-missing"),
    pytest.param(dict(header_overrides={"RA_OBJ": None}),
                 {"ra_obj": None, "dec_obj": 22.014444444444}, id="RA_OBJ-missing"),
    pytest.param(dict(header_overrides={"OBS_ID": None}, primary_overrides={"OBS_ID": 77}),
                 {"obs_id": "77"}, id="OBS_ID-in-PRIMARY"),
    pytest.param(dict(header_overrides={"N_TELS": "4", "ALTITUDE": "1835."}),
                 {"n_tels": 4, "altitude": 1835.0}, id="numbers-as-strings"),
]


@pytest.mark.parametrize("kwargs, expected", SIMPLE_QUIRKS)
def test_quirk(tmp_path, collection, kwargs, expected):
    run = read(tmp_path, collection, **kwargs)
    for attribute, value in expected.items():
        got = getattr(run, attribute)
        if isinstance(value, float):
            assert got == pytest.approx(value, abs=1e-9), attribute
        else:
            assert got == value, attribute
    # none of these quirks touch the time axis or the events
    assert rows.mjd(run.t_start) == pytest.approx(53343.92159722222, abs=1e-9)
    assert run.event_count == 100


def test_missing_obs_mode_gives_no_scan_mode(tmp_path, collection):
    run = read(tmp_path, collection, header_overrides={"OBS_MODE": None})
    assert rows.obs_row(run, collection, "x")["scan_mode"] is None
    run = read(tmp_path, collection, name="on.fits", header_overrides={"OBS_MODE": "on"})
    assert rows.obs_row(run, collection, "x")["scan_mode"] == "on-source"


@pytest.mark.parametrize("timesys, seconds_after_tt", [
    ("TT", 0.0), ("tt", 0.0), ("TAI", 32.184), ("tai", 32.184),
    # 2001-2004: UTC = TAI - 32 s, no leap second in between
    ("UTC", 64.184), ("utc", 64.184),
])
def test_quirk_timesys(tmp_path, collection, reference_run, timesys, seconds_after_tt):
    """The same MJDREF/TSTART numbers read in another time scale."""
    overrides = {"TIMESYS": timesys}
    run = read(tmp_path, collection, header_overrides=overrides, gti_header_overrides=overrides)
    assert run.time_ref.timesys == timesys.upper()
    delta = (rows.mjd(run.t_start) - rows.mjd(reference_run.t_start)) * 86400
    assert delta == pytest.approx(seconds_after_tt, abs=1e-5)
    independent = (Time(51910 + 0.000742870370370241, format="mjd", scale=timesys.lower())
                   + 123890826.0 * u.s).utc.mjd
    assert rows.mjd(run.t_start) == pytest.approx(independent, abs=1e-9)
    assert run.problems == ()


def test_quirk_events_and_gti_in_different_timesys(tmp_path, collection):
    """A GTI HDU with its own time scale is converted to the EVENTS MET."""
    run = read(tmp_path, collection, header_overrides={"TIMESYS": "UTC"})  # GTI stays TT
    assert run.gti.start_met[0] == pytest.approx(123890826.0 - 64.184, abs=1e-5)
    assert run.gti.start[0].utc.isot == "2004-12-04T22:07:06.000"
    assert "GTIs extend beyond TSTART-TSTOP" in run.problems


def test_quirk_mjdrefi_as_float(tmp_path, collection, reference_run):
    path = synth.write_event_list(tmp_path / "f.fits", header_overrides={"MJDREFI": 51910.0},
                                  gti_header_overrides={"MJDREFI": 51910.0})
    assert isinstance(fits.getheader(path, "EVENTS")["MJDREFI"], float)
    run = dl3.read_run(path, collection)
    assert rows.mjd(run.t_start) == rows.mjd(reference_run.t_start)
    assert rows.obs_row(run, collection, "x")["mjdrefi"] == 51910


def test_quirk_only_mjdref(tmp_path, collection, reference_run):
    overrides = {"MJDREFI": None, "MJDREFF": None, "MJDREF": 51910.000742870370370241}
    run = read(tmp_path, collection, header_overrides=overrides, gti_header_overrides=overrides)
    assert rows.mjd(run.t_start) == pytest.approx(rows.mjd(reference_run.t_start), abs=1e-9)
    assert run.t_start.utc.isot == "2004-12-04T22:07:06.000"
    row = rows.obs_row(run, collection, "x")
    assert row["mjdrefi"] == 51910
    assert row["mjdreff"] == pytest.approx(0.000742870370370241, abs=1e-11)


def test_quirk_energies_in_mev_with_ogip_tags(tmp_path, collection):
    run = read(tmp_path, collection, energies=[2e5, 3e6, 1e8] * u.MeV, energy_unit="MeV",
               header_overrides={"HDUCLASS": "OGIP", "HDUCLAS1": "EVENTS", "HDUCLAS2": "ALL"})
    with fits.open(tmp_path / "run.fits.gz") as hdus:
        assert hdus["EVENTS"].columns["ENERGY"].unit == "MeV"
        assert hdus["EVENTS"].data["ENERGY"].max() == pytest.approx(1e8)
    assert run.event_count == 3
    row = rows.obs_row(run, collection, "x")
    assert row["energy_min"] == pytest.approx(2e11)  # eV
    assert row["energy_max"] == pytest.approx(1e14)
    assert row["em_min"] == pytest.approx(HC_EV_M / 1e14, rel=1e-12, abs=0)   # 1.24e-20 m
    assert row["em_max"] == pytest.approx(HC_EV_M / 2e11, rel=1e-12, abs=0)   # 6.20e-18 m


def test_quirk_energy_unit_only_in_eunit(tmp_path, collection):
    run = read(tmp_path, collection, energies=[500.0, 5000.0] * u.GeV, energy_unit="GeV",
               energy_tunit=False)
    with fits.open(tmp_path / "run.fits.gz") as hdus:
        assert hdus["EVENTS"].columns["ENERGY"].unit is None
        assert hdus["EVENTS"].header["EUNIT"] == "GeV"
    assert run.energy_min.to_value(u.TeV) == pytest.approx(0.5)
    assert run.energy_max.to_value(u.TeV) == pytest.approx(5.0)


def test_quirk_energy_unit_from_configuration(tmp_path):
    coll = make_collection(tmp_path, defaults={"timesys": "TT", "energy_unit": "GeV"})
    run = read(tmp_path, coll, energies=[500.0, 5000.0] * u.GeV, energy_unit="GeV",
               energy_tunit=False, header_overrides={"EUNIT": None})
    assert run.energy_min.to_value(u.TeV) == pytest.approx(0.5)


def test_quirk_no_hduclass_anywhere(tmp_path, collection, sample_runs):
    path = synth.write_event_list(tmp_path / "plain.fits", irfs=True, hduclass=False)
    with fits.open(path) as hdus:
        assert not [k for hdu in hdus for k in hdu.header if k.startswith("HDUCLAS")]
    run = dl3.read_run(path, collection)
    assert run.event_count == 100
    assert len(run.gti) == 1
    assert [r.hdu_type for r in run.irfs] == ["aeff", "edisp", "psf", "bkg"]
    assert [r.hdu for r in run.irfs] == ["AEFF", "EDISP", "PSF", "BKG"]
    assert {r.path for r in run.irfs} == {path}
    assert run.irf_containment is None  # HDUCLAS3 is gone: not guessed
    # the PSF read by EXTNAME only gives DR1 run 23523's resolution
    assert run.psf_radius.to_value(u.arcsec) == pytest.approx(
        sample_runs["023523"].psf_radius.to_value(u.arcsec), rel=1e-12)


def test_quirk_untagged_irfs_with_ogip_extnames(tmp_path, collection):
    irf = synth.irf_hdus(["aeff", "psf"])
    for hdu, name in zip(irf, ["EFFECTIVE AREA", "POINT SPREAD FUNCTION"]):
        hdu.name = name
        for key in [k for k in hdu.header if k.startswith("HDUCLAS")]:
            del hdu.header[key]
    run = read(tmp_path, collection, extra_hdus=irf)
    assert [(r.hdu_type, r.hdu) for r in run.irfs] == [
        ("aeff", "EFFECTIVE AREA"), ("psf", "POINT SPREAD FUNCTION")]


def test_quirk_irfs_in_a_separate_file(tmp_path, collection, sample_runs):
    events = synth.write_event_list(tmp_path / "events" / "run_001.fits.gz", obs_id=1)
    irf_file = synth.write_irf_file(tmp_path / "irfs" / "irf_001.fits.gz", obs_id=1)
    synth.write_hdu_index(tmp_path, [
        *synth.hdu_index_rows(1, "run_001.fits.gz", file_dir="events", types=["events", "gti"]),
        *synth.hdu_index_rows(1, "irf_001.fits.gz", file_dir="irfs", types=synth.IRF_TYPES)])
    run = dl3.read_run(events, collection)
    assert [r.hdu_type for r in run.irfs] == ["aeff", "edisp", "psf", "bkg"]
    assert {r.path for r in run.irfs} == {irf_file}
    assert run.irf("psf").hdu_class == "psf_table"
    assert run.psf_radius.to_value(u.arcsec) == pytest.approx(
        sample_runs["023523"].psf_radius.to_value(u.arcsec), rel=1e-12)
    assert rows.obs_row(run, collection, "x")["irf_types"] == "aeff edisp psf bkg"


def test_quirk_thousands_of_gti_rows(tmp_path, collection):
    # 2500 pairs of touching 1-s intervals, pairs separated by 2-s gaps
    t0 = 123890826.0
    gti = [(t0 + 4 * k + j, t0 + 4 * k + j + 1) for k in range(2500) for j in (0, 1)]
    run = read(tmp_path, collection, gti=gti, tstart=t0, tstop=gti[-1][1])
    assert len(run.gti) == 5000
    assert run.gti.duration == pytest.approx(5000.0)
    assert run.problems == ()
    gti_rows = rows.gti_rows(run)
    assert len(gti_rows) == 5000
    assert [r["gti_index"] for r in gti_rows] == list(range(5000))
    assert gti_rows[4999]["met_stop"] == t0 + 9998
    assert gti_rows[3]["t_start"] == pytest.approx(
        (Time("2004-12-04T22:07:06", scale="utc") + 5 * u.s).mjd, abs=1e-9)
    row = rows.obs_row(run, collection, "x")
    assert row["gti_count"] == 5000
    ranges = row["t_intervals"].removeprefix("t61/").split(" ")
    assert len(ranges) == 2500  # touching intervals merged, gaps kept
    lo, hi = (int(v) for v in ranges[0].split("-"))
    assert hi - lo + 1 == pytest.approx(2_000_000, abs=1)  # 2 s of microseconds


def test_quirk_empty_events_table(tmp_path, collection):
    run = read(tmp_path, collection, n_events=0)
    assert isinstance(run, dl3.Run)
    assert run.event_count == 0
    assert run.energy_min is None and run.energy_max is None
    assert run.wavelength_min is None and run.wavelength_max is None
    row = rows.obs_row(run, collection, "x")
    assert (row["event_count"], row["em_min"], row["em_max"], row["energy_min"]) == (0, None, None, None)
    assert row["t_min"] == pytest.approx(53343.92159722222, abs=1e-9)


def test_quirk_gti_stop_after_tstop(tmp_path, collection):
    run = read(tmp_path, collection, gti=[(123890826.0, 123892513.0 + 100)])
    assert "GTIs extend beyond TSTART-TSTOP" in run.problems
    assert rows.obs_row(run, collection, "x")["problems"] == "GTIs extend beyond TSTART-TSTOP"
    assert run.gti.duration == 1787.0
    assert run.tstop == 123892513.0


def test_quirk_gti_stop_before_tstop(tmp_path, collection):
    """A GTI inside TSTART-TSTOP is normal (dead time at the end): no problem."""
    run = read(tmp_path, collection, gti=[(123890826.0, 123892513.0 - 100)])
    assert run.problems == ()
    assert run.gti.duration == 1587.0
    assert run.ontime == 1687.0  # ONTIME from the header, not the GTI
    (row,) = rows.gti_rows(run)
    assert (row["t_stop"] - rows.mjd(run.t_stop)) * 86400 == pytest.approx(-100, abs=1e-4)


@pytest.mark.parametrize("gti", [
    pytest.param([(123880000.0, 123890826.0)], id="ends-at-TSTART"),
    pytest.param([(123892513.0, 123899000.0)], id="starts-at-TSTOP"),
    pytest.param([(123880000.0, 123885000.0), (123891000.0, 123892000.0)], id="one-of-two-inside"),
])
def test_quirk_gti_partly_outside_the_run(tmp_path, collection, gti):
    """Published when any GTI overlaps TSTART-TSTOP, touching included (a GTI
    wholly outside the run is refused: BAD_FILES)."""
    run = read(tmp_path, collection, gti=gti)
    assert run.problems == ("GTIs extend beyond TSTART-TSTOP",)
    assert list(zip(run.gti.start_met, run.gti.stop_met)) == gti
    assert (run.tstart, run.tstop) == (123890826.0, 123892513.0)


def test_quirk_no_gti_table(tmp_path, collection):
    run = read(tmp_path, collection, gti=None)
    assert len(run.gti) == 1
    assert (run.gti.start_met[0], run.gti.stop_met[0]) == (123890826.0, 123892513.0)
    assert "no GTI table: one interval TSTART-TSTOP assumed" in run.problems


def test_quirk_no_tstart_tstop_uses_gti(tmp_path, collection):
    run = read(tmp_path, collection, header_overrides={"TSTART": None, "TSTOP": None},
               gti=[(123890900.0, 123891000.0), (123891100.0, 123891200.0)])
    assert (run.tstart, run.tstop) == (123890900.0, 123891200.0)
    assert run.ontime == 1687.0  # still the header's ONTIME
    assert any("TSTART/TSTOP missing" in p for p in run.problems)


def test_quirk_altitude_in_km(tmp_path, collection):
    """km only when the keyword's comment (or the configuration) says so."""
    run = read(tmp_path, collection, header_overrides={"ALTITUDE": (1.835, "[km] site")})
    assert run.altitude == pytest.approx(1835.0)
    assert "ALTITUDE in km (header comment); converted to m" in run.problems


def test_quirk_livetime_from_deadc(tmp_path, collection):
    run = read(tmp_path, collection, header_overrides={"LIVETIME": None, "DEADC": 0.9})
    assert run.livetime == pytest.approx(1687.0 * 0.9)
    run = read(tmp_path, collection, name="b.fits", header_overrides={"DEADC": None})
    assert run.deadc == pytest.approx(0.937603298574686)


def test_quirk_obs_index_fills_missing_keywords(tmp_path, collection):
    synth.write_obs_index(tmp_path, [
        {"OBS_ID": 23523, "ZEN_PNT": 48.61021, "QUALITY": 0, "TARGET_NAME": "Crab",
         "TARGET_TAG": "crab", "SAFE_ENERGY_LO": 0.5, "SAFE_ENERGY_HI": 80.0},
        {"OBS_ID": 99, "ZEN_PNT": 10.0, "QUALITY": 1, "TARGET_NAME": "Other",
         "TARGET_TAG": "other", "SAFE_ENERGY_LO": 1.0, "SAFE_ENERGY_HI": 50.0}])
    run = read(tmp_path, collection, header_overrides={"ALT_PNT": None})
    assert run.zen_pnt == pytest.approx(48.61021)
    assert run.alt_pnt == pytest.approx(90 - 48.61021)
    assert run.quality == 0 and isinstance(run.quality, int)
    assert (run.target_name, run.target_tag, run.object_name) == ("Crab", "crab", "Crab Nebula")
    assert run.safe_energy_lo.to_value(u.TeV) == pytest.approx(0.5)
    assert run.safe_energy_hi.to_value(u.TeV) == pytest.approx(80.0)
    row = rows.obs_row(run, collection, "x")
    assert (row["zen_pnt"], row["quality"], row["target_name"]) == (
        pytest.approx(48.61021), 0, "Crab")


def test_quirk_header_wins_over_obs_index(tmp_path, collection):
    synth.write_obs_index(tmp_path, [{"OBS_ID": 23523, "ALT_PNT": 10.0, "OBJECT": "Index"}])
    run = read(tmp_path, collection)
    assert run.alt_pnt == pytest.approx(41.3897890380338)
    assert run.object_name == "Crab Nebula"


def test_quirk_string_obs_id_matched_in_obs_index(tmp_path, collection):
    synth.write_obs_index(tmp_path, [{"OBS_ID": "ABC-123", "TARGET_NAME": "Vela X"}])
    run = read(tmp_path, collection, obs_id="ABC-123")
    assert run.target_name == "Vela X"


def test_timesys_from_configuration(tmp_path, collection):
    run = read(tmp_path, collection, header_overrides={"TIMESYS": None},
               gti_header_overrides={"TIMESYS": None})
    assert run.time_ref.timesys == "TT"
    assert run.t_start.utc.isot == "2004-12-04T22:07:06.000"


def test_instrument_from_configuration(tmp_path):
    coll = make_collection(tmp_path, instrument_name="Configured")
    run = read(tmp_path, coll, header_overrides={"INSTRUME": None})
    assert run.instrument == "Configured"


def test_synthetic_files_are_deterministic(tmp_path):
    a = synth.write_event_list(tmp_path / "a.fits.gz", irfs=["psf"], seed=3)
    b = synth.write_event_list(tmp_path / "b.fits.gz", irfs=["psf"], seed=3)
    c = synth.write_event_list(tmp_path / "c.fits.gz", irfs=["psf"], seed=4)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert a.read_bytes()[:2] == b"\x1f\x8b"
    assert synth.write_event_list(tmp_path / "d.fits").read_bytes()[:6] == b"SIMPLE"


# --------------------------------------------------------------------------
# files that cannot be published
# --------------------------------------------------------------------------

def _text_file(path):
    path.write_text("OBS_ID,ENERGY\n1,2.5\n" * 200)
    return path


def _truncated_gzip(path):
    return synth.truncated_copy(synth.write_event_list(path.with_suffix(".full.gz"), irfs=True),
                                path, 0.6)


def _truncated_fits(path):
    full = synth.write_event_list(path.with_suffix(".full"), irfs=True)
    return synth.truncated_copy(full, path, full.stat().st_size - 5000)


def _events(**kwargs):
    return lambda path: synth.write_event_list(path, **kwargs)


BAD_FILES = [
    pytest.param(lambda p: (p.write_bytes(b""), p)[1], "empty file (0 bytes)", id="0-byte"),
    pytest.param(_text_file, "not a readable FITS file", id="text-file"),
    pytest.param(_truncated_gzip, "truncated or corrupt gzip stream", id="truncated-gzip"),
    pytest.param(_truncated_fits, "truncated FITS file", id="truncated-fits"),
    pytest.param(_events(column_overrides={"ENERGY": None}), "EVENTS table has no ENERGY column",
                 id="no-ENERGY"),
    pytest.param(_events(column_overrides={"TIME": None}), "EVENTS table has no TIME column",
                 id="no-TIME"),
    pytest.param(_events(header_overrides={"OBS_ID": None}), "missing required keyword OBS_ID",
                 id="no-OBS_ID"),
    pytest.param(_events(header_overrides={"OBS_ID": " "}), "missing required keyword OBS_ID",
                 id="blank-OBS_ID"),
    pytest.param(_events(header_overrides={"MJDREFI": None, "MJDREFF": None}),
                 "MJDREFI/MJDREFF and MJDREF are missing", id="no-MJDREF"),
    pytest.param(_events(header_overrides={"MJDREFI": "soon"}),
                 "MJDREFI='soon' is not a number", id="MJDREFI-text"),
    pytest.param(_events(header_overrides={"TIMESYS": "XYZ"}),
                 "TIMESYS='XYZ' is not a supported time scale", id="TIMESYS-XYZ"),
    pytest.param(_events(column_overrides={"ENERGY": fits.Column(
        "ENERGY", "12A", unit="TeV", array=np.array(["1.5"] * 100))}),
                 "ENERGY column is not numeric", id="ENERGY-strings"),
    pytest.param(_events(energy_tunit=False, header_overrides={"EUNIT": None}),
                 "ENERGY column has no unit", id="ENERGY-no-unit"),
    pytest.param(_events(energy_unit="deg", energies=[1.0] * u.deg),
                 "ENERGY unit 'deg' is not an energy unit", id="ENERGY-in-deg"),
    pytest.param(_events(header_overrides={"TSTART": None, "TSTOP": None}, gti=None, n_events=0),
                 "TSTART/TSTOP missing, no GTI table and no event TIME to take them from",
                 id="no-times-at-all"),
]


@pytest.mark.filterwarnings("ignore:File may have been truncated")
@pytest.mark.parametrize("make, reason", BAD_FILES)
def test_bad_file(tmp_path, make, reason):
    # no TIMESYS fallback; files without OBS_ID skipped
    coll = make_collection(tmp_path, defaults={}, obs_id_from_filename="none")
    path = make(tmp_path / "bad.fits.gz")
    with pytest.raises(dl3.DL3Error) as info:
        dl3.read_run(path, coll)
    assert type(info.value) is dl3.DL3Error
    assert str(path) in str(info.value)
    assert reason in str(info.value)
    assert info.value.path == str(path)


def test_missing_timesys_without_default_is_tt_like_gammapy(tmp_path):
    """(more in test_gammapy_quirks.py: what Gammapy reads, hess_dr publishes)"""
    path = synth.write_event_list(tmp_path / "odd.fits", header_overrides={"TIMESYS": None})
    run = dl3.read_run(path, make_collection(tmp_path, defaults={}))
    assert run.time_ref.timesys == "TT" and run.layout.time_keywords["TIMESYS"] == "TT"
    assert any(p.startswith("TIMESYS missing: TT assumed") for p in run.problems)


def test_missing_file(tmp_path, collection):
    with pytest.raises(dl3.DL3Error, match="cannot read file") as info:
        dl3.read_run(tmp_path / "nowhere.fits", collection)
    assert str(tmp_path / "nowhere.fits") in str(info.value)


@pytest.mark.parametrize("make, reason", [
    pytest.param(lambda p: synth.write_irf_file(p), "no EVENTS table (HDUs: PRIMARY, AEFF, EDISP, PSF, BKG)",
                 id="irf-only-file"),
    pytest.param(lambda p: synth.write_hdus(fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4)))]), p),
                 "no EVENTS table (HDUs: PRIMARY)", id="image"),
    pytest.param(lambda p: synth.write_obs_index(p.parent, [{"OBS_ID": 1}]),
                 "GADF index file, not an event list", id="obs-index"),
])
def test_not_an_event_list(tmp_path, collection, make, reason):
    path = make(tmp_path / "other.fits")
    with pytest.raises(dl3.NotAnEventList) as info:
        dl3.read_run(path, collection)
    assert isinstance(info.value, dl3.DL3Error)
    assert str(path) in str(info.value) and reason in str(info.value)


def test_events_hdu_found_by_extname_when_hduclas1_differs(tmp_path, collection):
    run = read(tmp_path, collection, header_overrides={"HDUCLAS1": None, "HDUCLASS": None})
    assert run.event_count == 100


def test_non_finite_energies_are_ignored_for_the_range(tmp_path, collection):
    run = read(tmp_path, collection, energies=[np.nan, 2.0, 3.0, -1.0] * u.TeV)
    assert run.event_count == 4
    assert run.energy_min.to_value(u.TeV) == 2.0 and run.energy_max.to_value(u.TeV) == 3.0
    assert run.problems == (
        "2 events with non-finite or non-positive ENERGY ignored for the energy range",)


def test_real_gzip_sample_is_not_truncated(sample_collection):
    """Guard for the completeness check: a good gzip of DR1 reads fine."""
    raw = gzip.decompress(sample_path("020136").read_bytes())
    assert len(raw) % 2880 == 0
    run = dl3.read_run(sample_path("020136"), sample_collection)
    assert run.event_count == 11243


def test_run_is_frozen(reference_run):
    with pytest.raises(dataclasses.FrozenInstanceError):
        reference_run.obs_id = "x"


@pytest.mark.parametrize("ra, dec", [(83.633, 22.0145), (266.405, -28.936), (0.0, 89.9),
                                     (359.99, -89.9), (192.859, 27.128), (10.0, 0.0)])
def test_icrs_to_galactic_agrees_with_astropy(ra, dec):
    from hess_dr.dl3 import icrs_to_galactic
    lon, lat = icrs_to_galactic(ra, dec)
    expected = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").galactic
    got = SkyCoord(lon * u.deg, lat * u.deg, frame="galactic")
    assert 0 <= lon < 360
    assert got.separation(expected).to_value(u.arcsec) < 0.05


@pytest.mark.parametrize("obs_id", [None, " "], ids=["missing", "blank"])
def test_a_file_without_obs_id_is_named_by_its_file(tmp_path, obs_id):
    """Gammapy reads such files; by default the file name identifies the run."""
    path = synth.write_event_list(tmp_path / "run_000042.fits.gz",
                                  header_overrides={"OBS_ID": obs_id})
    run = dl3.read_run(path, make_collection(tmp_path))
    assert run.obs_id == "run_000042"
    assert "OBS_ID missing: the file name without its extension used" in run.problems


def test_a_gti_timezero_is_ignored_like_gammapy(tmp_path):
    """A GTI header's TIMEZERO that would move the GTIs off the run: Gammapy's
    GTI reader ignores it, and so does the reader (noting it)."""
    from gammapy.data import GTI
    path = synth.write_event_list(tmp_path / "tz.fits", gti_header_overrides={"TIMEZERO": 5000.0})
    with fits.open(path) as hdus:
        assert hdus["GTI"].header["TIMEZERO"] == 5000.0
        assert "MJDREFI" in hdus["GTI"].header
        tstart, tstop = hdus["EVENTS"].header["TSTART"], hdus["EVENTS"].header["TSTOP"]
    run = dl3.read_run(path, make_collection(tmp_path))
    assert list(run.gti.start_met) == [tstart] and list(run.gti.stop_met) == [tstop]
    assert any("GTI header TIMEZERO 5000 ignored" in p for p in run.problems)
    gammapy_gti = GTI.read(path)
    assert run.gti.start.tt.mjd[0] == pytest.approx(gammapy_gti.time_start.tt.mjd[0], abs=1e-9)
    assert run.gti.stop.tt.mjd[0] == pytest.approx(gammapy_gti.time_stop.tt.mjd[0], abs=1e-9)
