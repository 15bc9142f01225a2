"""Robustness: hostile input files, an interrupted import, random requests.

1. **Hostile input** (:mod:`hostile_inputs`): a folder of 40-odd broken or
   odd files, mixed with the three DR1 sample runs in nested folders, is
   imported into a private instance.  The import exits 0, names every bad
   file with its reason, publishes exactly the good files (ObsCore,
   obs_index, one GTI row per interval, a product each, every file and its
   DataLink served) and leaves nothing of the bad ones behind.  What is
   rejected and what is published with a problem noted is decided case by
   case in :func:`hostile_inputs.build`; in short:

   * rejected: unreadable, truncated, non-FITS or non-regular files; EVENTS
     without TIME/ENERGY or with non-numeric ENERGY; times that give no UTC
     date; a bad time reference (MJDREFI text, TIMESYS 'XYZ'); an unparsable
     card (TSTART = NaN) or header strings with NUL/control bytes (astropy
     refuses the header); a file reached a second time through a symbolic
     link looping back to its directory; a non-ASCII file name (its dataset
     id would reach TAP clients with '?' for those characters);
   * not an event list (reported, skipped): FITS without an EVENTS table;
   * published: an empty EVENTS table; an empty OBS_ID (the file name
     used); some or all non-finite energies (noted; no energy range when
     none is finite); GTIs reaching beyond TSTART-TSTOP or none overlapping
     it (noted); a GTI table that is empty, inverted or non-finite (bad
     intervals left out, noted); negative ONTIME/LIVETIME (ignored, noted);
     TSTOP < TSTART (the GTI bounds used, noted); TSTART NaN (taken from the
     GTIs, noted); RA_PNT 400 (published as 40, noted) and DEC_PNT 95 (no
     pointing, noted): Gammapy 1.3 reads all of these; a Latin-1 byte in
     OBJECT (astropy reads it as '?'); a 10,000-keyword header; a plain FITS
     file named .fits.gz; two files with the same OBS_ID (both published:
     OBS_ID is not unique within a collection, obs_publisher_did is).

   The fixture imports the folder twice before any test looks at it (a
   re-import must change nothing); the tests only read, in any order.

2. **Interrupted import** (its own instance): ``dachs imp`` killed with
   SIGKILL while reading 300 new files leaves the database exactly as it
   was (DaCHS imports in one transaction); the next import publishes each
   file exactly once.

3. **Random requests** (hypothesis) against SODA (``dl/dlget``, GET and
   POST), DataLink (``dl/dlmeta``), the derived products (``prod/dlget``)
   and TAP (``/tap/sync``): never a 500, never a traceback, errors are 4xx
   with a VOTable or text body.
"""
from __future__ import annotations

import dataclasses
import io
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import pyvo
from astropy.io import votable
from hypothesis import HealthCheck, given, settings, strategies as st

import hostile_inputs as hi
from dachs_support import make_instance, write_config

from hess_dr_dev import instance as hinst

# --------------------------------------------------------------------------
# hostile input
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Hostile:
    """The hostile folder imported (and imported again) into a served instance.

    ``state`` and ``reimport_state`` are the database rows (see
    :func:`_database_rows`) after the first and the second import."""

    instance: hinst.Instance
    data_dir: Path
    cases: list
    returncode: int
    output: str
    state: tuple
    reimport_returncode: int
    reimport_output: str
    reimport_state: tuple


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile_data")
    cases = hi.build(data)
    # a directory symlinked to itself: the source listing visits every real
    # directory once, so its files are not read a second time under the loop
    os.symlink(".", data / "2004" / "12" / "loop")
    config = write_config(tmp_path_factory, data, "hostile")
    with make_instance(tmp_path_factory, config, "hostile") as inst:
        result = inst.run_dachs("imp", "hess_dr/q", check=False, timeout=600)
        inst.run_dachs("imp", "hess_dr/hea", check=False)
        state = _database_rows(inst)
        # the second import happens here, not in a test, so that no test
        # changes what the others see
        again = inst.run_dachs("imp", "hess_dr/q", check=False, timeout=600)
        with inst.serve():
            yield Hostile(inst, data, cases, result.returncode,
                          result.stdout + result.stderr, state,
                          again.returncode, again.stdout + again.stderr,
                          _database_rows(inst))


