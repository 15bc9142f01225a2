"""hess_dr is a guest in a shared DaCHS site: its neighbours see no change.

An ordinary resource (tests/integration/guest: FITS images, DaCHS's
standard products and a standard DataLink/SODA service with a descriptor
generator and processing parameters) is served by two private instances:

* ``with_hess_dr``: hess_dr imported, preloaded (``[web]preloadRDs:
  hess_dr/q``) and answering requests, the guest beside it;
* ``without_hess_dr``: the guest alone, on a DaCHS that never loaded hess_dr.

Every request of :data:`REQUESTS` (DataLink metadata and errors, SODA
cutouts with good and bad parameters, products, TAP, a browser's and a Java
client's view) must get the same status, media type, file name and body
from both, once the server's own URL is set aside.  hess_dr's own services
meanwhile answer with their DataLink 1.1 additions, and without the opt-in
fixes (res/dachsfixes.py) DaCHS's connection handling stays as it ships.
"""
from __future__ import annotations

import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import psycopg2
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from dachs_support import CHECKOUT, SAMPLE_DATA, make_instance, write_config

GUEST_RD = CHECKOUT / "tests" / "integration" / "guest" / "q.rd"
GUEST_DID = "ivo://hess-dr.example/~?guest/data/m1.fits"
HESS_DID = ("ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/"
            "hess_dl3_dr1_obs_id_023523.fits.gz")
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120"}
JAVA = {"User-Agent": "Java/17", "Accept": "text/html, image/gif, *; q=.2, */*; q=.2"}


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


#: (label, path and query, extra headers, POST body or None)
REQUESTS = [
    ("dlmeta", f"/guest/q/dl/dlmeta?ID={_q(GUEST_DID)}", {}, None),
    ("dlmeta, two IDs", f"/guest/q/dl/dlmeta?ID={_q(GUEST_DID)}"
     f"&ID={_q(GUEST_DID.replace('m1', 'm2'))}", {}, None),
    ("dlmeta, unknown dataset", f"/guest/q/dl/dlmeta?ID={_q(GUEST_DID + 'x')}", {}, None),
    ("dlmeta, browser", f"/guest/q/dl/dlmeta?ID={_q(GUEST_DID)}", BROWSER, None),
    ("dlmeta, Java client", f"/guest/q/dl/dlmeta?ID={_q(GUEST_DID)}", JAVA, None),
    ("dlmeta, unknown parameter", f"/guest/q/dl/dlmeta?ID={_q(GUEST_DID)}&FOO=1", {}, None),
    ("dlget, whole file", f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}", {}, None),
    ("dlget, cutout", f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}&CIRCLE=10.0%2020.0%200.01",
     {}, None),
    ("dlget, scaled", f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}&SCALE=2", {}, None),
    ("dlget, unknown parameter", f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}&FOO=1", {}, None),
    ("dlget, malformed circle", f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}&CIRCLE=1%202",
     {}, None),
    ("dlget, NaN circle", f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}&CIRCLE=NaN%2020%201",
     {}, None),
    ("dlget, out-of-range scale", f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}&SCALE=99",
     {}, None),
    ("dlget, unknown dataset", f"/guest/q/dl/dlget?ID={_q(GUEST_DID + 'x')}", {}, None),
    ("dlget, foreign dataset", f"/guest/q/dl/dlget?ID={_q(HESS_DID)}", {}, None),
    ("dlget, no ID", "/guest/q/dl/dlget", {}, None),
    ("dlget by POST", "/guest/q/dl/dlget",
     {}, f"ID={_q(GUEST_DID)}&CIRCLE=10.0%2020.0%200.01".encode()),
    ("product", "/getproduct/guest/data/m1.fits", {}, None),
    ("product, missing", "/getproduct/guest/data/nothing.fits", {}, None),
    # tabledata, so that the server's URL in accref can be set aside
    ("TAP", "/tap/sync?LANG=ADQL&RESPONSEFORMAT=votabletd&QUERY=" + _q(
        "SELECT accref, object, pub_did FROM guest.images ORDER BY accref"), {}, None),
    ("TAP with aliases", "/tap/sync?LANG=ADQL&QUERY=" + _q(
        "SELECT a.object, b.object FROM guest.images AS a JOIN guest.images AS b"
        " ON a.accref = b.accref ORDER BY a.object"), {}, None),
    ("TAP error", "/tap/sync?LANG=ADQL&QUERY=" + _q("SELECT nonsense FROM guest.images"),
     {}, None),
]

# What legitimately differs between two servers: their URL and the times
# they write into what they serve.
_VOLATILE = [
    re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?Z?"),  # times of writing
    re.compile(rb"(DATE    = )'[^']*'"),
]


