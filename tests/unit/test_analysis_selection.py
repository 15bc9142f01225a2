"""Run selection of the point_source job: the SQL, the exact cuts, what
the analysis needs and the access rule (hess_dr.analysis)."""
from __future__ import annotations

import datetime

import pytest
from astropy.coordinates import SkyCoord

from hess_dr import analysis
from hess_dr.analysis import Candidate, NoRunsError, parse_parameters, readable_by, select_runs

CRAB = parse_parameters({"RA": "83.633", "DEC": "22.0145"})
TODAY = datetime.date(2026, 6, 1)


def run(obs_id, ra=83.633, dec=22.5145, **changes):
    values = dict(obs_publisher_did=f"ivo://x/~?hess_dr/r{obs_id}.fits", obs_id=str(obs_id),
                  collection="hess-dl3-dr1", obs_collection="HESS-DL3-DR1", ra_pnt=ra,
                  dec_pnt=dec, t_min=53343.9, t_max=53344.0,
                  analysis_mode="full-enclosure", irf_types="aeff edisp psf bkg")
    values.update(changes)
    return Candidate(**values)


def test_candidate_query_uses_the_q3c_index_and_every_filter():
    params = parse_parameters({"RA": "83.6", "DEC": "22", "TMIN": "53000", "TMAX": "53500",
                               "COLLECTION": "HESS-DL3-DR1", "MAX_OFFSET": "1.5"})
    sql, args = analysis.candidate_query(params)
    assert sql.startswith("SELECT " + ", ".join(analysis.CANDIDATE_COLUMNS)
                          + " FROM hess_dr.obs_index WHERE ")
    assert "q3c_join(%(ra)s, %(dec)s, s_ra, s_dec, %(max_offset)s)" in sql
    assert "s_region_origin = 'pointing'" in sql
    assert "t_max >= %(tmin)s" in sql and "t_min <= %(tmax)s" in sql
    assert "(obs_collection = %(collection)s OR collection = %(collection)s)" in sql
    assert sql.endswith("ORDER BY t_min, obs_id")
    assert (args["ra"], args["dec"], args["tmin"], args["tmax"], args["collection"]) == (
        83.6, 22.0, 53000.0, 53500.0, "HESS-DL3-DR1")
    assert 1.5 <= args["max_offset"] < 1.5 + 1e-6
    sql, args = analysis.candidate_query(CRAB)
    assert set(args) == {"ra", "dec", "max_offset"} and "%(collection)s" not in sql
    sql, _ = analysis.candidate_query(CRAB, extra_columns=("source_path",))
    assert ", obs_release_date, source_path FROM hess_dr.obs_index WHERE " in sql


def test_angular_distance_is_astropys():
    for ra1, dec1, ra2, dec2 in [(83.633, 22.0145, 83.633, 22.5145), (0, 89.9, 180, 89.9),
                                 (359.9, 0, 0.1, 0), (10, -30, 200, 30)]:
        expected = SkyCoord(ra1, dec1, unit="deg").separation(
            SkyCoord(ra2, dec2, unit="deg")).deg
        assert analysis.angular_distance(ra1, dec1, ra2, dec2) == pytest.approx(
            expected, abs=1e-12)


def test_exact_cuts_and_what_the_analysis_needs():
    params = parse_parameters({"RA": "83.633", "DEC": "22.0145", "MAX_OFFSET": "1",
                               "TMIN": "53343", "TMAX": "53345"})
    candidates = [
        run(1),                                              # 0.5 deg: kept
        run(2, dec=23.0145 + 1e-6),                          # just beyond 1 deg
        run(3, t_min=53346, t_max=53346.1),                  # after TMAX
        run(4, t_min=53300, t_max=53342.9),                  # before TMIN
        run(5, irf_types="aeff edisp bkg"),                  # no PSF
        run(6, analysis_mode="point-like", irf_types="aeff edisp rad_max psf"),
        run(7, ra_pnt=None, dec_pnt=None),                   # survey data
        run(8, dec=23.0145),                                 # exactly 1 deg
    ]
    selection = select_runs(candidates, params, user=None, today=TODAY)
    assert [r.obs_id for r in selection.runs] == ["1", "8"]
    assert [(r.obs_id, why) for r, why in selection.skipped] == [
        ("5", "no psf IRF"),
        ("6", "IRFs are point-like, point_source needs full-enclosure IRFs")]