def test_a_symlink_loop_is_not_followed(hostile):
    loop = hostile.data_dir / "2004" / "12" / "loop"
    assert str(loop) not in hostile.output
    published = _published(hostile.instance)
    assert not [path for path in published if "/loop/" in path]


def _tap(instance) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(instance.tap_url)


def _published(instance) -> dict[str, tuple[str, str, int, str]]:
    """source_path -> (obs_publisher_did, obs_id, gti_count, access_url) of
    every ivoa.obscore row of the instance (source_path is hidden from TAP:
    it comes from the database)."""
    table = _tap(instance).run_sync(
        "SELECT o.obs_publisher_did, o.obs_id, i.gti_count, o.access_url"
        " FROM ivoa.obscore AS o JOIN hess_dr.obs_index AS i"
        " ON o.obs_publisher_did = i.obs_publisher_did", maxrec=100000).to_table()
    paths = {did: path for path, did in _psql(
        instance, "SELECT source_path, obs_publisher_did FROM hess_dr.obs_index")}
    return {paths[str(r["obs_publisher_did"])]: (
                str(r["obs_publisher_did"]), str(r["obs_id"]), int(r["gti_count"]),
                str(r["access_url"])) for r in table}


def test_the_folder_is_hostile_enough(hostile):
    bad = [c for c in hostile.cases if c.outcome != hi.IMPORTED]
    # odd files Gammapy reads: published with a problem noted
    odd = [c for c in hostile.cases if c.outcome == hi.IMPORTED and c.reason]
    good = [c for c in hostile.cases if c.name.startswith("good ")]
    assert len(bad) >= 20 and len(odd) >= 15 and len(good) >= 3
    assert len({c.name for c in hostile.cases}) == len(hostile.cases)
    assert len({c.path.parent for c in hostile.cases}) >= 6  # nested folders


def test_the_import_survives(hostile):
    assert hostile.returncode == 0, hostile.output[-5000:]
    assert "Uncaught exception" not in hostile.output
    assert "Traceback" not in hostile.output
    # no file failed in a way the reader did not foresee (see dl3grammar)
    assert ": unexpected " not in hostile.output


def test_every_bad_file_is_named_with_its_reason(hostile):
    lines = hostile.output.splitlines()
    missing = []
    for case in hostile.cases:
        if case.reason is None:
            continue
        path = str(case.path)
        if not any(path in line and case.reason in line for line in lines):
            missing.append((case.name, case.reason, [line for line in lines if path in line]))
    assert not missing, missing


def test_exactly_the_good_files_are_published(hostile):
    published = _published(hostile.instance)
    expected = {str(c.path): c.obs_id for c in hostile.cases if c.outcome == hi.IMPORTED}
    assert {path: obs_id for path, (_, obs_id, _, _) in published.items()} == expected
    # OBS_ID is not unique within a collection; the publisher DID is
    dids = [did for did, _, _, _ in published.values()]
    assert len(set(dids)) == len(dids)
    assert sorted(obs_id for _, obs_id, _, _ in published.values()).count("777777") == 2


def test_gti_rows_are_exactly_those_of_the_good_files(hostile):
    tap = _tap(hostile.instance)
    published = _published(hostile.instance)
    counts = tap.run_sync("SELECT obs_publisher_did, COUNT(*) AS n FROM hess_dr.gti"
                          " GROUP BY obs_publisher_did").to_table()
    by_did = {str(r["obs_publisher_did"]): int(r["n"]) for r in counts}
    expected = {str(c.path): c.gti_count for c in hostile.cases if c.outcome == hi.IMPORTED}
    assert by_did == {did: expected[path] for path, (did, _, _, _) in published.items()}
    assert by_did == {did: gti_count for did, _, gti_count, _ in published.values()}
    orphans = tap.run_sync(
        "SELECT COUNT(*) AS n FROM hess_dr.gti AS g LEFT OUTER JOIN hess_dr.obs_index AS i"
        " ON g.obs_publisher_did = i.obs_publisher_did"
        " WHERE i.obs_publisher_did IS NULL").to_table()
    assert orphans["n"][0] == 0


