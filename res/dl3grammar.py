"""DaCHS custom grammar: DL3 event lists -> rows of hess_dr.obs_index and hess_dr.gti.

A thin shim: :func:`hess_dr.ingest.ingest` reads a file and builds its rows;
this module converts values to DaCHS types and dispatches rows to the tables
("roles") of q.rd's import data.  On imports of many files it runs
``ingest`` for the upcoming files in worker processes (:class:`Prefetcher`),
so that reading files overlaps with DaCHS's own work on the previous ones.

A file that cannot be published is reported (file name and reason) and
skipped; the import of the other files goes on.
"""
import collections
import concurrent.futures
import gc
import itertools
import os
import sys

# Make the package importable even where it was not pip-installed into the
# Python running DaCHS (an operator's existing instance).
_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _RESDIR not in sys.path:
    sys.path.insert(0, _RESDIR)

from gavo import base, rscdef  # noqa: E402
from gavo.grammars.customgrammar import CustomRowIterator  # noqa: E402
from gavo.utils import pgsphere  # noqa: E402

from hess_dr import config as hess_config  # noqa: E402
from hess_dr import coverage as hess_coverage  # noqa: E402
from hess_dr import importlog, ingest, sources, workers as hess_workers  # noqa: E402
from hess_dr import links as hess_links  # noqa: E402

#: An import of fewer files than this, holding fewer bytes than
#: PREFETCH_MIN_BYTES, reads them in the DaCHS process itself (starting a
#: worker costs about a second).
PREFETCH_MIN_SOURCES = 64
#: ... but a few large files are read by workers too (the 105 files of the
#: H.E.S.S. DR1 hold 62 MB, 0.6 MB each).
PREFETCH_MIN_BYTES = 16 * 2**20
#: Most files handed to a worker at once.
PREFETCH_BATCH = 8


class Prefetcher:
    """Runs :func:`hess_dr.ingest.ingest` on the coming sources, in DaCHS's
    order, in worker processes, with a bounded number in flight.

    Files go to the workers in batches of ``batch`` (see
    :func:`hess_dr.ingest.ingest_many`), up to about ``in_flight`` files
    ahead of DaCHS.  The workers are :class:`hess_dr.workers.WorkerPool`
    processes.  With ``fork`` (a first import: ``dachs imp`` has one
    thread) they are forked from the DaCHS process once it has imported
    the reading modules, and start reading at once; otherwise they are
    spawned with this process's sys.path (so they import hess_dr the same
    way) but not DaCHS's command line, which multiprocessing's "spawn"
    children import first (1.5 s each).  Any batch no worker has started
    when DaCHS wants it is read in the DaCHS process itself, and with
    ``first_here`` (spawned workers) the first one too, while the workers
    start (a third of a second each; no reading step imports Gammapy, see
    hess_dr.psf).  The batch of a reader that died (killed, out of memory)
    is read in the DaCHS process too, and a new reader takes the next ones.
    If DaCHS asks for a file out of the expected order, the prefetcher
    shuts down and the shim reads files itself.
    """

    def __init__(self, paths, arguments, workers, batch=8, in_flight=2500,
                 first_here=False, fork=False):
        self._paths = iter(paths)
        self._arguments = arguments
        self._batch = batch
        self._batches = collections.deque()  # (paths, future of their outcomes)
        self._taken = 0  # outcomes of the first batch handed out so far
        # DaCHS ships rows to PostgreSQL 2000 at a time, a row per INSERT,
        # and waits: several seconds in which the readers keep reading
        # ahead (a few kB per outcome) instead of idling.
        self._depth = max(4 * workers, in_flight // batch)
        if fork:  # the workers start with the reading modules loaded
            ingest.import_reader_modules()
        self._pool = hess_workers.WorkerPool(
            workers, initializer="hess_dr.ingest:prepare_reader_process", fork=fork)
        self.forked = self._pool.forked
        if first_here and not self.forked:  # read here while the workers start
            first = list(itertools.islice(self._paths, self._batch))
            if first:
                self._batches.append((first, None))
        self._fill()

    def _fill(self):
        while len(self._batches) < self._depth:
            paths = list(itertools.islice(self._paths, self._batch))
            if not paths:
                break
            self._batches.append(
                (paths, self._pool.submit(ingest.ingest_many, paths, *self._arguments)))

    def take(self, path):
        """The outcome for ``path``, or None when it is not the next one."""
        if not self._batches or self._batches[0][0][self._taken] != path:
            self.close()
            return None
        paths, future = self._batches[0]
        if self._taken == 0:
            if future is None or future.cancel():
                # No worker has started this batch (they are still starting
                # up, or busy): read it here rather than wait idle.
                future = self._read_here(paths)
            elif (failure := future.exception()) is not None:
                # The reader died (killed, out of memory): its batch is read
                # here, a new reader takes the next ones.
                base.ui.notifyWarning(f"hess_dr: a reader process failed ({failure});"
                                      f" reading {len(paths)} file(s) in the DaCHS process")
                future = self._read_here(paths)
        outcome = future.result()[self._taken]
        self._taken += 1
        if self._taken == len(paths):
            self._batches.popleft()
            self._taken = 0
            self._fill()
        if not self._batches:
            self.close()
            # Every file is read: the coverage made after DaCHS's index
            # builds (q.rd's make_coverage) needs mocpy; import it meanwhile.
            hess_coverage.preload_mocpy()
        return outcome

    def _read_here(self, paths):
        """A done future of the outcomes of ``paths`` read in this process
        (also replacing the first batch's)."""
        future = concurrent.futures.Future()
        future.set_result(ingest.ingest_many(paths, *self._arguments))
        self._batches[0] = (paths, future)
        return future

    def close(self):
        for _, future in self._batches:
            if future is not None:
                future.cancel()
        self._batches.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)


