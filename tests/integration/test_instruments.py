"""Every instrument family side by side in one live instance.

Synthetic files of every family of hess_dr_dev.synthetic.FAMILIES (H.E.S.S.,
MAGIC, VERITAS, FACT with an hdu-index and a separate IRF file, LST-1
point-like with RAD_MAX, HAWC with 20,000 GTIs, Fermi-LAT FT1) are written
into one data folder, one collection each, and imported into one private
DaCHS instance.  Everything is checked through TAP and DataLink against an
independent reading of each file with plain astropy (its own MJDREF,
TIMESYS and energy unit).  A copy of the FT1 file in a collection without
``obs_id_from_filename`` is published with its file name as OBS_ID (Gammapy
reads it); another, in a collection with ``obs_id_from_filename: none``, is
skipped with a reason.
"""
from __future__ import annotations

import io
import shutil
import time
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import pyvo
import yaml
from astropy import constants as const
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits, votable
from astropy.time import Time

from dachs_support import cutout_endpoint, make_service

from hess_dr_dev import synthetic as synth

HAWC_GTIS = 20000
# h c from CODATA via astropy (never the service's own constant): lambda = hc / E.
HC_EV_M = (const.h * const.c).to_value(u.eV * u.m)
UNCONFIGURED = "fermi-unconfigured"
REFUSING = "fermi-refusing"

#: analysis_mode each family must get (None: the files do not say).
ANALYSIS_MODE = {"hess": "full-enclosure", "magic": None, "veritas": "full-enclosure",
                 "fact": "point-like", "lst-pointlike": "point-like", "hawc": None,
                 "fermi-ft1": None}


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    """(service, {name: Family}, {collection: FT1 copy}, import seconds)."""
    data = tmp_path_factory.mktemp("families_data")
    written = synth.write_families(data, hawc_gti_count=HAWC_GTIS)
    config = synth.families_config(written, absolute=True)
    copies = {}
    for name, obs_collection, extra in ((UNCONFIGURED, "SYNTH-FERMI-NOCONF", {}),
                                        (REFUSING, "SYNTH-FERMI-REFUSE",
                                         {"obs_id_from_filename": "none"})):
        copies[name] = data / name / synth.FT1_FILE_NAME
        copies[name].parent.mkdir()
        shutil.copy(written["fermi-ft1"].event_files[0], copies[name])
        config["collections"].append({
            "name": name, "data_dir": str(copies[name].parent),
            "obs_collection": obs_collection, "facility_name": "Fermi", **extra})
    config_path = tmp_path_factory.mktemp("families_config") / "hess_dr.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.monotonic()
    with make_service(tmp_path_factory, config_path, "families") as service:
        yield service, written, copies, time.monotonic() - start


@pytest.fixture(scope="module")
def tap(families):
    return pyvo.dal.TAPService(families[0].tap_url)


@pytest.fixture(scope="module")
def obscore(tap):
    """{(obs_collection, obs_id): row} of ivoa.obscore joined with obscore_hea."""
    table = tap.run_sync(
        "SELECT o.*, h.ev_xel, h.energy_min, h.energy_max, h.analysis_mode,"
        " h.t_intervals, h.tracking_mode, h.obs_mode"
        " FROM ivoa.obscore AS o JOIN ivoa.obscore_hea AS h USING (obs_publisher_did)"
        " WHERE o.obs_collection LIKE 'SYNTH-%'").to_table()
    return {(str(r["obs_collection"]), str(r["obs_id"])): r for r in table}


# ------------------------------------------------------ independent reading

def _events_hdu(hdus):
    return next(h for h in hdus[1:] if h.name == "EVENTS")


