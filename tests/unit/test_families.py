"""Every instrument family (hess_dr_dev.synthetic.FAMILIES) read into runs and rows.

Values are checked against an independent reading of each file with plain
astropy (its own MJDREF, TIMESYS and energy unit), never against hess_dr.
Also: the configuration keys for other instruments (obs_id_keyword,
obs_id_from_filename, altitude_unit, survey_region), IRFs and errors in the
files an hdu-index names, sky regions of survey data, the multi-instrument
example configuration and the demo's choice of configuration.
"""
from __future__ import annotations

import dataclasses
import io
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable import parse as parse_votable
from astropy.time import Time

from hess_dr import config, cutout, dl3, links, preview, products, rows, tables
from hess_dr_dev import democonfig
from hess_dr_dev import synthetic as synth
from hess_dr.soda import parse_cutout
from unit_support import CHECKOUT, SAMPLE_DIR, make_collection

HAWC_GTIS = 20000
EXAMPLE = CHECKOUT / "res" / "examples" / "multi-instrument.yaml"


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    """Every family written once, with its configuration (relative data_dirs)."""
    dest = tmp_path_factory.mktemp("families")
    written = synth.write_families(dest, hawc_gti_count=HAWC_GTIS)
    path = dest / "hess_dr.yaml"
    path.write_text(yaml.safe_dump(synth.families_config(written), sort_keys=False))
    return written, config.load(path)


@pytest.fixture(scope="module")
def family_runs(families):
    """{name: [(path, Run, obs row)]}, with the seconds each read took."""
    written, cfg = families
    runs, seconds = {}, {}
    for name, family in written.items():
        collection = cfg.collection_for(family.event_files[0])
        assert collection.name == name
        runs[name] = []
        for path in family.event_files:
            start = time.perf_counter()
            run = dl3.read_run(path, collection)
            seconds[path.name] = time.perf_counter() - start
            runs[name].append((path, run, rows.obs_row(run, collection, "acc")))
    return runs, seconds


# ------------------------------------------------------ independent reading

def _header_epoch(header) -> Time:
    scale = header["TIMESYS"].strip().lower()
    if "MJDREFI" in header:
        return Time(float(header["MJDREFI"]), float(header["MJDREFF"]), format="mjd",
                    scale=scale)
    return Time(float(header["MJDREF"]), format="mjd", scale=scale)


def _independent(path: Path) -> dict:
    with fits.open(path) as hdus:
        events = next(h for h in hdus[1:] if h.name == "EVENTS")
        header = events.header
        epoch = _header_epoch(header)
        unit = u.Unit(events.columns["ENERGY"].unit or header["EUNIT"])
        energy = (np.asarray(events.data["ENERGY"], float) * unit).to_value(u.eV)
        gti = next(h for h in hdus[1:] if h.name == "GTI").data
        return {"t_min": (epoch + header["TSTART"] * u.s).utc.mjd,
                "t_max": (epoch + header["TSTOP"] * u.s).utc.mjd,
                "energy_min": energy.min() if len(energy) else None,
                "energy_max": energy.max() if len(energy) else None,
                "n_events": len(energy), "n_gti": len(gti),
                "gti_duration": float(np.sum(gti["STOP"] - gti["START"])),
                "obs_id": header.get("OBS_ID"), "timesys": header["TIMESYS"]}


ANALYSIS_MODE = {"hess": "full-enclosure", "magic": None, "veritas": "full-enclosure",
                 "fact": "point-like", "lst-pointlike": "point-like", "hawc": None,
                 "fermi-ft1": None}
IRF_TYPES = {"hess": "aeff edisp psf bkg", "magic": "aeff edisp psf bkg",
             "veritas": "aeff edisp psf bkg", "fact": "aeff edisp",
             "lst-pointlike": "aeff edisp rad_max", "hawc": None, "fermi-ft1": None}
OBS_IDS = {"hess": ["23523", "33787"], "magic": ["5093174", "5093175"],
           "veritas": ["64080", "64081", "64082"], "fact": ["20140105001", "20140105002"],
           "lst-pointlike": ["2967", "2968"], "hawc": ["HAWC-2021-06-01"],
           "fermi-ft1": ["L2306101234567F357373F04"]}
