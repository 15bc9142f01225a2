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
import itertools
import multiprocessing
import os
import sys

# Make the package importable even where it was not pip-installed into the
# Python running DaCHS (an operator's existing instance).
_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _RESDIR not in sys.path:
    sys.path.insert(0, _RESDIR)

from gavo import base  # noqa: E402
from gavo.grammars.customgrammar import CustomRowIterator  # noqa: E402
from gavo.utils import pgsphere  # noqa: E402

from hess_dr import config as hess_config  # noqa: E402
from hess_dr import ingest, sources  # noqa: E402

#: Below this many files, an import reads them in the DaCHS process itself.
PREFETCH_MIN_SOURCES = 64


class Prefetcher:
    """Runs :func:`hess_dr.ingest.ingest` on the coming sources, in DaCHS's
    order, in worker processes, with a bounded number in flight.

    Files go to the workers in batches of ``batch`` (see
    :func:`hess_dr.ingest.ingest_many`), up to about ``in_flight`` files
    ahead of DaCHS.  "spawn" workers (which get this process's sys.path, so
    they import hess_dr the same way): forked ones would share the DaCHS
    process's database sockets.  If DaCHS asks for a file out of the
    expected order, the prefetcher shuts down and the shim reads files
    itself.
    """

    def __init__(self, paths, arguments, workers, batch=8, in_flight=2500):
        self._paths = iter(paths)
        self._arguments = arguments
        self._batch = batch
        self._batches = collections.deque()  # (paths, future of their outcomes)
        self._taken = 0  # outcomes of the first batch handed out so far
        # DaCHS ships rows to PostgreSQL 2000 at a time, a row per INSERT,
        # and waits: several seconds in which the readers keep reading
        # ahead (a few kB per outcome) instead of idling.
        self._depth = max(4 * workers, in_flight // batch)
        self._pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=ingest.prepare_reader_process)
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
        outcome = future.result()[self._taken]
        self._taken += 1
        if self._taken == len(paths):
            self._batches.popleft()
            self._taken = 0
            self._fill()
        if not self._batches:
            self.close()
        return outcome

    def close(self):
        for _, future in self._batches:
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
        self.arguments = (self.configuration, base.getConfig("inputsDir"),
                          grammar.rd.sourceId.split("/")[0])
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
        except Exception as exc:  # prefetching is an optimisation only
            base.ui.notifyInfo(f"hess_dr: reading files in-process ({exc})")
            return None
        if len(paths) < PREFETCH_MIN_SOURCES:
            return None
        base.ui.notifyInfo(f"hess_dr: reading {len(paths)} files with {workers} worker(s)")
        return Prefetcher(paths, self.arguments, workers)

    def outcome(self, path):
        outcome = self.prefetcher.take(path) if self.prefetcher else None
        if outcome is None:
            self.prefetcher = None
            outcome = ingest.ingest(path, *self.arguments)
        return outcome


def makeDataPack(grammar):
    """Load the operator configuration once per import; start the workers."""
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
        outcome = self.grammar.dataPack.outcome(path)
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
        yield "obs_index", obs
        yield "products", obs
        for gti in outcome.gtis:
            yield "gti", gti
