"""Unit tests of hess_dr.soda: SODA/DataLink cutout parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regions import PolygonSkyRegion

import unit_support  # noqa: F401  (puts tests/ on sys.path)
from hess_dr import soda
from hess_dr.soda import Circle, CutoutSpec, Polygon, Range, SodaError, parse_cutout

# hc from CODATA via astropy, independent of the module's constant.
HC = (const.h * const.c).to_value(u.TeV * u.m)


# --------------------------------------------------------------------------
# valid requests
# --------------------------------------------------------------------------

def test_no_parameters_is_an_empty_spec():
    spec = parse_cutout({})
    assert spec == CutoutSpec()
    assert spec.is_empty
    assert spec.describe() == []


def test_band_is_converted_to_energies_with_hc_over_lambda():
    spec = parse_cutout({"BAND": "1e-20 5e-18"})
    lo, hi = spec.energy
    assert lo.unit == u.TeV and hi.unit == u.TeV
    assert lo.value == pytest.approx(HC / 5e-18, rel=1e-9)   # 0.2480 TeV
    assert hi.value == pytest.approx(HC / 1e-20, rel=1e-9)   # 123.98 TeV
    assert lo.value == pytest.approx(0.2479683968664, rel=1e-9)
    assert spec.time is None and spec.region is None


@pytest.mark.parametrize("band, lo_tev, hi_tev", [
    ("1e-20 +Inf", 0.0, HC / 1e-20),
    ("-Inf 1e-18", HC / 1e-18, math.inf),
    ("0 1e-18", HC / 1e-18, math.inf),
    ("-Inf +Inf", 0.0, math.inf),
])
def test_band_open_bounds(band, lo_tev, hi_tev):
    lo, hi = parse_cutout({"BAND": band}).energy
    assert lo.to_value(u.TeV) == pytest.approx(lo_tev, rel=1e-9, abs=0)
    assert hi.to_value(u.TeV) == pytest.approx(hi_tev, rel=1e-9, abs=0)


def test_energy_in_tev():
    lo, hi = parse_cutout({"ENERGY": "0.5 20"}).energy
    assert (lo, hi) == (0.5 * u.TeV, 20 * u.TeV)


def test_energy_open_bounds():
    lo, hi = parse_cutout({"ENERGY": "-Inf +Inf"}).energy
    assert lo.to_value(u.TeV) == 0.0 and hi.to_value(u.TeV) == math.inf


def test_band_and_energy_are_intersected():
    # BAND 1e-20..5e-18 m = 0.248..124 TeV; ENERGY 1..1000 TeV
    lo, hi = parse_cutout({"BAND": "1e-20 5e-18", "ENERGY": "1 1000"}).energy
    assert lo.to_value(u.TeV) == pytest.approx(1.0)
    assert hi.to_value(u.TeV) == pytest.approx(HC / 1e-20, rel=1e-9)


def test_time_is_utc_mjd():
    lo, hi = parse_cutout({"TIME": "53343.92 53343.93"}).time
    assert lo.scale == "utc" and hi.scale == "utc"
    assert lo.mjd == 53343.92 and hi.mjd == 53343.93
    # 53343.92 UTC is 22:04:48 UTC, 22:05:52.184 TT
    assert lo.tt.isot == "2004-12-04T22:05:52.184"


@pytest.mark.parametrize("name, value", [("ENERGY", "2 2"), ("BAND", "1e-19 1e-19"),
                                         ("TIME", "53343.9375 53343.9375")])
def test_equal_bounds_are_a_valid_interval(name, value):
    """Bounds are inclusive, so lo == hi selects what sits exactly there."""
    spec = parse_cutout({name: value})
    lo, hi = spec.time if name == "TIME" else spec.energy
    assert lo == hi


def test_time_open_bounds():
    lo, hi = parse_cutout({"TIME": "-Inf 53343.93"}).time
    assert lo is None and hi.mjd == 53343.93
    assert parse_cutout({"TIME": "-Inf +Inf"}).time is None


def test_circle_parameter():
    assert parse_cutout({"CIRCLE": "83.63 22.01 0.5"}).region == Circle(83.63, 22.01, 0.5)


def test_polygon_parameter():
    region = parse_cutout({"POLYGON": "359 -1 1 -1 1 1 359 1"}).region
    assert region == Polygon(((359, -1), (1, -1), (1, 1), (359, 1)))


@pytest.mark.parametrize("pos, region", [
    ("CIRCLE 10 -20 1.5", Circle(10, -20, 1.5)),
    ("circle 10 -20 1.5", Circle(10, -20, 1.5)),
    ("POLYGON 10 10 11 10 11 11", Polygon(((10, 10), (11, 10), (11, 11)))),
    ("RANGE 10 20 -5 5", Range(10, 20, -5, 5)),
    ("RANGE -Inf +Inf 89 +Inf", Range(0, 360, 89, 90)),
    ("  RANGE\t0 360.0 -2.0 2.0 ", Range(0, 360, -2, 2)),
])
def test_pos_shapes(pos, region):
    assert parse_cutout({"POS": pos}).region == region


def test_names_are_case_insensitive_and_standard_parameters_ignored():
    spec = parse_cutout({"energy": "1 10", "Id": "ivo://x?1", "RESPONSEFORMAT": "fits",
                         "REQUEST": "doit"})
    assert spec.energy == (1 * u.TeV, 10 * u.TeV)
    assert spec.parameters == (("ENERGY", "1 10"),)


@pytest.mark.parametrize("value", [None, "", "   ", [], [""], [None, " "]])
def test_blank_values_count_as_absent(value):
    assert parse_cutout({"BAND": value}).is_empty


def test_list_bytes_and_numbers_are_accepted():
    spec = parse_cutout({"ENERGY": ["1 10"], "TIME": b"53343 53344"})
    assert spec.energy == (1 * u.TeV, 10 * u.TeV)
    assert spec.time[0].mjd == 53343


def test_parameters_are_normalised_for_provenance():
    spec = parse_cutout({"POS": "  CIRCLE   1  2\t3 ", "TIME": "53343 53344"})
    assert spec.parameters == (("TIME", "53343 53344"), ("POS", "CIRCLE 1 2 3"))
    assert spec.describe() == ["time MJD (UTC) 53343.000000000 to 53344.000000000",
                               "circle centre (ra, dec) = (1, 2) deg, radius 3 deg"]


def test_spec_is_frozen():
    spec = parse_cutout({"ENERGY": "1 2"})
    with pytest.raises(AttributeError):
        spec.energy = None


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

def _vertices(n):
    """``n`` vertices on a 40-deg circle, whole degrees (short enough that
    1000 of them stay under the 10000-character limit)."""
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return " ".join(f"{100 + 40 * np.cos(a):.0f} {40 * np.sin(a):.0f}" for a in angles)


ERRORS = [
    # (params, parameter blamed, words in the message)
    ({"FOO": "1"}, "FOO", "unknown parameter"),
    ({"BAND": ["1e-20 2e-20", "3e-20 4e-20"]}, "BAND", "2 times"),
    ({"band": "1e-20 2e-20", "BAND": "1e-20 3e-20"}, "BAND", "more than once"),
    ({"BAND": "abc def"}, "BAND", "not a number"),
    ({"BAND": "1e-20"}, "BAND", "expected 2 numbers"),
    ({"BAND": "1e-20 2e-20 3e-20"}, "BAND", "got 3"),
    ({"BAND": "2e-20 1e-20"}, "BAND", "above upper bound"),
    ({"BAND": "-1e-20 1e-20"}, "BAND", "negative wavelength"),
    ({"BAND": "NaN 1e-20"}, "BAND", "NaN"),
    ({"ENERGY": "10 1"}, "ENERGY", "above upper bound"),
    ({"ENERGY": "-1 10"}, "ENERGY", "negative energy"),
    ({"ENERGY": "1 1e999"}, "ENERGY", "out of the floating-point range"),
    ({"ENERGY": "+Inf +Inf"}, "ENERGY", "cannot be +Inf"),
    ({"ENERGY": "1 -Inf"}, "ENERGY", "cannot be -Inf"),
    ({"ENERGY": "1,2"}, "ENERGY", "not a number"),
    ({"ENERGY": "1 \u0663"}, "ENERGY", "not a number"),           # Arabic-Indic 3
    ({"ENERGY": "1 1_0"}, "ENERGY", "not a number"),
    ({"ENERGY": object()}, "ENERGY", "must be text"),
    ({"TIME": "53343 nan"}, "TIME", "NaN"),
    ({"TIME": "53344 53343"}, "TIME", "above upper bound"),
    ({"TIME": "-5 53343"}, "TIME", "outside the supported range"),
    ({"TIME": b"\xff\xfe"}, "TIME", "UTF-8"),
    ({"CIRCLE": "83 22"}, "CIRCLE", "needs 3 numbers"),
    ({"CIRCLE": "83 22 0"}, "CIRCLE", "radius 0"),
    ({"CIRCLE": "83 22 -1"}, "CIRCLE", "radius -1"),
    ({"CIRCLE": "83 22 181"}, "CIRCLE", "radius 181"),
    ({"CIRCLE": "83 91 1"}, "CIRCLE", "dec 91"),
    ({"CIRCLE": "361 22 1"}, "CIRCLE", "ra 361"),
    ({"CIRCLE": "-1 22 1"}, "CIRCLE", "ra -1"),
    ({"POLYGON": "1 1 2 2"}, "POLYGON", "at least 3 vertices"),
    ({"POLYGON": "1 1 2 2 3"}, "POLYGON", "pairs"),
    ({"POLYGON": _vertices(1001)}, "POLYGON", "1001 vertices"),
    ({"POLYGON": "1 " * 5001}, "POLYGON", "too long"),
    ({"POLYGON": "0 0 1 0 2 0"}, "POLYGON", "degenerate"),
    ({"POLYGON": "0 0 120 0 240 0"}, "POLYGON", "hemisphere"),
    ({"POLYGON": "0 -95 1 0 2 0"}, "POLYGON", "dec -95"),
    ({"POS": "BOX 1 2 3 4"}, "POS", "unknown shape"),
    ({"POS": "CIRCLE 1 2"}, "POS", "needs 3 numbers"),
    ({"POS": "CIRCLE 83 22 +Inf"}, "POS", "finite"),
    ({"POS": "RANGE 10 5 0 1"}, "POS", "ra_min 10 is above"),
    ({"POS": "RANGE 0 10 5 1"}, "POS", "dec_min 5 is above"),
    ({"POS": "RANGE 0 400 0 1"}, "POS", "ra 400"),
    ({"POS": "RANGE 0 10 0"}, "POS", "needs 4 numbers"),
    ({"POS": "CIRCLE 83 22 1", "CIRCLE": "83 22 1"}, "CIRCLE", "at most one spatial"),
    ({"POLYGON": "0 0 1 0 1 1", "CIRCLE": "83 22 1"}, "POLYGON", "at most one spatial"),
    ({"BAND": "1e-18 2e-18", "ENERGY": "10 20"}, "ENERGY", "do not overlap"),
]


@pytest.mark.parametrize("params, parameter, words", ERRORS,
                         ids=[f"{i:02d}-{e[1]}" for i, e in enumerate(ERRORS)])
def test_soda_errors(params, parameter, words):
    with pytest.raises(SodaError) as info:
        parse_cutout(params)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.http_status == 400
    assert error.parameter == parameter
    assert str(error).startswith(f"{parameter}: ")
    assert words in str(error)


def test_repeated_parameter_uses_the_soda_error_code():
    with pytest.raises(SodaError) as info:
        parse_cutout({"TIME": ["1 2", "3 4"]})
    assert info.value.code == "MultiValuedParamNotSupported"
    assert info.value.dali_message.startswith("MultiValuedParamNotSupported: TIME: ")


def test_other_errors_use_usage_error():
    with pytest.raises(SodaError) as info:
        parse_cutout({"ENERGY": "x"})
    assert info.value.dali_message == "UsageError: ENERGY: 'x' is not a number"


def test_non_mapping_is_rejected():
    with pytest.raises(SodaError):
        parse_cutout("ENERGY=1 2")


def test_long_unknown_name_is_shortened():
    with pytest.raises(SodaError) as info:
        parse_cutout({"X" * 5000: "1"})
    assert len(str(info.value)) < 200


def test_maximum_sizes_are_accepted():
    text = _vertices(1000)
    assert len(text) <= soda.MAX_VALUE_LENGTH
    polygon = parse_cutout({"POLYGON": text}).region
    assert len(polygon.vertices) == 1000
    assert polygon.contains([100, 100], [0, 45]).tolist() == [True, False]


# --------------------------------------------------------------------------
# regions, against independent computations
# --------------------------------------------------------------------------

def haversine_deg(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, float)) for v in (ra1, dec1, ra2, dec2))
    a = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(a)))


def regions_polygon_mask(vertices, ra, dec):
    """Point-in-polygon with the regions package in a TAN projection about
    the vertices' mean direction (great circles are straight lines there)."""
    corners = SkyCoord([v[0] for v in vertices] * u.deg, [v[1] for v in vertices] * u.deg)
    mean = corners.cartesian.xyz.mean(axis=1)
    centre = SkyCoord(*mean, representation_type="cartesian").spherical
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [centre.lon.deg, centre.lat.deg]
    wcs.wcs.cdelt = [-0.01, 0.01]
    wcs.wcs.crpix = [0, 0]
    points = SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg)
    return np.asarray(PolygonSkyRegion(vertices=corners).contains(points, wcs))


