"""Smoke test of the test infrastructure: a private instance serves TAP."""

import urllib.request

import pyvo


def test_tap_answers(sample_service):
    with urllib.request.urlopen(sample_service.tap_url + "/capabilities",
                                timeout=30) as resp:
        assert resp.status == 200
    result = pyvo.dal.TAPService(sample_service.tap_url).run_sync(
        "SELECT COUNT(*) AS n FROM tap_schema.tables")
    assert int(result[0]["n"]) > 0
