"""A run as the import stored it: what serving code starts from.

Cutouts, bundles, single IRFs, previews and the GTI table need a run's
metadata (its ``hess_dr.obs_index`` row), its GTIs (``hess_dr.gti``, in
the events' MET) and the reader's decisions about its file (the
:class:`~hess_dr.layout.Layout` stored in the row).  :class:`StoredRun`
holds them under the attribute names of :class:`hess_dr.dl3.Run`, so the
product builders take either.  :func:`record_for` returns it when the
files are still those the import read (same size and modification time),
and otherwise reads the event list again (once per file version).
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.time import Time

from .layout import Layout
from .timeref import RunTimes, time_reference

#: The obs_index columns a StoredRun is made of (plain values only: the job
#: of a worker process carries them).
FIELDS = ("obs_id", "collection", "telescop", "instrume", "object", "target_name",
          "ra_pnt", "dec_pnt", "ra_obj", "dec_obj", "tstart", "tstop", "deadc",
          "date_obs", "time_obs", "t_min", "t_max", "safe_energy_lo", "safe_energy_hi",
          "energy_min", "energy_max", "event_count", "s_ra", "s_dec", "s_fov",
          "s_region_origin", "access_format", "layout", "obs_publisher_did")


def row_fields(row: dict) -> dict:
    """The :data:`FIELDS` of an obs_index row as plain Python values."""
    out = {}
    for key in FIELDS:
        value = row.get(key)
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (datetime.date, datetime.datetime)):
            value = value.isoformat()
        out[key] = value
    return out


class StoredRun:
    """The run of an obs_index row, its GTIs and its layout.

    Parameters
    ----------
    row : dict
        The obs_index row (at least :data:`FIELDS`).
    path : path-like
        The event file (the row's accref below DaCHS's inputs directory).
    gti_start, gti_stop : array-like
        The GTIs in the events' MET (``hess_dr.gti.met_start/met_stop``
        ordered by ``gti_index``).
    layout : hess_dr.layout.Layout
    """

    def __init__(self, row: dict, path, gti_start, gti_stop, layout: Layout):
        from .dl3 import GTI, Footprint  # (dl3 imports this package's readers)
        self.row = row
        self.path = Path(path)
        self.layout = layout
        self.obs_id = str(row["obs_id"])
        self.collection = row.get("collection")
        self.telescope = row.get("telescop")
        self.instrument = row.get("instrume")
        self.object_name = row.get("object")
        self.target_name = row.get("target_name")
        for key in ("ra_pnt", "dec_pnt", "ra_obj", "dec_obj", "deadc"):
            setattr(self, key, _float(row.get(key)))
        self.tstart, self.tstop = float(row["tstart"]), float(row["tstop"])
        self.date_obs, self.time_obs = row.get("date_obs"), row.get("time_obs")
        self.event_count = row.get("event_count")
        self.safe_energy_lo = _quantity(row.get("safe_energy_lo"), u.TeV)
        self.safe_energy_hi = _quantity(row.get("safe_energy_hi"), u.TeV)
        self.energy_min = _quantity(row.get("energy_min"), u.eV)
        self.energy_max = _quantity(row.get("energy_max"), u.eV)
        self.data_format = layout.data_format
        self.irfs = layout.irfs
        self.time_ref = time_reference(layout.time_keywords)
        start = np.asarray(gti_start, dtype=float)
        stop = np.asarray(gti_stop, dtype=float)
        self.times = RunTimes(self.time_ref, tstart=self.tstart, tstop=self.tstop,
                              gti_start=start, gti_stop=stop)
        self.gti = GTI(start_met=start, stop_met=stop, times=self.times)
        self.footprint = None
        origin = row.get("s_region_origin")
        if origin in ("file-roi", "events") and row.get("s_fov") is not None:
            self.footprint = Footprint(float(row["s_ra"]), float(row["s_dec"]),
                                       float(row["s_fov"]) / 2, origin)

    @property
    def t_start(self) -> Time:
        """TSTART as an absolute time (the file's scale)."""
        return self.times.time("tstart")

    @property
    def t_stop(self) -> Time:
        return self.times.time("tstop")

    def irf(self, hdu_type: str):
        return self.layout.irf(hdu_type)


def _float(value):
    return None if value is None else float(value)


def _quantity(value, unit):
    return None if value is None else float(value) * unit


class StaleRecord(Exception):
    """The stored record does not describe the file as it is now."""


def stored_run(row: dict, path, gti_start, gti_stop) -> StoredRun:
    """The :class:`StoredRun` of a row whose files are still the ones the
    import read.

    Raises
    ------
    StaleRecord
        If the row has no usable layout (an import by an older hess_dr),
        or the event file or a separate IRF file changed since the import.
    """
    try:
        layout = Layout.from_json(row.get("layout"), path)
    except (ValueError, TypeError, KeyError) as exc:
        raise StaleRecord(f"no stored layout ({exc})") from None
    if not layout.current(path):
        raise StaleRecord("the file changed since its import")
    return StoredRun(row, path, gti_start, gti_stop, layout)


def record_for(row: dict, path, gti_start, gti_stop, collection):
    """The run to serve: its :class:`StoredRun`, or, when the files changed
    since the import, the event list read again (:func:`fresh_run`).

    Raises
    ------
    hess_dr.dl3.DL3Error
        If the file must be read again and cannot be.
    """
    try:
        return stored_run(row, path, gti_start, gti_stop)
    except StaleRecord:
        return fresh_run(path, collection)


_FRESH: dict = {}
_FRESH_SIZE = 16


def fresh_run(path, collection):
    """``dl3.read_run`` of a file (no PSF), cached by path, size,
    modification time and collection name."""
    from . import dl3
    status = os.stat(path)
    key = (os.path.abspath(path), status.st_size, status.st_mtime_ns, collection.name)
    run = _FRESH.pop(key, None)
    if run is None:
        run = dl3.read_run(path, collection, resolve_psf=False)
    _FRESH[key] = run  # most recent last
    while len(_FRESH) > _FRESH_SIZE:
        _FRESH.pop(next(iter(_FRESH)))
    return run
