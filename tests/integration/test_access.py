"""Proprietary data (issue 16): metadata public, data only for the owner
group until release, on every path, against a live server.

The bundled sample is embargoed until 2100 for group ``hessteam``; run 23526
has a proprietary period of 1 year, long elapsed.  Users: ``alice`` (in
hessteam), ``bob`` (in magic only).
"""
from __future__ import annotations

import datetime
import io
import re
import urllib.parse

import numpy as np
import pytest
import pyvo
import requests
import yaml
from astropy.io import fits, votable
from hypothesis import HealthCheck, given, settings, strategies as st

from dachs_support import SAMPLE_DATA, make_service
from hess_dr_dev import instance as hinst

EMBARGOED, ELAPSED = "23523", "23526"
RELEASE = "2100-01-01"
MEMBER = ("alice", "alice-secret")
OUTSIDER = ("bob", "bob-secret")
WRONG_PASSWORD = ("alice", "not-her-password")
PNG = b"\x89PNG\r\n\x1a\n"


def _file(obs_id):
    return SAMPLE_DATA / f"hess_dl3_dr1_obs_id_{int(obs_id):06d}.fits.gz"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    config_dir = tmp_path_factory.mktemp("config_access")
    config = config_dir / "hess_dr.yaml"
    hinst.write_operator_config(config, SAMPLE_DATA)
    content = yaml.safe_load(config.read_text())
    content["collections"][0].update(
        owner="hessteam", release=RELEASE, runs={int(ELAPSED): {"release": "1 year"}})
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    with make_service(tmp_path_factory, config, "access") as served:
        for (user, password), group in ((MEMBER, "hessteam"), (OUTSIDER, "magic")):
            served.instance.run_dachs("adm", "adduser", user, password)
            served.instance.run_dachs("adm", "addtogroup", user, group)
        yield served


def _did(service, obs_id):
    tap = pyvo.dal.TAPService(service.tap_url)
    return str(tap.run_sync(f"SELECT obs_publisher_did FROM hess_dr.obs_index"
                            f" WHERE obs_id='{obs_id}'")[0]["obs_publisher_did"])


def _paths(service, obs_id):
    """Every way to a run's data: (name, URL)."""
    did = urllib.parse.quote(_did(service, obs_id), safe="")
    tap = pyvo.dal.TAPService(service.tap_url)
    access_url = str(tap.run_sync(f"SELECT access_url FROM ivoa.obscore"
                                  f" WHERE obs_id='{obs_id}'")[0]["access_url"])
    prod = f"{service.url}/hess_dr/q/prod/dlget?ID={did}&PRODUCT="
    paths = [("access_url", access_url),
             ("getproduct preview", access_url + "?preview=True"),
             ("cutout", f"{service.url}/hess_dr/q/dl/dlget?ID={did}&CIRCLE=83.63+22.01+0.5")]
    paths += [(product, prod + product)
              for product in ("aeff", "edisp", "psf", "bkg", "bundle",
                              "preview-image", "preview-plot")]
    return paths


def _data_paths(service):
    return {obs_id: _paths(service, obs_id) for obs_id in (EMBARGOED, ELAPSED)}


@pytest.fixture(scope="module")
def paths(service):
    return _data_paths(service)


def _get(url, auth=None, **kwargs):
    return requests.get(url, auth=auth, timeout=120, **kwargs)


# ------------------------------------------------------------- metadata

def test_obscore_and_obs_index_show_every_run_with_its_rights(service):
    tap = pyvo.dal.TAPService(service.tap_url)
    rows = tap.run_sync(
        "SELECT o.obs_id, o.data_rights, o.obs_release_date, i.owner,"
        " h.data_rights AS hea_rights, h.obs_release_date AS hea_release"
        " FROM ivoa.obscore AS o JOIN ivoa.obscore_hea AS h USING (obs_publisher_did)"
        " JOIN hess_dr.obs_index AS i USING (obs_publisher_did) ORDER BY o.obs_id").to_table()
    got = {str(r["obs_id"]): (str(r["data_rights"]), str(r["obs_release_date"])[:10],
                              str(r["owner"])) for r in rows}
    # ivoa.obscore (the site's ObsCore extension) and ivoa.obscore_hea agree
    assert all((r["data_rights"], str(r["obs_release_date"])) == (
        r["hea_rights"], str(r["hea_release"])) for r in rows)
    assert got == {"20136": ("proprietary", RELEASE, "hessteam"),
                   "23523": ("proprietary", RELEASE, "hessteam"),
                   # observed 2004-12-04 (UTC), proprietary for one year
                   "23526": ("public", "2005-12-04", "hessteam")}
    # the GTIs stay queryable by anyone
    gtis = tap.run_sync("SELECT COUNT(*) AS n FROM hess_dr.gti WHERE obs_id='23523'")
    assert int(gtis[0]["n"]) == 1


