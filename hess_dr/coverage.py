"""The coverage of a collection, computed from its published runs.

What the collection's registry record declares (VODataService 1.2
``coverage``), computed at the end of every import (q.rd's ``coverage``
data, rows of ``hess_dr.coverage``):

spatial
    a MOC (ASCII serialisation, order :data:`MOC_ORDER`) of the union of
    the runs' fields of view, the ``s_region`` polygons, made with mocpy;
    runs without a region (surveys beyond a hemisphere) add nothing;
temporal
    MJD intervals (TT, as VODataService asks) holding every run, runs less
    than :data:`MERGE_GAP_DAYS` apart in one interval (the gap widened until
    there are at most :data:`MAX_INTERVALS`);
spectral
    the event energies as one interval in Joules (VODataService 1.2: the
    messenger's energy).

The MOC is the costly part (about 1.3 ms a run at order 6); it is kept in
a cache keyed by a fingerprint of the collection's runs, so a re-import
that changed nothing does not compute it again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

#: HEALPix order of the spatial MOCs (order 6: cells of 0.92 deg, what
#: VODataService 1.2 asks at least; fields of view are degrees wide).
MOC_ORDER = 6
#: Runs closer in time than this (days) share a temporal interval.
MERGE_GAP_DAYS = 30.0
#: Most temporal intervals a record gets.
MAX_INTERVALS = 20
#: 1 eV in J.
EV_J = 1.602176634e-19
#: The VODataService waveband (IVOA messenger vocabulary) of every
#: hess_dr collection.
WAVEBAND = "Gamma-ray"

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_POINT = re.compile(rf"\(\s*({_NUMBER})\s*(d?)\s*,\s*({_NUMBER})\s*(d?)\s*\)")


@dataclasses.dataclass
class Coverage:
    """The coverage of one collection (a row of ``hess_dr.coverage``)."""

    collection: str
    obs_collection: str
    n_runs: int
    moc: str | None
    moc_order: int
    temporal: list[tuple[float, float]]
    energy_min_ev: float | None
    energy_max_ev: float | None
    facilities: list[str]
    instruments: list[str]
    fingerprint: str

    @property
    def spectral(self) -> tuple[float, float] | None:
        """The energy interval in Joules."""
        if self.energy_min_ev is None or self.energy_max_ev is None:
            return None
        return (self.energy_min_ev * EV_J, self.energy_max_ev * EV_J)

    def row(self) -> dict:
        """The ``hess_dr.coverage`` row."""
        spectral = self.spectral
        return {
            "collection": self.collection, "obs_collection": self.obs_collection,
            "n_runs": self.n_runs, "spatial_moc": self.moc, "moc_order": self.moc_order,
            "t_intervals": format_intervals(self.temporal),
            "t_min": self.temporal[0][0] if self.temporal else None,
            "t_max": self.temporal[-1][1] if self.temporal else None,
            "energy_min": self.energy_min_ev, "energy_max": self.energy_max_ev,
            "spectral_min": spectral[0] if spectral else None,
            "spectral_max": spectral[1] if spectral else None,
            "facilities": ", ".join(self.facilities) or None,
            "instruments": ", ".join(self.instruments) or None,
            "fingerprint": self.fingerprint}

    @classmethod
    def from_row(cls, row: dict) -> "Coverage":
        return cls(collection=row["collection"], obs_collection=row["obs_collection"],
                   n_runs=row["n_runs"], moc=row["spatial_moc"], moc_order=row["moc_order"],
                   temporal=parse_intervals(row["t_intervals"]),
                   energy_min_ev=row["energy_min"], energy_max_ev=row["energy_max"],
                   facilities=_split(row.get("facilities")),
                   instruments=_split(row.get("instruments")),
                   fingerprint=row.get("fingerprint") or "")


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def format_intervals(intervals: Sequence[tuple[float, float]]) -> str | None:
    """``"lo hi, lo hi"`` with 10 significant digits (about 1 s in MJD)."""
    if not intervals:
        return None
    return ", ".join(f"{lo:.10g} {hi:.10g}" for lo, hi in intervals)


def parse_intervals(text: str | None) -> list[tuple[float, float]]:
    result = []
    for part in (text or "").split(","):
        if part.strip():
            lo, hi = (float(v) for v in part.split())
            result.append((lo, hi))
    return result


# ------------------------------------------------------------------ space

def polygon_vertices(text: str) -> list[tuple[float, float]]:
    """The vertices (ra, dec in degrees) of a pgsphere ``spoly`` literal,
    ``{(1.4596 , 0.3744),...}`` in radians or ``{(83.6d , 21.5d),...}``
    in degrees."""
    vertices = []
    for lon, lon_deg, lat, lat_deg in _POINT.findall(text or ""):
        lon, lat = float(lon), float(lat)
        vertices.append((lon if lon_deg else math.degrees(lon),
                         lat if lat_deg else math.degrees(lat)))
    return vertices


def _mocpy():
    """mocpy, imported when needed (only the import's coverage uses it), in
    a way that works inside DaCHS: mocpy imports ``regions``, which fails
    under the C locale DaCHS sets (see hess_dr.irf.import_gammapy)."""
    with _import_lock:
        from .irf import import_gammapy
        return import_gammapy("mocpy")


#: One import of mocpy at a time (the locale switch is process-wide).
_import_lock = threading.Lock()


def preload_mocpy() -> None:
    """Import mocpy in a background thread (a quarter of a second).

    Called by the import once every file is read: DaCHS then builds its
    indexes, waiting on PostgreSQL, before the coverage is computed (q.rd's
    make_coverage); importing meanwhile takes that time off the import.
    """
    if "mocpy" in sys.modules:
        return

    def load():
        try:
            _mocpy()
        except Exception:  # noqa: BLE001 -- the coverage will say what fails
            pass
    threading.Thread(target=load, name="hess_dr-mocpy", daemon=True).start()


def spatial_moc(polygons: Iterable[Sequence[tuple[float, float]]],
                order: int = MOC_ORDER):
    """The mocpy MOC of the union of ``polygons`` (each a sequence of at
    least three (ra, dec) vertices in degrees), or None when there is none.

    Identical polygons (repeated pointings) are computed once.
    """
    MOC = _mocpy().MOC
    unique = {}
    for vertices in polygons:
        if vertices is None or len(vertices) < 3:
            continue
        key = tuple((round(ra % 360.0, 6), round(dec, 6)) for ra, dec in vertices)
        unique[key] = None
    if not unique:
        return None
    arrays = []
    for key in unique:
        coords = np.array(key, dtype=float)
        arrays += [coords[:, 0], coords[:, 1]]
    mocs = MOC.from_polygons(arrays, max_depth=order)
    if len(mocs) == 1:
        return mocs[0]
    return mocs[0].union(*mocs[1:])


def moc_ascii(moc) -> str | None:
    """The ASCII serialisation (MOC 1.1/2.0) of a mocpy MOC, on one line."""
    if moc is None:
        return None
    return " ".join(moc.to_string(format="ascii").split())


def moc_contains(moc_text: str, ra: float, dec: float) -> bool:
    """True if the ASCII MOC ``moc_text`` holds the position (degrees)."""
    import astropy.units as u
    from astropy.coordinates import Latitude, Longitude

    moc = _mocpy().MOC.from_string(moc_text, format="ascii")
    return bool(moc.contains_lonlat(Longitude([ra], u.deg), Latitude([dec], u.deg))[0])


# ------------------------------------------------------------------- time

def utc_to_tt(mjd_utc: np.ndarray) -> np.ndarray:
    """MJD UTC -> MJD TT (leap seconds from astropy's bundled table)."""
    from astropy.time import Time

    mjd_utc = np.asarray(mjd_utc, dtype=float)
    if mjd_utc.size == 0:
        return mjd_utc
    return Time(mjd_utc, format="mjd", scale="utc").tt.mjd


def temporal_intervals(starts: Sequence[float], stops: Sequence[float],
                       gap: float = MERGE_GAP_DAYS,
                       max_intervals: int = MAX_INTERVALS) -> list[tuple[float, float]]:
    """Merge the runs [start, stop] (MJD) into intervals holding them all:
    runs less than ``gap`` days apart share one; the gap is doubled until
    there are at most ``max_intervals``."""
    pairs = sorted((float(a), float(b)) for a, b in zip(starts, stops)
                   if a is not None and b is not None
                   and math.isfinite(a) and math.isfinite(b))
    if not pairs:
        return []
    while True:
        merged = [list(pairs[0])]
        for lo, hi in pairs[1:]:
            if lo - merged[-1][1] < gap:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        if len(merged) <= max_intervals:
            return [(lo, hi) for lo, hi in merged]
        gap *= 2


# ----------------------------------------------------------------- caching

class MocCache:
    """Spatial MOCs by fingerprint, as small JSON files in ``directory``."""

    def __init__(self, directory: str | os.PathLike | None):
        self.directory = Path(directory) if directory else None

    def _path(self, fingerprint: str, order: int) -> Path | None:
        if self.directory is None or not fingerprint:
            return None
        return self.directory / f"moc-{order}-{fingerprint}.json"

    def get(self, fingerprint: str, order: int) -> tuple[bool, str | None]:
        path = self._path(fingerprint, order)
        if path is None:
            return False, None
        try:
            return True, json.loads(path.read_text())["moc"]
        except (OSError, ValueError, KeyError):
            return False, None

    def put(self, fingerprint: str, order: int, moc: str | None) -> None:
        path = self._path(fingerprint, order)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"moc": moc}))
            os.replace(temporary, path)
        except OSError:
            pass  # a cache only