REGION_ORIGIN = {"hess": "pointing", "magic": "pointing", "veritas": "pointing",
                 "fact": "pointing", "lst-pointlike": "pointing", "hawc": None,
                 "fermi-ft1": "file-roi"}


@pytest.mark.parametrize("name", list(synth.FAMILIES))
def test_family_rows_match_the_files(family_runs, families, name):
    runs, _ = family_runs
    written, cfg = families
    assert [run.obs_id for _, run, _ in runs[name]] == OBS_IDS[name]
    for path, run, row in runs[name]:
        want = _independent(path)
        assert row["t_min"] == pytest.approx(want["t_min"], abs=1e-9)
        assert row["t_max"] == pytest.approx(want["t_max"], abs=1e-9)
        assert row["timesys"] == want["timesys"].upper()
        assert row["event_count"] == want["n_events"]
        if want["energy_min"] is None:
            assert row["energy_min"] is None and row["em_max"] is None
        else:
            assert row["energy_min"] == pytest.approx(want["energy_min"], rel=1e-12)
            assert row["energy_max"] == pytest.approx(want["energy_max"], rel=1e-12)
        assert row["gti_count"] == want["n_gti"]
        assert len(rows.gti_rows(run)) == want["n_gti"]
        assert row["analysis_mode"] == ANALYSIS_MODE[name]
        assert row["irf_types"] == IRF_TYPES[name]
        assert row["s_region_origin"] == REGION_ORIGIN[name]
        assert row["facility_name"] == written[name].collection["facility_name"]
        assert row["access_format"] == ("application/x-fits-ogip" if name == "fermi-ft1"
                                        else "application/x-fits-gadf")
        # whatever the file lacks is NULL, not made up
        if name in ("hawc", "fermi-ft1"):
            assert (row["ra_pnt"], row["dec_pnt"], row["alt_pnt"], row["zen_pnt"]) == (
                None, None, None, None)
            assert row["livetime"] is None and row["deadc"] is None
            assert row["ontime"] == pytest.approx(want["gti_duration"])


def test_magic_quirks(family_runs):
    runs, _ = family_runs
    path, run, row = runs["magic"][0]
    header = fits.getheader(path, "EVENTS")
    assert isinstance(header["OBS_ID"], float) and isinstance(header["MJDREFI"], float)
    assert "HDUCLASS" not in header
    assert [r.hdu for r in run.irfs] == ["EFFECTIVE AREA", "ENERGY DISPERSION",
                                         "POINT SPREAD FUNCTION", "BACKGROUND"]
    assert row["altitude"] == pytest.approx(2200.0)
    assert "ALTITUDE in km (header comment); converted to m" in run.problems
    assert (row["date_obs"], row["time_obs"]) == tuple(header["DATE-OBS"].split("T"))
    assert row["s_resolution"] > 0  # the PSF found by its EXTNAME


def test_veritas_quirks(family_runs):
    runs, _ = family_runs
    (_, run, row), _, (_, empty, empty_row) = runs["veritas"]
    assert row["date_obs"] and row["time_obs"]  # from DATE_OBS/TIME_OBS
    assert run.gti.stop_met[0] == run.tstop - 30.0
    assert empty.event_count == 0 and empty_row["energy_min"] is None
    assert empty_row["t_min"] is not None


def test_fact_irfs_come_from_the_separate_file(family_runs, families):
    runs, _ = family_runs
    written, _ = families
    irf_file = written["fact"].directory / "irf" / "fact_irf.fits.gz"
    for _, run, row in runs["fact"]:
        assert {r.path for r in run.irfs} == {irf_file}
        # HDUCLAS3 and LO_THRES/HI_THRES are only in the IRF file
        assert row["analysis_mode"] == "point-like"
        assert (row["safe_energy_lo"], row["safe_energy_hi"]) == (0.5, 30.0)
        # the obs-index completes the header
        assert row["zen_pnt"] in (20.0, 21.0) and row["target_name"] == "Crab"
        assert row["n_tels"] is None and row["obs_mode"] is None
        assert run.problems == ()
    bundle = products.bundle(runs["fact"][0][1])
    assert [h.name for h in bundle][1:] == ["EVENTS", "GTI", "AEFF", "EDISP"]


