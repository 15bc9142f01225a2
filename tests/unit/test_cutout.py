"""Unit tests of hess_dr.cutout: event selections checked against plain
astropy/numpy filters of the original files, never against the module."""
from __future__ import annotations

import functools
import gzip
import io
import re

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS
from regions import PolygonSkyRegion

from hess_dr_dev import synthetic as synth
from unit_support import SAMPLE_DIR, make_collection
from hess_dr import dl3
from hess_dr.cutout import CutoutError, cutout, gti_intersection, write_bytes
from hess_dr.soda import CutoutSpec, parse_cutout

HC_TEV_M = (const.h * const.c).to_value(u.TeV * u.m)
IRF_NAMES = ["AEFF", "EDISP", "PSF", "BKG"]


def sample_path(key: str):
    return SAMPLE_DIR / f"hess_dl3_dr1_obs_id_{key}.fits.gz"


@pytest.fixture(scope="module")
def runs(sample_collection):
    return {key: dl3.read_run(sample_path(key), sample_collection)
            for key in ("023523", "020136")}


# --------------------------------------------------------------------------
# independent helpers: plain astropy on the original file
# --------------------------------------------------------------------------

class Original:
    """The original file's EVENTS columns, headers and GTIs."""

    def __init__(self, path):
        with fits.open(path) as hdus:
            events = hdus["EVENTS"]
            self.header = events.header.copy()
            self.columns = {c.name: (c.format, c.unit) for c in events.columns}
            self.data = {name: np.array(events.data[name]) for name in events.columns.names}
            self.gti = (np.array(hdus["GTI"].data["START"], float),
                        np.array(hdus["GTI"].data["STOP"], float)) if "GTI" in hdus else None
            self.hdu_names = [h.name for h in hdus]
        self.n = len(self.data["TIME"])

    @property
    def epoch(self) -> Time:
        h = self.header
        return Time(h["MJDREFI"], h["MJDREFF"], format="mjd", scale=h["TIMESYS"].strip().lower())

    def met(self, mjd_utc: float) -> float:
        return (Time(mjd_utc, format="mjd", scale="utc") - self.epoch).to_value(u.s)

    def energy_tev(self) -> np.ndarray:
        unit = self.columns["ENERGY"][1] or self.header["EUNIT"]
        return (self.data["ENERGY"].astype(float) * u.Unit(unit)).to_value(u.TeV)


@functools.lru_cache(maxsize=None)
def sample_original(key: str) -> Original:
    """The bundled file's Original, read once (treat as read-only)."""
    return Original(sample_path(key))


def haversine_deg(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, float)) for v in (ra1, dec1, ra2, dec2))
    a = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(a)))


def regions_polygon_mask(vertices, ra, dec):
    """regions' point-in-polygon in a TAN projection about the vertices' mean
    direction (great circles are straight lines there)."""
    corners = SkyCoord([v[0] for v in vertices] * u.deg, [v[1] for v in vertices] * u.deg)
    centre = SkyCoord(*corners.cartesian.xyz.mean(axis=1), representation_type="cartesian").spherical
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [centre.lon.deg, centre.lat.deg]
    wcs.wcs.cdelt = [-0.01, 0.01]
    wcs.wcs.crpix = [0, 0]
    points = SkyCoord(np.asarray(ra, float) * u.deg, np.asarray(dec, float) * u.deg)
    return np.asarray(PolygonSkyRegion(vertices=corners).contains(points, wcs))


def expected_gti(start, stop, lo, hi):
    """Intervals clipped to [lo, hi], empty ones dropped (a plain loop)."""
    rows = []
    for a, b in zip(start, stop):
        a, b = max(a, lo), min(b, hi)
        if b > a:
            rows.append((a, b))
    return rows


def reopen(hdulist, tmp_path, name="out.fits"):
    """Write with write_bytes and read back with astropy (a real file)."""
    path = tmp_path / name
    path.write_bytes(write_bytes(hdulist))
    return path, fits.open(path)


def cut(run, **params):
    return cutout(run, parse_cutout(params))


# --------------------------------------------------------------------------
# energy
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["023523", "020136"])
@pytest.mark.parametrize("lo, hi", [(1.0, 10.0), (0.3, 0.5), (20.0, 1000.0), (0.0, 0.25),
                                    (5.0, 5.0)])
def test_energy_cut_counts(runs, key, lo, hi):
    original = sample_original(key)
    energy = original.energy_tev()
    want = (energy >= lo) & (energy <= hi)
    out = cut(runs[key], ENERGY=f"{lo} {hi}")
    assert len(out["EVENTS"].data) == want.sum()
    np.testing.assert_array_equal(out["EVENTS"].data["EVENT_ID"], original.data["EVENT_ID"][want])


