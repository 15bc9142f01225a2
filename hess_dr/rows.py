"""Database rows from a :class:`~hess_dr.dl3.Run`: plain dicts in the units
the resource descriptor declares.

* :func:`obs_row`: one row of ``hess_dr.obs_index`` (GADF obs-index columns,
  plus what ``ivoa.obscore`` and ``ivoa.obscore_hea`` are computed from);
* :func:`gti_rows`: rows of ``hess_dr.gti``, one per good time interval.

Times published as MJD are UTC (:data:`PUBLISHED_SCALE`), whatever the
file's TIMESYS; MET values are copied as written.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Iterable

import numpy as np
from astropy import units as u
from astropy.coordinates.angle_utilities import offset_by
from astropy.time import Time

from . import access
from .config import Collection
from .dl3 import Run

#: Time scale of every MJD value hess_dr publishes (t_min, t_max, GTIs).
PUBLISHED_SCALE = "utc"

#: Vertices of the polygon approximating the circular field of view.  Eight
#: keep every edge within 7.6% of the radius of the circle (the acceptance
#: of an IACT camera fades out well before its edge).  pgsphere 1.2's cost
#: grows with the square of the vertex count: building the s_region index
#: of 10,000 runs takes 1.1 s with 4 vertices, 4.5 s with 8, 9.6 s with 12
#: and 39 s with 24 (single-threaded, at the end of every full import);
#: parsing a polygon 0.05, 0.1, 0.2 and 0.7 ms.
FOV_POLYGON_VERTICES = 8

#: ObsCore access_format (media type) of each :attr:`Run.data_format`.
ACCESS_FORMATS = {"gadf": "application/x-fits-gadf", "ogip": "application/x-fits-ogip"}

#: T-MOC order used for t_intervals: 61 is the finest, one microsecond.
TMOC_ORDER = 61

_US_PER_DAY = 86_400_000_000


def mjd(time: Time) -> np.ndarray | float:
    """MJD in :data:`PUBLISHED_SCALE`."""
    return getattr(time, PUBLISHED_SCALE).mjd


def product_accref(run: Run, collection: Collection, prefix: str = "hess_dr") -> str:
    """The DaCHS access reference of an event list: ``<prefix>/<collection>/<path
    relative to the collection's data directory>``."""
    relative = Path(os.path.relpath(run.path, collection.data_dir)).as_posix()
    return f"{prefix}/{collection.name}/{relative}"


def fov_polygon(ra: float, dec: float, diameter: float) -> list[tuple[float, float]]:
    """Vertices (deg) of a polygon inscribed in the circular field of view."""
    angles = np.linspace(0, 2 * np.pi, FOV_POLYGON_VERTICES, endpoint=False)
    lon, lat = _offset_by(np.radians(ra), np.radians(dec), angles, np.radians(diameter / 2))
    # Counter-clockwise on the sky (east of north is increasing position
    # angle), which is what pgsphere expects for the inside of a polygon.
    return list(zip(np.degrees(lon).tolist(), np.degrees(lat).tolist()))


def _offset_by(lon: float, lat: float, posang: np.ndarray, distance: float):
    """(lon, lat) in radians of the points at ``distance`` from (lon, lat)
    towards the position angles ``posang`` (all radians; lon in [0, 2 pi)).

    The spherical-trigonometry formulae of astropy's ``offset_by``, on plain
    floats: astropy wraps every intermediate value in an Angle, which costs
    half a millisecond a run at import.  At a pole, astropy's own handling
    of the limit is used.
    """
    sin_c, cos_c = np.cos(lat), np.sin(lat)  # c: the co-latitude of the start
    if sin_c < 1e-12:
        lon_out, lat_out = offset_by(lon, lat, posang, distance)
        return lon_out.to_value(u.rad), lat_out.to_value(u.rad)
    cos_a, sin_a = np.cos(distance), np.sin(distance)
    cos_b = cos_c * cos_a + sin_c * sin_a * np.cos(posang)  # b: the end's co-latitude
    delta_lon = np.arctan2(sin_a * np.sin(posang) * sin_c, cos_a - cos_b * cos_c)
    lon_out = np.mod(lon + delta_lon, 2 * np.pi)
    lon_out[lon_out >= 2 * np.pi] = 0.0  # np.mod of a tiny negative angle rounds to 2 pi
    return lon_out, np.arcsin(np.clip(cos_b, -1.0, 1.0))


