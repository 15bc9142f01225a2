"""hess_dr.timeref: MET <-> absolute time as OGIP/GADF headers define it."""
from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.time import Time

from hess_dr.timeref import RunTimes, TimeRefError, convert_together, time_reference

DR1 = {"MJDREFI": 51910, "MJDREFF": 0.000742870370370241, "TIMESYS": "TT", "TIMEUNIT": "s"}
MET = np.array([0.0, 123890826.0, 123892513.5, 241650046.0, -1e6])


def test_dr1_epoch_is_2001_utc_in_tt():
    ref = time_reference(DR1)
    assert ref.epoch.scale == "tt"
    assert ref.epoch.utc.isot == "2001-01-01T00:00:00.000"
    assert ref.to_time(123890826.0).utc.isot == "2004-12-04T22:07:06.000"
    assert ref.to_time(241650046.0).utc.isot == "2008-08-28T21:00:45.000"  # after 2 leap seconds
    assert (ref.unit, ref.timezero, ref.timesys) == (u.s, 0.0, "TT")


@pytest.mark.parametrize("header", [
    pytest.param(DR1, id="TT-seconds"),
    pytest.param({**DR1, "TIMESYS": "utc"}, id="utc"),
    pytest.param({**DR1, "TIMESYS": "TAI", "TIMEZERO": 12.5}, id="TAI-timezero"),
    pytest.param({"MJDREF": 53000.5, "TIMESYS": "TDB", "TIMEUNIT": "d"}, id="TDB-days"),
    pytest.param({**DR1, "TIMESYS": "GPS"}, id="GPS"),
])
def test_round_trip(header):
    ref = time_reference(header)
    met = MET / 86400 if header.get("TIMEUNIT") == "d" else MET
    back = ref.to_met(ref.to_time(met))
    tolerance = 1e-6 / 86400 if header.get("TIMEUNIT") == "d" else 1e-6
    np.testing.assert_allclose(back, met, rtol=0, atol=tolerance)


def test_to_time_is_vectorised_and_in_file_scale():
    ref = time_reference({**DR1, "TIMESYS": "tai"})
    times = ref.to_time(MET[:3])
    assert times.shape == (3,) and times.scale == "tai"
    np.testing.assert_allclose((times[1:] - times[0]).to_value(u.s), MET[1:3], atol=1e-6)


@pytest.mark.parametrize("timesys, scale", [
    ("TT", "tt"), ("tt", "tt"), (" Tt ", "tt"), ("TDT", "tt"), ("UTC", "utc"), ("utc", "utc"),
    ("TAI", "tai"), ("tai", "tai"), ("TDB", "tdb"), ("TCB", "tcb"), ("TCG", "tcg"),
])
def test_timesys_any_case(timesys, scale):
    ref = time_reference({**DR1, "TIMESYS": timesys})
    assert ref.timesys == timesys.strip().upper()
    expected = Time(51910.000742870370370241, format="mjd", scale=scale) + 1000 * u.s
    assert abs((ref.to_time(1000.0) - expected).to_value(u.s)) < 1e-6


def test_gps_matches_astropy_gps_format():
    """GPS seconds since 1980-01-06 (GPS = TAI - 19 s), compared with astropy's own."""
    ref = time_reference({"MJDREF": 44244.0, "TIMESYS": "GPS", "TIMEUNIT": "s"})
    for seconds in (0.0, 1e9, 1.4e9):
        expected = Time(seconds, format="gps")
        assert abs((ref.to_time(seconds) - expected).to_value(u.s)) < 1e-6
    assert ref.to_met(Time("2011-09-14T01:46:25", scale="utc")) == pytest.approx(1e9, abs=1e-6)


def test_timezero_is_added():
    plain = time_reference(DR1)
    shifted = time_reference({**DR1, "TIMEZERO": 100.0})
    assert shifted.timezero == 100.0
    assert abs((shifted.to_time(0.0) - plain.to_time(100.0)).to_value(u.s)) < 1e-6
    assert shifted.to_met(plain.to_time(150.0)) == pytest.approx(50.0, abs=1e-6)


def test_timeunit_days_and_timezero_in_that_unit():
    ref = time_reference({"MJDREFI": 51910, "MJDREFF": 0.5, "TIMESYS": "TT",
                          "TIMEUNIT": "d", "TIMEZERO": 0.25})
    assert ref.unit == u.day
    assert ref.to_time(1.0).tt.mjd == pytest.approx(51910 + 0.5 + 1.25, abs=1e-10)
    assert ref.to_time(1.0).tt.isot == "2001-01-02T18:00:00.000"