def random_sky(n, ra0, dec0, spread, seed=1):
    rng = np.random.default_rng(seed)
    ra = (ra0 + rng.uniform(-spread, spread, n) / max(np.cos(np.radians(dec0)), 0.05)) % 360
    dec = np.clip(dec0 + rng.uniform(-spread, spread, n), -90, 90)
    return ra, dec


@pytest.mark.parametrize("vertices", [
    ((359, -1), (1, -1), (1, 1), (359, 1)),                 # crossing RA = 0
    ((359, 1), (1, 1), (1, -1), (359, -1)),                 # clockwise
    ((83, 21), (84.5, 21.2), (84.2, 22.8), (83.3, 22.5), (83.8, 21.9)),  # concave
    ((0, 85), (120, 85), (240, 85)),                        # around the pole
])
def test_polygon_contains_matches_regions(vertices):
    polygon = Polygon(vertices)
    centre = polygon.centre
    ra0 = math.degrees(math.atan2(centre[1], centre[0])) % 360
    dec0 = math.degrees(math.asin(centre[2]))
    ra, dec = random_sky(4000, ra0, dec0, 3.0)
    got = polygon.contains(ra, dec)
    want = regions_polygon_mask(vertices, ra, dec)
    assert 50 < got.sum() < 3950
    assert np.array_equal(got, want)


