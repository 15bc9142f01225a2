"""hess_dr.search: what the search form understands."""
from __future__ import annotations

import math

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time

from hess_dr import search
from hess_dr.search import NamedRuns, SearchError


@pytest.mark.parametrize("text, ra, dec", [
    ("83.633 22.0145", 83.633, 22.0145),
    ("83.633, 22.0145", 83.633, 22.0145),
    ("  83.633d  -22.0145d ", 83.633, -22.0145),
    ("-10 5", 350.0, 5.0),
])
def test_decimal_coordinates(text, ra, dec):
    position = search.parse_coordinates(text)
    assert (position.ra, position.dec) == pytest.approx((ra, dec), abs=1e-12)


@pytest.mark.parametrize("text", [
    "05 34 31.9 +22 00 52", "05h34m31.9s +22d00m52s", "05:34:31.9 +22:00:52",
    "05:34:31.9, +22:00:52"])
def test_sexagesimal_coordinates(text):
    expected = SkyCoord("05h34m31.9s +22d00m52s", frame="icrs")
    position = search.parse_coordinates(text)
    assert position.ra == pytest.approx(expected.ra.deg, abs=1e-9)
    assert position.dec == pytest.approx(expected.dec.deg, abs=1e-9)


def test_negative_sexagesimal_declination():
    position = search.parse_coordinates("21 58 52.1 -30 13 32")
    expected = SkyCoord("21h58m52.1s -30d13m32s", frame="icrs")
    assert (position.ra, position.dec) == pytest.approx(
        (expected.ra.deg, expected.dec.deg), abs=1e-9)


@pytest.mark.parametrize("text, problem", [
    ("83.6 95", "declination 95 is outside"),
    ("400 10", "right ascension 400 is outside"),
    ("1e999 5", "finite"),
])
def test_bad_coordinates(text, problem):
    with pytest.raises(SearchError, match=problem) as error:
        search.parse_coordinates(text)
    assert error.value.field == "pos"


@pytest.mark.parametrize("text", ["Crab", "PKS 2155-304", "83.6", "M 87", "nan 5"])
def test_names_are_no_coordinates(text):
    assert search.parse_coordinates(text) is None


def unit_vector(ra, dec, runs=1, name="x"):
    ra, dec = math.radians(ra), math.radians(dec)
    return NamedRuns(name, runs, math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra),
                     math.sin(dec))


def test_resolve_prefers_an_exact_name():
    candidates = [unit_vector(83.633, 22.0144, 4, "Crab"),
                  unit_vector(83.633, 22.0144, 4, "Crab Nebula"),
                  unit_vector(10.0, -40.0, 1, "Crab-like decoy")]
    position = search.resolve_target("crab", candidates)
    assert (position.ra, position.dec) == pytest.approx((83.633, 22.0144), abs=1e-9)
    assert position.label.startswith("Crab: ")


def test_resolve_merges_names_in_one_place():
    candidates = [unit_vector(329.7169, -30.2256, 15, "PKS 2155-304 (flare)"),
                  unit_vector(329.7169, -30.2256, 6, "PKS 2155-304 (steady)")]
    position = search.resolve_target("PKS 2155", candidates)
    assert (position.ra, position.dec) == pytest.approx((329.7169, -30.2256), abs=1e-9)
    assert "21 published run(s)" in position.label


def test_resolve_refuses_names_in_several_places():
    spread = NamedRuns("Off data", 45, 0.2, 0.1, 0.3)   # mean vector far from unit length
    with pytest.raises(SearchError, match="'Off data' names 45 runs in different parts"):
        search.resolve_target("off data", [spread])
    apart = [unit_vector(83.6, 22.0, 1, "Target A"), unit_vector(200.0, -10.0, 1, "Target B")]
    with pytest.raises(SearchError, match="matches targets in different places"):
        search.resolve_target("target", apart)
    with pytest.raises(SearchError, match="no published target is called 'Vega'"):
        search.resolve_target("Vega", apart)
    with pytest.raises(SearchError, match="give coordinates or a target name"):
        search.resolve_target("  ", apart)


def test_name_pattern_is_normalised():
    assert search.name_pattern("PKS 2155-304") == "%pks2155304%"
    assert search.name_pattern("50%_x") == "%50x%"
    assert search.normalise_name("MSH 15-52") == "msh1552"


@pytest.mark.parametrize("radius", [0.0, -1.0, 31.0, float("nan"), None])
def test_bad_radius(radius):
    with pytest.raises(SearchError) as error:
        search.check_radius(radius)
    assert error.value.field == "radius"


def test_energy_range():
    assert search.check_energy_range(1.0, 10.0) == (1.0, 10.0)
    assert search.check_energy_range(None, 10.0) == (None, 10.0)
    with pytest.raises(SearchError, match="above the highest") as error:
        search.check_energy_range(10.0, 1.0)
    assert error.value.field == "emin"
    with pytest.raises(SearchError, match="positive"):
        search.check_energy_range(-1.0, None)


@pytest.mark.parametrize("text, end, iso", [
    ("2004", False, "2004-01-01"), ("2005", True, "2006-01-01"),
    ("2004-12", False, "2004-12-01"), ("2004-12", True, "2005-01-01"),
    ("2004-02", True, "2004-03-01"), ("2004-12-04", False, "2004-12-04"),
    ("2004-12-31", True, "2005-01-01"), ("2004/7/5", False, "2004-07-05"),
])
def test_dates(text, end, iso):
    assert search.parse_date(text, "date_from", end=end) == Time(iso, scale="utc").mjd


@pytest.mark.parametrize("text, problem", [
    ("2005-13-01", "month must be in 1..12"), ("2005-02-30", "day is out of range"),
    ("yesterday", "is not a date"), ("04-12-2004", "is not a date"),
])
def test_bad_dates(text, problem):
    with pytest.raises(SearchError, match=problem) as error:
        search.parse_date(text, "date_to")
    assert error.value.field == "date_to"


def test_date_range_order():
    search.check_date_range(53000.0, 53001.0)
    with pytest.raises(SearchError, match="end date is before"):
        search.check_date_range(53001.0, 53001.0)


def test_minimum_checks():
    assert search.check_minimum(1500.0, "min_livetime", "live time") == 1500.0
    assert search.check_minimum(None, "min_livetime", "live time") is None
    with pytest.raises(SearchError, match="at most 90"):
        search.check_minimum(91.0, "max_zenith", "zenith", upper=90)
    with pytest.raises(SearchError, match="at least 0"):
        search.check_minimum(-1.0, "min_livetime", "live time")


def test_display_helpers():
    assert search.energy_range_tev(2.44084581732e11, 1.00978134155e14) == "0.244 – 101 TeV"
    assert search.energy_range_tev(1.5e11, 2.2986e14) == "0.15 – 230 TeV"
    assert search.energy_range_tev(None, 1e12) == ""
    assert search.energy_range_tev(2.44084581732e11, 1.00978134155e14, unit="") == "0.244 – 101"
    assert search.mjd_to_iso(53343.92159722222) == "2004-12-04 22:07"
    assert search.mjd_to_iso(53343.92159722222, seconds=True) == "2004-12-04 22:07:06"
    assert search.mjd_to_iso(None) == ""
