"""point_source analysis jobs (UWS) on the live full-DR1 service, and the
#provenance link of a dataset.

The Crab job runs over the four DR1 Crab runs (23523, 23526, 23559,
23592, the release's only Crab observations); the acceptance ranges of its
fit come from the issue (index 2.3-2.9, dN/dE(1 TeV) 2e-11 to 6e-11
cm-2 s-1 TeV-1, around the published H.E.S.S. Crab spectrum).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
import urllib.parse
import warnings
from pathlib import Path

import numpy as np
import prov
import prov.model as pm
import pytest
import pyvo
import requests
from astropy.io import fits, votable
from pyvo.io.uws import parse_job

from dachs_support import DEFAULT_FULL_DATA

CRAB_RUNS = ["23523", "23526", "23559", "23592"]
# Media types as served: DaCHS serves UWS results as static files, typed by
# their extension where it knows it (.fits: image/fits, RFC 4047), else
# as declared by the job.
RESULTS = {"fit.json": "application/json", "counts-map.png": "image/png",
           "spectrum.png": "image/png", "flux-points.fits": "image/fits",
           "flux-points.vot": "application/x-votable+xml", "analysis.log": "text/plain",
           "provenance.json": "application/json",
           "provenance.provn": "text/provenance-notation",
           "provenance.png": "image/png", "index.html": "text/html"}
FINAL = ["COMPLETED", "ERROR", "ABORTED"]


def _data_dir() -> Path:
    return Path(os.environ.get("HESS_DR_FULL_DATA") or DEFAULT_FULL_DATA)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_of(did: str) -> Path:
    return _data_dir() / "data" / did.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def uws(dr1_service):
    return f"{dr1_service.url}/hess_dr/q/analysis/uws.xml"


def _create(uws_url, auth=None, **parameters):
    """POST a new job; its URL (DaCHS redirects to it)."""
    reply = requests.post(uws_url, data=parameters, allow_redirects=False, timeout=60,
                          auth=auth)
    assert reply.status_code == 303, reply.text
    return reply.headers["Location"]


def _wait(job_url, timeout=900, auth=None):
    """Wait for a final phase with UWS 1.1 blocking polls (pyvo's wait
    gives up on ABORTED jobs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = _job_document(f"{job_url}?WAIT=20", auth)
        phase = summary.phase
        if phase in FINAL:
            return summary
    raise AssertionError(f"{job_url} still {phase} after {timeout} s")


def _job_document(job_url, auth=None):
    reply = requests.get(job_url, timeout=60, auth=auth)
    assert reply.status_code == 200
    return parse_job(io.BytesIO(reply.content))


@pytest.fixture(scope="module")
def crab_job(uws):
    """The Crab job, run with pyvo as a client would: create (POST), run,
    wait, results."""
    start = time.perf_counter()
    job_url = _create(uws, RA="83.633", DEC="22.0145", MODEL="pl")
    job = pyvo.dal.AsyncTAPJob(job_url)
    assert job.phase == "PENDING"
    job.run()
    job.wait(phases=FINAL, timeout=900)
    wall = time.perf_counter() - start
    summary = _job_document(job_url)
    print(f"\nCrab point_source job: {wall:.1f} s from submission to COMPLETED"
          f" (job start to end {(summary.endtime - summary.starttime).to_value('s'):.1f} s)")
    return job_url, job, summary


def test_crab_job_completes(crab_job):
    job_url, job, summary = crab_job
    job.raise_if_error()
    assert summary.phase == "COMPLETED"
    assert summary.starttime <= summary.endtime
    assert summary.executionduration.to_value("s") == 900
    assert summary.destruction > summary.endtime
    assert {p.id_: str(p.content or "") for p in summary.parameters}["ra"] == "83.633"
    assert [r.id_ for r in summary.results] == list(RESULTS)


def test_crab_fit(crab_job):
    job_url, job, _ = crab_job
    fit = requests.get(f"{job_url}/results/fit.json", timeout=60).json()
    assert 2.3 <= fit["index"] <= 2.9
    assert 2e-11 <= fit["amplitude"] <= 6e-11
    assert fit["amplitude_unit"] == "cm-2 s-1 TeV-1" and fit["reference_tev"] == 1.0
    assert fit["dnde_1tev"] == pytest.approx(fit["amplitude"], rel=1e-12)
    assert fit["index_err"] > 0 and fit["amplitude_err"] > 0
    assert fit["statistic"]["name"] == "wstat" and np.isfinite(fit["statistic"]["value"])
    assert fit["obs_ids"] == CRAB_RUNS
    assert [did.rsplit("/", 1)[-1] for did in fit["runs"]] == [
        f"hess_dl3_dr1_obs_id_0{obs_id}.fits.gz" for obs_id in CRAB_RUNS]
    print(f"\nCrab: index {fit['index']:.3f} +- {fit['index_err']:.3f}, dN/dE(1 TeV)"
          f" {fit['amplitude']:.3e} +- {fit['amplitude_err']:.1e} cm-2 s-1 TeV-1,"
          f" {fit['statistics']['significance']:.1f} sigma")


def test_every_result_downloads(crab_job):
    job_url, job, _ = crab_job
    assert len(job.result_uris) == len(RESULTS)
    for uri, (name, media_type) in zip(job.result_uris, RESULTS.items()):
        assert uri.endswith(f"/results/{name}")
        reply = requests.get(uri, timeout=60)
        assert reply.status_code == 200, name
        assert reply.headers["content-type"].split(";")[0] == media_type, name
        body = reply.content
        if name.endswith(".png"):
            assert body.startswith(b"\x89PNG\r\n\x1a\n"), name
        elif name.endswith(".fits"):
            with fits.open(io.BytesIO(body)) as hdus:
                assert len(hdus[1].data) >= 2
        elif name.endswith(".vot"):
            assert len(votable.parse_single_table(io.BytesIO(body)).to_table()) >= 2
        elif name.endswith(".json"):
            json.loads(body)
        elif name == "index.html":
            assert b'<img src="spectrum.png"' in body and b'<img src="counts-map.png"' in body
        elif name == "analysis.log":
            assert b"4 run(s) selected: 23523, 23526, 23559, 23592" in body
        else:
            assert body.startswith(b"document")


def test_crab_provenance(crab_job):
    job_url, job, _ = crab_job
    fit = requests.get(f"{job_url}/results/fit.json", timeout=60).json()
    text = requests.get(f"{job_url}/results/provenance.json", timeout=60).text
    document = prov.read(io.StringIO(text), format="json")
    provn = requests.get(f"{job_url}/results/provenance.provn", timeout=60).text
    assert prov.read(io.StringIO(provn), format="provn") == document
    datasets = {}
    for entity in document.get_records(pm.ProvEntity):
        attributes = {str(k): v for k, v in entity.attributes}
        if "hess:obs_publisher_did" in attributes:
            assert entity.identifier.uri == attributes["hess:obs_publisher_did"]
            datasets[entity.identifier.uri] = attributes["hess:sha256"]
    # exactly the runs used, each with the checksum of its file
    assert datasets == {did: _sha256(_file_of(did)) for did in fit["runs"]}
    activities = {str(a.identifier) for a in document.get_records(pm.ProvActivity)}
    assert {f"job:step/reduction/{obs_id}" for obs_id in CRAB_RUNS} <= activities
    assert {"job:job", "job:step/run-selection", "job:step/stacking", "job:step/fit",
            "job:step/flux-points"} <= activities
    versions = {}
    for agent in document.get_records(pm.ProvAgent):
        attributes = {str(k): v for k, v in agent.attributes}
        if "hess:name" in attributes:
            versions[attributes["hess:name"]] = attributes["hess:version"]
    assert set(versions) >= {"hess_dr", "gammapy", "astropy", "numpy"}


def test_empty_sky_ends_in_error(uws):
    job_url = _create(uws, RA="10", DEC="-60", PHASE="RUN")  # run at creation
    assert _wait(job_url, timeout=300).phase == "ERROR"
    job = pyvo.dal.AsyncTAPJob(job_url)
    summary = _job_document(job_url)
    message = summary.errorsummary.message.content
    assert message == "No runs found with a pointing within 2 deg of RA=10, DEC=-60"
    with pytest.raises(pyvo.dal.DALQueryError, match="No runs found"):
        job.raise_if_error()
    error = requests.get(f"{job_url}/error", timeout=60).text
    assert 'value="ERROR"' in error and "No runs found" in error
    assert [r.id_ for r in summary.results] == ["analysis.log"]


@pytest.mark.parametrize("parameters, words", [
    ({"RA": "NaN", "DEC": "22"}, "RA must be a finite number"),
    ({"RA": "83", "DEC": "95"}, "DEC must be between -90 and 90 deg, not 95"),
    ({"RA": "83", "DEC": "22", "EMIN": "10", "EMAX": "1"},
     "EMAX (1 TeV) must be greater than EMIN (10 TeV)"),
    ({"RA": "83", "DEC": "22", "MODEL": "gauss"}, "MODEL must be one of pl, lp, ecpl"),
    ({"RA": "83", "DEC": "22", "TMIN": "inf"}, "TMIN must be a finite number"),
])
def test_bad_parameters_are_refused(uws, parameters, words):
    before = len(parse_jobs(uws))
    reply = requests.post(uws, data=parameters, allow_redirects=False, timeout=60)
    assert reply.status_code == 400
    table = votable.parse(io.BytesIO(reply.content))
    (info,) = [i for i in table.resources[0].infos if i.name == "QUERY_STATUS"]
    assert info.value == "ERROR" and words in info.content
    assert len(parse_jobs(uws)) == before  # no job was made


def parse_jobs(uws_url, auth=None):
    from pyvo.io.uws import parse_job_list
    return list(parse_job_list(io.BytesIO(
        requests.get(uws_url, timeout=60, auth=auth).content)))


def test_job_without_position_cannot_run(uws):
    job_url = _create(uws, MODEL="lp")
    reply = requests.post(f"{job_url}/phase", data={"PHASE": "RUN"}, allow_redirects=False,
                          timeout=60)
    assert reply.status_code == 303  # to the job, now in ERROR
    summary = _job_document(job_url)
    assert summary.phase == "ERROR"
    assert summary.errorsummary.message.content == (
        "Field ra: RA is required (Right ascension of the source (ICRS), deg)")


def test_execution_duration_is_capped_and_enforced(uws):
    job_url = _create(uws, RA="83.633", DEC="22.0145")
    job = pyvo.dal.AsyncTAPJob(job_url)
    job.execution_duration = 10 ** 6
    assert job.execution_duration.to_value("s") == 3600  # the service's maximum
    job.execution_duration = 1
    assert job.execution_duration.to_value("s") == 1
    job.run()
    summary = _wait(job_url, timeout=300)
    assert summary.phase == "ABORTED"
    assert summary.errorsummary.message.content.startswith(
        "Aborted: the execution duration of 1 s was exceeded")
    assert [r.id_ for r in summary.results] == ["analysis.log"]


def test_destruction_and_delete(uws):
    job_url = _create(uws, RA="83.633", DEC="22.0145")
    job = pyvo.dal.AsyncTAPJob(job_url)
    reply = requests.post(f"{job_url}/destruction", data={"DESTRUCTION": "2030-01-01T00:00:00"},
                          allow_redirects=False, timeout=60)
    assert reply.status_code == 303
    assert requests.get(f"{job_url}/destruction", timeout=60).text == "2030-01-01T00:00:00Z"
    job_id = job_url.rsplit("/", 1)[-1]
    assert job_id in {j.jobid for j in parse_jobs(uws)}
    job.delete()
    assert requests.get(job_url, timeout=60).status_code == 404
    assert job_id not in {j.jobid for j in parse_jobs(uws)}


def test_dataset_provenance_link(dr1_service):
    tap = pyvo.dal.TAPService(dr1_service.tap_url)
    row = tap.run_sync("SELECT * FROM ivoa.obscore WHERE obs_id = '23523'")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        links = row.getdatalink().to_table()
    (link,) = [r for r in links if r["semantics"] == "#provenance"]
    assert link["content_type"] == "application/json"
    reply = requests.get(str(link["access_url"]), timeout=60)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    document = prov.read(io.StringIO(reply.text), format="json")
    did = str(row["obs_publisher_did"])
    entities = {e.identifier.uri: {str(k): v for k, v in e.attributes}
                for e in document.get_records(pm.ProvEntity)}
    path = _file_of(did)
    (source,) = [a for a in entities.values() if a.get("hess:sha256")]
    assert source["hess:sha256"] == _sha256(path)
    assert source["hess:size"] == path.stat().st_size
    assert source["hess:file_name"] == path.name
    assert entities[did]["hess:obs_id"] == "23523"
    (activity,) = document.get_records(pm.ProvActivity)
    assert str(activity.identifier).startswith("hess:import/")
    software = {v for a in document.get_records(pm.ProvAgent)
                for k, v in a.attributes if str(k) == "hess:name"}
    assert software == {"hess_dr", "astropy", "numpy", "gammapy", "dachs"}
    assert str(_data_dir()) not in reply.text  # no server path
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(str(link["access_url"])).query) == {
        "ID": [did], "PRODUCT": ["provenance"]}