# ------------------------------------------------------------- the paths

@pytest.mark.parametrize("index", range(10))
def test_every_path_of_an_embargoed_run_is_closed_to_the_unauthorised(service, paths, index):
    name, url = paths[EMBARGOED][index]
    anonymous = _get(url)
    assert anonymous.status_code == 401, (name, anonymous.status_code, anonymous.text[-600:])
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic realm=")
    wrong_password = _get(url, auth=WRONG_PASSWORD)
    assert wrong_password.status_code == 401, name
    outsider = _get(url, auth=OUTSIDER)
    assert outsider.status_code == 403, (name, outsider.status_code, outsider.text[:300])
    for response in (anonymous, wrong_password, outsider):
        _assert_no_data(response)
    if name not in ("access_url", "getproduct preview"):
        # hess_dr's own services answer with DALI error documents
        for response, fault in ((anonymous, "AuthenticationFault"),
                                (outsider, "AuthorizationFault")):
            assert response.headers["content-type"] == "application/x-votable+xml"
            status = votable.parse(io.BytesIO(response.content)).resources[0].infos[0]
            assert (status.name, status.value) == ("QUERY_STATUS", "ERROR")
            assert status.content.startswith(f"{fault}: proprietary data until {RELEASE}")
            assert response.headers["Cache-Control"] == "private, no-store"


def _assert_no_data(response):
    body = response.content
    assert PNG not in body and b"XTENSION" not in body and b"SIMPLE  =" not in body
    assert b"\x1f\x8b" not in body[:2]  # no gzip-compressed file either


@pytest.mark.parametrize("index", range(10))
def test_every_path_is_open_to_members_and_for_released_runs(service, paths, index):
    name, url = paths[EMBARGOED][index]
    member = _get(url, auth=MEMBER)
    assert member.status_code == 200, (name, member.status_code, member.text[:300])
    _assert_is_the_data(name, member, EMBARGOED)
    if name != "access_url":  # DaCHS's /getproduct sends the file itself
        assert member.headers["Cache-Control"] == "private, no-store"
    name, url = paths[ELAPSED][index]
    for auth in (None, OUTSIDER, MEMBER):
        released = _get(url, auth=auth)
        assert released.status_code == 200, (name, auth, released.status_code)
        _assert_is_the_data(name, released, ELAPSED)
        assert "private" not in released.headers.get("Cache-Control", "")


def _assert_is_the_data(name, response, obs_id):
    body = response.content
    if name == "access_url":
        assert body == _file(obs_id).read_bytes()
    elif name in ("getproduct preview", "preview-image", "preview-plot"):
        assert body.startswith(PNG) and response.headers["content-type"] == "image/png"
    else:
        with fits.open(io.BytesIO(body)) as product, fits.open(_file(obs_id)) as original:
            if name == "cutout":
                events = original["EVENTS"].data
                kept = product["EVENTS"].data
                assert 0 < len(kept) < len(events)
                assert np.isin(kept["EVENT_ID"], events["EVENT_ID"]).all()
            elif name == "bundle":
                assert np.array_equal(product["EVENTS"].data["EVENT_ID"],
                                      original["EVENTS"].data["EVENT_ID"])
            else:
                hdu_class = {"aeff": "AEFF_2D", "edisp": "EDISP_2D", "psf": "PSF_TABLE",
                             "bkg": "BKG_3D"}[name]
                mine = next(h for h in product if h.header.get("HDUCLAS4") == hdu_class)
                theirs = next(h for h in original if h.header.get("HDUCLAS4") == hdu_class)
                assert mine.data.tobytes() == theirs.data.tobytes()


def test_datalink_answers_with_error_rows_in_place_of_the_data(service):
    did = _did(service, EMBARGOED)
    url = f"{service.url}/hess_dr/q/dl/dlmeta?ID={urllib.parse.quote(did, safe='')}"
    for auth, fault in ((None, "AuthenticationFault"), (OUTSIDER, "AuthorizationFault")):
        response = _get(url, auth=auth)
        assert response.status_code == 200
        table = votable.parse(io.BytesIO(response.content)).get_first_table().to_table()
        errors = {str(r["semantics"]): str(r["error_message"]) for r in table
                  if str(r["error_message"]) not in ("", "--")}
        assert set(errors) == {"#this", "#calibration", "#package", "#preview-image",
                               "#preview-plot", "#cutout"}
        assert all(message.startswith(f"{fault}: proprietary data until {RELEASE}")
                   for message in errors.values())
        links = [r for r in table if str(r["error_message"]) in ("", "--")]
        # the metadata links stay: GTIs, terms of use, provenance
        assert {str(r["semantics"]) for r in links} == {"#auxiliary", "#documentation",
                                                       "#provenance"}
        assert all(str(r["access_url"]).startswith(f"{service.url}/hess_dr/q/prod/dlget")
                   or not str(r["access_url"]).startswith(service.url) for r in links)
        assert b"adhoc:service" not in response.content or b"#cutout" not in response.content
    member = votable.parse(io.BytesIO(_get(url, auth=MEMBER).content))
    table = member.get_first_table().to_table()
    assert all(str(r["error_message"]) in ("", "--") for r in table)
    assert {"#this", "#calibration", "#package", "#cutout"} <= {str(r["semantics"]) for r in table}


