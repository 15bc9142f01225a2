"""What an attacker tried against hess_dr's endpoints, one test per finding.

Each request here once got a wrong answer (a whole event list for a NaN
circle), a 500, an unbounded amount of work or a server path; every one of
them now gets a 4xx DALI error document quoting at most a short excerpt of
the bad value, before any geometry is built (the random requests of
test_robustness.py cover the rest of the parameter space).
"""
from __future__ import annotations

import io
import urllib.error
import urllib.parse
import urllib.request

import pytest
import pyvo
from astropy.io import fits, votable

from dachs_support import CHECKOUT, SAMPLE_DATA

#: Longest message of an error document (res/dlcore.py MAX_MESSAGE_LENGTH
#: plus its ellipsis).
MAX_MESSAGE = 303


@pytest.fixture(scope="module")
def crab(sample_service):
    """(server URL, publisher DID of run 23523)."""
    tap = pyvo.dal.TAPService(sample_service.tap_url)
    table = tap.run_sync("SELECT obs_publisher_did FROM ivoa.obscore"
                         " WHERE obs_id = '23523'").to_table()
    return sample_service.url, str(table["obs_publisher_did"][0])


def _request(url, params, post=False, raw_body: bytes | None = None):
    """(status, content type, body); params a list of pairs."""
    query = urllib.parse.urlencode(params)
    if raw_body is not None:
        request = urllib.request.Request(url, data=raw_body)
    elif post:
        request = urllib.request.Request(url, data=query.encode())
    else:
        request = urllib.request.Request(f"{url}?{query}")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, response.headers.get("content-type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type"), error.read()


def _error_message(status, content_type, body, expected_status=400) -> str:
    """The message of a DALI error document, checking its form."""
    assert status == expected_status, body[:500]
    assert content_type == "application/x-votable+xml"
    info = votable.parse(io.BytesIO(body)).resources[0].infos[0]
    assert (info.name, info.value) == ("QUERY_STATUS", "ERROR")
    assert len(info.content) <= MAX_MESSAGE
    return info.content


NON_FINITE = {
    "CIRCLE ra NaN": ("CIRCLE", "NaN 22 1"),
    "CIRCLE dec NaN": ("CIRCLE", "83.6 NaN 1"),
    "CIRCLE radius NaN": ("CIRCLE", "83.6 22 NaN"),
    "CIRCLE radius inf": ("CIRCLE", "83.6 22 Inf"),
    "POLYGON NaN vertex": ("POLYGON", "83 22 84 22 NaN 23"),
    "POLYGON inf vertex": ("POLYGON", "83 22 84 22 +Inf 23"),
    "POS CIRCLE NaN": ("POS", "CIRCLE 83.6 NaN 1"),
    "POS RANGE NaN": ("POS", "RANGE 83 NaN 21 23"),
    "POS POLYGON NaN": ("POS", "POLYGON 83 22 84 22 84 NaN"),
    "BAND NaN": ("BAND", "NaN 1e-18"),
    "ENERGY NaN": ("ENERGY", "1 NaN"),
    "TIME NaN": ("TIME", "NaN 53344"),
    "TIME overflow": ("TIME", "53343 1e999"),
    "ENERGY overflow": ("ENERGY", "1e999 1e1000"),
    "TIME out of range": ("TIME", "-1e9 53344"),
    "CIRCLE dec out of range": ("CIRCLE", "83.6 91 1"),
}


@pytest.mark.parametrize("label", NON_FINITE)
@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST"])
def test_non_finite_or_out_of_range_numbers_are_refused(crab, label, post):
    server, did = crab
    name, value = NON_FINITE[label]
    message = _error_message(*_request(f"{server}/hess_dr/q/dl/dlget",
                                       [("ID", did), (name, value)], post))
    assert name in message


@pytest.mark.parametrize("endpoint, extra", [
    ("dl/dlget", []), ("dl/dlget", [("ENERGY", "1 10")]), ("prod/dlget", [("PRODUCT", "aeff")])])
def test_a_repeated_id_is_refused(crab, endpoint, extra):
    server, did = crab
    other = did.replace("023523", "023526")
    message = _error_message(*_request(f"{server}/hess_dr/q/{endpoint}",
                                       [("ID", did), ("ID", other)] + extra))
    assert message.startswith("MultiValuedParamNotSupported: ID")