def test_lst_point_like_with_rad_max(family_runs, tmp_path):
    from gammapy.data import Observation
    from gammapy.irf import RadMax2D
    runs, _ = family_runs
    _, run, row = runs["lst-pointlike"][0]
    assert run.irf("rad_max").hdu_class == "rad_max_2d"
    single = products.single_irf(run, "rad_max")
    (tmp_path / "rad_max.fits").write_bytes(cutout.write_bytes(single))
    rad_max = RadMax2D.read(tmp_path / "rad_max.fits", hdu="RAD_MAX")
    assert np.allclose(rad_max.quantity.to_value(u.deg), 0.2)
    (tmp_path / "bundle.fits").write_bytes(cutout.write_bytes(products.bundle(run)))
    observation = Observation.read(tmp_path / "bundle.fits")
    assert set(observation.available_irfs) == {"aeff", "edisp", "rad_max"}
    pairs = [(l.semantics, l.content_qualifier) for l in links.dataset_links(
        "did", file_url="f", file_size=1, irf_types=row["irf_types"], prod_url="p",
        rights_url=None)]
    assert ("#calibration", "rad_max") in pairs


def test_hawc_survey_run(family_runs):
    runs, seconds = family_runs
    path, run, row = runs["hawc"][0]
    assert len(run.gti) == HAWC_GTIS and row["gti_count"] == HAWC_GTIS
    assert run.time_ref.timesys == "TAI"
    assert row["mjdrefi"] == 59366 and row["mjdreff"] == 0.0
    # a band of the sky: the circle holding the events exceeds a hemisphere
    assert run.footprint.origin == "events" and run.footprint.radius > 90
    assert (row["s_ra"], row["s_dec"], row["s_fov"], row["s_region_vertices"]) == (
        None, None, None, None)
    ranges = row["t_intervals"].removeprefix("t61/").split()
    assert len(ranges) == HAWC_GTIS
    print(f"\nHAWC-like run, {HAWC_GTIS} GTIs: read_run {seconds[path.name]:.2f} s")
    start = time.perf_counter()
    gti_rows = rows.gti_rows(run)
    votable = tables.gti_votable(run)
    print(f"gti_rows + GTI VOTable: {time.perf_counter() - start:.2f} s")
    assert len(gti_rows) == HAWC_GTIS
    assert len(parse_votable(io.BytesIO(votable)).get_first_table().array) == HAWC_GTIS
    assert preview.counts_map_png(run)[:4] == b"\x89PNG"
    assert preview.run_summary_png(run)[:4] == b"\x89PNG"


def _inside_convex_polygon(vertices, ra, dec) -> np.ndarray:
    """Independent test: on the same side of every edge's great circle
    (either orientation)."""
    def vec(lon, lat):
        lon, lat = np.radians(lon), np.radians(lat)
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon),
                         np.sin(lat)], axis=-1)
    corners = vec(*np.array(vertices).T)
    points = vec(np.asarray(ra), np.asarray(dec))
    sides = np.stack([points @ np.cross(a, b)
                      for a, b in zip(corners, np.roll(corners, -1, axis=0))])
    return (sides >= 0).all(axis=0) | (sides <= 0).all(axis=0)


def test_fermi_ft1_region_and_identity(family_runs):
    runs, _ = family_runs
    path, run, row = runs["fermi-ft1"][0]
    assert "OBS_ID" not in fits.getheader(path, "EVENTS")
    assert "OBS_ID missing: taken from the file name (obs_id_from_filename)" in run.problems
    assert (row["s_ra"], row["s_dec"], row["s_fov"]) == (83.633, 22.0145, 20.0)
    events = fits.getdata(path, "EVENTS")
    assert _inside_convex_polygon(row["s_region_vertices"], events["RA"], events["DEC"]).all()
    assert (row["telescop"], row["instrume"], row["mjdrefi"]) == ("GLAST", "LAT", 51910)
    assert row["mjdreff"] == pytest.approx(7.428703703703703e-4, abs=1e-15)
    assert row["energy_min"] == pytest.approx(float(events["ENERGY"].min()) * 1e6)
    assert preview.counts_map_png(run)[:4] == b"\x89PNG"