def enclosing_polygon(ra: float, dec: float, radius: float) -> list[tuple[float, float]] | None:
    """Vertices (deg) of a polygon containing the circle of ``radius`` (deg).

    The regular spherical polygon whose inscribed circle is the given one:
    its vertices lie at R = atan(tan(radius) / cos(pi / N)) from the centre,
    so every point of the circle is inside.  None for a radius of 90 deg or
    more (a hemisphere or more: no meaningful region).
    """
    if not (0 < radius < 90):
        return None
    vertex_radius = np.degrees(np.arctan(np.tan(np.radians(radius))
                                         / np.cos(np.pi / FOV_POLYGON_VERTICES)))
    if vertex_radius >= 90:
        return None
    return fov_polygon(ra, dec, 2 * float(vertex_radius))


def sky_region(run: Run, collection: Collection) -> dict:
    """s_ra, s_dec, s_fov, the s_region polygon and where they come from.

    * pointed runs: the pointing, and the polygon inscribed in the
      configured field of view around it (``'pointing'``);
    * runs without a pointing: the circle of :attr:`Run.footprint` (the
      file's region of interest, ``'file-roi'``, or the circle around the
      events' mean direction holding every event, ``'events'``): its centre,
      its diameter as s_fov and a polygon containing it, when that polygon
      stays within 90 deg of the centre;
    * otherwise everything NULL.
    """
    none = {"s_ra": None, "s_dec": None, "s_fov": None, "s_region_vertices": None,
            "s_region_origin": None}
    if run.ra_pnt is not None and run.dec_pnt is not None:
        fov = collection.fov_diameter_deg
        return {"s_ra": run.ra_pnt, "s_dec": run.dec_pnt, "s_fov": fov,
                "s_region_vertices": fov_polygon(run.ra_pnt, run.dec_pnt, fov) if fov else None,
                "s_region_origin": "pointing" if fov else None}
    footprint = run.footprint
    if footprint is None or run.ra_pnt is not None or run.dec_pnt is not None:
        return none
    vertices = enclosing_polygon(footprint.ra, footprint.dec, footprint.radius)
    if vertices is None:
        return none
    return {"s_ra": footprint.ra, "s_dec": footprint.dec, "s_fov": 2 * footprint.radius,
            "s_region_vertices": vertices, "s_region_origin": footprint.origin}


