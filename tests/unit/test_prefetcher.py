"""res/dl3grammar.py's Prefetcher: worker processes read ahead of DaCHS, in
batches, and hand the outcomes over in DaCHS's order."""
from __future__ import annotations

import importlib.util
import locale
import os
import shutil
from pathlib import Path

import pytest

from unit_support import SAMPLE_DIR, make_collection, wait_for_other_threads

from hess_dr import ingest
from hess_dr.config import Config


def _load_grammar_module():
    """res/dl3grammar.py, loaded in this process.

    It imports DaCHS, whose ``gavo.base`` sets ``LC_ALL=C`` in the
    environment and the C locale for the whole process: later tests would
    then decode subprocess output and files as ASCII (and fail on the
    UTF-8 they hold) if and only if this module ran before them.  Both are
    restored, so that no test depends on the order."""
    saved_locale = locale.setlocale(locale.LC_ALL)
    saved_env = os.environ.get("LC_ALL")
    try:
        path = Path(__file__).resolve().parents[2] / "res" / "dl3grammar.py"
        spec = importlib.util.spec_from_file_location("hess_dr_test_dl3grammar", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        locale.setlocale(locale.LC_ALL, saved_locale)
        if saved_env is None:
            os.environ.pop("LC_ALL", None)
        else:
            os.environ["LC_ALL"] = saved_env
    return module


@pytest.fixture(scope="module")
def grammar():
    return _load_grammar_module()


@pytest.fixture
def sources(tmp_path):
    """Seven copies of the sample's DR1 runs and a 0-byte file."""
    configuration = Config(source=tmp_path / "hess_dr.yaml",
                           collections=(make_collection(tmp_path),))
    runs = sorted(SAMPLE_DIR.glob("hess_dl3_dr1_obs_id_*.fits.gz"))
    paths = []
    for i in range(7):
        night = tmp_path / f"night{i}"
        night.mkdir()
        paths.append(str(shutil.copy(runs[i % len(runs)], night)))
    (tmp_path / "empty.fits").write_bytes(b"")
    paths.insert(3, str(tmp_path / "empty.fits"))
    return paths, (configuration, str(tmp_path), "hess_dr")


@pytest.mark.parametrize("fork", [False, True], ids=["spawned", "forked"])
def test_outcomes_come_in_order_across_batches(grammar, sources, fork):
    paths, arguments = sources
    if fork:
        wait_for_other_threads()
    prefetcher = grammar.Prefetcher(paths, arguments, workers=2, batch=3, first_here=True,
                                    fork=fork)
    try:
        assert prefetcher.forked is fork
        outcomes = [prefetcher.take(path) for path in paths]
    finally:
        prefetcher.close()
    assert [o.path for o in outcomes] == paths
    assert [o.level for o in outcomes].count("ok") == len(paths) - 1
    assert outcomes[3].level == "warning" and "empty file" in outcomes[3].message
    in_process = ingest.ingest(paths[5], *arguments)
    assert outcomes[5].obs == in_process.obs and outcomes[5].gtis == in_process.gtis


def test_an_unexpected_path_stops_the_prefetcher(grammar, sources):
    paths, arguments = sources
    prefetcher = grammar.Prefetcher(paths, arguments, workers=1, batch=2)
    assert prefetcher.take(paths[0]).path == paths[0]
    assert prefetcher.take(paths[2]) is None  # DaCHS skipped paths[1]: read in-process
    assert prefetcher.take(paths[2]) is None  # and it stays stopped


def test_a_killed_reader_loses_no_file(grammar, sources):
    """Readers killed while they read (the out-of-memory killer, an
    operator): their batches are read in the DaCHS process, new readers
    take the next ones, and every outcome comes, in order."""
    import signal

    import psutil
    paths, arguments = sources
    wait_for_other_threads()
    before = {child.pid for child in psutil.Process().children()}  # earlier tests' own
    prefetcher = grammar.Prefetcher(paths, arguments, workers=2, batch=2, fork=True)
    try:
        assert prefetcher.forked
        readers = [child for child in psutil.Process().children() if child.pid not in before]
        assert len(readers) == 2
        for reader in readers:
            os.kill(reader.pid, signal.SIGKILL)
        outcomes = [prefetcher.take(path) for path in paths]
    finally:
        prefetcher.close()
    assert [o.path for o in outcomes] == paths
    assert [o.level for o in outcomes].count("ok") == len(paths) - 1
    in_process = ingest.ingest(paths[6], *arguments)
    assert outcomes[6].obs == in_process.obs
