"""Parameters of the point_source job: validation, defaults, and the RD's
declaration of them (hess_dr.analysis, q.rd service ``analysis``)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from unit_support import CHECKOUT

from hess_dr import analysis
from hess_dr.analysis import ParameterError, check_parameters, parse_parameters


def _error(raw):
    with pytest.raises(ParameterError) as info:
        parse_parameters(raw)
    return info.value


def test_defaults_and_strings_of_a_request():
    # as DaCHS hands a request over: lower-case names, lists of strings
    params = parse_parameters({"ra": ["83.633"], "dec": ["22.0145"]})
    assert params == analysis.Parameters(ra=83.633, dec=22.0145, radius=0.11, emin=0.1,
                                         emax=100.0, tmin=None, tmax=None, max_offset=2.0,
                                         collection=None, model="pl")
    assert params.as_dict() == {"RA": 83.633, "DEC": 22.0145, "RADIUS": 0.11, "EMIN": 0.1,
                                "EMAX": 100.0, "TMIN": None, "TMAX": None,
                                "MAX_OFFSET": 2.0, "COLLECTION": None, "MODEL": "pl"}


def test_every_parameter_given_and_parsed_values_of_a_stored_job():
    # a stored UWS job holds DaCHS's parsed values (floats, None for unset)
    params = parse_parameters({"RA": 329.7, "Dec": -30.2, "radius": 0.2, "EMIN": 0.5,
                               "emax": 20, "tmin": 53500.0, "TMAX": 53600, "max_offset": 1,
                               "collection": " HESS-DL3-DR1 ", "model": "ECPL",
                               "responseformat": None})
    assert (params.ra, params.dec, params.radius, params.emin, params.emax) == (
        329.7, -30.2, 0.2, 0.5, 20.0)
    assert (params.tmin, params.tmax, params.max_offset) == (53500.0, 53600.0, 1.0)
    assert (params.collection, params.model) == ("HESS-DL3-DR1", "ecpl")


@pytest.mark.parametrize("raw, parameter, words", [
    ({"DEC": "22"}, "RA", "RA is required"),
    ({"RA": "83"}, "DEC", "DEC is required"),
    ({"RA": "NaN", "DEC": "22"}, "RA", "finite"),
    ({"RA": "nan", "DEC": "22"}, "RA", "finite"),
    ({"RA": "inf", "DEC": "22"}, "RA", "finite"),
    ({"RA": float("nan"), "DEC": 22.0}, "RA", "finite"),
    ({"RA": "83", "DEC": "-Infinity"}, "DEC", "finite"),
    ({"RA": "abc", "DEC": "22"}, "RA", "must be a number, not 'abc'"),
    ({"RA": "1" * 50, "DEC": "22"}, "RA", "too long"),
    ({"RA": "360.5", "DEC": "22"}, "RA", "between 0 and 360 deg, not 360.5"),
    ({"RA": "-1", "DEC": "22"}, "RA", "between 0 and 360"),
    ({"RA": "83", "DEC": "91"}, "DEC", "between -90 and 90 deg"),
    ({"RA": "83", "DEC": "22", "RADIUS": "0"}, "RADIUS", "between 0.01 and 0.5"),
    ({"RA": "83", "DEC": "22", "RADIUS": "2"}, "RADIUS", "between 0.01 and 0.5"),
    ({"RA": "83", "DEC": "22", "EMIN": "-1"}, "EMIN", "between 0.01 and 1000 TeV"),
    ({"RA": "83", "DEC": "22", "EMAX": "1e9"}, "EMAX", "between 0.01 and 1000 TeV"),
    ({"RA": "83", "DEC": "22", "EMIN": "10", "EMAX": "1"}, "EMAX",
     "EMAX (1 TeV) must be greater than EMIN (10 TeV)"),
    ({"RA": "83", "DEC": "22", "EMIN": "5", "EMAX": "5"}, "EMAX", "greater than EMIN"),
    # only EMIN given: the default EMAX (100 TeV) is below it
    ({"RA": "83", "DEC": "22", "EMIN": "200"}, "EMAX", "greater than EMIN"),
    ({"RA": "83", "DEC": "22", "TMIN": "53600", "TMAX": "53500"}, "TMAX",
     "must be after TMIN"),
    ({"RA": "83", "DEC": "22", "TMIN": "1"}, "TMIN", "between 30000 and 100000 d"),
    ({"RA": "83", "DEC": "22", "MAX_OFFSET": "0"}, "MAX_OFFSET", "between 0.1 and 10"),
    ({"RA": "83", "DEC": "22", "MODEL": "gauss"}, "MODEL",
     "MODEL must be one of pl, lp, ecpl, not 'gauss'"),
    ({"RA": "83", "DEC": "22", "COLLECTION": "a\x00b"}, "COLLECTION", "control characters"),
    ({"RA": "83", "DEC": "22", "COLLECTION": "x" * 200}, "COLLECTION", "too long"),
    ({"RA": ["1", "2"], "DEC": "22"}, "RA", "given more than once"),
    ({"RA": "1", "ra": "2", "DEC": "22"}, "RA", "given more than once"),
])
def test_refused_with_a_clear_message(raw, parameter, words):
    error = _error(raw)
    assert error.parameter == parameter
    assert words in str(error)


def test_check_of_a_partial_request():
    """A UWS job may get its parameters in several requests: a request is
    checked for what it holds, RA/DEC are required only when the job runs."""
    assert check_parameters({"EMIN": ["1"], "PHASE": ["RUN"]}) == {"EMIN": 1.0}
    assert check_parameters({}) == {}
    with pytest.raises(ParameterError, match="greater than EMIN"):
        check_parameters({"emin": ["3"], "emax": ["2"]})
    with pytest.raises(ParameterError, match="finite"):
        check_parameters({"TMAX": ["NaN"]})


def test_limits_agree_with_the_resource_descriptor():
    """The RD documents the ranges that hess_dr.analysis enforces."""
    root = ET.parse(CHECKOUT / "q.rd").getroot()
    service = next(s for s in root.iter("service") if s.get("id") == "analysis")
    keys = {key.get("name"): key for key in service.iter("inputKey")}
    assert set(keys) == {name.lower() for name in analysis.PARAMETER_NAMES}
    for name, limit in analysis.NUMBERS.items():
        key = keys[name.lower()]
        values = key.find("values")
        assert (float(values.get("min")), float(values.get("max"))) == (limit.low, limit.high)
        assert key.get("unit") == limit.unit
        assert key.get("required") == ("True" if name in analysis.REQUIRED else None)
        if limit.default is not None:
            assert f"default {limit.default:g}" in " ".join(key.get("description").split())
    options = [option.text for option in keys["model"].iter("option")]
    assert options == list(analysis.MODELS)