def _write_guest(resdir):
    """The guest resource directory: its RD and two 32x32 TAN images."""
    resdir.mkdir()
    shutil.copy(GUEST_RD, resdir / "q.rd")
    (resdir / "data").mkdir()
    for name, ra in (("m1", 10.0), ("m2", 30.0)):
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [ra, 20.0]
        wcs.wcs.crpix = [16.5, 16.5]
        wcs.wcs.cdelt = [-0.001, 0.001]
        header = wcs.to_header()
        header["OBJECT"] = f"field {name}"
        data = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
        fits.PrimaryHDU(data, header).writeto(resdir / "data" / f"{name}.fits")


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory):
    """(with_hess_dr, without_hess_dr): served instances sharing the guest."""
    guest = tmp_path_factory.mktemp("guest_resdir") / "guest"
    _write_guest(guest)
    config = write_config(tmp_path_factory, SAMPLE_DATA, "shared_site")
    with make_instance(tmp_path_factory, config, "with_hess_dr",
                       preload_rds=("hess_dr/q",),
                       other_resdirs={"guest": guest}) as with_hess_dr, \
         make_instance(tmp_path_factory, config, "without_hess_dr",
                       preload_rds=(), other_resdirs={"guest": guest}) as without_hess_dr:
        with_hess_dr.import_resource(out=open("/dev/null", "w"))
        for inst in (with_hess_dr, without_hess_dr):
            inst.run_dachs("imp", "guest/q")
        with with_hess_dr.serve(), without_hess_dr.serve():
            # hess_dr serving: its own DataLink answers first
            status, _, _, body = _fetch(with_hess_dr.url, f"/hess_dr/q/dl/dlmeta?ID={_q(HESS_DID)}")
            assert status == 200 and b"content_qualifier" in body
            yield with_hess_dr, without_hess_dr


def _fetch(server: str, path: str, headers=None, body=None):
    request = urllib.request.Request(server + path, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return (response.status, response.headers.get("content-type"),
                    response.headers.get("content-disposition"), response.read())
    except urllib.error.HTTPError as error:
        return (error.code, error.headers.get("content-type"),
                error.headers.get("content-disposition"), error.read())


def _normalised(server: str, body: bytes) -> bytes:
    body = body.replace(server.encode(), b"http://SERVER")
    for pattern in _VOLATILE:
        body = pattern.sub(b"<time>", body)
    return body


@pytest.mark.parametrize("label", [r[0] for r in REQUESTS])
def test_the_guest_answers_as_without_hess_dr(two_sites, label):
    _, path, headers, body = next(r for r in REQUESTS if r[0] == label)
    answers = []
    for inst in two_sites:
        status, media_type, disposition, payload = _fetch(inst.url, path, headers, body)
        answers.append((status, media_type, disposition, _normalised(inst.url, payload)))
    with_hess_dr, without_hess_dr = answers
    assert with_hess_dr[:3] == without_hess_dr[:3]
    assert with_hess_dr[3] == without_hess_dr[3], _first_difference(
        with_hess_dr[3], without_hess_dr[3])


def _first_difference(a: bytes, b: bytes) -> str:
    index = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return (f"bodies differ at byte {index} (lengths {len(a)}, {len(b)}):\n"
            f"{a[max(0, index - 120):index + 120]!r}\n{b[max(0, index - 120):index + 120]!r}")


def test_the_comparison_sees_what_hess_dr_adds(two_sites):
    """The guest's service descriptor stays DaCHS's #proc; hess_dr's own is
    #cutout with a qualifier, and its errors are DALI documents: the two
    services of one server differ exactly where hess_dr's core works."""
    with_hess_dr, _ = two_sites
    status, _, _, guest = _fetch(with_hess_dr.url, REQUESTS[0][1])
    assert status == 200
    assert b"<TD>#proc</TD>" in guest
    assert b"content_qualifier" not in guest and b"#cutout" not in guest
    assert b"links-1.1" not in guest
    status, _, _, own = _fetch(with_hess_dr.url, f"/hess_dr/q/dl/dlmeta?ID={_q(HESS_DID)}")
    assert status == 200
    assert b"<TD>#cutout</TD>" in own and b"<TD>#proc</TD>" not in own
    assert b'name="standardID" value="ivo://ivoa.net/std/DataLink#links-1.1"' in own
    status, media_type, _, error = _fetch(
        with_hess_dr.url, f"/hess_dr/q/dl/dlget?ID={_q(HESS_DID)}&FOO=1")
    assert (status, media_type) == (400, "application/x-votable+xml")
    assert b'value="ERROR"' in error
    status, media_type, _, error = _fetch(
        with_hess_dr.url, f"/guest/q/dl/dlget?ID={_q(GUEST_DID)}&FOO=1")
    assert (status, media_type) == (422, "text/plain")


def _sessions_opened(cursor, dbname) -> int:
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (dbname,))
    return cursor.fetchone()[0]


def test_connection_handling_is_dachs_own(two_sites):
    """Without the opt-in fixes, an aliased ADQL query opens as many
    PostgreSQL sessions with hess_dr loaded as DaCHS 2.7 does alone (four:
    the pool closes a connection per correlation name); test_tap_sessions
    shows one per query with the fixes preloaded."""
    query = REQUESTS[-2][1]
    opened = []
    for inst in two_sites:
        assert _fetch(inst.url, query)[0] == 200  # warm up
        connection = psycopg2.connect(dbname=inst.dbname)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                before = _sessions_opened(cursor, inst.dbname)
                for _ in range(3):
                    assert _fetch(inst.url, query)[0] == 200
                time.sleep(1.5)  # ending sessions report their statistics at exit
                opened.append(_sessions_opened(cursor, inst.dbname) - before)
        finally:
            connection.close()
    with_hess_dr, without_hess_dr = opened
    assert without_hess_dr >= 2 * 3, "DaCHS 2.7 itself should reconnect per alias"
    assert abs(with_hess_dr - without_hess_dr) <= 1