def test_polygon_crossing_ra_zero_keeps_both_sides():
    polygon = parse_cutout({"POLYGON": "359 -1 1 -1 1 1 359 1"}).region
    assert polygon.contains([359.5, 0.5, 0.0, 358.5, 1.5, 180.0], [0, 0, 0.9, 0, 0, 0]).tolist() == [
        True, True, True, False, False, False]


def test_polygon_excludes_the_opposite_hemisphere():
    polygon = Polygon(((10, 10), (11, 10), (11, 11)))
    # the antipode of an inside point projects inside too: it must be rejected
    assert polygon.contains([10.7, 190.7], [10.3, -10.3]).tolist() == [True, False]


@pytest.mark.parametrize("circle", [Circle(83.63, 22.01, 0.5), Circle(0.2, -0.1, 1.0),
                                    Circle(45.0, 89.5, 1.0), Circle(300.0, -89.9, 0.3)])
def test_circle_contains_matches_haversine(circle):
    ra, dec = random_sky(3000, circle.ra, circle.dec, 2 * circle.radius)
    want = haversine_deg(circle.ra, circle.dec, ra, dec) <= circle.radius
    assert np.array_equal(circle.contains(ra, dec), want)
    assert want.sum() > 20


def test_range_contains():
    box = Range(10, 20, -5, 5)
    assert box.contains([10, 15, 20, 21, 15, 15, 375], [0, -5, 5, 0, 5.1, -6, 0]).tolist() == [
        True, True, True, False, False, False, True]
    assert Range(0, 360, -90, 90).contains([0, 359.99, 360], [-90, 0, 90]).all()


