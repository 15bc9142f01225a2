"""DataLink, derived products and SODA cutouts on the live sample service."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np
import pytest
import pyvo
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits, votable
from astropy.time import Time, TimeDelta

from dachs_support import SAMPLE_DATA

CRAB_FILE = SAMPLE_DATA / "hess_dl3_dr1_obs_id_023523.fits.gz"
HC_EV_M = 1.239841984332e-6


@pytest.fixture(scope="module")
def crab_links(sample_service):
    """The DataLink table of run 23523, reached from its ivoa.obscore row."""
    tap = pyvo.dal.TAPService(sample_service.tap_url)
    result = tap.run_sync("SELECT * FROM ivoa.obscore WHERE obs_id = '23523'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        links = result[0].getdatalink()
    return links


def _links_table(crab_links):
    return crab_links.to_table()


def _url(crab_links, semantics, qualifier=None):
    table = _links_table(crab_links)
    for row in table:
        if row["semantics"] == semantics and (qualifier is None
                                              or row["content_qualifier"] == qualifier):
            return str(row["access_url"])
    raise AssertionError(f"no {semantics} {qualifier} link")


def _get(url):
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.headers.get("content-type"), response.read()


def _get_error(url):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=120)
    return info.value.code, info.value.headers.get("content-type"), info.value.read()


def test_every_link_with_its_qualifier(crab_links):
    table = _links_table(crab_links)
    assert "content_qualifier" in table.colnames
    pairs = [(str(r["semantics"]), str(r["content_qualifier"] or "")) for r in table]
    assert pairs == [
        ("#this", "event-list"),
        ("#calibration", "aeff"), ("#calibration", "edisp"),
        ("#calibration", "psf"), ("#calibration", "bkgrate"),
        ("#package", "event-bundle"),
        ("#preview-image", ""), ("#preview-plot", ""),
        ("#auxiliary", "gti"),
        ("#documentation", "terms-of-use"), ("#documentation", ""),
        ("#cutout", "event-list"),
    ]
    this = table[0]
    assert this["content_length"] == CRAB_FILE.stat().st_size
    assert this["content_type"] == "application/x-fits-gadf"


def test_this_is_the_file(crab_links):
    _, body = _get(_url(crab_links, "#this"))
    assert body == CRAB_FILE.read_bytes()


def test_gti_votable(crab_links):
    content_type, body = _get(_url(crab_links, "#auxiliary", "gti"))
    assert content_type.startswith("application/x-votable+xml")
    table = votable.parse_single_table(io.BytesIO(body)).to_table()
    assert list(table["met_start"]) == [123890826.0]
    assert list(table["met_stop"]) == [123892513.0]
    with fits.open(CRAB_FILE) as hdus:
        header = hdus["EVENTS"].header
        epoch = Time(header["MJDREFI"], header["MJDREFF"], format="mjd", scale="tt")
    assert table["t_start"][0] == pytest.approx(
        (epoch + TimeDelta(123890826.0, format="sec")).utc.mjd, abs=1e-9)
    assert str(table["t_start"].unit) == "d"


def test_terms_of_use(crab_links):
    content_type, body = _get(_url(crab_links, "#documentation", "terms-of-use"))
    assert content_type.startswith("text/plain")
    text = body.decode("utf-8")
    assert "No scientific publications may be derived from the data." in text
    assert "HESS DL3 DR1, H.E.S.S. collaboration" in text


def test_unknown_dataset_is_a_datalink_error_row(sample_service):
    did = "ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/nothing_here.fits.gz"
    _, body = _get(f"{sample_service.url}/hess_dr/q/dl/dlmeta?ID={urllib.parse.quote(did)}")
    table = votable.parse_single_table(io.BytesIO(body)).to_table()
    assert len(table) == 1
    assert str(table["error_message"][0]).startswith("NotFoundFault")


def test_bad_product_is_a_dali_error(sample_service):
    did = urllib.parse.quote("ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/"
                             "hess_dl3_dr1_obs_id_023523.fits.gz")
    code, content_type, body = _get_error(
        f"{sample_service.url}/hess_dr/q/prod/dlget?ID={did}&PRODUCT=nonsense")
    assert 400 <= code < 500
    assert content_type.startswith("application/x-votable+xml")
    assert b'name="QUERY_STATUS" value="ERROR"' in body


def test_datalinklint(sample_service):
    if shutil.which("stilts") is None:
        pytest.fail("stilts is not installed (bin/bootstrap.sh installs it)")
    did = urllib.parse.quote("ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/"
                             "hess_dl3_dr1_obs_id_023523.fits.gz")
    url = f"{sample_service.url}/hess_dr/q/dl/dlmeta?ID={did}"
    result = subprocess.run(["stilts", "datalinklint", f"votable={url}"],
                            capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    errors = [line for line in result.stdout.splitlines() if line.startswith("E-")]
    # Offline, stilts 3.4.7 checks semantics against its built-in copy of the
    # DataLink core vocabulary, which predates #package and #documentation
    # (both in the current IVOA vocabulary and required by this service).
    outdated_vocabulary = [e for e in errors if re.search(
        r"E-SMCO-\d+ Unknown predicate '(package|documentation)'", e)]
    assert [e for e in errors if e not in outdated_vocabulary] == []
    assert len(outdated_vocabulary) == 3
    assert "Totals: Errors: 3;" in result.stdout
