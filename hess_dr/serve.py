"""The heavy work of hess_dr's services, as functions of plain arguments
that a worker process of :mod:`hess_dr.heavy` runs.

Each takes a :class:`Job` -- what the import stored about one run (its
obs_index fields, its GTIs) and where its file and the caches are -- and
returns the bytes to send.  The run is the stored record
(:func:`hess_dr.stored.record_for`): no index file or header is read again,
and the events come from the per-file cache the import filled.
"""
from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np

from . import cutout, products, stored
from .events import EventCache, events_dir


@dataclasses.dataclass(frozen=True)
class Job:
    """One run, as a serving request needs it.

    Attributes
    ----------
    row : dict
        The run's obs_index fields (:func:`hess_dr.stored.row_fields`).
    path : str
        The event file.
    gti_start, gti_stop : numpy.ndarray
        The run's GTIs in the events' MET (hess_dr.gti).
    collection : hess_dr.config.Collection
        For reading the file again if it changed since the import.
    cache_dir : str or None
        Root of hess_dr's caches (DaCHS's cacheDir/hess_dr).
    """

    row: dict
    path: str
    gti_start: np.ndarray
    gti_stop: np.ndarray
    collection: object
    cache_dir: str | None = None

    def run(self):
        return stored.record_for(self.row, self.path, self.gti_start, self.gti_stop,
                                 self.collection)

    def event_cache(self) -> EventCache | None:
        if self.cache_dir is None:
            return None
        root = events_dir(self.cache_dir)
        if root not in _CACHES:  # (one per process: it keeps parsed entries)
            _CACHES[root] = EventCache(root)
        return _CACHES[root]


_CACHES: dict = {}


def previews_dir(cache_dir: str | os.PathLike) -> str:
    """Where previews are cached below hess_dr's cache root."""
    return os.path.join(cache_dir, "previews")


def cutout_job(job: Job, spec) -> bytes:
    """The cutout file of a run (FITS bytes)."""
    return cutout.cutout_bytes(job.run(), spec, job.event_cache())


def bundle_job(job: Job) -> bytes:
    """Events, GTIs and every IRF of a run in one file (FITS bytes)."""
    return products.bundle_bytes(job.run(), job.event_cache())


def irf_job(job: Job, hdu_type: str) -> bytes:
    """One IRF of a run as a GADF file (FITS bytes)."""
    return products.single_irf_bytes(job.run(), hdu_type, job.event_cache())


def preview_job(job: Job, kind: str) -> bytes:
    """A preview PNG of a run, through the preview cache."""
    from . import preview  # (matplotlib: only where previews are drawn)
    run = job.run()
    cache = job.event_cache()
    builder = preview.BUILDERS[kind]
    directory = previews_dir(job.cache_dir) if job.cache_dir else None
    if directory is None:
        return builder(run, cache=cache)
    png, from_cache = preview.cached_png(directory, preview.run_key(run), kind,
                                         lambda: builder(run, cache=cache))
    if not from_cache:  # (a worker's stderr is the server's log)
        print(f"hess_dr: rendered {kind} of {os.path.basename(job.path)}", file=sys.stderr,
              flush=True)
    return png