def _microseconds(jd1, jd2) -> np.ndarray:
    """Integer microseconds since JD 0 of two-part TDB Julian dates, the
    T-MOC time axis (MOC 2.0)."""
    # jd1 holds whole (or half) days: keep it in exact integer arithmetic,
    # since float64 cannot represent ~2e17 microseconds exactly.
    whole = np.round(np.atleast_1d(jd1) * 2).astype(np.int64)
    frac = np.atleast_1d(jd2) * _US_PER_DAY
    return whole * (_US_PER_DAY // 2) + np.round(frac).astype(np.int64)


def tmoc_ascii(start: Time, stop: Time, order: int = TMOC_ORDER) -> str:
    """The intervals [start, stop) as an ASCII T-MOC (MOC 2.0), e.g. ``t61/a-b c-d``.

    Overlapping or touching intervals are merged; cells at ``order`` last
    2**(61-order) microseconds, and every cell touched by an interval is in.
    """
    return tmoc_from_tdb((start.tdb.jd1, start.tdb.jd2), (stop.tdb.jd1, stop.tdb.jd2), order)


def tmoc_from_tdb(start: tuple, stop: tuple, order: int = TMOC_ORDER) -> str:
    """:func:`tmoc_ascii` of intervals given as two-part TDB Julian dates
    ``(jd1, jd2)`` (what :meth:`hess_dr.timeref.RunTimes.jd` returns)."""
    shift = 61 - order
    first = _microseconds(*start) >> shift
    last = (_microseconds(*stop) - 1) >> shift
    order_idx = np.argsort(first, kind="stable")
    merged: list[list[int]] = []
    for lo, hi in zip(first[order_idx].tolist(), last[order_idx].tolist()):
        if hi < lo:
            continue
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    cells = " ".join(f"{lo}-{hi}" if hi > lo else f"{lo}" for lo, hi in merged)
    return f"t{order}/{cells}"


def pointing_mode(convergence_depth: float | None) -> str | None:
    """ObsCore-HEA pointing_mode from CONV_DEP (0: all telescopes parallel)."""
    if convergence_depth is None:
        return None
    if convergence_depth == 0:
        return "parallel"
    return "convergent" if convergence_depth > 0 else "divergent"


def _tev(quantity: u.Quantity | None) -> float | None:
    return None if quantity is None else float(quantity.to_value(u.TeV))


def _ev(quantity: u.Quantity | None) -> float | None:
    return None if quantity is None else float(quantity.to_value(u.eV))


def obs_title(run: Run, collection: Collection) -> str:
    target = run.object_name or run.target_name or "unknown target"
    return f"{collection.title_prefix} run {run.obs_id} ({target})"


def obs_row(run: Run, collection: Collection, accref: str) -> dict:
    """The ``hess_dr.obs_index`` row of a run.

    Parameters
    ----------
    run : hess_dr.dl3.Run
    collection : hess_dr.config.Collection
    accref : str
        The product's access reference (see :func:`product_accref`).
    """
    time_ref = run.time_ref
    epoch = time_ref.epoch
    mjdrefi = float(np.floor(epoch.jd1 - 2400000.5 + epoch.jd2))
    # (jd1 - MJD zero - mjdrefi) is exact in float64; adding jd2 last keeps
    # the sub-microsecond precision of the header's MJDREFF.
    mjdreff = float((epoch.jd1 - 2400000.5 - mjdrefi) + epoch.jd2)
    t_min = run.times.mjd("tstart", PUBLISHED_SCALE)
    return {
        "accref": accref,
        "access_path": str(run.path),
        "access_format": ACCESS_FORMATS[run.data_format],
        "collection": collection.name,
        "obs_collection": collection.obs_collection,
        "calib_level": collection.calib_level,
        "obs_id": run.obs_id,
        "obs_title": obs_title(run, collection),
        "facility_name": collection.facility_name or run.telescope,
        "telescop": run.telescope,
        "instrume": run.instrument,
        "object": run.object_name,
        "target_name": run.target_name,
        "target_tag": run.target_tag,
        "obs_mode": run.obs_mode,
        "ev_class": run.event_class,
        "ra_pnt": run.ra_pnt, "dec_pnt": run.dec_pnt,
        "glon_pnt": run.glon_pnt, "glat_pnt": run.glat_pnt,
        "alt_pnt": run.alt_pnt, "az_pnt": run.az_pnt, "zen_pnt": run.zen_pnt,
        "ra_obj": run.ra_obj, "dec_obj": run.dec_obj,
        "ontime": run.ontime, "livetime": run.livetime, "deadc": run.deadc,
        "tstart": run.tstart, "tstop": run.tstop,
        "mjdrefi": mjdrefi,
        "mjdreff": mjdreff,
        "timesys": time_ref.timesys,
        "date_obs": run.date_obs, "time_obs": run.time_obs,
        "date_end": run.date_end, "time_end": run.time_end,
        "t_min": t_min,
        "t_max": run.times.mjd("tstop", PUBLISHED_SCALE),
        "n_tels": run.n_tels, "tellist": run.tellist, "quality": run.quality,
        "muoneff": run.muoneff,
        "geolon": run.geolon, "geolat": run.geolat, "altitude": run.altitude,
        "event_count": run.event_count,
        "safe_energy_lo": _tev(run.safe_energy_lo), "safe_energy_hi": _tev(run.safe_energy_hi),
        "energy_min": _ev(run.energy_min), "energy_max": _ev(run.energy_max),
        "em_min": run.wavelength_min, "em_max": run.wavelength_max,
        **sky_region(run, collection),
        "s_resolution": None if run.psf_radius is None else float(run.psf_radius.to_value(u.arcsec)),
        "s_ref_energy": _ev(run.psf_ref_energy),
        "s_ref_oaa": None if run.psf_ref_offset is None else float(run.psf_ref_offset.to_value(u.deg)),
        "t_intervals": tmoc_from_tdb(run.times.jd("gti_start"), run.times.jd("gti_stop")),
        "gti_count": len(run.gti),
        "tracking_mode": collection.tracking_mode,
        "scan_mode": collection.scan_mode(run.obs_mode),
        "pointing_mode": pointing_mode(run.convergence_depth),
        "analysis_mode": run.irf_containment,
        "messenger_name": collection.messenger_name,
        "messenger_pdgid": collection.messenger_pdgid,
        "irf_types": " ".join(ref.hdu_type for ref in run.irfs) or None,
        **rights_columns(collection, run.obs_id, t_min),
        "problems": "; ".join(run.problems) or None,
    }


_MJD_ZERO = datetime.date(1858, 11, 17)


def rights_columns(collection: Collection, obs_id, t_min: float | None) -> dict:
    """A run's ``owner``, ``obs_release_date`` (its first public day at
    00:00 UTC, ObsCore's timestamp) and DaCHS's products ``embargo``, from
    the collection's release rules and the run's start (MJD UTC)
    (:mod:`hess_dr.access`)."""
    observed = None
    if t_min is not None and np.isfinite(t_min):
        observed = _MJD_ZERO + datetime.timedelta(days=int(np.floor(t_min)))
    owner, release = collection.rights_of(obs_id, observed)
    return {"owner": owner, "embargo": access.products_embargo(owner, release),
            "obs_release_date": (datetime.datetime.combine(release, datetime.time())
                                 if release is not None else None)}


def rights_changes(stored: Iterable[dict], config) -> list[dict]:
    """The stored runs whose owner or release the configuration now sets
    otherwise (its rules changed since their files were imported).

    Parameters
    ----------
    stored : iterable of dict
        obs_index rows with accref, collection, obs_id, t_min, owner,
        embargo, obs_release_date.
    config : hess_dr.config.Config

    Returns
    -------
    list of dict
        accref plus the new :func:`rights_columns` of each changed run.
    """
    collections = {collection.name: collection for collection in config.collections}
    changes = []
    for row in stored:
        collection = collections.get(row["collection"])
        if collection is None:  # pruned by the import
            continue
        wanted = rights_columns(collection, row["obs_id"], row["t_min"])
        if any(row[key] != value for key, value in wanted.items()):
            changes.append({"accref": row["accref"], **wanted})
    return changes


def refresh_rights(connection, config, table: str = "hess_dr.obs_index") -> int:
    """Apply the configuration's current owners and release rules to the
    runs stored in ``table`` and in DaCHS's products table (for runs whose
    files an incremental import does not read again).

    Parameters
    ----------
    connection
        A DaCHS connection (``queryToDicts``, ``execute``).
    config : hess_dr.config.Config
    table : str
        The obs_index table.

    Returns
    -------
    int
        How many runs changed.
    """
    changes = rights_changes(connection.queryToDicts(
        f"SELECT accref, collection, obs_id, t_min, owner, embargo, obs_release_date"
        f" FROM {table}"), config)
    for change in changes:
        connection.execute(f"UPDATE {table} SET owner=%(owner)s, embargo=%(embargo)s,"
                           " obs_release_date=%(obs_release_date)s WHERE accref=%(accref)s",
                           change)
        connection.execute("UPDATE dc.products SET owner=%(owner)s, embargo=%(embargo)s"
                           " WHERE accref=%(accref)s", change)
    return len(changes)


def gti_rows(run: Run) -> list[dict]:
    """The ``hess_dr.gti`` rows of a run, one per good time interval."""
    t_start = run.times.mjd("gti_start", PUBLISHED_SCALE)
    t_stop = run.times.mjd("gti_stop", PUBLISHED_SCALE)
    return [{"obs_id": run.obs_id, "collection": run.collection, "gti_index": i,
             "met_start": float(run.gti.start_met[i]), "met_stop": float(run.gti.stop_met[i]),
             "t_start": float(t_start[i]), "t_stop": float(t_stop[i]),
             "duration": float(run.gti.stop_met[i] - run.gti.start_met[i])}
            for i in range(len(run.gti))]