def _expected_obs_id(path: Path, header) -> str:
    """OBS_ID as text; for FT1 files (none in the file), the file-name stem
    before '_PH' (what obs_id_from_filename configures)."""
    if "OBS_ID" not in header:
        return path.name.split("_PH")[0]
    value = header["OBS_ID"]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _mjd_utc(header, met):
    """MJD (UTC) of MET seconds, from the header's own reference."""
    if "MJDREFI" in header:
        epoch = Time(float(header["MJDREFI"]), float(header["MJDREFF"]), format="mjd",
                     scale=header["TIMESYS"].strip().lower())
    else:
        epoch = Time(float(header["MJDREF"]), format="mjd",
                     scale=header["TIMESYS"].strip().lower())
    return (epoch + np.asarray(met, float) * u.s).utc.mjd


def _energies_ev(hdu) -> np.ndarray:
    column = hdu.columns["ENERGY"]
    unit = u.Unit(column.unit or hdu.header["EUNIT"])
    return (np.asarray(hdu.data["ENERGY"], float) * unit).to_value(u.eV)


def _null(value) -> bool:
    """A NULL in a pyvo result (masked; an empty string for regions)."""
    return value is None or np.ma.is_masked(value) or (isinstance(value, str) and not value)


def _independent(path: Path) -> dict:
    with fits.open(path) as hdus:
        events = _events_hdu(hdus)
        header = events.header
        gti = next(h for h in hdus[1:] if h.name == "GTI")
        energy = _energies_ev(events) if len(events.data) else np.array([])
        return {
            "obs_id": _expected_obs_id(path, header),
            "instrument": header["INSTRUME"].strip(),
            "t_min": float(_mjd_utc(header, header["TSTART"])),
            "t_max": float(_mjd_utc(header, header["TSTOP"])),
            "n_events": len(events.data),
            "energy_min": float(energy.min()) if len(energy) else None,
            "energy_max": float(energy.max()) if len(energy) else None,
            "ra_pnt": header.get("RA_PNT"), "dec_pnt": header.get("DEC_PNT"),
            "n_gti": len(gti.data),
        }


def _all_files(written):
    for name, family in written.items():
        for path in family.event_files:
            yield name, family, path


def _row(obscore, family, path):
    expected = _independent(path)
    key = (family.collection["obs_collection"], expected["obs_id"])
    assert key in obscore, f"{path.name} not published as {key}"
    return obscore[key], expected


# ------------------------------------------------------------------ tests

def test_every_family_is_published_side_by_side(families, obscore):
    service, written, _, seconds = families
    published = {key for key in obscore if not key[0].startswith("SYNTH-FERMI-")
                 or key[0] == "SYNTH-FERMI-LAT"}
    expected = {(f.collection["obs_collection"], _independent(p)["obs_id"])
                for _, f, p in _all_files(written)}
    assert published == expected
    assert len(expected) == 13
    print(f"\nimport + publish + serve of {len(expected)} runs "
          f"({HAWC_GTIS + 12 + 16} GTIs): {seconds:.1f} s")


@pytest.mark.parametrize("name", list(synth.FAMILIES))
def test_identity_times_energies(families, obscore, name):
    _, written, _, _ = families
    family = written[name]
    for path in family.event_files:
        row, expected = _row(obscore, family, path)
        assert row["facility_name"] == family.collection["facility_name"]
        assert row["instrument_name"] == expected["instrument"]
        assert row["dataproduct_type"] == "event"
        assert row["t_min"] == pytest.approx(expected["t_min"], abs=1e-9)
        assert row["t_max"] == pytest.approx(expected["t_max"], abs=1e-9)
        assert row["ev_xel"] == expected["n_events"]
        if expected["energy_min"] is None:
            assert _null(row["energy_min"]) and _null(row["em_max"])
        else:
            assert row["energy_min"] == pytest.approx(expected["energy_min"], rel=1e-9)
            assert row["energy_max"] == pytest.approx(expected["energy_max"], rel=1e-9)
            # ObsCore wavelengths, float4 in the view (relative precision 6e-8);
            # abs=0: they are ~1e-20 m, far below approx's default abs of 1e-12
            assert row["em_min"] == pytest.approx(HC_EV_M / expected["energy_max"],
                                                  rel=1e-6, abs=0)
            assert row["em_max"] == pytest.approx(HC_EV_M / expected["energy_min"],
                                                  rel=1e-6, abs=0)
        mode = ANALYSIS_MODE[name]
        if mode is None:
            assert _null(row["analysis_mode"])
        else:
            assert row["analysis_mode"] == mode