def test_energy_cut_known_count(runs):
    # 023523 has 7613 events between 0.244 and 101 TeV
    out = cut(runs["023523"], ENERGY="-Inf +Inf")
    assert len(out["EVENTS"].data) == 7613


def test_band_cut_counts(runs):
    original = sample_original("023523")
    lam_lo, lam_hi = 1e-19, 2e-18      # 0.62 TeV .. 12.4 TeV
    energy = original.energy_tev()
    want = (energy >= HC_TEV_M / lam_hi) & (energy <= HC_TEV_M / lam_lo)
    out = cut(runs["023523"], BAND=f"{lam_lo} {lam_hi}")
    assert 100 < want.sum() < original.n
    assert len(out["EVENTS"].data) == want.sum()


def test_energy_cut_on_mev_file(tmp_path, collection):
    energies = np.array([0.1, 0.9, 1.0, 5.0, 10.0, 10.5, 200.0]) * u.TeV
    path = synth.write_event_list(tmp_path / "mev.fits", energies=energies, energy_unit="MeV")
    run = dl3.read_run(path, collection)
    out = cut(run, ENERGY="1 10")
    assert out["EVENTS"].data["ENERGY"].tolist() == pytest.approx([1e6, 5e6, 1e7])
    assert out["EVENTS"].columns["ENERGY"].unit == "MeV"


def test_energy_unit_from_configuration_is_written_out(tmp_path):
    coll = make_collection(tmp_path, defaults={"timesys": "TT", "energy_unit": "GeV"})
    path = synth.write_event_list(tmp_path / "gev.fits", energies=[500.0, 2000.0, 5000.0] * u.GeV,
                                  energy_unit="GeV", energy_tunit=False,
                                  header_overrides={"EUNIT": None})
    run = dl3.read_run(path, coll)
    out = cut(run, ENERGY="1 3")
    assert out["EVENTS"].data["ENERGY"].tolist() == [2000.0]
    _, hdus = reopen(out, tmp_path)
    with hdus:
        assert hdus["EVENTS"].header["TUNIT5"] == "GeV"


# --------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------

# 23523 runs 2004-12-04 22:07:06 to 22:35:13 UTC = MJD 53343.921597 to 53343.941123
TIME_WINDOWS = {
    "inside": (53343.925, 53343.935),
    "overlaps-start": (53343.90, 53343.93),
    "overlaps-end": (53343.935, 53344.0),
    "covers": (53343.0, 53344.0),
    "before": (53342.0, 53343.0),
    "after": (53344.0, 53345.0),
}


@pytest.mark.parametrize("window", sorted(TIME_WINDOWS))
def test_time_cut_counts_and_gti(runs, window, tmp_path):
    lo, hi = TIME_WINDOWS[window]
    original = sample_original("023523")
    lo_met, hi_met = original.met(lo), original.met(hi)
    time = original.data["TIME"]
    want = (time >= lo_met) & (time <= hi_met)
    gti = expected_gti(*original.gti, lo_met, hi_met)

    path, hdus = reopen(cut(runs["023523"], TIME=f"{lo} {hi}"), tmp_path)
    with hdus:
        assert len(hdus["EVENTS"].data) == want.sum()
        got_gti = list(zip(hdus["GTI"].data["START"], hdus["GTI"].data["STOP"]))
        assert got_gti == pytest.approx(gti, abs=1e-5)
        header = hdus["EVENTS"].header
        assert header["ONTIME"] == pytest.approx(sum(b - a for a, b in gti), abs=1e-5)
    if window in ("before", "after"):
        assert want.sum() == 0 and gti == []
    elif window == "covers":
        assert want.sum() == 7613 and header["ONTIME"] == 1687.0
    else:
        assert 0 < want.sum() < 7613


def test_time_cut_inside_known_values(runs):
    out = cut(runs["023523"], TIME="53343.925 53343.935")
    header = out["EVENTS"].header
    # 53343.925 UTC = 22:12:00 UTC = MET 123891120 (2001-01-01 UTC epoch, no leap second in between)
    assert header["TSTART"] == pytest.approx(123891120.0, abs=1e-4)
    assert header["TSTOP"] == pytest.approx(123891984.0, abs=1e-4)
    assert header["ONTIME"] == pytest.approx(864.0, abs=1e-4)
    assert header["DATE-OBS"] == "2004-12-04"
    assert header["TIME-OBS"] == "22:13:04.184"   # TT, as the DR1 headers write it
    assert header["TIME-END"] == "22:27:28.184"