def test_public_products_of_an_embargoed_run_stay_public(service):
    did = urllib.parse.quote(_did(service, EMBARGOED), safe="")
    for product in ("gti", "terms", "provenance"):
        response = _get(f"{service.url}/hess_dr/q/prod/dlget?ID={did}&PRODUCT={product}")
        assert response.status_code == 200, product


def test_a_members_request_fills_no_cache_the_public_reads(service, paths):
    for name, url in paths[EMBARGOED]:
        if name in ("preview-image", "cutout"):
            assert _get(url, auth=MEMBER).status_code == 200
            again = _get(url)
            assert again.status_code == 401
            _assert_no_data(again)


def test_pyvo_with_and_without_credentials(service):
    tap = pyvo.dal.TAPService(service.tap_url)
    access_url = str(tap.run_sync(f"SELECT access_url FROM ivoa.obscore"
                                  f" WHERE obs_id='{EMBARGOED}'")[0]["access_url"])
    session = requests.Session()
    session.auth = MEMBER
    authed = pyvo.dal.TAPService(service.tap_url, session=session)
    assert len(authed.run_sync("SELECT obs_id FROM ivoa.obscore")) == 3
    assert session.get(access_url, timeout=120).content == _file(EMBARGOED).read_bytes()
    assert requests.get(access_url, timeout=120).status_code == 401


def test_an_analysis_job_never_reads_proprietary_runs_of_others(service):
    from hess_dr import analysis
    assert analysis  # the selection itself is unit-tested; here, the stored rights
    tap = pyvo.dal.TAPService(service.tap_url)
    rows = tap.run_sync("SELECT obs_id, owner, obs_release_date FROM hess_dr.obs_index"
                        " ORDER BY obs_id").to_table()
    candidates = [analysis.Candidate.from_row(
        {"obs_publisher_did": str(r["obs_id"]), "obs_id": str(r["obs_id"]),
         "owner": str(r["owner"]),
         "obs_release_date": datetime.datetime.fromisoformat(str(r["obs_release_date"])[:19])})
        for r in rows]
    assert [c.obs_id for c in analysis.readable_by(candidates, None)] == [ELAPSED]
    assert [c.obs_id for c in analysis.readable_by(candidates, "bob", {"bob", "magic"})] == [
        ELAPSED]
    assert len(analysis.readable_by(candidates, "alice", {"alice", "hessteam"})) == 3


# ------------------------------------------------- no byte to the unauthorised

_SEMANTIC_PARAMS = st.fixed_dictionaries({}, optional={
    "PRODUCT": st.sampled_from(["aeff", "edisp", "psf", "bkg", "rad_max", "bundle",
                                "preview-image", "preview-plot", "gti", "terms", "nonsense"]),
    "CIRCLE": st.sampled_from(["83.63 22.01 0.5", "0 0 180", "83.63 22.01 NaN"]),
    "BAND": st.sampled_from(["1e-19 1e-17", "0 1"]),
    "TIME": st.sampled_from(["53000 54000", "-inf +inf"]),
    "RESPONSEFORMAT": st.sampled_from(["fits", "votable", "image/png"]),
})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(["dl/dlget", "prod/dlget", "dl/dlmeta", "getproduct",
                                 "getproduct-preview"]),
       params=_SEMANTIC_PARAMS,
       auth=st.sampled_from([None, OUTSIDER, WRONG_PASSWORD]),
       obs_id=st.sampled_from(["20136", EMBARGOED]))
def test_no_proprietary_byte_reaches_an_unauthorised_request(service, endpoint, params,
                                                             auth, obs_id):
    did = _did_cached(service, obs_id)
    if endpoint.startswith("getproduct"):
        accref = did.split("?", 1)[1]
        url = f"{service.url}/getproduct/{accref}"
        query = {"preview": "True"} if endpoint == "getproduct-preview" else {}
    else:
        url = f"{service.url}/hess_dr/q/{endpoint}"
        query = {"ID": did, **params}
    response = _get(url, auth=auth, params=query)
    body = response.content
    _assert_no_data(response)
    if endpoint == "dl/dlmeta":
        # links to the public products only; every data link an error row
        text = body.decode()
        assert not re.search(r"/getproduct/", text)
        for product in ("aeff", "edisp", "psf", "bkg", "bundle", "preview-image"):
            assert f"PRODUCT={product}" not in text and f"PRODUCT%3D{product}" not in text
    elif params.get("PRODUCT") in ("gti", "terms") and endpoint == "prod/dlget":
        assert response.status_code in (200, 400)
    else:
        assert response.status_code in (400, 401, 403), (endpoint, params, response.status_code)