def test_fermi_energy_cutout_keeps_the_ft1_columns(family_runs):
    runs, _ = family_runs
    path, run, _ = runs["fermi-ft1"][0]
    result = cutout.cutout(run, parse_cutout({"ENERGY": "0.0005 0.01"}))
    events = fits.getdata(path, "EVENTS")
    keep = (events["ENERGY"] >= 500.0) & (events["ENERGY"] <= 10000.0)
    assert 0 < keep.sum() < len(events)
    assert list(result["EVENTS"].data["EVENT_ID"]) == list(events["EVENT_ID"][keep])
    assert result["EVENTS"].columns["EVENT_CLASS"].format == "32X"
    assert np.array_equal(result["EVENTS"].data["EVENT_CLASS"], events["EVENT_CLASS"][keep])
    assert len(result["GTI"].data) == len(fits.getdata(path, "GTI"))


# ------------------------------------------------------ observation ids

def test_ft1_without_configuration_is_named_by_its_file(tmp_path):
    """Without obs_id_from_filename, the whole file name (without its
    extension) is the OBS_ID; with ``obs_id_from_filename: none`` the file
    is refused, naming it and the way out."""
    path = synth.write_ft1(tmp_path / synth.FT1_FILE_NAME)
    run = dl3.read_run(path, make_collection(tmp_path))
    assert run.obs_id == dl3.file_stem(path) and run.obs_id != path.name
    assert path.name.startswith(run.obs_id + ".fit")
    with pytest.raises(dl3.DL3Error) as info:
        dl3.read_run(path, make_collection(tmp_path, obs_id_from_filename="none"))
    assert str(path) in str(info.value)
    assert "missing required keyword OBS_ID" in str(info.value)
    assert "obs_id_from_filename" in str(info.value)  # the hint


def test_file_name_not_matching_the_pattern(tmp_path):
    path = synth.write_ft1(tmp_path / "photons.fits")
    coll = make_collection(tmp_path, obs_id_from_filename=synth.FT1_OBS_ID_PATTERN)
    with pytest.raises(dl3.DL3Error, match="does not match obs_id_from_filename"):
        dl3.read_run(path, coll)


def test_obs_id_keyword(tmp_path):
    path = synth.write_event_list(tmp_path / "r.fits", header_overrides={
        "OBS_ID": None, "RUN_ID": "night-7"})
    run = dl3.read_run(path, make_collection(tmp_path, obs_id_keyword="RUN_ID"))
    assert run.obs_id == "night-7"
    assert "OBS_ID missing: taken from RUN_ID (obs_id_keyword)" in run.problems


def test_configured_obs_id_never_replaces_the_files(tmp_path):
    path = synth.write_event_list(tmp_path / "L1F2F3_PH00.fits", obs_id=42,
                                  header_overrides={"RUN_ID": 7})
    coll = make_collection(tmp_path, obs_id_keyword="RUN_ID",
                           obs_id_from_filename=synth.FT1_OBS_ID_PATTERN)
    run = dl3.read_run(path, coll)
    assert run.obs_id == "42" and run.problems == ()


# ------------------------------------------------------ sky regions

def test_enclosing_polygon_contains_its_circle():
    for ra, dec, radius in [(10.0, 0.0, 1.0), (200.0, -60.0, 15.0), (0.0, 89.0, 45.0),
                            (83.6, 22.0, 80.0)]:
        vertices = rows.enclosing_polygon(ra, dec, radius)
        centre = SkyCoord(ra * u.deg, dec * u.deg)
        corners = SkyCoord(*np.array(vertices).T, unit="deg")
        # edge midpoints (the closest points of the polygon) are at `radius`
        a = corners
        b = SkyCoord(np.roll(corners.ra.deg, -1), np.roll(corners.dec.deg, -1), unit="deg")
        mid = a.directional_offset_by(a.position_angle(b), a.separation(b) / 2)
        assert np.allclose(centre.separation(mid).deg, radius, rtol=1e-9, atol=1e-9)
        circle = centre.directional_offset_by(np.linspace(0, 360, 720) * u.deg, radius * u.deg)
        assert _inside_convex_polygon(vertices, circle.ra.deg, circle.dec.deg).all()
    assert rows.enclosing_polygon(0.0, 0.0, 90.0) is None  # a hemisphere or more
    assert rows.enclosing_polygon(0.0, 0.0, 95.0) is None