@pytest.mark.parametrize("window", ["inside", "overlaps-start", "overlaps-end", "after"])
def test_time_cut_header_consistency(runs, window):
    lo, hi = TIME_WINDOWS[window]
    original = sample_original("023523")
    out = cut(runs["023523"], TIME=f"{lo} {hi}")
    header, gti = out["EVENTS"].header, out["GTI"].data
    ontime = float(np.sum(gti["STOP"] - gti["START"]))
    assert header["ONTIME"] == pytest.approx(ontime, abs=1e-6)
    assert header["DEADC"] == original.header["DEADC"]
    assert header["LIVETIME"] == pytest.approx(ontime * original.header["DEADC"], rel=1e-12, abs=1e-9)
    assert header["TELAPSE"] == pytest.approx(header["TSTOP"] - header["TSTART"], abs=1e-6)
    # the run's one GTI, clipped to the window; the window after the run keeps none
    assert len(gti) == (0 if window == "after" else 1)
    if window != "after":
        assert header["TSTART"] == pytest.approx(gti["START"].min(), abs=1e-6)
        assert header["TSTOP"] == pytest.approx(gti["STOP"].max(), abs=1e-6)
    assert out["GTI"].header["TSTART"] == header["TSTART"]
    assert out["GTI"].header["TSTOP"] == header["TSTOP"]
    # dates: MJDREF + TSTART/TSTOP in the file's TIMESYS (TT), ms precision
    for met, date_key, time_key in ((header["TSTART"], "DATE-OBS", "TIME-OBS"),
                                    (header["TSTOP"], "DATE-END", "TIME-END")):
        t = original.epoch + met * u.s
        t.precision = 3
        assert f"{header[date_key]}T{header[time_key]}" == t.isot


def test_time_cut_open_lower_bound(runs):
    original = sample_original("023523")
    hi_met = original.met(53343.93)
    out = cut(runs["023523"], TIME="-Inf 53343.93")
    assert len(out["EVENTS"].data) == (original.data["TIME"] <= hi_met).sum()
    assert out["EVENTS"].header["TSTART"] == original.header["TSTART"]
    assert out["EVENTS"].header["TSTOP"] == pytest.approx(hi_met, abs=1e-5)


def test_no_time_cut_keeps_time_keywords(runs):
    original = sample_original("023523")
    header = cut(runs["023523"], ENERGY="1 10")["EVENTS"].header
    for key in ("TSTART", "TSTOP", "ONTIME", "LIVETIME", "DEADC", "TELAPSE",
                "DATE-OBS", "TIME-OBS", "DATE-END", "TIME-END"):
        assert header[key] == original.header[key], key


@pytest.fixture
def many_gti_run(tmp_path, collection):
    """200 intervals of 5 s separated by 3-s gaps; events everywhere (also in gaps)."""
    t0 = 123890826.0
    gti = [(t0 + 8 * k, t0 + 8 * k + 5) for k in range(200)]
    rng = np.random.default_rng(7)
    times = np.sort(rng.uniform(t0, gti[-1][1], 3000))
    path = synth.write_event_list(tmp_path / "many.fits", times=times, n_events=3000,
                                  energies=np.full(3000, 1.0) * u.TeV, gti=gti,
                                  tstart=t0, tstop=gti[-1][1])
    return dl3.read_run(path, collection)


@pytest.mark.parametrize("offsets", [(100.5, 402.0), (3.0, 6.0), (5.5, 7.5), (-50, 2000),
                                     (1597.0, 1700.0)])
def test_time_cut_many_gtis(many_gti_run, offsets, tmp_path):
    original = Original(many_gti_run.path)
    t0 = original.gti[0][0]
    lo_met, hi_met = t0 + offsets[0], t0 + offsets[1]
    # MJD UTC bounds of those MET values, computed with astropy from the header
    lo, hi = ((original.epoch + met * u.s).utc.mjd for met in (lo_met, hi_met))
    lo_met, hi_met = original.met(lo), original.met(hi)   # what the MJD strings mean
    want_gti = expected_gti(*original.gti, lo_met, hi_met)
    want_events = ((original.data["TIME"] >= lo_met) & (original.data["TIME"] <= hi_met)).sum()

    _, hdus = reopen(cut(many_gti_run, TIME=f"{lo!r} {hi!r}"), tmp_path)
    with hdus:
        gti = hdus["GTI"].data
        assert list(zip(gti["START"], gti["STOP"])) == pytest.approx(want_gti, abs=1e-4)
        assert len(hdus["EVENTS"].data) == want_events
        assert hdus["EVENTS"].header["ONTIME"] == pytest.approx(
            sum(b - a for a, b in want_gti), abs=1e-3)
    if offsets == (5.5, 7.5):     # inside a gap: events but no good time
        assert want_gti == [] and want_events > 0
    if offsets == (-50, 2000):
        assert len(want_gti) == 200 and want_events == 3000