class DataPack:
    """What the row iterators of one import share."""

    def __init__(self, grammar):
        try:
            # The configuration of this RD's resource directory (or
            # $HESS_DR_CONFIG), wherever the hess_dr package is installed.
            self.configuration = hess_config.load(resdir=grammar.rd.resdir)
        except hess_config.ConfigError as exc:
            raise base.ReportableError(f"hess_dr configuration: {exc}") from None
        # (the event cache the services read goes below DaCHS's cacheDir)
        self.arguments = (self.configuration, base.getConfig("inputsDir"),
                          grammar.rd.sourceId.split("/")[0],
                          os.path.join(base.getConfig("cacheDir"), "hess_dr"))
        self.grammar = grammar
        # the products service: products rows name a run's preview there
        self.prod_url = grammar.rd.getById("prod").getURL("dlget")
        # progress and the summary of this import (q.rd's import_report)
        self.log = importlog.start(self.configuration)
        self.prefetcher = self._start_prefetcher(grammar)

    def _start_prefetcher(self, grammar):
        workers = os.cpu_count() or 1
        try:
            # Another connection than the import's: a table this import has
            # just created is not visible yet, one made by a previous import is.
            with base.getTableConn() as connection:
                table = f"{grammar.rd.schema}.obs_index"
                exists = list(connection.query("SELECT to_regclass(%(t)s)", {"t": table}))[0][0]
            if exists:
                # An incremental import reads the few new files in-process.
                return None
            # The same listing DaCHS iterates (nothing to ignore yet).
            paths = [path for path in grammar.parent.iterSources(None)
                     if path != sources.PRUNE_TOKEN]
            self.log.total = len(paths)
        except Exception as exc:  # prefetching is an optimisation only
            base.ui.notifyInfo(f"hess_dr: reading files in-process ({exc})")
            return None
        if len(paths) < PREFETCH_MIN_SOURCES and _total_size(paths) < PREFETCH_MIN_BYTES:
            return None
        # batches small enough that every worker gets several
        batch = max(1, min(PREFETCH_BATCH, len(paths) // (4 * workers)))
        prefetcher = Prefetcher(paths, self.arguments, workers, batch=batch, first_here=True,
                                fork=True)
        started = "forked" if prefetcher.forked else "spawned"
        base.ui.notifyInfo(f"hess_dr: reading {len(paths)} files with {workers} {started}"
                           " worker process(es)")
        return prefetcher

    def count_sources(self):
        """The number of files this (incremental) import reads: the listing
        DaCHS iterates, with the files imported before and unchanged left
        out (asked only when a progress line is due)."""
        try:
            with base.getTableConn() as connection:
                return sum(1 for path in self.grammar.parent.iterSources(connection)
                           if path != sources.PRUNE_TOKEN)
        except Exception:  # progress is a courtesy only
            return None

    def outcome(self, path):
        outcome = self.prefetcher.take(path) if self.prefetcher else None
        if outcome is None:
            self.prefetcher = None
            outcome = ingest.ingest(path, *self.arguments)
        return outcome


def _total_size(paths):
    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            pass
    return total


def makeDataPack(grammar):
    """Load the operator configuration once per import; start the workers."""
    # What DaCHS has loaded by now (its modules, the resource descriptors
    # it parsed) lives until the import process ends.  Python's cyclic
    # garbage collector would traverse all of it in every full collection
    # during the import and once more when the process exits (measured:
    # 0.5 s between the last atexit handler and the end of a DR1 import;
    # 0.05 s frozen).  gc.freeze() leaves those objects alone: never
    # collected, their memory freed at exit as before.  Only in an import
    # (this grammar runs in `dachs imp`, not in the server); objects made
    # later are collected as usual.
    gc.freeze()
    return DataPack(grammar)


def _spoly(vertices):
    if not vertices:
        return None
    return pgsphere.SPoly([pgsphere.SPoint.fromDegrees(ra, dec) for ra, dec in vertices])


class RowIterator(CustomRowIterator):
    """Yields (role, row) pairs: one obs_index and products row per event
    list, one gti row per good time interval."""

    def _iterRows(self):
        path = self.sourceToken
        if path == sources.PRUNE_TOKEN:  # handled by q.rd's newSource script
            return
        pack = self.grammar.dataPack
        outcome = pack.outcome(path)
        pack.log.record(path, outcome.level, outcome.message, outcome.problems)
        progress = pack.log.progress(total=pack.count_sources)
        if progress:
            base.ui.notifyInfo(progress)
        if outcome.level == "info":
            base.ui.notifyInfo(outcome.message)
            return
        if outcome.level != "ok":
            # A warning, not an error: DaCHS would exit with 101 after an
            # error, although every other file is imported.
            base.ui.notifyWarning(outcome.message)
            return
        for problem in outcome.problems:
            base.ui.notifyInfo(f"hess_dr: {path}: {problem}")
        obs = outcome.obs
        obs["s_region"] = _spoly(obs.pop("s_region_vertices"))
        # the products table's preview: DaCHS's /getproduct?preview=True (which
        # checks no access rights for previews) sends clients to the
        # DataLink #preview-image link, where they are checked
        obs["preview_url"] = hess_links.product_url(
            pack.prod_url, rscdef.getStandardPubDID(obs["accref"]), "preview-image")
        yield "obs_index", obs
        yield "products", obs
        for gti in outcome.gtis:
            gti["preview_url"] = obs["preview_url"]  # products#define sees every row
            yield "gti", gti