def _survey_file(tmp_path, name="s.fits", **kwargs):
    rng = np.random.default_rng(5)
    ra = 150.0 + rng.uniform(-3, 3, 200)
    dec = -40.0 + rng.uniform(-2, 2, 200)
    return synth.write_event_list(tmp_path / name, ra=ra, dec=dec, n_events=200,
                                  energies=np.geomspace(1, 10, 200) * u.TeV, header_overrides={
                                      "RA_PNT": None, "DEC_PNT": None, **kwargs}), ra, dec


def test_survey_region_from_the_events(tmp_path, collection):
    path, ra, dec = _survey_file(tmp_path)
    run = dl3.read_run(path, collection)
    row = rows.obs_row(run, collection, "x")
    assert row["s_region_origin"] == "events"
    events = fits.getdata(path, "EVENTS")
    ra, dec = events["RA"].astype(float), events["DEC"].astype(float)  # as stored
    centre = SkyCoord(row["s_ra"] * u.deg, row["s_dec"] * u.deg)
    separation = centre.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
    assert row["s_fov"] == pytest.approx(2 * separation.max(), rel=1e-6)
    assert _inside_convex_polygon(row["s_region_vertices"], ra, dec).all()
    # the centre is the mean direction of the events
    mean = SkyCoord(ra * u.deg, dec * u.deg).cartesian.mean()
    assert centre.separation(SkyCoord(mean, representation_type="cartesian")).deg < 1e-6
    assert (row["ra_pnt"], row["dec_pnt"]) == (None, None)


def test_survey_region_none(tmp_path):
    path, _, _ = _survey_file(tmp_path)
    coll = make_collection(tmp_path, survey_region="none")
    row = rows.obs_row(dl3.read_run(path, coll), coll, "x")
    assert (row["s_ra"], row["s_fov"], row["s_region_vertices"], row["s_region_origin"]) == (
        None, None, None, None)


def test_incomplete_pointing_gives_no_region(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "r.fits", header_overrides={"DEC_PNT": None})
    run = dl3.read_run(path, collection)
    row = rows.obs_row(run, collection, "x")
    assert row["s_region_vertices"] is None and row["s_ra"] is None
    assert any("incomplete pointing" in p for p in run.problems)


def test_pointed_run_region_unchanged(tmp_path, collection):
    run = dl3.read_run(synth.write_event_list(tmp_path / "r.fits"), collection)
    row = rows.obs_row(run, collection, "x")
    assert (row["s_ra"], row["s_dec"], row["s_fov"]) == (83.633333333333, 21.514444444444, 5.0)
    assert row["s_region_vertices"] == rows.fov_polygon(83.633333333333, 21.514444444444, 5.0)
    assert run.footprint is None


# ------------------------------------------------------ separate IRF files

def _fact_like(tmp_path, irf_rows=None, irf_file=True):
    events = synth.write_event_list(tmp_path / "events" / "run_1.fits", obs_id=1)
    if irf_file:
        synth.write_irf_file(tmp_path / "irf" / "irf.fits", types=("aeff", "edisp"),
                             containment="POINT-LIKE")
    synth.write_hdu_index(tmp_path, irf_rows if irf_rows is not None else
                          synth.hdu_index_rows(1, "irf.fits", file_dir="irf",
                                               types=("aeff", "edisp")))
    return events


def test_missing_irf_file_is_reported_naming_the_hdu_index(tmp_path, collection):
    events = _fact_like(tmp_path, irf_file=False)
    run = dl3.read_run(events, collection)
    assert run.irfs == ()
    problems = [p for p in run.problems if "hdu-index" in p]
    assert len(problems) == 2
    # named relative to the collection's data folder: no server path is published
    assert problems[0].startswith("hdu-index hdu-index.fits.gz: ")
    assert "irf/irf.fits" in problems[0] and "cannot read file" in problems[0]
    assert str(tmp_path) not in problems[0]