@pytest.mark.parametrize("name", ["hess", "magic", "veritas", "fact", "lst-pointlike"])
def test_pointed_families_keep_the_pointing_and_fov(families, obscore, name):
    _, written, _, _ = families
    family = written[name]
    for path in family.event_files:
        row, expected = _row(obscore, family, path)
        assert row["s_ra"] == pytest.approx(expected["ra_pnt"])
        assert row["s_dec"] == pytest.approx(expected["dec_pnt"])
        assert row["s_fov"] == pytest.approx(family.collection["fov_diameter_deg"])
        assert not _null(row["s_region"])


def test_hawc_survey_has_no_invented_position(families, obscore, tap):
    _, written, _, _ = families
    family = written["hawc"]
    row, _ = _row(obscore, family, family.event_files[0])
    # a band of the sky: no circle within a hemisphere holds the events
    for column in ("s_ra", "s_dec", "s_fov", "s_region"):
        assert _null(row[column]), column
    obs = tap.run_sync("SELECT ra_pnt, dec_pnt, alt_pnt, s_region_origin FROM hess_dr.obs_index"
                       " WHERE obs_id = 'HAWC-2021-06-01'").to_table()[0]
    assert all(_null(obs[c]) for c in ("ra_pnt", "dec_pnt", "alt_pnt",
                                                   "s_region_origin"))
    assert row["tracking_mode"] == "fixed-az-el-transit"
    assert row["obs_mode"] == "DRIFT"


def test_fermi_region_is_the_files_roi(families, obscore, tap):
    _, written, _, _ = families
    family = written["fermi-ft1"]
    path = family.event_files[0]
    row, _ = _row(obscore, family, path)
    header = fits.getheader(path, "EVENTS")
    roi = next(header[f"DSVAL{i}"] for i in range(1, header["NDSKEYS"] + 1)
               if header[f"DSTYP{i}"] == "POS(RA,DEC)")
    ra, dec, radius = (float(v) for v in roi[len("CIRCLE("):-1].split(","))
    assert (row["s_ra"], row["s_dec"]) == (pytest.approx(ra), pytest.approx(dec))
    assert row["s_fov"] == pytest.approx(2 * radius)
    # the events farthest from the centre are inside s_region
    with fits.open(path) as hdus:
        events = hdus["EVENTS"].data
        separation = SkyCoord(events["RA"] * u.deg, events["DEC"] * u.deg).separation(
            SkyCoord(ra * u.deg, dec * u.deg)).deg
        outer = np.argsort(separation)[-3:]
        points = [(float(events["RA"][i]), float(events["DEC"][i])) for i in outer]
    assert separation.max() <= radius
    for point_ra, point_dec in points:
        hit = tap.run_sync(
            "SELECT COUNT(*) AS n FROM ivoa.obscore WHERE obs_collection = 'SYNTH-FERMI-LAT'"
            f" AND 1 = CONTAINS(POINT('ICRS', {point_ra!r}, {point_dec!r}), s_region)"
        ).to_table()
        assert hit["n"][0] == 1
    obs = tap.run_sync("SELECT s_region_origin, problems FROM hess_dr.obs_index"
                       " WHERE obs_collection = 'SYNTH-FERMI-LAT'").to_table()[0]
    assert obs["s_region_origin"] == "file-roi"
    assert "taken from the file name" in obs["problems"]