def test_problems_of_published_files_are_kept(hostile):
    problems = dict(_psql(hostile.instance,
                          "SELECT source_path, coalesce(problems, '') FROM hess_dr.obs_index"))
    for case in hostile.cases:
        if case.outcome == hi.IMPORTED and case.reason:
            assert case.reason in problems[str(case.path)], case.name


def test_every_published_file_is_served_with_its_datalink(hostile):
    """getproduct answers for every row (so each has its dc.products row)
    with the file's bytes, and its DataLink document lists it."""
    dlmeta = f"{hostile.instance.url}/hess_dr/q/dl/dlmeta"
    for path, (did, _, _, access_url) in _published(hostile.instance).items():
        with urllib.request.urlopen(access_url, timeout=60) as response:
            assert response.status == 200
            assert response.read() == Path(path).read_bytes(), path
        query = urllib.parse.urlencode({"ID": did})
        with urllib.request.urlopen(f"{dlmeta}?{query}", timeout=60) as response:
            links = votable.parse_single_table(io.BytesIO(response.read()),
                                               verify="ignore").to_table()
        this = [row for row in links if row["semantics"] == "#this"]
        assert len(this) == 1 and not this[0]["error_message"], (path, this)
        assert str(this[0]["access_url"]) == access_url


def test_reimport_changes_nothing(hostile):
    """Bad files are read (and reported) again; the good ones are not."""
    output = hostile.reimport_output
    assert hostile.reimport_returncode == 0, output[-5000:]
    assert _consistent(hostile.reimport_state) == _consistent(hostile.state)
    assert hostile.reimport_state == hostile.state
    published = _published(hostile.instance)
    assert {did for did, _, _, _ in published.values()} == set(_consistent(hostile.state))
    lines = output.splitlines()
    for case in hostile.cases:
        if case.outcome != hi.IMPORTED:
            assert any(str(case.path) in line and case.reason in line for line in lines), case.name
        elif case.reason:  # a published file's problem is reported when it is read
            assert not any(str(case.path) in line and case.reason in line
                           for line in lines), case.name


def test_links_and_odd_directory_names(tmp_path_factory):
    data = tmp_path_factory.mktemp("links_data")
    outside = tmp_path_factory.mktemp("links_outside")
    good = [data / "glob[1]" / hi.GOOD_SAMPLE[0],            # glob metacharacters
            outside / "2004" / "night" / hi.GOOD_SAMPLE[1]]  # in a symlinked subtree
    for path, name in zip(good, hi.GOOD_SAMPLE):
        path.parent.mkdir(parents=True)
        path.write_bytes((hi.SAMPLE_DATA / name).read_bytes())
    os.symlink(outside, data / "linked")
    os.symlink(data, data / "glob[1]" / "up")                  # a loop
    os.symlink("/nonexistent/run.fits", data / "dangling.fits")
    os.symlink("self.fits", data / "self.fits")                # a link to itself
    config = write_config(tmp_path_factory, data, "links")
    with make_instance(tmp_path_factory, config, "links") as inst:
        result = inst.run_dachs("imp", "hess_dr/q", check=False, timeout=300)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        for name in ("dangling.fits", "self.fits"):
            assert any(f"{data / name}: cannot read file" in line
                       for line in output.splitlines()), name
        paths = {path for (path,) in _psql(inst, "SELECT source_path FROM hess_dr.obs_index")}
        assert paths == {str(data / "glob[1]" / hi.GOOD_SAMPLE[0]),
                         str(data / "linked" / "2004" / "night" / hi.GOOD_SAMPLE[1])}


