"""One source file of an import -> its rows or the reason it is skipped.

:func:`ingest` is what the DaCHS grammar shim (res/dl3grammar.py) does for
every file, as a pure, picklable function: the shim may run it in worker
processes, ahead of DaCHS, and only converts the result to DaCHS types.
"""
from __future__ import annotations

import dataclasses
import os
import traceback

from astropy.io import fits

from . import dl3, rows, sources
from .config import Config


@dataclasses.dataclass
class Outcome:
    """What became of one source file.

    Attributes
    ----------
    path : str
    level : str
        ``"ok"``; ``"info"`` (not an event list); ``"warning"`` (skipped).
    message : str or None
        Why it was skipped (names the file).
    obs : dict or None
        The hess_dr.obs_index row (``s_region_vertices`` still a list).
    gtis : list of dict
        The hess_dr.gti rows.
    problems : list of str
        Caveats of a published file.
    """

    path: str
    level: str
    message: str | None = None
    obs: dict | None = None
    gtis: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)


def _skipped(path, message, level="warning") -> Outcome:
    return Outcome(path=path, level=level, message=message)


def _unexpected(path, exc) -> Outcome:
    """A file that failed in a way hess_dr does not foresee (a bug: the
    message says where it happened)."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return _skipped(path, f"hess_dr: skipped {path}: unexpected {type(exc).__name__}: {exc}"
                          f" (at {os.path.basename(frame.filename)}:{frame.lineno};"
                          " please report)")


def ingest(path: str, configuration: Config, inputs_dir: str, prefix: str,
           cache_dir: str | None = None) -> Outcome:
    """Read one source file into its rows, or say why it is skipped.

    Parameters
    ----------
    path : str
        The file, as DaCHS lists it.
    configuration : hess_dr.config.Config
    inputs_dir : str
        DaCHS's inputs directory (for the incremental-import key).
    prefix : str
        First part of the access references (the resource directory's name).
    cache_dir : str, optional
        hess_dr's cache directory (DaCHS's cacheDir/hess_dr): the event
        cache the services read instead of the files is filled there.
    """
    return ingest_many([path], configuration, inputs_dir, prefix, cache_dir)[0]


def ingest_many(paths: list[str], configuration: Config, inputs_dir: str,
                prefix: str, cache_dir: str | None = None) -> list[Outcome]:
    """:func:`ingest` for several files: one task of a reader process.

    A task per file would cost about as much in inter-process traffic as a
    small file's reading; and the times of all the task's runs are
    converted together (one astropy conversion per time reference instead
    of one per file).
    """
    cache = None
    if cache_dir is not None:
        from .events import EventCache, events_dir
        cache = EventCache(events_dir(cache_dir))
    read = [_read(path, configuration, cache) for path in paths]
    runs = [item for item in read if isinstance(item, tuple)]
    try:
        errors = dl3.convert_times_of([run for run, _ in runs])
    except Exception as exc:  # a bug must not stop the import (nor the other tasks)
        errors = [exc] * len(runs)
    time_errors = iter(errors)  # one per run read, in order
    outcomes = []
    for path, item in zip(paths, read):
        if isinstance(item, Outcome):
            outcomes.append(item)
            continue
        error = next(time_errors)
        if isinstance(error, dl3.DL3Error):
            outcomes.append(_skipped(path, f"hess_dr: skipped {error}"))
        elif error is not None:
            outcomes.append(_unexpected(path, error))
        else:
            outcomes.append(_rows(path, *item, inputs_dir, prefix))
    return outcomes


def _read(path: str, configuration: Config, cache=None):
    """(run, collection) of a file, or the Outcome saying why it is skipped
    (its times are not converted yet)."""
    collection = configuration.collection_for(path)
    if collection is None:
        return _skipped(path, f"hess_dr: skipped {path}: not below any configured data_dir")
    if not os.path.relpath(path, collection.data_dir).isascii():
        # The dataset id holds the path; DaCHS 2.7's TAP writes text
        # columns as ASCII ('?' for the rest), so nobody could use it.
        return _skipped(path, f"hess_dr: skipped {path}: non-ASCII file name: its publisher"
                              " DID would reach TAP clients with '?' in place of those"
                              " characters; rename it")
    loop = sources.looping_link(path, str(collection.data_dir))
    if loop is not None:
        return _skipped(path, f"hess_dr: skipped {path}: reached through the symbolic link"
                              f" {loop}, which points back to {os.path.realpath(loop)} (a"
                              " loop: the file is read under its other name)")
    try:
        return dl3.read_run(path, collection, convert_times=False, cache=cache), collection
    except dl3.NotAnEventList as exc:
        return _skipped(path, f"hess_dr: not an event list, skipped: {exc}", level="info")
    except dl3.DL3Error as exc:
        return _skipped(path, f"hess_dr: skipped {exc}")
    except Exception as exc:  # a reader bug must not stop the import
        return _unexpected(path, exc)


def _rows(path: str, run: dl3.Run, collection, inputs_dir: str, prefix: str) -> Outcome:
    """The Outcome of a run read (and its times converted)."""
    try:
        # Every row is made before any is handed over, so that a failure
        # leaves no partial dataset behind.
        accref = rows.product_accref(run, collection, prefix)
        obs = rows.obs_row(run, collection, accref)
        obs["source_path"] = sources.source_key(path, inputs_dir)
        obs["source_mtime"] = sources.source_mtime(path)
        # what the services serve from (hess_dr.layout)
        obs["layout"] = run.layout.to_json(run.path)
        gtis = rows.gti_rows(run)
    except Exception as exc:
        return _unexpected(path, exc)
    for gti in gtis:
        # DaCHS's products#define rowfilter sees every row and needs these
        gti.update(accref=accref, access_path=obs["access_path"],
                   access_format=obs["access_format"],
                   owner=obs["owner"], embargo=obs["embargo"])
    return Outcome(path=path, level="ok", obs=obs, gtis=gtis, problems=list(run.problems))


def import_reader_modules() -> None:
    """Import what reading a file imports on first need (the PSF radius:
    scipy), in a process that forks its readers (they start with it)."""
    from . import irf, psf  # noqa: F401


def prepare_reader_process() -> None:
    """Set up a process that only reads files for an import.

    astropy looks up and re-validates its ``io.fits`` configuration on
    every card it parses (about 230 times for a small event list, a tenth
    of its reading time); a reader process takes the values once.
    """
    freeze_config(fits.conf)


def freeze_config(namespace) -> None:
    """Turn an astropy ``ConfigNamespace``'s items into plain attributes
    holding their current values (later changes to the configuration file
    are no longer seen by this namespace object)."""
    values = {name: getattr(namespace, name) for name in namespace}
    cls = type(namespace)
    namespace.__class__ = type(f"Frozen{cls.__name__}", (cls,), values)