def test_gti_intersection_function():
    start, stop = gti_intersection([0, 10, 20], [5, 15, 25], 3, 20)
    assert start.tolist() == [3, 10] and stop.tolist() == [5, 15]
    start, stop = gti_intersection([0, 10], [5, 15])
    assert start.tolist() == [0, 10] and stop.tolist() == [5, 15]


def test_time_cut_on_utc_file(tmp_path, collection):
    """A file whose MET counts from an MJDREF in UTC (no 64.184-s offset)."""
    t0 = 123890826.0
    times = t0 + np.arange(0, 1000, 10.0)
    path = synth.write_event_list(tmp_path / "utc.fits", times=times, n_events=100,
                                  energies=np.ones(100) * u.TeV, tstart=t0, tstop=t0 + 1000,
                                  header_overrides={"TIMESYS": "utc", "MJDREFF": 0.0},
                                  gti_header_overrides={"TIMESYS": "UTC", "MJDREFF": 0.0})
    run = dl3.read_run(path, collection)
    original = Original(path)
    lo, hi = 53343.93, 53343.935
    want = (times >= original.met(lo)) & (times <= original.met(hi))
    out = cut(run, TIME=f"{lo} {hi}")
    assert len(out["EVENTS"].data) == want.sum() > 0
    # header dates are UTC clock readings, like the file's
    t = Time(out["EVENTS"].header["DATE-OBS"] + "T" + out["EVENTS"].header["TIME-OBS"], scale="utc")
    assert t.mjd == pytest.approx(lo, abs=2e-8)


def test_gti_in_another_time_reference_is_written_in_events_met(tmp_path, collection):
    # GTI counted from 2001-01-01 TT instead of the events' 2001-01-01 UTC (=TT - 64.184 s)
    t0 = 123890826.0
    path = synth.write_event_list(tmp_path / "gti_ref.fits", tstart=t0, tstop=t0 + 1000,
                                  gti=[(t0 + 100, t0 + 900)],
                                  gti_header_overrides={"MJDREFF": 0.0})
    run = dl3.read_run(path, collection)
    out = cut(run, TIME="53343.0 53344.0")
    gti = out["GTI"].data
    assert gti["START"].tolist() == pytest.approx([t0 + 100 - 64.184], abs=1e-5)
    assert gti["STOP"].tolist() == pytest.approx([t0 + 900 - 64.184], abs=1e-5)
    assert out["GTI"].header["MJDREFF"] == out["EVENTS"].header["MJDREFF"]


# --------------------------------------------------------------------------
# regions
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key, ra, dec, radius", [
    ("023523", 83.633, 22.014, 0.3),   # the Crab
    ("023523", 83.633, 21.514, 2.0),   # the whole field
    ("020136", 228.53, -59.16, 0.5),   # MSH 15-52
    ("020136", 100.0, 10.0, 1.0),      # elsewhere: nothing
])
def test_circle_cut_counts(runs, key, ra, dec, radius):
    original = sample_original(key)
    want = haversine_deg(ra, dec, original.data["RA"], original.data["DEC"]) <= radius
    out = cut(runs[key], CIRCLE=f"{ra} {dec} {radius}")
    assert len(out["EVENTS"].data) == want.sum()
    np.testing.assert_array_equal(out["EVENTS"].data["EVENT_ID"], original.data["EVENT_ID"][want])


def test_circle_via_pos_gives_the_same_events(runs):
    a = cut(runs["023523"], CIRCLE="83.633 22.014 0.3")["EVENTS"].data["EVENT_ID"]
    b = cut(runs["023523"], POS="CIRCLE 83.633 22.014 0.3")["EVENTS"].data["EVENT_ID"]
    np.testing.assert_array_equal(a, b)


