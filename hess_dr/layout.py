"""Where the parts of an event list are and how to read them.

:func:`hess_dr.dl3.read_run` decides, once per file, which HDU holds the
events, which the GTIs, where each IRF lives (the event file, or another
file an hdu-index names), the unit of the ENERGY column (TUNIT, EUNIT or
the configuration) and the time reference (the EVENTS header completed
from the obs-index and the configuration).  Those decisions are a
:class:`Layout`; the import stores it with the run (``hess_dr.obs_index.
layout``, as the JSON of :meth:`Layout.to_json`) and everything that reads
the file later (cutouts, bundles, single IRFs, previews) starts from it
instead of deciding again, so no two readers can disagree.

The JSON holds no absolute path: the event file is the one the row is
about, and separate IRF files are given relative to its directory.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from .index import HduRef

#: Version of the stored JSON form; a record of another version is not used
#: (the run is read again).
VERSION = 1

#: Event columns a cut or a preview may need (upper-case names).
QUANTITIES = ("TIME", "ENERGY", "RA", "DEC")

#: Runs with at most this many GTIs carry them in the layout (serving then
#: needs no query of hess_dr.gti); longer lists stay in that table only.
MAX_STORED_GTIS = 64


@dataclasses.dataclass(frozen=True)
class FileStamp:
    """Identity of a file's content: size and modification time (what a
    stored record is checked against), and the sha256 of its bytes when
    known (the key of the caches built from it)."""

    size: int
    mtime_ns: int
    sha256: str | None = None

    def same_file(self, stat_result: os.stat_result) -> bool:
        """Whether a file's current ``os.stat`` still matches this stamp."""
        return stat_result.st_size == self.size and stat_result.st_mtime_ns == self.mtime_ns

    @classmethod
    def of(cls, path: str | os.PathLike, sha256: str | None = None) -> "FileStamp":
        status = os.stat(path)
        return cls(size=status.st_size, mtime_ns=status.st_mtime_ns, sha256=sha256)


@dataclasses.dataclass(frozen=True)
class Layout:
    """The reader's decisions about one event list (see the module docstring).

    Attributes
    ----------
    events_hdu : int
        Position of the EVENTS table in the file (0 is PRIMARY).
    gti_hdu : int or None
        Position of the GTI table, or None (one interval TSTART-TSTOP).
    columns : dict
        For each of :data:`QUANTITIES` the file has: (column name as
        written, its TUNIT or None).
    energy_unit : str
        Unit of the ENERGY column values (FITS string, e.g. ``TeV``).
    energy_unit_from : str
        Where it comes from: ``TUNIT``, ``EUNIT`` (EVENTS header),
        ``PRIMARY EUNIT``, ``obs-index`` or ``configuration``.
    time_keywords : dict
        MJDREFI, MJDREFF, MJDREF, TIMESYS, TIMEUNIT, TIMEZERO as the run's
        time reference was built from (EVENTS header, else obs-index, else
        configuration; TIMESYS always set); :func:`hess_dr.timeref.
        time_reference` of it is the run's time reference.
    irfs : tuple of hess_dr.index.HduRef
        Every IRF of the run, in :data:`hess_dr.dl3.IRF_TYPES` order, with
        absolute paths.
    data_format : str
        ``gadf`` or ``ogip``.
    stamp : FileStamp or None
        The event file as it was read.
    irf_stamps : dict
        {absolute path: FileStamp} of the separate IRF files.
    gti : tuple or None
        (starts, stops) of the GTIs in the events' MET, as in hess_dr.gti,
        for runs with at most :data:`MAX_STORED_GTIS` of them; else None.
    """

    events_hdu: int
    gti_hdu: int | None
    columns: dict
    energy_unit: str
    energy_unit_from: str
    time_keywords: dict
    irfs: tuple = ()
    data_format: str = "gadf"
    stamp: FileStamp | None = None
    irf_stamps: dict = dataclasses.field(default_factory=dict)
    gti: tuple | None = None

    def column(self, quantity: str) -> str | None:
        """The name of the column holding ``quantity`` (TIME, ENERGY, RA,
        DEC), or None when the file has none."""
        entry = self.columns.get(quantity)
        return None if entry is None else entry[0]

    def unit(self, quantity: str) -> str | None:
        """TUNIT of that column as written (None when absent)."""
        entry = self.columns.get(quantity)
        return None if entry is None else entry[1]

    def irf(self, hdu_type: str) -> HduRef | None:
        return next((ref for ref in self.irfs if ref.hdu_type == hdu_type), None)

    # ---------------------------------------------------------------- JSON

    def to_json(self, event_path: str | os.PathLike) -> str:
        """Compact JSON; IRF paths relative to the event file's directory."""
        base = os.path.dirname(os.path.abspath(event_path))
        here = os.path.abspath(event_path)
        irfs = []
        for ref in self.irfs:
            path = os.path.abspath(ref.path)
            stamp = self.irf_stamps.get(path)
            irfs.append([ref.hdu_type, ref.hdu_class, ref.hdu,
                         None if path == here else os.path.relpath(path, base),
                         None if stamp is None else [stamp.size, stamp.mtime_ns]])
        doc = {"v": VERSION, "events": self.events_hdu, "gti": self.gti_hdu,
               "columns": self.columns, "energy_unit": self.energy_unit,
               "energy_unit_from": self.energy_unit_from, "time": self.time_keywords,
               "irfs": irfs, "format": self.data_format,
               "file": None if self.stamp is None else
               [self.stamp.size, self.stamp.mtime_ns, self.stamp.sha256],
               "gtis": None if self.gti is None else
               [[float(v) for v in self.gti[0]], [float(v) for v in self.gti[1]]]}
        return json.dumps(doc, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, event_path: str | os.PathLike) -> "Layout":
        """The layout stored for the event file ``event_path``.

        Raises
        ------
        ValueError
            If ``text`` is not a stored layout of this :data:`VERSION`.
        """
        try:
            doc = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a stored layout: {exc}") from None
        if not isinstance(doc, dict) or doc.get("v") != VERSION:
            raise ValueError("stored layout of another version")
        here = os.path.abspath(event_path)
        base = os.path.dirname(here)
        irfs, stamps = [], {}
        for hdu_type, hdu_class, hdu, relative, stamp in doc["irfs"]:
            path = here if relative is None else os.path.normpath(os.path.join(base, relative))
            irfs.append(HduRef(hdu_type=hdu_type, hdu_class=hdu_class, path=Path(path), hdu=hdu))
            if stamp is not None:
                stamps[path] = FileStamp(size=stamp[0], mtime_ns=stamp[1])
        file = doc.get("file")
        return cls(events_hdu=int(doc["events"]), gti_hdu=doc["gti"],
                   columns={k: tuple(v) for k, v in doc["columns"].items()},
                   energy_unit=doc["energy_unit"], energy_unit_from=doc["energy_unit_from"],
                   time_keywords=dict(doc["time"]), irfs=tuple(irfs),
                   data_format=doc.get("format", "gadf"),
                   stamp=None if file is None else FileStamp(*file), irf_stamps=stamps,
                   gti=None if doc.get("gtis") is None else
                   (tuple(doc["gtis"][0]), tuple(doc["gtis"][1])))

    def current(self, event_path: str | os.PathLike) -> bool:
        """Whether the event file and the separate IRF files are still the
        ones this layout describes (same size and modification time)."""
        if self.stamp is None:
            return False
        try:
            if not self.stamp.same_file(os.stat(event_path)):
                return False
            return all(stamp.same_file(os.stat(path)) for path, stamp in self.irf_stamps.items())
        except OSError:
            return False