def test_collection_by_either_name():
    runs = [run(1), run(2, collection="other", obs_collection="OTHER")]
    for name in ("HESS-DL3-DR1", "hess-dl3-dr1"):
        params = parse_parameters({"RA": "83.633", "DEC": "22.0145", "COLLECTION": name})
        assert [r.obs_id for r in select_runs(runs, params, None, today=TODAY).runs] == ["1"]


def test_no_runs_at_an_empty_position():
    params = parse_parameters({"RA": "10", "DEC": "-60"})
    with pytest.raises(NoRunsError) as info:
        select_runs([run(1)], params, None, today=TODAY)
    assert str(info.value) == "No runs found with a pointing within 2 deg of RA=10, DEC=-60"


def test_no_runs_says_why_candidates_were_left_out():
    params = parse_parameters({"RA": "83.633", "DEC": "22.0145", "TMIN": "53000",
                               "COLLECTION": "HESS-DL3-DR1"})
    with pytest.raises(NoRunsError) as info:
        select_runs([run(1, irf_types="aeff")], params, None, today=TODAY)
    assert str(info.value) == (
        "No runs found with a pointing within 2 deg of RA=83.633, DEC=22.0145 between MJD"
        " 53000 and +inf in collection 'HESS-DL3-DR1' that can be analysed (1 candidate(s)"
        " left out: no edisp/psf IRF)")


def test_readable_by_is_the_access_rule():
    future, past = datetime.date(2100, 1, 1), datetime.date(2020, 1, 1)
    runs = [run(1), run(2, owner="hessteam", release=future),
            run(3, owner="hessteam", release=past), run(4, owner=None, release=future),
            run(5, owner="hessteam", release=TODAY), run(7, owner="hessteam", release=None)]
    ids = lambda selected: [r.obs_id for r in selected]  # noqa: E731
    # public: no owner, or released (from the release day on); an owner
    # without a release date keeps the run proprietary
    assert ids(readable_by(runs, None, today=TODAY)) == ["1", "3", "4", "5"]
    assert ids(readable_by(runs, "outsider", {"outsider", "magic"}, TODAY)) == [
        "1", "3", "4", "5"]
    assert ids(readable_by(runs, "alice", {"alice", "hessteam"}, TODAY)) == [
        "1", "2", "3", "4", "5", "7"]
    # a user is in the group of their own name even if groups are not given
    assert ids(readable_by([run(6, owner="bob", release=future)], "bob", (), TODAY)) == ["6"]


def test_a_job_over_proprietary_runs_by_an_outsider_does_not_use_them():
    runs = [run(1), run(2, owner="hessteam", release=datetime.date(2100, 1, 1))]
    outsider = select_runs(runs, CRAB, "outsider", {"outsider"}, today=TODAY)
    assert [r.obs_id for r in outsider.runs] == ["1"]
    assert [(r.obs_id, why) for r, why in outsider.skipped] == [
        ("2", "proprietary: not readable by outsider")]
    member = select_runs(runs, CRAB, "alice", {"alice", "hessteam"}, today=TODAY)
    assert [r.obs_id for r in member.runs] == ["1", "2"] and member.skipped == []
    with pytest.raises(NoRunsError, match="proprietary: not readable by anonymous users"):
        select_runs(runs[1:], CRAB, None, today=TODAY)


def test_candidate_from_a_database_row():
    import numpy as np
    row = {name: None for name in analysis.CANDIDATE_COLUMNS}
    row.update(obs_publisher_did="ivo://x/~?a", obs_id=23523, ra_pnt=np.float64(83.6),
               obs_release_date=datetime.datetime(2100, 1, 1, 0, 0), source_path="ignored")
    candidate = Candidate.from_row(row, path="/data/a.fits")
    assert candidate.obs_id == "23523" and candidate.path == "/data/a.fits"
    assert type(candidate.ra_pnt) is float and candidate.release == datetime.date(2100, 1, 1)
