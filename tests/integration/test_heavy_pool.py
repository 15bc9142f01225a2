"""Heavy requests are bounded (issue: heavy work never stalls light requests).

Against the live DR1 service: a burst of whole-sky cutouts and uncached
previews sent at once is answered with 200 (correct files) or 503 (a DALI
error document with Retry-After), never anything else, while a DataLink
probe keeps being answered; the same uncached preview requested twenty
times at once is rendered once.  Latencies are measured by `make bench`
(bench/serving.py), not asserted here.
"""
from __future__ import annotations

import concurrent.futures
import io
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import pyvo
from astropy.io import fits
from astropy.io.votable import parse as parse_votable

WHOLE_SKY = "RANGE 0 360 -90 90"


def _fetch(url: str, timeout: float = 300):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


@pytest.fixture(scope="module")
def runs(dr1_service):
    """obs_publisher_did, event_count and file SHA-256 (from the stored
    layout) of every DR1 run, in obs_id order."""
    tap = pyvo.dal.TAPService(dr1_service.tap_url)
    table = tap.run_sync("SELECT obs_publisher_did, obs_id, event_count, layout"
                         " FROM hess_dr.obs_index ORDER BY obs_id").to_table()
    return [{"did": str(row["obs_publisher_did"]), "obs_id": str(row["obs_id"]),
             "events": int(row["event_count"]),
             "sha256": json.loads(str(row["layout"]))["file"][2]} for row in table]


def _previews_dir(service) -> Path:
    return service.instance.root / "cache" / "hess_dr" / "previews"


def _uncached(service, runs, kind):
    """Runs whose ``kind`` preview is not in the cache yet."""
    cached = {p.name for p in _previews_dir(service).rglob("*.png")}
    return [run for run in runs if f"{run['sha256']}-{kind}.png" not in cached]


def _assert_busy_answer(status, body, headers):
    assert status == 503
    assert int(headers["Retry-After"]) >= 1
    assert headers["Content-Type"].startswith("application/x-votable+xml")
    votable = parse_votable(io.BytesIO(body))
    info = {i.name: i for i in votable.resources[0].infos}
    assert info["QUERY_STATUS"].value == "ERROR"


def test_burst_of_heavy_requests_is_answered_200_or_503(dr1_service, runs):
    dl = f"{dr1_service.url}/hess_dr/q/dl"
    prod = f"{dr1_service.url}/hess_dr/q/prod/dlget"
    cutouts = [(f"{dl}/dlget?" + urllib.parse.urlencode({"ID": run["did"], "POS": WHOLE_SKY}),
                run) for run in (runs * 2)[:48]]
    pairs = [(run, kind) for kind in ("preview-image", "preview-plot")
             for run in _uncached(dr1_service, runs, kind)][:48]
    assert len(pairs) == 48
    previews = [(f"{prod}?" + urllib.parse.urlencode({"ID": run["did"], "PRODUCT": kind}), None)
                for run, kind in pairs]
    probe_url = f"{dl}/dlmeta?" + urllib.parse.urlencode({"ID": runs[0]["did"]})
    assert _fetch(probe_url)[0] == 200
    probes, done = [], threading.Event()

    def probe():
        while not done.is_set():
            probes.append(_fetch(probe_url, timeout=60)[0])
            done.wait(0.25)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(96) as pool:
            answers = list(pool.map(lambda item: (item, _fetch(item[0])), cutouts + previews))
    finally:
        done.set()
        prober.join()

    statuses = [status for _, (status, _, _) in answers]
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses
    for (url, run), (status, body, headers) in answers:
        if status == 503:
            _assert_busy_answer(status, body, headers)
        elif run is not None:  # a whole-sky cutout keeps every event
            with fits.open(io.BytesIO(body), checksum=True) as hdus:
                assert len(hdus["EVENTS"].data) == run["events"]
        else:
            assert body.startswith(b"\x89PNG")
    assert probes and set(probes) == {200}


def test_the_same_preview_twenty_times_at_once_is_rendered_once(dr1_service, runs):
    kind = "preview-plot"
    run = _uncached(dr1_service, runs, kind)[-1]
    url = f"{dr1_service.url}/hess_dr/q/prod/dlget?" + urllib.parse.urlencode(
        {"ID": run["did"], "PRODUCT": kind})
    file_name = f"hess_dl3_dr1_obs_id_{int(run['obs_id']):06d}.fits.gz"
    log = dr1_service.instance.server_log

    def renders() -> int:
        pattern = re.compile(rf"hess_dr: rendered {kind} of {re.escape(file_name)}$", re.M)
        return len(pattern.findall(log.read_text(errors="replace")))

    assert renders() == 0
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: _fetch(url), range(20)))
    bodies = {body for status, body, _ in answers if status == 200}
    assert len(bodies) == 1 and next(iter(bodies)).startswith(b"\x89PNG")
    for status, body, headers in answers:
        if status != 200:
            _assert_busy_answer(status, body, headers)
    # everybody who was told to come back gets the same image, from the cache
    for _ in range(3):
        again = [_fetch(url) for _ in range(5)]
        assert {status for status, _, _ in again} == {200}
        assert {body for _, body, _ in again} == bodies
    time.sleep(0.5)  # (the worker's log line is flushed when written)
    assert renders() == 1