def test_fermi_without_configuration_is_named_by_its_file(families, obscore, tap):
    _, _, copies, _ = families
    stem = synth.FT1_FILE_NAME[:-len(".fits")]
    assert [key for key in obscore if key[0] == "SYNTH-FERMI-NOCONF"] == [
        ("SYNTH-FERMI-NOCONF", stem)]
    problems = tap.run_sync("SELECT problems FROM hess_dr.obs_index"
                            " WHERE obs_collection = 'SYNTH-FERMI-NOCONF'").to_table()
    assert "OBS_ID missing: the file name without its extension used" in str(
        problems["problems"][0])


def test_fermi_refused_by_configuration_is_skipped_with_its_reason(families, obscore):
    service, _, copies, _ = families
    assert not [key for key in obscore if key[0] == "SYNTH-FERMI-REFUSE"]
    lines = [line for line in service.import_output.splitlines()
             if str(copies[REFUSING]) in line]
    assert any("skipped" in line and "missing required keyword OBS_ID" in line
               for line in lines), lines


def test_gti_rows_per_run(families, tap):
    _, written, _, _ = families
    counts = tap.run_sync("SELECT obs_id, collection, COUNT(*) AS n FROM hess_dr.gti"
                          " GROUP BY obs_id, collection").to_table()
    got = {(str(r["collection"]), str(r["obs_id"])): int(r["n"]) for r in counts}
    for name, family, path in _all_files(written):
        expected = _independent(path)
        assert got[(name, expected["obs_id"])] == expected["n_gti"], path.name
    assert got[("hawc", "HAWC-2021-06-01")] == HAWC_GTIS


def test_hawc_gtis_and_t_moc_match_the_file(families, obscore, tap):
    _, written, _, _ = families
    family = written["hawc"]
    path = family.event_files[0]
    row, _ = _row(obscore, family, path)
    with fits.open(path) as hdus:
        header, data = hdus["GTI"].header, hdus["GTI"].data
        start_mjd = _mjd_utc(header, data["START"])
        stop_mjd = _mjd_utc(header, data["STOP"])
        epoch = Time(header["MJDREF"], format="mjd", scale="tai")
        first = (epoch + data["START"][0] * u.s).tdb
        last = (epoch + data["STOP"][-1] * u.s).tdb
    gti = tap.run_sync("SELECT gti_index, t_start, t_stop, met_start FROM hess_dr.gti"
                       " WHERE obs_id = 'HAWC-2021-06-01' ORDER BY gti_index",
                       maxrec=HAWC_GTIS + 10).to_table()
    assert len(gti) == HAWC_GTIS
    assert np.allclose(gti["t_start"], start_mjd, rtol=0, atol=1e-9)
    assert np.allclose(gti["t_stop"], stop_mjd, rtol=0, atol=1e-9)
    assert np.array_equal(gti["met_start"], data["START"])
    ranges = str(row["t_intervals"]).removeprefix("t61/").split()
    assert len(ranges) == HAWC_GTIS  # gaps of 0.32 s between intervals are kept

    def microseconds(t):  # since JD 0 (TDB), in exact integer arithmetic
        return int(round(t.jd1 * 2)) * 43_200_000_000 + int(round(t.jd2 * 86_400_000_000))

    lo = int(ranges[0].split("-")[0])
    hi = int(ranges[-1].split("-")[1])
    assert abs(lo - microseconds(first)) <= 1
    assert abs(hi - (microseconds(last) - 1)) <= 1


# ---------------------------------------------------------------- DataLink