def test_polygon_cut_on_real_run(runs):
    vertices = [(83.0, 21.5), (84.5, 21.6), (84.2, 22.6), (83.6, 22.1), (83.1, 22.5)]  # concave
    original = sample_original("023523")
    want = regions_polygon_mask(vertices, original.data["RA"], original.data["DEC"])
    text = " ".join(f"{ra} {dec}" for ra, dec in vertices)
    out = cut(runs["023523"], POLYGON=text)
    assert 100 < want.sum() < original.n
    np.testing.assert_array_equal(out["EVENTS"].data["EVENT_ID"], original.data["EVENT_ID"][want])


def test_polygon_crossing_ra_zero(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "ra0.fits", n_events=3000, ra_pnt=0.2, dec_pnt=0.0)
    run = dl3.read_run(path, collection)
    original = Original(path)
    ra, dec = original.data["RA"], original.data["DEC"]
    vertices = [(359.0, -1.0), (1.0, -1.0), (1.0, 1.0), (359.0, 1.0)]
    want = regions_polygon_mask(vertices, ra, dec)
    # the square is 2x2 deg about (0, 0); its edges are great circles, so a
    # flat box test agrees except within ~1e-4 deg of the dec = +-1 edges
    flat = ((ra >= 359.0) | (ra <= 1.0)) & (np.abs(dec) <= 1.0)
    assert abs(int(want.sum()) - int(flat.sum())) <= 2
    out = cut(run, POLYGON="359 -1 1 -1 1 1 359 1")
    got_ra = out["EVENTS"].data["RA"]
    assert len(got_ra) == want.sum()
    assert (got_ra > 358).any() and (got_ra < 2).any()    # both sides of RA = 0
    np.testing.assert_array_equal(out["EVENTS"].data["EVENT_ID"], original.data["EVENT_ID"][want])


def test_circle_near_the_pole(tmp_path, collection):
    rng = np.random.default_rng(3)
    n = 2000
    ra = rng.uniform(0, 360, n)
    dec = 90 - 3 * np.sqrt(rng.uniform(0, 1, n))
    path = synth.write_event_list(tmp_path / "pole.fits", n_events=n, ra=ra, dec=dec,
                                  ra_pnt=0.0, dec_pnt=89.0)
    run = dl3.read_run(path, collection)
    original = Original(path)
    for circle in ((123.0, 90.0, 1.5), (200.0, 89.2, 1.0)):
        want = haversine_deg(circle[0], circle[1], original.data["RA"], original.data["DEC"]) <= circle[2]
        out = cut(run, CIRCLE=" ".join(map(str, circle)))
        assert len(out["EVENTS"].data) == want.sum() > 50
        got_ra = out["EVENTS"].data["RA"]
        if circle[1] == 90.0:   # a cap around the pole holds every RA
            assert got_ra.min() < 30 and got_ra.max() > 330


def test_range_cut(runs):
    original = sample_original("023523")
    ra, dec = original.data["RA"].astype(float), original.data["DEC"].astype(float)
    want = (ra >= 83.0) & (ra <= 84.0) & (dec >= 21.5) & (dec <= 22.5)
    out = cut(runs["023523"], POS="RANGE 83 84 21.5 22.5")
    assert len(out["EVENTS"].data) == want.sum() > 0


def test_region_cut_needs_positions(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "nopos.fits", column_overrides={"RA": None})
    run = dl3.read_run(path, collection)
    with pytest.raises(CutoutError, match="no RA column") as info:
        cut(run, CIRCLE="83 22 1")
    assert info.value.http_status == 400


# --------------------------------------------------------------------------
# cut edges: every bound is inclusive (README, "Server-side event cutouts")
# --------------------------------------------------------------------------

def _below(x, dtype=np.float64) -> float:
    """The largest ``dtype`` number below x."""
    return float(np.nextafter(dtype(x), dtype(-np.inf)))


def _above(x, dtype=np.float64) -> float:
    """The smallest ``dtype`` number above x."""
    return float(np.nextafter(dtype(x), dtype(np.inf)))


def test_energy_edges_are_inclusive(tmp_path, collection):
    f32 = np.float32   # the ENERGY column is float32: these values are exact there
    energies = [0.5, _below(1.0, f32), 1.0, 2.0, 10.0, _above(10.0, f32), 16.0]
    path = synth.write_event_list(tmp_path / "energy_edges.fits",
                                  energies=np.array(energies) * u.TeV)
    assert Original(path).data["ENERGY"].tolist() == energies
    run = dl3.read_run(path, collection)
    out = cut(run, ENERGY="1 10")
    assert out["EVENTS"].data["ENERGY"].tolist() == [1.0, 2.0, 10.0]
    assert out["EVENTS"].data["EVENT_ID"].tolist() == [3, 4, 5]
    # both bounds at once: a single energy
    assert cut(run, ENERGY="2 2")["EVENTS"].data["ENERGY"].tolist() == [2.0]
    # an open bound keeps the event on the other, closed one
    assert cut(run, ENERGY="-Inf 1")["EVENTS"].data["ENERGY"].tolist() == energies[:3]