# --------------------------------------------------------------------------
# interrupted import (its own instance)
# --------------------------------------------------------------------------

def _psql(instance, sql: str) -> list[tuple[str, ...]]:
    result = subprocess.run(["psql", "-d", instance.dbname, "-v", "ON_ERROR_STOP=1",
                             "-AtqF", "\t", "-c", sql],
                            capture_output=True, text=True, check=True)
    return [tuple(line.split("\t")) for line in result.stdout.splitlines()]


def _database_rows(instance) -> tuple:
    """(obs_index, gti, dc.products, ivoa.obscore) as the database holds them:
    {did: (obs_id, accref, gti_count)}, {did: number of GTI rows}, {accref},
    {did}."""
    obs = {did: (obs_id, accref, int(gti_count)) for did, obs_id, accref, gti_count in _psql(
        instance, "SELECT obs_publisher_did, obs_id, accref, gti_count FROM hess_dr.obs_index")}
    gti = {did: int(n) for did, n in _psql(
        instance, "SELECT obs_publisher_did, COUNT(*) FROM hess_dr.gti"
                  " GROUP BY obs_publisher_did")}
    products = {accref for (accref,) in _psql(
        instance, "SELECT accref FROM dc.products WHERE sourcetable = 'hess_dr.obs_index'")}
    obscore = {did for (did,) in _psql(
        instance, "SELECT obs_publisher_did FROM ivoa.obscore")}
    return obs, gti, products, obscore


def _consistent(rows: tuple) -> dict:
    """The obs_index rows of :func:`_database_rows`, after checking that the
    tables agree with each other (every dataset complete, nothing orphaned)."""
    obs, gti, products, obscore = rows
    assert gti == {did: gti_count for did, (_, _, gti_count) in obs.items()}
    assert products == {accref for _, accref, _ in obs.values()}
    assert obscore == set(obs)
    return obs


def _database_state(instance) -> dict:
    """obs_index, gti and dc.products as the database holds them, after
    checking that they agree with each other."""
    return _consistent(_database_rows(instance))


def test_an_interrupted_import_leaves_the_previous_state(tmp_path_factory):
    data = tmp_path_factory.mktemp("interrupted_data")
    (data / "2004").mkdir()
    for name in hi.GOOD_SAMPLE:
        (data / "2004" / name).write_bytes((hi.SAMPLE_DATA / name).read_bytes())
    config = write_config(tmp_path_factory, data, "interrupted")
    with make_instance(tmp_path_factory, config, "interrupted") as instance:
        first = instance.run_dachs("imp", "hess_dr/q", check=False, timeout=600)
        assert first.returncode == 0, (first.stdout + first.stderr)[-5000:]
        before = _database_state(instance)
        assert sorted(obs_id for obs_id, _, _ in before.values()) == ["20136", "23523", "23526"]

        bulk = hi.write_bulk(data / "bulk", 300)
        # SIGKILL while it reads the new files (after 40 of 300)
        env = dict(instance.env, PYTHONUNBUFFERED="1")
        started = []
        with subprocess.Popen(instance.dachs_command("imp", "hess_dr/q"), env=env,
                              cwd=instance.root, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True) as proc:
            watchdog = threading.Timer(300, os.killpg, (proc.pid, signal.SIGKILL))
            watchdog.start()
            try:
                for line in proc.stdout:
                    if line.startswith("Starting") and "bulk_" in line:
                        started.append(line)
                        if len(started) == 40:
                            break
            finally:
                watchdog.cancel()
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert len(started) == 40 and proc.returncode == -signal.SIGKILL
        # one transaction, rolled back: exactly the previous rows
        assert _database_state(instance) == before

        result = instance.run_dachs("imp", "hess_dr/q", check=False, timeout=600)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        after = _database_state(instance)
        assert {did: row for did, row in after.items() if did in before} == before
        new = [obs_id for did, (obs_id, _, _) in after.items() if did not in before]
        assert sorted(new) == sorted(str(500000 + i) for i in range(len(bulk)))
        with instance.serve():
            count = _tap(instance).run_sync("SELECT COUNT(*) AS n FROM ivoa.obscore").to_table()
        assert count["n"][0] == len(before) + 300