def test_missing_irf_hdu_is_reported(tmp_path, collection):
    rows_ = synth.hdu_index_rows(1, "irf.fits", file_dir="irf", types=("aeff", "edisp"),
                                 hdu_names={"edisp": "NOPE"})
    run = dl3.read_run(_fact_like(tmp_path, rows_), collection)
    assert [r.hdu_type for r in run.irfs] == ["aeff"]
    assert any("no HDU 'NOPE'" in p and "hdu-index" in p for p in run.problems)
    assert run.irf_containment == "point-like"


def test_malformed_hdu_index_is_named(tmp_path, collection):
    rows_ = [{k: v for k, v in r.items() if k != "HDU_TYPE"}
             for r in synth.hdu_index_rows(1, "irf.fits", file_dir="irf")]
    run = dl3.read_run(_fact_like(tmp_path, rows_), collection)
    assert run.irfs == ()
    (problem,) = [p for p in run.problems if "hdu-index" in p]
    assert problem.startswith("hdu-index hdu-index.fits.gz") and "HDU_TYPE" in problem
    assert str(tmp_path) not in problem
    assert str(run.path) not in problem


def test_unreadable_obs_index_is_named(tmp_path, collection):
    (tmp_path / "obs-index.fits.gz").write_bytes(b"not a FITS file at all" * 100)
    run = dl3.read_run(synth.write_event_list(tmp_path / "r.fits"), collection)
    (problem,) = run.problems
    assert problem.startswith("obs-index obs-index.fits.gz")
    assert str(tmp_path) not in problem


# ------------------------------------------------------ ALTITUDE

@pytest.mark.parametrize("value, unit, expected, note", [
    ((2.2, "[km] site altitude"), None, 2200.0, "ALTITUDE in km (header comment)"),
    ((2200.0, "[m]"), "km", 2200.0, None),  # the comment wins over the configuration
    (2.2, "km", 2200.0, "ALTITUDE in km (altitude_unit: km)"),
    (2.2, None, 2.2, "unusually low"),  # not guessed: kept, and said
    (5.0, "m", 5.0, None),  # a site 5 m above the sea
    (1835.0, None, 1835.0, None),
])
def test_altitude(tmp_path, value, unit, expected, note):
    coll = make_collection(tmp_path, altitude_unit=unit)
    run = dl3.read_run(synth.write_event_list(tmp_path / "r.fits",
                                              header_overrides={"ALTITUDE": value}), coll)
    assert run.altitude == pytest.approx(expected)
    noted = [p for p in run.problems if "ALTITUDE" in p]
    assert (note is None and not noted) or (note and note in noted[0])


# ------------------------------------------------------ configuration

def _config(tmp_path, **entry):
    doc = {"collections": [{"name": "c", "data_dir": str(tmp_path), "obs_collection": "C",
                            **entry}]}
    return config.parse(doc, tmp_path / "x.yaml")


@pytest.mark.parametrize("entry, message", [
    ({"obs_id_from_filename": "run_\\d+"}, "exactly one group"),
    ({"obs_id_from_filename": "(a)(b)"}, "exactly one group"),
    ({"obs_id_from_filename": "(unclosed"}, "not a valid regular expression"),
    ({"altitude_unit": "ft"}, "altitude_unit"),
    ({"survey_region": "footprint"}, "survey_region"),
])
def test_invalid_new_keys(tmp_path, entry, message):
    with pytest.raises(config.ConfigError, match=message):
        _config(tmp_path, **entry)


def test_new_keys(tmp_path):
    (coll,) = _config(tmp_path, obs_id_keyword="run_id", obs_id_from_filename="_(w\\d+)_",
                      altitude_unit="km", survey_region="none").collections
    assert (coll.obs_id_keyword, coll.altitude_unit, coll.survey_region) == ("RUN_ID", "km", "none")
    assert coll.obs_id_from("lat_photon_weekly_w123_p305.fits") == "w123"
    assert coll.obs_id_from("other.fits") is None
    (default,) = _config(tmp_path).collections
    assert (default.survey_region, default.obs_id_from_filename, default.altitude_unit) == (
        "events", None, None)