# --------------------------------------------------------------------------
# properties: the parser never fails with anything but SodaError
# --------------------------------------------------------------------------

def _check_spec(spec):
    assert isinstance(spec, CutoutSpec)
    if spec.energy is not None:
        lo, hi = spec.energy
        assert 0 <= lo.to_value(u.TeV) <= hi.to_value(u.TeV)
    if spec.time is not None:
        lo, hi = spec.time
        assert lo is None or hi is None or lo <= hi
        for t in (lo, hi):
            assert t is None or (isinstance(t, Time) and t.scale == "utc")
    if spec.region is not None:
        mask = spec.region.contains(np.array([0.0, 83.6, 359.9]), np.array([0.0, 22.0, -89.0]))
        assert mask.dtype == bool and mask.shape == (3,)


NAMES = st.sampled_from(list(soda.CUTOUT_PARAMETERS) + ["pos", "Band", "ID", "FOO", ""])
NUMBER_TOKENS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-400, 400).map(lambda x: f"{x:.3f}"),
    st.integers(-10, 400).map(str),
    st.sampled_from(["-Inf", "+Inf", "NaN", "1e-20", "5e-18", "53343.9", "nan", "1e999", "", "x"]))
STRUCTURED = st.builds(
    lambda prefix, tokens: (prefix + " " + " ".join(tokens)).strip(),
    st.sampled_from(["", "CIRCLE", "POLYGON", "RANGE", "circle", "BOX"]),
    st.lists(NUMBER_TOKENS, max_size=10))
VALUES = st.one_of(st.none(), st.text(max_size=60), STRUCTURED, st.lists(STRUCTURED, max_size=2),
                   st.floats(), st.integers(), st.binary(max_size=20))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(NAMES, VALUES, max_size=4))
def test_property_structured_values(params):
    try:
        spec = parse_cutout(params)
    except SodaError as exc:
        assert exc.http_status == 400
        return
    _check_spec(spec)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=200), max_size=3))
def test_property_random_text(params):
    try:
        spec = parse_cutout(params)
    except SodaError:
        return
    _check_spec(spec)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["CIRCLE", "POLYGON", "POS"]),
       st.lists(st.floats(-100, 400), min_size=3, max_size=12))
def test_property_random_geometry(name, numbers):
    text = " ".join(repr(x) for x in numbers)
    if name == "POS":
        text = ("POLYGON " if len(numbers) > 4 else "CIRCLE ") + text
    try:
        spec = parse_cutout({name: text})
    except SodaError:
        return
    _check_spec(spec)