def test_timeunit_defaults_to_seconds():
    header = dict(DR1)
    del header["TIMEUNIT"]
    ref = time_reference(header)
    assert ref.unit == u.s
    assert abs((ref.to_time(86400.0) - ref.epoch).to_value(u.day) - 1) < 1e-12


@pytest.mark.parametrize("header", [
    pytest.param({"MJDREFI": 51910.0, "MJDREFF": 0.000742870370370241, "TIMESYS": "TT"},
                 id="MJDREFI-float"),
    pytest.param({"MJDREFI": "51910", "MJDREFF": "0.000742870370370241", "TIMESYS": "TT"},
                 id="MJDREF-strings"),
    pytest.param({"MJDREF": 51910.000742870370370241, "TIMESYS": "TT"}, id="MJDREF-only"),
    pytest.param({"MJDREFI": 51910, "MJDREFF": 0.000742870370370241, "MJDREF": 1.0,
                  "TIMESYS": "TT"}, id="MJDREFI-wins-over-MJDREF"),
])
def test_reference_epoch_forms(header):
    ref = time_reference(header)
    assert abs((ref.epoch - time_reference(DR1).epoch).to_value(u.s)) < 1e-5
    assert ref.to_time(123890826.0).utc.isot == "2004-12-04T22:07:06.000"


def test_mjdreff_missing_means_zero():
    ref = time_reference({"MJDREFI": 51910, "TIMESYS": "UTC"})
    assert ref.epoch.utc.isot == "2001-01-01T00:00:00.000"


def test_default_timesys_used_only_when_missing():
    header = {k: v for k, v in DR1.items() if k != "TIMESYS"}
    assert time_reference(header, default_timesys="utc").timesys == "UTC"
    assert time_reference({**header, "TIMESYS": ""}, default_timesys="TAI").timesys == "TAI"
    assert time_reference(DR1, default_timesys="UTC").timesys == "TT"


@pytest.mark.parametrize("header, default, message", [
    pytest.param({"TIMESYS": "TT"}, None, "MJDREFI/MJDREFF and MJDREF are missing", id="no-MJDREF"),
    pytest.param({"MJDREFI": "", "TIMESYS": "TT"}, None, "MJDREFI/MJDREFF and MJDREF are missing",
                 id="blank-MJDREFI"),
    pytest.param({"MJDREFI": "abc", "TIMESYS": "TT"}, None, "MJDREFI='abc' is not a number",
                 id="MJDREFI-text"),
    pytest.param({"MJDREFI": 51910}, None, "TIMESYS is missing and no default", id="no-TIMESYS"),
    pytest.param({"MJDREFI": 51910, "TIMESYS": " "}, None, "TIMESYS is missing", id="blank-TIMESYS"),
    pytest.param({"MJDREFI": 51910, "TIMESYS": "XYZ"}, "TT", "TIMESYS='XYZ' is not a supported",
                 id="TIMESYS-XYZ"),
    pytest.param({"MJDREFI": 51910, "TIMESYS": "TT", "TIMEUNIT": "m"}, None,
                 "TIMEUNIT='m' is not a time unit", id="TIMEUNIT-metre"),
    pytest.param({"MJDREFI": 51910, "TIMESYS": "TT", "TIMEUNIT": "fortnights"}, None,
                 "TIMEUNIT='fortnights' is not a time unit", id="TIMEUNIT-unknown"),
    pytest.param({"MJDREFI": 51910, "TIMESYS": "TT", "TIMEZERO": "x"}, None,
                 "TIMEZERO='x' is not a number", id="TIMEZERO-text"),
])
def test_unusable_headers(header, default, message):
    with pytest.raises(TimeRefError, match=message.replace("(", r"\(")):
        time_reference(header, default_timesys=default)


