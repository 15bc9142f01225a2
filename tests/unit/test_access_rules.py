"""hess_dr.access: release rules and the one access decision."""
import datetime

import pytest
from hypothesis import given, strategies as st

from hess_dr import access
from hess_dr.access import Period, Requester, RunRights

TODAY = datetime.date(2026, 12, 2)
MEMBER = Requester("alice", frozenset({"alice", "hessteam"}))
OUTSIDER = Requester("bob", frozenset({"bob", "magic"}))
ANONYMOUS = Requester.anonymous()


@pytest.mark.parametrize("text, observed, expected", [
    ("1 year", datetime.date(2004, 2, 29), datetime.date(2005, 2, 28)),
    ("18 months", datetime.date(2004, 3, 26), datetime.date(2005, 9, 26)),
    ("2 weeks", datetime.date(2004, 12, 25), datetime.date(2005, 1, 8)),
    ("90 DAYS", datetime.date(2004, 1, 1), datetime.date(2004, 3, 31)),
])
def test_period_is_calendar_arithmetic(text, observed, expected):
    assert Period.parse(text).after(observed) == expected


@pytest.mark.parametrize("value, expected", [
    ("2100-01-01", datetime.date(2100, 1, 1)),
    (datetime.date(2030, 6, 30), datetime.date(2030, 6, 30)),
    (datetime.datetime(2030, 6, 30, 12, 0), datetime.date(2030, 6, 30)),
    ("1 year", Period(1, "year")),
])
def test_parse_release(value, expected):
    assert access.parse_release(value) == expected


@pytest.mark.parametrize("value", ["next year", "1 fortnight", "", 2030, None, "-1 year"])
def test_parse_release_refuses(value):
    with pytest.raises(ValueError, match="neither an ISO date nor a period"):
        access.parse_release(value)


def test_run_rights_override_and_fallbacks():
    rule = RunRights("hessteam", Period(1, "year"))
    observed = datetime.date(2004, 3, 26)
    assert access.run_rights(rule, None, observed) == ("hessteam", datetime.date(2005, 3, 26))
    assert access.run_rights(rule, RunRights(owner="magic"), observed) == (
        "magic", datetime.date(2005, 3, 26))
    assert access.run_rights(rule, RunRights(release=datetime.date(2100, 1, 1)), observed) == (
        "hessteam", datetime.date(2100, 1, 1))
    assert access.run_rights(RunRights(), None, observed) == (None, None)
    assert access.run_rights(RunRights("hessteam"), None, observed) == ("hessteam", None)


def test_release_day_is_the_first_public_day_and_matches_dachs_embargo():
    release = TODAY
    assert access.is_public("hessteam", release, TODAY)
    assert not access.is_public("hessteam", release, TODAY - datetime.timedelta(days=1))
    # DaCHS serves a product when embargo < today: the same days
    embargo = access.products_embargo("hessteam", release)
    for day in (TODAY - datetime.timedelta(days=1), TODAY, TODAY + datetime.timedelta(days=1)):
        assert (embargo < day) == access.is_public("hessteam", release, day)
    assert access.products_embargo("hessteam", None) == datetime.date.max
    assert access.products_embargo(None, None) is None


def test_denial_statuses_and_messages():
    release = datetime.date(2100, 1, 1)
    anonymous = access.denial("hessteam", release, ANONYMOUS, TODAY)
    assert isinstance(anonymous, access.NotAuthenticated) and anonymous.http_status == 401
    assert anonymous.dali_message == ("AuthenticationFault: proprietary data until 2100-01-01:"
                                      " log in as a member of group hessteam")
    outsider = access.denial("hessteam", release, OUTSIDER, TODAY)
    assert isinstance(outsider, access.NotAuthorized) and outsider.http_status == 403
    assert str(outsider) == ("proprietary data until 2100-01-01: user bob is not in"
                             " group hessteam")
    assert access.denial("hessteam", release, MEMBER, TODAY) is None
    assert "with no release date set" in str(access.denial("hessteam", None, ANONYMOUS, TODAY))
    assert access.data_rights("hessteam", release, TODAY) == "proprietary"
    assert access.data_rights("hessteam", TODAY, TODAY) == "public"
    assert access.data_rights(None, None, TODAY) == "public"


@given(owner=st.sampled_from([None, "hessteam", "magic"]),
       release=st.one_of(st.none(), st.dates(datetime.date(1990, 1, 1), datetime.date(2200, 1, 1))),
       requester=st.sampled_from([MEMBER, OUTSIDER, ANONYMOUS]))
def test_denial_is_exactly_not_public_and_not_member(owner, release, requester):
    refused = access.denial(owner, release, requester, TODAY)
    may_read = access.is_public(owner, release, TODAY) or owner in requester.groups
    assert (refused is None) == may_read
    if refused is not None:
        assert refused.http_status == (401 if requester.user is None else 403)