@pytest.fixture(scope="module")
def users(dr1_service):
    """alice in group hessteam, bob outside it (DaCHS users)."""
    instance = dr1_service.instance
    instance.run_dachs("adm", "adduser", "alice", "alice-pw")
    instance.run_dachs("adm", "addtogroup", "alice", "hessteam")
    instance.run_dachs("adm", "adduser", "bob", "bob-pw")
    yield {"alice": ("alice", "alice-pw"), "bob": ("bob", "bob-pw")}
    for user in ("alice", "bob"):
        instance.run_dachs("adm", "deluser", user, check=False)


def _psql(service, sql):
    import subprocess
    return subprocess.run(["psql", "-d", service.instance.dbname, "-v", "ON_ERROR_STOP=1",
                           "-Atqc", sql], check=True, capture_output=True, text=True).stdout


def test_owned_jobs_are_their_users(uws, users):
    job_url = _create(uws, auth=users["bob"], RA="10", DEC="-60")
    assert _job_document(job_url, users["bob"]).ownerid == "bob"
    assert requests.get(job_url, timeout=60).status_code == 401
    assert requests.get(job_url, timeout=60, auth=users["alice"]).status_code == 401
    job_id = job_url.rsplit("/", 1)[-1]
    assert job_id in {j.jobid for j in parse_jobs(uws, users["bob"])}
    assert job_id not in {j.jobid for j in parse_jobs(uws)}
    assert job_id not in {j.jobid for j in parse_jobs(uws, users["alice"])}
    requests.delete(job_url, timeout=60, auth=users["bob"])