@pytest.mark.parametrize("endpoint, name, extra", [
    ("dl/dlget", "ID", []), ("prod/dlget", "ID", [("PRODUCT", "aeff")]),
    ("dl/dlget", "ENERGY", []), ("dl/dlget", "POS", []), ("prod/dlget", "PRODUCT", [])])
@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x85"],
                         ids=["NUL", "ESC", "DEL", "NEL"])
def test_control_characters_are_refused(crab, endpoint, name, extra, character):
    server, did = crab
    params = dict([("ID", did)] + extra)
    params[name] = (params.get(name) or "1 10") + character + "x"
    message = _error_message(*_request(f"{server}/hess_dr/q/{endpoint}", list(params.items())))
    prefix = f"UsageError: {name}: control character in "
    assert message.startswith(prefix)
    quoted = message[len(prefix):]
    # the value, or its first 40 characters and an ellipsis
    assert quoted in (repr(params[name]), repr(params[name][:40] + "..."))


def test_a_nul_in_a_datalink_id_is_a_fault_row(crab):
    server, did = crab
    status, content_type, body = _request(f"{server}/hess_dr/q/dl/dlmeta", [("ID", did + "\x00")])
    assert status == 200 and content_type.startswith("application/x-votable+xml;content=datalink")
    table = votable.parse_single_table(io.BytesIO(body)).to_table()
    assert [str(m).split(":")[0] for m in table["error_message"]] == ["NotFoundFault"]


def test_a_16_mb_polygon_is_refused_before_any_parsing(crab):
    """Sent by POST (too long for a request line): refused by its length,
    quoting none of it, instead of DaCHS building a geometry from it."""
    server, did = crab
    polygon = " ".join(["83.0 22.0 83.1 22.0 83.1 22.1"] * 600_000)
    assert len(polygon) > 16_000_000
    body = urllib.parse.urlencode({"ID": did, "POLYGON": polygon}).encode()
    message = _error_message(*_request(f"{server}/hess_dr/q/dl/dlget", [], raw_body=body))
    assert message == f"UsageError: POLYGON: value too long ({len(polygon)} characters, at most 10000)"


def test_too_many_vertices_are_refused(crab):
    server, did = crab
    polygon = " ".join(f"{83 + 0.001 * i:.3f} 22.0" for i in range(1001))
    assert len(polygon) < 15000
    message = _error_message(*_request(f"{server}/hess_dr/q/dl/dlget",
                                       [("ID", did), ("POS", "POLYGON " + polygon[:9990])],
                                       post=True))
    assert "POS" in message


def test_an_error_quotes_a_short_excerpt_of_the_value(crab):
    server, did = crab
    value = "x" * 9000
    for name in ("ENERGY", "POS", "PRODUCT"):
        endpoint = "prod/dlget" if name == "PRODUCT" else "dl/dlget"
        message = _error_message(*_request(f"{server}/hess_dr/q/{endpoint}",
                                           [("ID", did), (name, value)], post=True))
        assert "x" * 60 not in message, (name, message)


def test_no_server_path_is_served(crab, sample_service, tmp_path):
    """Neither TAP (every hess_dr table, every column) nor DataLink, a cutout's
    HISTORY or an error names a directory of the server."""
    server, did = crab
    secrets = [str(SAMPLE_DATA.resolve()), str(CHECKOUT.resolve()),
               str(sample_service.instance.root)]
    tap = pyvo.dal.TAPService(sample_service.tap_url)
    served = []
    for table in ("hess_dr.obs_index", "hess_dr.gti", "ivoa.obscore", "ivoa.obscore_hea"):
        result = tap.run_sync(f"SELECT * FROM {table}", maxrec=100000).to_table()
        served.append(str([list(row) for row in result]).encode())
        assert "source_path" not in result.colnames
    served.append(_request(f"{server}/hess_dr/q/dl/dlmeta", [("ID", did)])[2])
    cutout = _request(f"{server}/hess_dr/q/dl/dlget", [("ID", did), ("ENERGY", "1 10")])[2]
    served.append(str(fits.open(io.BytesIO(cutout))[1].header).encode())
    served.append(_request(f"{server}/hess_dr/q/prod/dlget", [("ID", did), ("PRODUCT", "bundle")])[2])
    served.append(_request(f"{server}/hess_dr/q/dl/dlget",
                           [("ID", did.replace("023523", "999999"))])[2])
    for body in served:
        for secret in secrets:
            assert secret.encode() not in body