def test_band_edges_are_inclusive(tmp_path, collection):
    band = (1.2e-19, 2.4e-19)   # metres: 5.17 to 10.33 TeV
    lo, hi = (e.to_value(u.TeV) for e in parse_cutout({"BAND": f"{band[0]} {band[1]}"}).energy)
    # what BAND means (E = hc / lambda, hc from astropy) ...
    assert lo == pytest.approx(HC_TEV_M / band[1], rel=1e-12, abs=0)
    assert hi == pytest.approx(HC_TEV_M / band[0], rel=1e-12, abs=0)
    # ... and events on exactly those energies (a float64 ENERGY column)
    energies = [1.0, _below(lo), lo, 7.0, hi, _above(hi), 20.0]
    path = synth.write_event_list(
        tmp_path / "band_edges.fits", energies=np.array(energies) * u.TeV,
        column_overrides={"ENERGY": fits.Column("ENERGY", "D", unit="TeV", array=energies)})
    assert Original(path).data["ENERGY"].tolist() == energies
    run = dl3.read_run(path, collection)
    out = cut(run, BAND=f"{band[0]} {band[1]}")
    assert out["EVENTS"].data["ENERGY"].tolist() == [lo, 7.0, hi]


# MJD 53343.9375 UTC is 2004-12-04T22:30:00 UTC.  The DR1 epoch (MJDREFI 51910 +
# MJDREFF 0.000742870370370241 TT) is 2001-01-01T00:00:00 UTC and no leap second
# fell in between, so that instant is MET (53343.9375 - 51910) * 86400 =
# 123892200 s exactly; 1/1024 day (84.375 s) later is MET 123892284.375.
EDGE_MJD = (53343.9375, 53343.9384765625)
EDGE_MET = (123892200.0, 123892284.375)


def test_time_edges_are_inclusive(tmp_path, collection):
    lo, hi = EDGE_MET
    times = [lo - 10, _below(lo), lo, lo + 40, hi, _above(hi), hi + 10]
    # TSTART/TSTOP (and the one GTI) 123890826 to 123892513 hold the window
    path = synth.write_event_list(tmp_path / "time_edges.fits", times=times,
                                  energies=np.ones(len(times)) * u.TeV)
    original = Original(path)
    assert original.data["TIME"].tolist() == times
    assert [original.met(mjd) for mjd in EDGE_MJD] == list(EDGE_MET)   # astropy agrees
    run = dl3.read_run(path, collection)
    out = cut(run, TIME=f"{EDGE_MJD[0]!r} {EDGE_MJD[1]!r}")
    assert out["EVENTS"].data["TIME"].tolist() == [lo, lo + 40, hi]
    gti = out["GTI"].data
    assert list(zip(gti["START"].tolist(), gti["STOP"].tolist())) == [(lo, hi)]
    assert out["EVENTS"].header["ONTIME"] == pytest.approx(84.375, rel=0, abs=1e-9)
    # open bounds keep the event on the closed one
    assert cut(run, TIME=f"-Inf {EDGE_MJD[0]!r}")["EVENTS"].data["TIME"].tolist() == times[:3]
    assert cut(run, TIME=f"{EDGE_MJD[1]!r} +Inf")["EVENTS"].data["TIME"].tolist() == [hi, *times[5:]]


def test_circle_and_range_edges_are_inclusive(tmp_path, collection):
    f32 = np.float32   # RA/DEC columns are float32: these values are exact there
    dec = [_below(21.5, f32), 21.5, 22.0, 22.5, _above(22.5, f32)]
    ra = [83.5] * len(dec)
    path = synth.write_event_list(tmp_path / "region_edges.fits", ra=ra, dec=dec,
                                  energies=np.ones(len(dec)) * u.TeV)
    assert Original(path).data["DEC"].tolist() == dec
    separation = SkyCoord(ra, dec, unit="deg").separation(SkyCoord(83.5, 22.0, unit="deg")).deg
    assert separation[1] == separation[3] == 0.5          # exactly on the circle
    assert separation[0] > 0.5 and separation[4] > 0.5
    run = dl3.read_run(path, collection)
    for params in ({"CIRCLE": "83.5 22 0.5"}, {"POS": "CIRCLE 83.5 22 0.5"},
                   {"POS": "RANGE 83.5 84 21.5 22.5"}):   # RA and Dec on the box's edges
        assert cut(run, **params)["EVENTS"].data["DEC"].tolist() == [21.5, 22.0, 22.5], params