# --------------------------------------------------------------------------
# random requests
# --------------------------------------------------------------------------

#: Examples per test (HESS_DR_FUZZ_EXAMPLES=500 for a longer hunt).
FUZZ = settings(max_examples=int(os.environ.get("HESS_DR_FUZZ_EXAMPLES", 25)), deadline=None,
                suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow])

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-400, 400).map(lambda x: f"{x:.6g}"),
    st.integers(-10**30, 10**30).map(str),
    st.sampled_from(["NaN", "nan", "-Inf", "+Inf", "inf", "1e999", "-1e999", "1e308",
                     "4.9e-324", "-0", "0x1F", "1_000", "\u0661\u0662", "1,5", ".", "e5",
                     "83.633", "22.0145", "53343.93", "0.3", "1", "10", "1e-18"]))
_TOKEN = st.one_of(_NUMBER, _NUMBER, _TEXT,
                   st.sampled_from(["CIRCLE", "POLYGON", "RANGE", "BOX", "POINT", ""]))
_VALUE = st.one_of(st.lists(_TOKEN, max_size=10).map(" ".join), _TEXT,
                   st.binary(max_size=40))
_SODA_NAMES = ("BAND", "ENERGY", "TIME", "CIRCLE", "POLYGON", "POS")
_NAME = st.one_of(st.sampled_from(_SODA_NAMES), st.sampled_from(_SODA_NAMES),
                  st.sampled_from(["ID", "RESPONSEFORMAT", "REQUEST", "MAXREC", "band",
                                   "PRODUCT", "RUNID", "__nevow_form__", "_DBOPTIONS"]),
                  _TEXT.filter(bool), st.binary(min_size=1, max_size=10))