_DIDS: dict = {}


def _did_cached(service, obs_id):
    if obs_id not in _DIDS:
        _DIDS[obs_id] = _did(service, obs_id)
    return _DIDS[obs_id]


def test_demo_users_for_every_owner_group(service):
    """make demo's users: <group>-demo with password <group>-demo, in the
    group, for every owner group of the configuration (created twice: the
    second run resets them)."""
    from hess_dr import config as hess_config
    from hess_dr_dev import democonfig
    configuration = hess_config.load(service.config_path)
    assert democonfig.owner_groups(configuration) == ["hessteam"]
    for _ in range(2):
        assert democonfig.create_demo_users(service.instance, configuration) == [
            ("hessteam-demo", "hessteam-demo", "hessteam")]
    url = dict(_paths(service, EMBARGOED))["psf"]
    assert _get(url, auth=("hessteam-demo", "hessteam-demo")).status_code == 200
    assert _get(url, auth=("hessteam-demo", "wrong")).status_code == 401


def test_the_client_downloads_for_members_and_says_why_not_to_others(service, tmp_path):
    from hess_dr import client
    query = f"SELECT * FROM ivoa.obscore WHERE obs_id='{EMBARGOED}'"
    with pytest.raises(client.DownloadError,
                       match=f"AuthenticationFault: proprietary data until {RELEASE}"):
        client.download_datasets(pyvo.dal.TAPService(service.tap_url).run_sync(query),
                                 tmp_path / "anonymous")
    session = requests.Session()
    session.auth = MEMBER
    results = pyvo.dal.TAPService(service.tap_url, session=session).run_sync(query)
    downloads = client.download_datasets(results, tmp_path / "member", session=session)
    assert [d["obs_id"] for d in downloads] == [EMBARGOED]


def _psql(service, sql):
    import subprocess
    return subprocess.run(["psql", "-d", service.instance.dbname, "-v", "ON_ERROR_STOP=1",
                           "-Atqc", sql], check=True, capture_output=True, text=True).stdout


def test_a_run_is_public_on_its_release_day_without_reimport(service):
    """What the import stored is compared with today on every request: a
    run whose stored release day is today is public now (the stored dates
    are moved here, as time would move them)."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    url = dict(_paths(service, "20136"))["psf"]
    access_url = dict(_paths(service, "20136"))["access_url"]
    assert _get(url).status_code == 401 and _get(access_url).status_code == 401
    _psql(service, f"UPDATE hess_dr.obs_index SET obs_release_date='{today}' WHERE obs_id='20136';"
                   f" UPDATE dc.products SET embargo='{today - datetime.timedelta(days=1)}'"
                   " WHERE accref=(SELECT accref FROM hess_dr.obs_index WHERE obs_id='20136')")
    try:
        assert _get(url).status_code == 200 and _get(access_url).status_code == 200
        tap = pyvo.dal.TAPService(service.tap_url)
        assert str(tap.run_sync("SELECT data_rights FROM ivoa.obscore_hea NATURAL JOIN"
                                " ivoa.obscore WHERE obs_id='20136'")[0]["data_rights"]) == "public"
    finally:
        _psql(service, f"UPDATE hess_dr.obs_index SET obs_release_date='{RELEASE}'"
                       " WHERE obs_id='20136'; UPDATE dc.products SET embargo='2099-12-31'"
                       " WHERE accref=(SELECT accref FROM hess_dr.obs_index WHERE obs_id='20136')")
    assert _get(url).status_code == 401


def test_a_changed_rule_applies_to_stored_runs_at_the_next_import(service):
    """No file changed, the configuration did: `dachs imp` applies the new
    rule to the runs it does not read again."""
    config = yaml.safe_load(service.config_path.read_text())
    original = service.config_path.read_text()
    config["collections"][0]["runs"][20136] = {"release": "2004-06-01"}
    service.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        service.instance.run_dachs("imp", "hess_dr/q")
        assert _psql(service, "SELECT obs_release_date::date, p.embargo FROM hess_dr.obs_index"
                              " JOIN dc.products AS p USING (accref) WHERE obs_id='20136'"
                     ).strip() == "2004-06-01|2004-05-31"
        assert _get(dict(_paths(service, "20136"))["access_url"]).status_code == 200
    finally:
        service.config_path.write_text(original)
        service.instance.run_dachs("imp", "hess_dr/q")
    assert _psql(service, "SELECT obs_release_date::date FROM hess_dr.obs_index"
                          " WHERE obs_id='20136'").strip() == RELEASE