def _links(tap, collection, obs_id):
    result = tap.run_sync(f"SELECT * FROM ivoa.obscore WHERE obs_collection = '{collection}'"
                          f" AND obs_id = '{obs_id}'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return result[0].getdatalink()


def _pairs(links):
    return [(str(r["semantics"]), str(r["content_qualifier"] or "")) for r in links.to_table()]


def _get(url):
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.headers.get("content-type"), response.read()


EXPECTED_IRF_LINKS = {
    "hess": ["aeff", "edisp", "psf", "bkgrate"],
    "magic": ["aeff", "edisp", "psf", "bkgrate"],
    "veritas": ["aeff", "edisp", "psf", "bkgrate"],
    "fact": ["aeff", "edisp"],
    "lst-pointlike": ["aeff", "edisp", "rad_max"],
    "hawc": [],
    "fermi-ft1": [],
}
#: Families whose IRFs are HDUs of the event list file (FACT's are in a
#: separate file named by an hdu-index; HAWC and Fermi have none).
IRFS_IN_EVENT_FILE = {"hess", "magic", "veritas", "lst-pointlike"}


@pytest.mark.parametrize("name", list(synth.FAMILIES))
def test_datalink_of_every_family(families, tap, name):
    _, written, _, _ = families
    family = written[name]
    path = family.event_files[0]
    links = _links(tap, family.collection["obs_collection"], _independent(path)["obs_id"])
    pairs = _pairs(links)
    assert pairs[0] == ("#this", "event-list")
    assert [q for s, q in pairs if s == "#calibration"] == EXPECTED_IRF_LINKS[name]
    assert ("#cutout", "event-list") in pairs
    assert ("#package", "event-bundle") in pairs
    table = links.to_table()
    (this,) = [str(r["access_url"]) for r in table if str(r["semantics"]) == "#this"]
    calibration = [str(r["access_url"]) for r in table if str(r["semantics"]) == "#calibration"]
    if name in IRFS_IN_EVENT_FILE:
        # IRFs that are HDUs of the event list are linked to that file
        assert set(calibration) == {this}
    else:
        # IRFs of a separate file: each link answers with a single-IRF GADF file
        assert this not in calibration
        for url in calibration:
            content_type, body = _get(url)
            assert content_type == "application/x-fits-gadf"
            with fits.open(io.BytesIO(body)) as hdus:
                assert len(hdus) == 2


def test_fact_irf_links_come_from_the_separate_file(families, tap, tmp_path):
    from gammapy.irf import EffectiveAreaTable2D
    _, written, _, _ = families
    family = written["fact"]
    links = _links(tap, "SYNTH-FACT", _independent(family.event_files[0])["obs_id"])
    table = links.to_table()
    url = next(str(r["access_url"]) for r in table if r["content_qualifier"] == "aeff")
    _, body = _get(url)
    (tmp_path / "aeff.fits").write_bytes(body)
    with fits.open(tmp_path / "aeff.fits") as hdus:
        assert hdus[0].header["ORIGFILE"] == "fact_irf.fits.gz"
        assert hdus[1].header["HDUCLAS3"] == "POINT-LIKE"
    aeff = EffectiveAreaTable2D.read(tmp_path / "aeff.fits", hdu=1)
    assert aeff.data.max() > 0


def test_lst_rad_max_link_is_read_by_gammapy(families, tap, tmp_path):
    from gammapy.irf import RadMax2D
    _, written, _, _ = families
    family = written["lst-pointlike"]
    links = _links(tap, "SYNTH-LST1", _independent(family.event_files[0])["obs_id"])
    table = links.to_table()
    url = next(str(r["access_url"]) for r in table
               if r["semantics"] == "#calibration" and r["content_qualifier"] == "rad_max")
    _, body = _get(url)
    (tmp_path / "rad_max.fits").write_bytes(body)
    rad_max = RadMax2D.read(tmp_path / "rad_max.fits", hdu="RAD_MAX")
    assert np.allclose(rad_max.quantity.to_value(u.deg), 0.2)


@pytest.mark.parametrize("name, energy", [("fact", (1.0, 10.0)), ("hawc", (1.0, 10.0))])
def test_energy_cutout_matches_an_independent_filter(families, tap, tmp_path, name, energy):
    _, written, _, _ = families
    family = written[name]
    path = family.event_files[0]
    links = _links(tap, family.collection["obs_collection"], _independent(path)["obs_id"])
    did = str(links.to_table()[0]["ID"])
    query = urllib.parse.urlencode({"ID": did, "ENERGY": f"{energy[0]} {energy[1]}"})
    content_type, body = _get(f"{cutout_endpoint(links)}?{query}")
    assert content_type == "application/x-fits-gadf"
    (tmp_path / "cut.fits").write_bytes(body)
    with fits.open(path) as hdus:
        events = hdus["EVENTS"]
        tev = (np.asarray(events.data["ENERGY"], float)
               * u.Unit(events.columns["ENERGY"].unit)).to_value(u.TeV)
        keep = (tev >= energy[0]) & (tev <= energy[1])
        expected_ids = events.data["EVENT_ID"][keep]
        n_gti = len(hdus["GTI"].data)
    with fits.open(tmp_path / "cut.fits") as hdus:
        assert sorted(hdus["EVENTS"].data["EVENT_ID"]) == sorted(expected_ids)
        assert 0 < len(expected_ids) < len(events.data)
        assert len(hdus["GTI"].data) == n_gti
        if name == "fact":  # the IRFs of the separate file travel with the events
            assert [h.name for h in hdus][1:] == ["EVENTS", "GTI", "AEFF", "EDISP"]


@pytest.mark.parametrize("name", ["hawc", "fermi-ft1"])
def test_survey_previews_gtis_and_format(families, tap, obscore, name):
    _, written, _, _ = families
    family = written[name]
    path = family.event_files[0]
    row, expected = _row(obscore, family, path)
    ogip = name == "fermi-ft1"
    assert row["access_format"] == ("application/x-fits-ogip" if ogip
                                    else "application/x-fits-gadf")
    links = _links(tap, family.collection["obs_collection"], expected["obs_id"])
    table = links.to_table()
    this = next(r for r in table if r["semantics"] == "#this")
    assert this["content_type"] == row["access_format"]
    for semantics in ("#preview-image", "#preview-plot"):
        url = next(str(r["access_url"]) for r in table if r["semantics"] == semantics)
        content_type, body = _get(url)
        assert content_type == "image/png" and body[:4] == b"\x89PNG"
    url = next(str(r["access_url"]) for r in table if r["content_qualifier"] == "gti")
    _, body = _get(url)
    gti = votable.parse(io.BytesIO(body)).get_first_table().array
    assert len(gti) == expected["n_gti"]


def test_collection_removed_from_the_configuration_is_pruned(tmp_path_factory):
    """A re-import after a collection was removed from the configuration
    drops that collection's rows (its files still exist, but no configured
    data_dir holds them) and keeps every other row.  Its own instance (two
    families): it changes the configuration."""
    data = tmp_path_factory.mktemp("pruned_data")
    written = synth.write_families(data, ["hess", "veritas"])
    config = synth.families_config(written, absolute=True)
    config_path = tmp_path_factory.mktemp("pruned_config") / "hess_dr.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    with make_service(tmp_path_factory, config_path, "pruned") as service:
        tap = pyvo.dal.TAPService(service.tap_url)

        def counts():
            return {str(r["obs_collection"]): int(r["n"]) for r in tap.run_sync(
                "SELECT obs_collection, COUNT(*) AS n FROM ivoa.obscore"
                " GROUP BY obs_collection").to_table()}

        def veritas_gtis():
            return tap.run_sync("SELECT COUNT(*) AS n FROM hess_dr.gti"
                                " WHERE collection = 'veritas'").to_table()["n"][0]

        assert counts() == {f.collection["obs_collection"]: len(f.event_files)
                            for f in written.values()}
        assert veritas_gtis() == sum(_independent(p)["n_gti"]
                                     for p in written["veritas"].event_files)
        config["collections"] = [c for c in config["collections"] if c["name"] != "veritas"]
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        service.instance.stop_server()
        try:
            result = service.instance.run_dachs("imp", "hess_dr/q")
        finally:
            service.instance.start_server()
        output = result.stdout + result.stderr
        assert output.count("is below no configured data_dir any more") == len(
            written["veritas"].event_files) == 3
        assert counts() == {written["hess"].collection["obs_collection"]:
                            len(written["hess"].event_files)}
        assert veritas_gtis() == 0