def _call(url: str, pairs, post: bool = False):
    """(status, content type, body) of a GET or POST with these parameters."""
    query = urllib.parse.urlencode(list(pairs))
    if post:
        request = urllib.request.Request(
            url, data=query.encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        request = urllib.request.Request(f"{url}?{query}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def _assert_no_server_error(status, content_type, body, what):
    """No 500, no traceback; errors are DALI error documents (VOTables)."""
    lowered = body.lower()
    assert status < 500, (what, status, body[:2000])
    assert b"traceback" not in lowered and b"uncaught exception" not in lowered, (what, body[:2000])
    if status >= 400:
        assert content_type.startswith(("application/x-votable+xml", "text/xml")), (
            what, status, content_type, body[:1000])
        assert b"QUERY_STATUS" in body and b"ERROR" in body, (what, body[:1000])


@pytest.fixture(scope="module")
def crab(sample_service):
    """(server URL, publisher DID of run 23523) of the sample service."""
    table = _tap(sample_service.instance).run_sync(
        "SELECT obs_publisher_did FROM ivoa.obscore WHERE obs_id = '23523'").to_table()
    return sample_service.url, str(table["obs_publisher_did"][0])


@FUZZ
@given(pairs=st.lists(st.tuples(_NAME, _VALUE), max_size=5), post=st.booleans())
def test_soda_random_parameters(crab, pairs, post):
    server, did = crab
    pairs = [("ID", did)] + pairs
    _assert_no_server_error(*_call(f"{server}/hess_dr/q/dl/dlget", pairs, post), pairs)


@FUZZ
@given(energy=st.tuples(_NUMBER, _NUMBER), time_=st.tuples(_NUMBER, _NUMBER),
       circle=st.tuples(_NUMBER, _NUMBER, _NUMBER), post=st.booleans())
def test_soda_random_numbers(crab, energy, time_, circle, post):
    """Well-formed parameters with random numbers (some cutouts succeed)."""
    server, did = crab
    pairs = [("ID", did), ("ENERGY", " ".join(energy)), ("TIME", " ".join(time_)),
             ("POS", "CIRCLE " + " ".join(circle))]
    _assert_no_server_error(*_call(f"{server}/hess_dr/q/dl/dlget", pairs, post), pairs)


_ID = st.one_of(_TEXT, st.binary(max_size=40),
                st.builds(lambda prefix, rest: prefix + rest,
                          st.sampled_from(["ivo://hess-dr.example/~?", "ivo://hess-dr.example/~?hess_dr/",
                                           "ivo://x/~?hess_dr/../../etc/passwd", "ivo://",
                                           "ivo://hess-dr.example/~?hess_dr/hess-dl3-dr1/"]),
                          _TEXT))


@FUZZ
@given(ids=st.lists(_ID, min_size=1, max_size=3), post=st.booleans())
def test_datalink_random_ids(crab, ids, post):
    server, _ = crab
    pairs = [("ID", value) for value in ids]
    _assert_no_server_error(*_call(f"{server}/hess_dr/q/dl/dlmeta", pairs, post), pairs)


@FUZZ
@given(use_crab=st.booleans(), identifier=_ID,
       product=st.one_of(st.sampled_from(["aeff", "edisp", "psf", "bkg", "rad_max", "bundle",
                                          "gti", "terms", "AEFF", "", "preview-image"]),
                         _TEXT, st.binary(max_size=20)),
       extra=st.lists(st.tuples(_NAME, _VALUE), max_size=2))
def test_products_random_ids_and_products(crab, use_crab, identifier, product, extra):
    server, did = crab
    pairs = [("ID", did if use_crab else identifier), ("PRODUCT", product)] + extra
    _assert_no_server_error(*_call(f"{server}/hess_dr/q/prod/dlget", pairs), pairs)


_BAD_BYTES = b"\xff\xfe\x80 \xc3("

# Bugs of DaCHS 2.7's request parsing (gavo/svcs/common.py,
# QueryMeta._fillDbOptions) on services that are not hess_dr's: 500s.
_DACHS_MAXREC_BUG = pytest.mark.xfail(strict=True, reason=(
    "DaCHS 2.7: a non-UTF-8 MAXREC arrives as a BinaryItem and int() raises"
    " TypeError (only ValueError/KeyError are caught): HTTP 500 on TAP"))
_DACHS_DBOPTIONS_BUG = pytest.mark.xfail(strict=True, reason=(
    "DaCHS 2.7: _DBOPTIONS_DIR other than ASC/DESC is a KeyError outside the"
    " try block: HTTP 500 on TAP"))


@pytest.mark.parametrize("endpoint, name", [
    ("hess_dr/q/dl/dlget", "ID"), ("hess_dr/q/dl/dlget", "BAND"), ("hess_dr/q/dl/dlget", "POS"),
    ("hess_dr/q/dl/dlget", "MAXREC"), ("hess_dr/q/dl/dlget", "RESPONSEFORMAT"),
    ("hess_dr/q/dl/dlmeta", "ID"), ("hess_dr/q/dl/dlmeta", "MAXREC"),
    ("hess_dr/q/prod/dlget", "ID"), ("hess_dr/q/prod/dlget", "PRODUCT"),
    ("hess_dr/q/prod/dlget", "MAXREC"),
    ("tap/sync", "QUERY"), ("tap/sync", "MAXREC"), ("tap/sync", "LANG"),
    ("tap/sync", "FORMAT")])
@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST"])
def test_non_utf8_bytes_in_a_parameter(request, crab, endpoint, name, post):
    """Bytes that are no UTF-8 (DaCHS 2.7 failed on some with a 500:
    res/datalink.py decodes them for the DataLink services)."""
    if (endpoint, name) == ("tap/sync", "MAXREC"):
        request.applymarker(_DACHS_MAXREC_BUG)
    server, did = crab
    pairs = {"ID": did, "PRODUCT": "gti", "REQUEST": "doQuery", "LANG": "ADQL",
             "QUERY": "SELECT TOP 1 obs_id FROM ivoa.obscore"}
    pairs[name] = _BAD_BYTES
    _assert_no_server_error(*_call(f"{server}/{endpoint}", pairs.items(), post), pairs)


@pytest.mark.parametrize("endpoint", ["hess_dr/q/dl/dlget", "hess_dr/q/dl/dlmeta",
                                      "hess_dr/q/prod/dlget", "tap/sync"])
@pytest.mark.parametrize("name, value", [
    ("_DBOPTIONS_DIR", "sideways"), ("_TIMEOUT", "soon"), ("_TIMEOUT", "-1e999"),
    ("MAXREC", "-1"), ("MAXREC", "1e999"), ("_DBOPTIONS_ORDER", "'; DROP TABLE x"),
    ("_SET", "nonsense"), ("_ADDITEM", "nothing"), ("__nevow_form__", "genForm"),
    ("RESPONSEFORMAT", "application/x-nonsense")])
def test_dachs_internal_parameters(request, crab, endpoint, name, value):
    """Parameters DaCHS's own request parsing reads, with bad values."""
    if (endpoint, name) == ("tap/sync", "_DBOPTIONS_DIR"):
        request.applymarker(_DACHS_DBOPTIONS_BUG)
    server, did = crab
    pairs = {"ID": did, "PRODUCT": "gti", "REQUEST": "doQuery", "LANG": "ADQL",
             "QUERY": "SELECT TOP 1 obs_id FROM ivoa.obscore", name: value}
    _assert_no_server_error(*_call(f"{server}/{endpoint}", pairs.items()), pairs)


_ADQL_WORDS = ["SELECT", "TOP", "5", "*", "FROM", "ivoa.obscore", "hess_dr.gti", "hess_dr.obs_index",
               "WHERE", "AND", "OR", "NOT", "(", ")", "'", "\"", ",", "=", "<", "COUNT(*)",
               "ORDER BY", "GROUP BY", "obs_id", "s_ra", "t_min", "1=CONTAINS(", "POINT('ICRS',",
               "CIRCLE('ICRS',", "POLYGON(", "ivo_hasword(", "JOIN", "ON", "AS", "o", ";",
               "DROP TABLE", "--", "/*", "LIKE", "'%'", "IS NULL", "UNION", "OFFSET", "1e999"]


@FUZZ
@given(words=st.lists(st.one_of(st.sampled_from(_ADQL_WORDS), _NUMBER, _TEXT), max_size=14),
       # (no bytes: see _DACHS_MAXREC_BUG)
       extra=st.lists(st.tuples(st.sampled_from(["LANG", "FORMAT", "MAXREC", "RESPONSEFORMAT",
                                                 "REQUEST", "UPLOAD"]), _TOKEN), max_size=2))
def test_tap_random_adql(crab, words, extra):
    server, _ = crab
    pairs = [("REQUEST", "doQuery"), ("LANG", "ADQL"), ("QUERY", " ".join(words))] + extra
    _assert_no_server_error(*_call(f"{server}/tap/sync", pairs, post=True), pairs)


@FUZZ
@given(ra=_NUMBER, dec=_NUMBER, radius=_NUMBER, top=_NUMBER, maxrec=_NUMBER)
def test_tap_cone_with_random_numbers(crab, ra, dec, radius, top, maxrec):
    server, _ = crab
    query = (f"SELECT TOP {top} obs_id, s_ra, s_dec FROM ivoa.obscore"
             f" WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {ra}, {dec}, {radius}))")
    pairs = [("REQUEST", "doQuery"), ("LANG", "ADQL"), ("QUERY", query), ("MAXREC", maxrec)]
    _assert_no_server_error(*_call(f"{server}/tap/sync", pairs, post=True), pairs)
