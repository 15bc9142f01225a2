"""TAP examples (/tap/examples, DALI examples) on the full H.E.S.S. DL3 DR1:
every example runs and returns rows; the results of several are the
release's published numbers (../shared/data/hess-dl3-dr1/SUMMARY.md)."""
from __future__ import annotations

import urllib.request

import lxml.html
import pytest
import pyvo
from lxml import etree

#: The release's numbers (SUMMARY.md of the data folder).
CRAB_RUNS = {"23523", "23526", "23559", "23592"}
TOTAL_RUNS, TOTAL_EVENTS, TOTAL_LIVETIME_S = 105, 1046156, 161237.0
PKS2155_FLARE = (2006, 15, 23686.4)     # year, runs, live time (s)
PKS2155_STEADY = (2008, 6, 9397.2)


@pytest.fixture(scope="module")
def examples(dr1_service):
    """{name: query} from the examples document, in its order."""
    with urllib.request.urlopen(f"{dr1_service.tap_url}/examples", timeout=60) as response:
        assert response.status == 200
        document = lxml.html.fromstring(response.read())
    found = {}
    for example in document.xpath("//*[@typeof='example']"):
        name = " ".join(example.xpath(".//*[@property='name']")[0].text_content().split())
        query = example.xpath(".//*[@property='query']")[0].text_content().strip()
        assert example.get("id") and example.get("resource") == "#" + example.get("id")
        found[name] = query
    return found


@pytest.fixture(scope="module")
def tap(dr1_service):
    return pyvo.dal.TAPService(dr1_service.tap_url)


def test_at_least_eight_examples_are_published(dr1_service, examples, tap):
    assert len(examples) >= 8
    assert {"Event lists covering a source", "Live time on a source per year",
            "Runs with good time at an instant", "Runs with events above an energy",
            "ObsCore, its high-energy extension and GADF metadata together",
            "Zenith-angle and live-time cuts", "Good time interval statistics",
            "Runs in a time window, with their T-MOCs"} <= set(examples)
    # what clients read: pyvo's parser finds the same queries
    assert [" ".join(e["QUERY"].split()) for e in tap.examples] == [
        " ".join(q.split()) for q in examples.values()]
    # the TAP service declares the examples endpoint
    with urllib.request.urlopen(f"{dr1_service.tap_url}/capabilities", timeout=60) as response:
        capabilities = etree.fromstring(response.read())
    ids = {c.get("standardID") for c in capabilities.iter("capability")}
    assert "ivo://ivoa.net/std/DALI#examples" in ids


def test_every_example_runs_and_returns_rows(examples, tap):
    for name, query in examples.items():
        result = tap.run_sync(query, maxrec=10000)
        assert len(result) > 0, name


def test_example_results_are_the_release_numbers(examples, tap):
    def run(name):
        return tap.run_sync(examples[name], maxrec=10000).to_table()

    assert set(run("Event lists covering a source")["obs_id"]) >= CRAB_RUNS
    per_year = run("Live time on a source per year")
    assert [(int(r["obs_year"]), int(r["runs"])) for r in per_year] == [
        PKS2155_FLARE[:2], PKS2155_STEADY[:2]]
    assert per_year["livetime_h"][0] * 3600 == pytest.approx(PKS2155_FLARE[2], abs=0.1)
    assert per_year["livetime_h"][1] * 3600 == pytest.approx(PKS2155_STEADY[2], abs=0.1)
    instant = run("Runs with good time at an instant")
    assert list(instant["obs_id"]) == ["23523"]
    gti = run("Good time interval statistics")
    assert sum(gti["runs"]) == TOTAL_RUNS and sum(gti["intervals"]) == TOTAL_RUNS
    assert sum(gti["good_time"]) == pytest.approx(174801.0)    # sum of ONTIME
    crab = gti[gti["target_name"] == "Crab"][0]
    assert (crab["runs"], crab["good_time"]) == (4, pytest.approx(6742.0))
    totals = run("Observing time per collection, facility and instrument")
    assert len(totals) == 1
    assert (totals["runs"][0], totals["events"][0]) == (TOTAL_RUNS, TOTAL_EVENTS)
    assert totals["hours"][0] * 3600 == pytest.approx(TOTAL_LIVETIME_S, abs=1.0)
    coverage = run("What each collection covers")
    assert list(coverage["n_runs"]) == [TOTAL_RUNS]
    # 0.150399 to 229.856 TeV
    assert coverage["energy_min"][0] == pytest.approx(0.150399e12, rel=1e-5)
    assert coverage["energy_max"][0] == pytest.approx(229.856e12, rel=1e-5)
    above = run("Runs with events above an energy")
    assert min(above["emax_tev"]) > 100
    window = run("Runs in a time window, with their T-MOCs")
    assert set(window["obs_id"]) >= CRAB_RUNS
    assert all(str(t).startswith("t61/") for t in window["t_intervals"])
