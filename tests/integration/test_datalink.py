"""DataLink, derived products and SODA cutouts on the live sample service."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np
import pytest
import pyvo
from astropy import constants as const
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits, votable
from astropy.time import Time, TimeDelta

from dachs_support import SAMPLE_DATA, cutout_endpoint

CRAB_FILE = SAMPLE_DATA / "hess_dl3_dr1_obs_id_023523.fits.gz"
HC_EV_M = (const.h * const.c).to_value(u.eV * u.m)  # CODATA via astropy


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


def _post_error(url, data):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=120)
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
        ("#provenance", ""),
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
    # DataLink core vocabulary, which predates #package, #documentation and
    # #provenance (all in the current IVOA vocabulary).
    outdated_vocabulary = [e for e in errors if re.search(
        r"E-SMCO-\d+ Unknown predicate '(package|documentation|provenance)'", e)]
    assert [e for e in errors if e not in outdated_vocabulary] == []
    assert len(outdated_vocabulary) == 4
    assert "Totals: Errors: 4;" in result.stdout


# ------------------------------------------------------------------ cutouts

def _independent_count(energy=None, time=None, circle=None):
    """Events of the Crab file passing the cuts, by a plain astropy filter."""
    with fits.open(CRAB_FILE) as hdus:
        events = hdus["EVENTS"].data
        header = hdus["EVENTS"].header
        keep = np.ones(len(events), bool)
        if energy is not None:
            keep &= (events["ENERGY"] >= energy[0]) & (events["ENERGY"] <= energy[1])
        if time is not None:
            epoch = Time(header["MJDREFI"], header["MJDREFF"], format="mjd", scale="tt")
            met = [(Time(t, format="mjd", scale="utc") - epoch).to_value(u.s) for t in time]
            keep &= (events["TIME"] >= met[0]) & (events["TIME"] <= met[1])
        if circle is not None:
            centre = SkyCoord(circle[0] * u.deg, circle[1] * u.deg)
            separation = SkyCoord(events["RA"] * u.deg, events["DEC"] * u.deg).separation(centre)
            keep &= separation.deg <= circle[2]
        return int(keep.sum())


CUTS = {
    "energy": ({"ENERGY": "1 10"}, {"energy": (1, 10)}),
    "band": ({"BAND": f"{HC_EV_M / 10e12!r} {HC_EV_M / 1e12!r}"}, {"energy": (1, 10)}),
    "time": ({"TIME": "53343.93 53343.935"}, {"time": (53343.93, 53343.935)}),
    "circle": ({"CIRCLE": "83.633 22.0145 0.2"}, {"circle": (83.633, 22.0145, 0.2)}),
    "pos": ({"POS": "CIRCLE 83.633 22.0145 0.3"}, {"circle": (83.633, 22.0145, 0.3)}),
    "all": ({"ENERGY": "0.5 50", "TIME": "53343.925 53343.94", "CIRCLE": "83.633 22.0145 1"},
            {"energy": (0.5, 50), "time": (53343.925, 53343.94),
             "circle": (83.633, 22.0145, 1)}),
    "nothing": ({"ENERGY": "500 600"}, {"energy": (500, 600)}),
}


@pytest.mark.parametrize("name", CUTS)
def test_cutout_matches_an_independent_filter(crab_links, tmp_path, name):
    from gammapy.data import EventList, GTI

    params, cuts = CUTS[name]
    did = str(_links_table(crab_links)[0]["ID"])
    endpoint = cutout_endpoint(crab_links)
    query = urllib.parse.urlencode({"ID": did, **params})
    content_type, body = _get(f"{endpoint}?{query}")
    assert content_type == "application/x-fits-gadf"
    path = tmp_path / "cut.fits"
    path.write_bytes(body)
    expected = _independent_count(**cuts)
    events = EventList.read(path)
    assert len(events.table) == expected
    with fits.open(path) as hdus:
        header = hdus["EVENTS"].header
        assert header["NAXIS2"] == expected
        assert [h.name for h in hdus][1:] == ["EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"]
        gti = hdus["GTI"].data
        ontime = float(np.sum(gti["STOP"] - gti["START"]))
        assert header["ONTIME"] == pytest.approx(ontime)
        assert header["LIVETIME"] == pytest.approx(ontime * header["DEADC"])
        assert any("cutout" in str(card) for card in header["HISTORY"])
    if "time" in cuts:
        gti = GTI.read(path)
        assert gti.time_start[0].utc.mjd == pytest.approx(cuts["time"][0], abs=1e-8)
        assert gti.time_stop[-1].utc.mjd == pytest.approx(cuts["time"][1], abs=1e-8)


BAD_CUTOUTS = {
    "unknown parameter": {"FOO": "1"},
    "malformed energy": {"ENERGY": "one ten"},
    "inverted energy": {"ENERGY": "10 1"},
    "inverted time": {"TIME": "53343.94 53343.93"},
    "non-numeric band": {"BAND": "a b"},
    "negative radius": {"CIRCLE": "83.6 22.0 -1"},
    "huge radius": {"CIRCLE": "83.6 22.0 500"},
    "dec beyond pole": {"CIRCLE": "83.6 95.0 1"},
    "polygon of two points": {"POLYGON": "1 2 3 4"},
    "bad POS shape": {"POS": "SQUARE 1 2 3"},
    "two regions": {"CIRCLE": "83.6 22 1", "POS": "CIRCLE 83.6 22 1"},
    "huge polygon": {"POLYGON": " ".join(["83 22 83.1 22 83.1 22.1"] * 500)},
    "nan": {"ENERGY": "NaN 10"},
}


@pytest.mark.parametrize("name", BAD_CUTOUTS)
def test_bad_cutout_parameters_get_a_dali_error(crab_links, name):
    did = str(_links_table(crab_links)[0]["ID"])
    # POST (DALI allows it): some values are too long for a request line
    body = urllib.parse.urlencode({"ID": did, **BAD_CUTOUTS[name]}).encode()
    code, content_type, body = _post_error(cutout_endpoint(crab_links), body)
    assert code == 400, body[:500]
    assert content_type.startswith("application/x-votable+xml")
    status = votable.parse(io.BytesIO(body)).resources[0].infos[0]
    assert (status.name, status.value) == ("QUERY_STATUS", "ERROR")
    assert b"Traceback" not in body


def test_dlmeta_parses_without_warnings(sample_service):
    """Not even astropy's E02 on the interval parameters' MIN and MAX (pairs,
    as their arraysize says), whether read by astropy or by pyvo."""
    did = urllib.parse.quote("ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/"
                             "hess_dl3_dr1_obs_id_023523.fits.gz")
    url = f"{sample_service.url}/hess_dr/q/dl/dlmeta?ID={did}"
    _, body = _get(url)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        votable.parse(io.BytesIO(body))
        links = pyvo.dal.adhoc.DatalinkResults.from_result_url(url)
        soda = links.get_adhocservice_by_ivoid("ivo://ivoa.net/std/SODA#sync-1.0")
        (inputs,) = [group for group in soda.groups if group.name == "inputParams"]
        params = {param.name: param for param in inputs.entries}
    # the shortest wavelength of run 23523: hc / its highest energy, 100.978 TeV
    assert list(params["BAND"].values.min) == pytest.approx(
        [HC_EV_M / 100.97813415527344e12] * 2, rel=1e-9, abs=0)


@pytest.mark.parametrize("product, media_type, disposition", [
    ("preview-image", "image/png", 'inline; filename="hess_dl3_dr1_obs_id_023523_preview-image.png"'),
    ("preview-plot", "image/png", 'inline; filename="hess_dl3_dr1_obs_id_023523_preview-plot.png"'),
    ("aeff", "application/x-fits-gadf",
     'attachment; filename="hess_dl3_dr1_obs_id_023523_aeff.fits"'),
    ("bundle", "application/x-fits-gadf",
     'attachment; filename="hess_dl3_dr1_obs_id_023523_bundle.fits"'),
    ("gti", "application/x-votable+xml",
     'attachment; filename="hess_dl3_dr1_obs_id_023523_gti.vot"'),
    ("terms", "text/plain;charset=utf-8",
     'attachment; filename="hess_dl3_dr1_obs_id_023523_terms.txt"'),
])
def test_products_open_where_they_land(sample_service, product, media_type, disposition):
    """Previews display in a browser; every file is named with its extension."""
    did = "ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/hess_dl3_dr1_obs_id_023523.fits.gz"
    query = urllib.parse.urlencode({"ID": did, "PRODUCT": product})
    with urllib.request.urlopen(f"{sample_service.url}/hess_dr/q/prod/dlget?{query}",
                                timeout=120) as response:
        assert response.headers["content-type"] == media_type
        assert response.headers["content-disposition"] == disposition


def test_a_cutout_is_named_as_a_cutout(crab_links):
    did = str(_links_table(crab_links)[0]["ID"])
    query = urllib.parse.urlencode({"ID": did, "ENERGY": "1 10"})
    with urllib.request.urlopen(f"{cutout_endpoint(crab_links)}?{query}", timeout=120) as response:
        assert response.headers["content-disposition"] == (
            'attachment; filename="hess_dl3_dr1_obs_id_023523_cutout.fits"')