# --------------------------------------------------------------------------
# combined and empty cuts
# --------------------------------------------------------------------------

def test_combined_cut(runs):
    original = sample_original("023523")
    lo_met, hi_met = original.met(53343.925), original.met(53343.94)
    energy = original.energy_tev()
    want = ((energy >= 0.5) & (energy <= 5.0)
            & (original.data["TIME"] >= lo_met) & (original.data["TIME"] <= hi_met)
            & (haversine_deg(83.633, 22.014, original.data["RA"], original.data["DEC"]) <= 0.5))
    out = cut(runs["023523"], ENERGY="0.5 5", TIME="53343.925 53343.94",
              POS="CIRCLE 83.633 22.014 0.5")
    assert 10 < want.sum() < 1000
    np.testing.assert_array_equal(out["EVENTS"].data["EVENT_ID"], original.data["EVENT_ID"][want])


@pytest.mark.parametrize("params", [
    {"ENERGY": "500 600"},
    {"TIME": "53000 53001"},
    {"CIRCLE": "10 10 1"},
    {"ENERGY": "1 10", "POS": "RANGE 0 10 -90 -80"},
])
def test_empty_result_is_a_valid_file(runs, params, tmp_path):
    original = sample_original("023523")
    path, hdus = reopen(cut(runs["023523"], **params), tmp_path)
    with hdus:
        events = hdus["EVENTS"]
        assert len(events.data) == 0
        assert events.header["NAXIS2"] == 0
        assert {c.name: (c.format, c.unit) for c in events.columns} == original.columns
        assert [h.name for h in hdus] == ["PRIMARY", "EVENTS", "GTI", *IRF_NAMES]
        assert len(hdus["GTI"].data) == (0 if "TIME" in params else 1)
    from gammapy.data import EventList, Observation
    assert len(EventList.read(path).table) == 0
    observation = Observation.read(path)
    assert len(observation.events.table) == 0
    assert len(observation.gti.table) == (0 if "TIME" in params else 1)


# --------------------------------------------------------------------------
# provenance, IRFs, gammapy
# --------------------------------------------------------------------------

def test_provenance_cards(runs):
    out = cut(runs["023523"], ENERGY="1 10", POS="CIRCLE 83.633 22.014 0.3")
    header = out["EVENTS"].header
    history = "\n".join(str(v) for v in header["HISTORY"])
    n_kept = len(out["EVENTS"].data)
    assert "cutout of hess_dl3_dr1_obs_id_023523.fits.gz" in history
    assert f"{n_kept} of its 7613 events kept" in history
    assert "request parameter ENERGY=1 10" in history
    assert "request parameter POS=CIRCLE 83.633 22.014 0.3" in history
    assert "selection: energy 1 to 10 TeV" in history
    assert "hess_dr 0.1.0" in history
    assert header["CUTOUT"] is True
    assert header["ORIGFILE"] == "hess_dl3_dr1_obs_id_023523.fits.gz"
    assert header["ORIGEVTS"] == 7613
    assert header["CREATOR"] == "SASH FITS::EventListWriter"     # the data's producer, kept
    primary = out[0].header
    assert primary["CREATOR"] == "hess_dr 0.1.0"
    assert (primary["OBS_ID"], primary["TELESCOP"], primary["OBJECT"]) == (23523, "HESS", "Crab Nebula")


def test_irfs_in_the_event_file_are_copied(runs, tmp_path):
    _, hdus = reopen(cut(runs["020136"], ENERGY="1 2"), tmp_path)
    with hdus, fits.open(sample_path("020136")) as source:
        assert [h.name for h in hdus] == ["PRIMARY", "EVENTS", "GTI", *IRF_NAMES]
        for name in IRF_NAMES:
            assert hdus[name].columns.names == source[name].columns.names
            for column in source[name].columns.names:
                np.testing.assert_array_equal(hdus[name].data[column], source[name].data[column])
            assert hdus[name].header["HDUCLAS1"] == "RESPONSE"
            assert hdus[name].header["HDUCLAS4"] == source[name].header["HDUCLAS4"]