def test_example_configuration_matches_the_families(families, tmp_path):
    written, generated = families
    # The example's data_dirs are relative to its own folder: put it beside
    # links to the family folders (the module's shared folder stays untouched).
    for family in written.values():
        (tmp_path / family.directory.name).symlink_to(family.directory)
    shutil.copy(EXAMPLE, tmp_path / "example.yaml")
    example = config.load(tmp_path / "example.yaml")
    assert [c.name for c in example.collections] == list(synth.FAMILIES)
    for mine, theirs in zip(example.collections, generated.collections):
        left, right = dataclasses.asdict(mine), dataclasses.asdict(theirs)
        left.pop("rights"), right.pop("rights")
        assert left.pop("data_dir") == tmp_path / right.pop("data_dir").name
        assert left == right


# ------------------------------------------------------ the demo's configuration

def test_demo_config_for_hess_files_is_the_default(tmp_path):
    path, origin = democonfig.demo_config(tmp_path / "d.yaml", data_dir=SAMPLE_DIR)
    (coll,) = config.load(path).collections
    assert (coll.name, coll.data_dir, coll.facility_name) == ("hess-dl3-dr1", SAMPLE_DIR,
                                                              "H.E.S.S.")
    assert "H.E.S.S. files only" in origin


def test_demo_config_uses_the_folders_own_file(families, tmp_path):
    written, _ = families
    dest = written["hess"].directory.parent
    path, origin = democonfig.demo_config(tmp_path / "d.yaml", data_dir=dest)
    cfg = config.load(path)
    assert [c.data_dir for c in cfg.collections] == [f.directory for f in written.values()]
    assert "own configuration" in origin


def test_demo_config_for_mixed_folders_claims_nothing(tmp_path):
    synth.write_families(tmp_path / "data", ["hess", "fact", "fermi-ft1"])
    path, origin = democonfig.demo_config(tmp_path / "d.yaml", data_dir=tmp_path / "data")
    cfg = {c.name: c for c in config.load(path).collections}
    assert set(cfg) == {"hess", "fact", "fermi-ft1"}
    assert cfg["hess"].facility_name == "H.E.S.S."  # H.E.S.S. files: the shipped defaults
    for name in ("fact", "fermi-ft1"):
        assert (cfg[name].facility_name, cfg[name].instrument_name,
                cfg[name].fov_diameter_deg) == (None, None, None)
        assert "H.E.S.S." not in (cfg[name].rights or "")
    assert "multi-instrument.yaml" in origin


def test_demo_config_makes_relative_data_dirs_absolute(families, tmp_path):
    written, _ = families
    source = written["hess"].directory.parent / "hess_dr.yaml"
    path, _ = democonfig.demo_config(tmp_path / "elsewhere" / "d.yaml", config=source)
    assert [c.data_dir for c in config.load(path).collections] == [
        f.directory for f in written.values()]


# ------------------------------------------------------ the synthetic factory

def test_defaults_of_the_factory_are_unchanged():
    header = synth.event_header()
    assert (header["MJDREFI"], header["MJDREFF"], header["TIMESYS"]) == (
        51910, 0.000742870370370241, "TT")
    assert (header["DATE-OBS"], header["TIME-OBS"]) == ("2004-12-04", "22:08:10.184")
    assert "MJDREF" not in header


def test_single_mjdref_and_other_timesys():
    header = synth.event_header(mjdref=59366.0, timesys="TAI", tstart=0.0, tstop=10.0)
    assert header["MJDREF"] == 59366.0 and "MJDREFI" not in header
    assert (header["DATE-OBS"], header["TIME-OBS"]) == ("2021-06-01", "00:00:00.000")


def test_ft1_file_shape(tmp_path):
    path = synth.write_ft1(tmp_path / "ft1.fits.gz", n_events=50)
    with fits.open(path) as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "EVENTS", "GTI"]
        header = hdus["EVENTS"].header
        assert (header["HDUCLASS"], header["TELESCOP"], header["TIMESYS"]) == (
            "OGIP", "GLAST", "TT")
        assert "OBS_ID" not in header and "RA_PNT" not in header
        assert hdus["EVENTS"].columns["ENERGY"].unit == "MeV"
        assert len(hdus["EVENTS"].data) == 50
        times, gti = hdus["EVENTS"].data["TIME"], hdus["GTI"].data
        in_gti = (times[:, None] >= gti["START"]) & (times[:, None] <= gti["STOP"])
        assert in_gti.any(axis=1).all()