def fingerprint(parts: Iterable[str]) -> str:
    """SHA-256 (hex, 32 characters) of the parts, e.g. every run's dataset
    id and modification time."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "replace"))
        digest.update(b"\n")
    return digest.hexdigest()[:32]


def compute(collection: str, obs_collection: str, runs: Sequence[dict],
            polygons=None, facilities: Sequence[str] = (),
            instruments: Sequence[str] = (), cache: MocCache | None = None,
            order: int = MOC_ORDER) -> Coverage:
    """The coverage of a collection from its runs.

    Parameters
    ----------
    runs : sequence of dict
        One per published run, with ``obs_publisher_did``, ``source_mtime``
        (the fingerprint), ``t_min``, ``t_max`` (MJD UTC), ``energy_min``,
        ``energy_max`` (eV).
    polygons : callable
        Returns the runs' ``s_region`` polygons, each a spoly literal or a
        sequence of (ra, dec) vertices or None; called only when the MOC
        is not in the cache.
    cache : MocCache, optional
        Where the MOCs of earlier imports are kept.
    """
    run_fingerprint = fingerprint(
        f"{run.get('obs_publisher_did')}|{run.get('source_mtime')}"
        for run in sorted(runs, key=lambda r: str(r.get("obs_publisher_did"))))
    cache = cache or MocCache(None)
    found, moc = cache.get(run_fingerprint, order)
    if not found:
        shapes = (shape if not isinstance(shape, str) else polygon_vertices(shape)
                  for shape in (polygons() if polygons else ()))
        moc = moc_ascii(spatial_moc(shapes, order))
        cache.put(run_fingerprint, order, moc)
    timed = [run for run in runs
             if run.get("t_min") is not None and run.get("t_max") is not None]
    starts_tt = utc_to_tt(np.array([run["t_min"] for run in timed], dtype=float))
    stops_tt = utc_to_tt(np.array([run["t_max"] for run in timed], dtype=float))
    temporal = temporal_intervals(starts_tt, stops_tt)
    emins = [run["energy_min"] for run in runs if run.get("energy_min") is not None]
    emaxs = [run["energy_max"] for run in runs if run.get("energy_max") is not None]
    return Coverage(collection=collection, obs_collection=obs_collection,
                    n_runs=len(runs), moc=moc, moc_order=order, temporal=temporal,
                    energy_min_ev=min(emins) if emins else None,
                    energy_max_ev=max(emaxs) if emaxs else None,
                    facilities=sorted({f for f in facilities if f}),
                    instruments=sorted({i for i in instruments if i}),
                    fingerprint=run_fingerprint)