@pytest.fixture
def separate_irf_run(tmp_path, collection):
    events = synth.write_event_list(tmp_path / "events" / "run_001.fits.gz", obs_id=1,
                                    n_events=500)
    synth.write_irf_file(tmp_path / "irfs" / "irf_001.fits.gz", obs_id=1)
    synth.write_hdu_index(tmp_path, [
        *synth.hdu_index_rows(1, "run_001.fits.gz", file_dir="events", types=["events", "gti"]),
        *synth.hdu_index_rows(1, "irf_001.fits.gz", file_dir="irfs", types=synth.IRF_TYPES)])
    return dl3.read_run(events, collection)


def test_irfs_from_separate_files_are_appended(separate_irf_run, tmp_path):
    original = Original(separate_irf_run.path)
    assert original.hdu_names == ["PRIMARY", "EVENTS", "GTI"]
    path, hdus = reopen(cut(separate_irf_run, ENERGY="1 100"), tmp_path)
    with hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "EVENTS", "GTI", *IRF_NAMES]
        with fits.open(synth.DR1_SAMPLE) as source:
            np.testing.assert_array_equal(hdus["AEFF"].data["EFFAREA"], source["AEFF"].data["EFFAREA"])
    from gammapy.data import Observation
    observation = Observation.read(path)
    energy = original.energy_tev()
    assert len(observation.events.table) == ((energy >= 1) & (energy <= 100)).sum()
    assert observation.aeff is not None and observation.psf is not None
    assert observation.edisp is not None and observation.bkg is not None


@pytest.mark.parametrize("params", [
    {"ENERGY": "1 10"},
    {"TIME": "53343.925 53343.935"},
    {"POS": "CIRCLE 83.633 22.014 0.5", "ENERGY": "0.5 50"},
    {"POLYGON": "83 21.5 84.5 21.6 84.2 22.6"},
])
def test_gammapy_reads_the_cutout(runs, params, tmp_path):
    from gammapy.data import GTI, EventList, Observation
    out = cut(runs["023523"], **params)
    n = len(out["EVENTS"].data)
    path = tmp_path / "cut.fits.gz"
    path.write_bytes(write_bytes(out, compress=True))
    assert len(EventList.read(path).table) == n
    observation = Observation.read(path)
    assert len(observation.events.table) == n
    assert observation.obs_id == 23523
    gti = GTI.read(path)
    with fits.open(path) as hdus:
        ontime = hdus["EVENTS"].header["ONTIME"]
        assert hdus["EVENTS"].header["NAXIS2"] == n
    assert gti.time_sum.to_value(u.s) == pytest.approx(ontime, abs=1e-3)
    assert observation.aeff is not None and observation.bkg is not None
    # the run's times as gammapy sees them: same as the original's when no TIME cut
    if "TIME" not in params:
        assert observation.tstart.tt.mjd == pytest.approx(runs["023523"].t_start.tt.mjd, abs=1e-9)


def _without_checksum_dates(data: bytes) -> bytes:
    """FITS bytes with the times of writing and the CHECKSUM values blanked:
    the cut-out's DATE and astropy's CHECKSUM/DATASUM comments hold the
    time of writing, to the second (two writes a second apart differ
    there, and so do their HDU checksums).  Card lengths are kept."""
    data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", b"YYYY-MM-DDThh:mm:ss", data)
    return re.sub(rb"(CHECKSUM= ')[^']{16}'", rb"\1................'", data)


def test_write_bytes_gzip_and_checksums(runs):
    out = cut(runs["023523"], ENERGY="10 100")
    plain = write_bytes(out)
    packed = write_bytes(out, compress=True)
    assert (_without_checksum_dates(gzip.decompress(packed))
            == _without_checksum_dates(plain))
    # deterministic but for the checksum time stamps
    assert (_without_checksum_dates(gzip.decompress(write_bytes(out, compress=True)))
            == _without_checksum_dates(gzip.decompress(packed)))
    with fits.open(io.BytesIO(plain), checksum=True) as hdus:
        assert all("CHECKSUM" in h.header for h in hdus)
        assert len(hdus["EVENTS"].data) == len(out["EVENTS"].data)


def test_empty_spec_copies_everything(runs):
    original = sample_original("020136")
    out = cutout(runs["020136"], CutoutSpec())
    assert len(out["EVENTS"].data) == original.n == 11243
    assert "CUTOUT" not in out["EVENTS"].header
    assert out["EVENTS"].header["ONTIME"] == original.header["ONTIME"]


def test_vanished_file_is_a_cutout_error(tmp_path, collection):
    path = synth.write_event_list(tmp_path / "gone.fits")
    run = dl3.read_run(path, collection)
    path.unlink()
    with pytest.raises(CutoutError, match="gone.fits") as info:
        cut(run, ENERGY="1 2")
    assert info.value.http_status == 500