def test_proprietary_runs_are_analysed_only_by_their_owners(dr1_service, uws, users):
    """Run 23559 made proprietary (owner group hessteam until 2100) in the
    database for this test: an outsider's Crab job leaves it out, a
    member's uses it."""
    assert _psql(dr1_service, "SELECT owner IS NULL AND obs_release_date IS NULL FROM"
                              " hess_dr.obs_index WHERE obs_id='23559'").strip() == "t"
    _psql(dr1_service, "UPDATE hess_dr.obs_index SET owner='hessteam',"
                       " obs_release_date='2100-01-01' WHERE obs_id='23559'")
    try:
        used = {}
        for user in ("bob", "alice"):
            job_url = _create(uws, auth=users[user], RA="83.633", DEC="22.0145",
                              PHASE="RUN")
            _wait(job_url, auth=users[user])
            fit = requests.get(f"{job_url}/results/fit.json", timeout=60,
                               auth=users[user]).json()
            used[user] = fit["obs_ids"]
            log = requests.get(f"{job_url}/results/analysis.log", timeout=60,
                               auth=users[user]).text
            if user == "bob":
                assert "23559: proprietary: not readable by bob" in log
            requests.delete(job_url, timeout=60, auth=users[user])
        assert used == {"bob": ["23523", "23526", "23592"], "alice": CRAB_RUNS}
    finally:
        _psql(dr1_service, "UPDATE hess_dr.obs_index SET owner=NULL, obs_release_date=NULL"
                           " WHERE obs_id='23559'")