@pytest.mark.parametrize("header", [
    pytest.param(DR1, id="TT"),
    pytest.param({**DR1, "TIMESYS": "UTC"}, id="UTC"),
    pytest.param({**DR1, "TIMESYS": "TAI", "TIMEZERO": 12.5}, id="TAI-timezero"),
])
def test_run_times_equal_separate_conversions(header):
    ref = time_reference(header)
    gti_start, gti_stop = np.array([123890826.0, 123891000.0]), np.array([123890900.0, 123892513.5])
    times = RunTimes(ref, tstart=123890826.0, tstop=123892513.5, gti_start=gti_start,
                     gti_stop=gti_stop)
    assert times.time("tstart").shape == () and times.time("gti_stop").shape == (2,)
    for name, met in (("tstart", 123890826.0), ("tstop", 123892513.5),
                      ("gti_start", gti_start), ("gti_stop", gti_stop)):
        alone = ref.to_time(met)
        combined = times.time(name)
        assert combined.scale == alone.scale == ref.epoch.scale
        for scale in ("utc", "tdb", ref.epoch.scale):
            # the conversions handed over through the cache are the right ones
            np.testing.assert_array_equal(getattr(combined, scale).jd1, getattr(alone, scale).jd1)
            np.testing.assert_allclose(getattr(combined, scale).jd2, getattr(alone, scale).jd2,
                                       rtol=0, atol=1e-6 / 86400 / 1000)
        np.testing.assert_allclose(times.mjd(name, "utc"), alone.utc.mjd, rtol=0, atol=1e-11)
        jd1, jd2 = times.jd(name, "tdb")
        np.testing.assert_array_equal(jd1, np.atleast_1d(alone.tdb.jd1))
        np.testing.assert_allclose(jd2, np.atleast_1d(alone.tdb.jd2), rtol=0, atol=1e-14)
    assert isinstance(times.mjd("tstart"), float)
    assert times.mjd("gti_start").shape == (2,)


def test_run_times_fill_the_conversion_cache():
    ref = time_reference(DR1)
    times = RunTimes(ref, start=np.array([1e8, 2e8]), stop=np.array([1e8 + 10, 2e8 + 10]))
    start = times.time("start")
    assert set(start.cache["scale"]) >= {"utc", "tdb"}
    assert start.utc.isot[0] == ref.to_time(1e8).utc.isot


def test_runs_sharing_a_reference_are_converted_together():
    ref = time_reference(DR1)
    other = time_reference({**DR1, "TIMESYS": "UTC"})
    runs = [RunTimes(ref, tstart=1e8 + i, gti_start=np.array([1e8 + i, 1e8 + 2 * i]))
            for i in range(3)] + [RunTimes(other, tstart=5e7)]
    assert convert_together(runs) == [None] * 4
    # one conversion (and Time) for the three runs of one reference
    assert len({id(run._conversion) for run in runs[:3]}) == 1
    assert runs[3]._conversion is not runs[0]._conversion
    for i, run in enumerate(runs[:3]):
        assert run.mjd("tstart") == pytest.approx(ref.to_time(1e8 + i).utc.mjd, abs=1e-11)
        np.testing.assert_allclose(run.mjd("gti_start"),
                                   ref.to_time(np.array([1e8 + i, 1e8 + 2 * i])).utc.mjd,
                                   rtol=0, atol=1e-11)
        assert run.time("tstart").utc.isot == ref.to_time(1e8 + i).utc.isot
    assert runs[3].time("tstart").scale == "utc"
    assert runs[3].mjd("tstart") == pytest.approx(other.to_time(5e7).mjd, abs=1e-11)


def test_an_absurd_date_fails_only_its_own_run():
    ref = time_reference(DR1)
    runs = [RunTimes(ref, tstart=1e8), RunTimes(ref, tstart=1e30), RunTimes(ref, tstart=2e8)]
    errors = convert_together(runs)
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], (ValueError, OverflowError))
    assert not runs[1].converted and runs[0].converted and runs[2].converted
    assert runs[2].mjd("tstart") == pytest.approx(ref.to_time(2e8).utc.mjd, abs=1e-11)


def test_run_times_refuse_absurd_dates():
    ref = time_reference({"MJDREF": 1e30, "TIMESYS": "TT"})
    times = RunTimes(ref, tstart=0.0, tstop=10.0)
    with pytest.raises(ValueError):
        times.convert()
    with pytest.raises(ValueError):  # converted on demand, with the same error
        times.mjd("tstart")


def test_a_reference_is_built_once_per_set_of_keyword_values():
    first = time_reference(dict(DR1))
    assert time_reference({**DR1, "OBJECT": "other keywords do not matter"}) is first
    assert time_reference(DR1, default_timesys="UTC") is not first
    shifted = time_reference({**DR1, "TIMEZERO": 1.0})
    assert shifted is not first and shifted.timezero == 1.0
    without_timesys = {k: v for k, v in DR1.items() if k != "TIMESYS"}
    assert time_reference(without_timesys, default_timesys="TT").timesys == "TT"
    assert time_reference(without_timesys, default_timesys="UTC").timesys == "UTC"


def test_an_unhashable_value_is_still_read():
    ref = time_reference({**DR1, "TIMEUNIT": np.str_("s"), "MJDREFF": np.array(DR1["MJDREFF"])})
    assert ref.epoch.utc.isot == "2001-01-01T00:00:00.000"
    with pytest.raises(TimeRefError, match="TIMESYS"):
        time_reference({**DR1, "TIMESYS": ["TT"]})
