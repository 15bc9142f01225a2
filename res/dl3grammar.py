"""DaCHS custom grammar: DL3 event lists -> rows of hess_dr.obs_index and hess_dr.gti.

A thin shim: the reading is done by :func:`hess_dr.dl3.read_run`, the rows
are built by :mod:`hess_dr.rows`; this module only converts values to DaCHS
types and dispatches rows to the tables ("roles") of q.rd's import data.

A file that cannot be published is reported (file name and reason) and
skipped; the import of the other files goes on.
"""
import os
import sys
import traceback

# Make the package importable even where it was not pip-installed into the
# Python running DaCHS (an operator's existing instance).
_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _RESDIR not in sys.path:
    sys.path.insert(0, _RESDIR)

from gavo import base  # noqa: E402
from gavo.grammars.customgrammar import CustomRowIterator  # noqa: E402
from gavo.utils import pgsphere  # noqa: E402

from hess_dr import config as hess_config  # noqa: E402
from hess_dr import dl3, rows, sources  # noqa: E402


def makeDataPack(grammar):
    """Load the operator configuration once per import."""
    try:
        return hess_config.load()
    except hess_config.ConfigError as exc:
        raise base.ReportableError(f"hess_dr configuration: {exc}") from None


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
        configuration = self.grammar.dataPack
        collection = configuration.collection_for(path)
        if collection is None:
            base.ui.notifyWarning(f"hess_dr: skipped {path}: not below any configured data_dir")
            return
        if not os.path.relpath(path, collection.data_dir).isascii():
            # The dataset id holds the path; DaCHS 2.7's TAP writes text
            # columns as ASCII ('?' for the rest), so nobody could use it.
            base.ui.notifyWarning(
                f"hess_dr: skipped {path}: non-ASCII file name: its publisher DID would"
                " reach TAP clients with '?' in place of those characters; rename it")
            return
        loop = sources.looping_link(path, str(collection.data_dir))
        if loop is not None:
            base.ui.notifyWarning(
                f"hess_dr: skipped {path}: reached through the symbolic link {loop}, which"
                f" points back to {os.path.realpath(loop)} (a loop: the file is read"
                " under its other name)")
            return
        try:
            run = dl3.read_run(path, collection)
        except dl3.NotAnEventList as exc:
            base.ui.notifyInfo(f"hess_dr: not an event list, skipped: {exc}")
            return
        except dl3.DL3Error as exc:
            base.ui.notifyWarning(f"hess_dr: skipped {exc}")
            return
        except Exception as exc:  # a reader bug must not stop the import
            self._skip_unexpected(path, exc)
            return

        try:
            # Every row is made before the first is handed over, so that a
            # failure leaves no partial dataset behind.
            prefix = self.grammar.rd.sourceId.split("/")[0]
            accref = rows.product_accref(run, collection, prefix)
            obs = rows.obs_row(run, collection, accref)
            obs["s_region"] = _spoly(obs.pop("s_region_vertices"))
            obs["source_path"] = sources.source_key(path, base.getConfig("inputsDir"))
            obs["source_mtime"] = sources.source_mtime(path)
            gtis = rows.gti_rows(run)
        except Exception as exc:
            self._skip_unexpected(path, exc)
            return
        for problem in run.problems:
            base.ui.notifyInfo(f"hess_dr: {path}: {problem}")
        yield "obs_index", obs
        yield "products", obs
        for gti in gtis:
            # the products#define rowfilter sees every row and needs these
            gti.update(accref=accref, access_path=obs["access_path"],
                       access_format=obs["access_format"],
                       owner=obs["owner"], embargo=obs["embargo"])
            yield "gti", gti

    @staticmethod
    def _skip_unexpected(path, exc):
        """Report and skip a file that failed in a way hess_dr does not
        foresee (a bug: the message says where it happened).  A warning,
        not an error: DaCHS would exit with 101 after an error, although
        every other file is imported."""
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        base.ui.notifyWarning(
            f"hess_dr: skipped {path}: unexpected {type(exc).__name__}: {exc}"
            f" (at {os.path.basename(frame.filename)}:{frame.lineno}; please report)")
