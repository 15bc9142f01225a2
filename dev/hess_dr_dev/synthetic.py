"""Synthetic DL3 files: event lists, IRF files and GADF index files.

Used by the tests, by :mod:`hess_dr_dev.archive` (synthetic archives for
benchmarks) and by ``bin/hess-dr-synth-families``.

Every writer here produces a small, deterministic FITS file (seeded numpy
RNG, gzip streams written with a zero timestamp) shaped like the H.E.S.S.
DL3 DR1 files (one EVENTS table whose header carries all the metadata, one
GTI table, optionally the four IRF HDUs copied from a real DR1 file).  The
knobs let a caller reproduce the quirks of DL3 files from other instruments
(REFERENCE.md section 3): any header keyword can be replaced or deleted,
columns replaced or dropped, the GTI table given thousands of rows or left
out, the HDUCLAS* keywords stripped, the IRFs written to a separate file,
another time reference (``mjdref``, ``timesys``), point-like IRFs with a
generated RAD_MAX HDU (:func:`rad_max_hdu`).  :func:`write_ft1` writes a
Fermi-LAT FT1 file (OGIP, no OBS_ID, MeV, DSS keywords), and
:func:`write_families` one folder per instrument family (H.E.S.S., MAGIC,
VERITAS, FACT with an hdu-index, LST-1 point-like, HAWC, Fermi-LAT), with
:func:`families_config` the configuration publishing them
(``bin/hess-dr-synth-families``).

Typical use::

    from astropy import units as u
    from hess_dr_dev import synthetic as synth

    path = synth.write_event_list(tmp_path / "run_000001.fits.gz", obs_id=1,
                                  energies=[1, 10, 100] * u.TeV,
                                  header_overrides={"TIMESYS": "utc",
                                                    "ALT_PNT": None})

``header_overrides`` values are written as given (a float stays a float,
a string a string); ``None`` deletes the keyword.  Values derived from the
defaults (DATE-OBS from TSTART, LIVETIME from ONTIME...) are *not*
recomputed after overrides: an override is exactly what ends up in the file.

The module has no dependency on hess_dr, so it can serve unit tests,
integration tests and archive generators alike.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip as _gzip
import io
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.time import Time, TimeDelta

__all__ = [
    "DR1_SAMPLE", "FROM_HEADER", "IRF_TYPES", "ALL_IRF_TYPES", "HESS_SITE",
    "write_event_list", "write_irf_file", "write_obs_index", "write_hdu_index",
    "hdu_index_rows", "truncated_copy", "event_header", "irf_hdus", "rad_max_hdu",
    "write_hdus", "write_ft1", "FT1_MJDREFI", "FT1_MJDREFF", "FAMILIES", "Family",
    "write_families", "families_config", "FT1_FILE_NAME", "FT1_OBS_ID_PATTERN",
    "QUIRKS", "Quirk", "write_quirk", "QUIRK_ENERGIES_TEV", "QUIRK_TIME_OFFSETS_S",
    "QUIRK_OBS_ID",
]

#: The real H.E.S.S. DR1 file the IRF HDUs are copied from: the bundled
#: sample in the checkout's data/ (this package lives in <checkout>/dev/).
DR1_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"

#: IRF HDU types, in file order, with their EXTNAME in the DR1 files.
IRF_TYPES = ("aeff", "edisp", "psf", "bkg")
#: Every IRF type :func:`irf_hdus` can write: the DR1 copies and a
#: generated point-like directional cut (RAD_MAX, see :func:`rad_max_hdu`).
ALL_IRF_TYPES = IRF_TYPES + ("rad_max",)
_IRF_EXTNAMES = {"aeff": "AEFF", "edisp": "EDISP", "psf": "PSF", "bkg": "BKG",
                 "rad_max": "RAD_MAX"}
#: hdu-index HDU_CLASS of each DR1 HDU type.
_HDU_CLASSES = {"events": "events", "gti": "gti", "aeff": "aeff_2d",
                "edisp": "edisp_2d", "psf": "psf_table", "bkg": "bkg_3d",
                "rad_max": "rad_max_2d"}

#: H.E.S.S. site (EVENTS header of every DR1 file): GEOLON, GEOLAT (deg), ALTITUDE (m).
HESS_SITE = {"GEOLON": 16.5002222222222, "GEOLAT": -23.2717777777778, "ALTITUDE": 1835.0}

#: DR1 time reference: 2001-01-01T00:00:00 UTC expressed in TT.
DR1_MJDREFI = 51910
DR1_MJDREFF = 0.000742870370370241

GADF_DOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"


class _FromHeader:
    """Sentinel type of :data:`FROM_HEADER`."""

    def __repr__(self):
        return "FROM_HEADER"


#: ``gti=FROM_HEADER`` (the default): one interval TSTART-TSTOP.
FROM_HEADER = _FromHeader()

_HDUCLAS_PATTERN = re.compile(r"^HDUCLAS(S|\d+)$")


# --------------------------------------------------------------------------
# event lists
# --------------------------------------------------------------------------

def event_header(*, obs_id: Any = 23523, tstart: float = 123890826.0,
                 tstop: float = 123892513.0, ra_pnt: float = 83.633333333333,
                 dec_pnt: float = 21.514444444444, object_name: str = "Crab Nebula",
                 deadc: float = 0.937603298574686, energy_unit: str = "TeV",
                 hduclass: bool = True,
                 mjdref: float | tuple[float, float] = (DR1_MJDREFI, DR1_MJDREFF),
                 timesys: str = "TT") -> dict:
    """The default EVENTS header keywords, modelled on DR1 run 23523.

    DATE-OBS/TIME-OBS and DATE-END/TIME-END are computed from MJDREF and
    TSTART/TSTOP in TT, as the DR1 files write them.  ZEN_PNT and HDUCLAS2
    are absent, as in every DR1 file.

    Parameters
    ----------
    obs_id : int or str
        OBS_ID written as given (an int, a float or a string).
    tstart, tstop : float
        Observation start and stop in MET seconds (TT, DR1 epoch).
    ra_pnt, dec_pnt : float
        Pointing position (deg); the target is 0.5 deg north of it.
    object_name : str
        OBJECT.
    deadc : float
        DEADC; LIVETIME is (TSTOP - TSTART) * DEADC.
    energy_unit : str
        EUNIT.
    hduclass : bool
        Include HDUCLASS/HDUCLAS1 (and HDUDOC/HDUVERS).
    mjdref : float or (float, float)
        The MET reference epoch: a pair is written as MJDREFI/MJDREFF (the
        integer part as given: ``51910.0`` gives a float MJDREFI), a single
        number as MJDREF.  Default: DR1's.
    timesys : str
        TIMESYS, written as given (any case); DATE-OBS/DATE-END are computed
        in that scale.

    Returns
    -------
    dict
        Ordered keyword -> value.
    """
    epoch = _epoch(mjdref, timesys)
    start, stop = (epoch + TimeDelta([tstart, tstop], format="sec")).isot
    ontime = float(tstop - tstart)
    header = {}
    if hduclass:
        header.update({"HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2",
                       "HDUCLAS1": "EVENTS"})
    header.update({
        "TELESCOP": "HESS", "ORIGIN": "H.E.S.S. Collaboration",
        "INSTRUME": "H.E.S.S. Phase I", "EV_CLASS": "std", "OBS_ID": obs_id,
        "TSTART": float(tstart), "TSTOP": float(tstop),
        **_mjdref_keywords(mjdref),
        "TIMEUNIT": "s", "TIMESYS": timesys, "TIMEREF": "local", "TASSIGN": "Namibia",
        "TELAPSE": 0, "ONTIME": ontime, "LIVETIME": ontime * deadc, "DEADC": deadc,
        "OBJECT": object_name, "RA_OBJ": ra_pnt, "DEC_OBJ": dec_pnt + 0.5,
        "RA_PNT": ra_pnt, "DEC_PNT": dec_pnt,
        "ALT_PNT": 41.3897890380338, "AZ_PNT": 22.4817052274739,
        "RADECSYS": "FK5", "EQUINOX": 2000, "CONV_DEP": 0.0,
        "OBS_MODE": "WOBBLE", "N_TELS": 4, "TELLIST": "1,2,3,4",
        **{k: HESS_SITE[k] for k in ("GEOLAT", "GEOLON", "ALTITUDE")},
        "MUONEFF": 0.907074809074402, "EUNIT": energy_unit, "EVTVER": 1.4,
        "DATE-OBS": start[:10], "TIME-OBS": start[11:],
        "DATE-END": stop[:10], "TIME-END": stop[11:],
    })
    return header


def _mjdref_keywords(mjdref) -> dict:
    if isinstance(mjdref, (tuple, list)):
        return {"MJDREFI": mjdref[0], "MJDREFF": mjdref[1]}
    return {"MJDREF": mjdref}


def _epoch(mjdref, timesys: str) -> Time:
    scale = {"TDT": "tt", "ET": "tt"}.get(timesys.strip().upper(), timesys.strip().lower())
    if isinstance(mjdref, (tuple, list)):
        return Time(float(mjdref[0]), float(mjdref[1]), format="mjd", scale=scale)
    return Time(float(mjdref), format="mjd", scale=scale)


def write_event_list(
    path: str | os.PathLike,
    *,
    obs_id: Any = 23523,
    n_events: int = 100,
    energies: u.Quantity | None = None,
    energy_unit: str = "TeV",
    energy_tunit: bool = True,
    times: Sequence[float] | None = None,
    ra: Sequence[float] | None = None,
    dec: Sequence[float] | None = None,
    tstart: float = 123890826.0,
    tstop: float = 123892513.0,
    ra_pnt: float = 83.633333333333,
    dec_pnt: float = 21.514444444444,
    object_name: str = "Crab Nebula",
    header_overrides: Mapping[str, Any] | None = None,
    primary_overrides: Mapping[str, Any] | None = None,
    column_overrides: Mapping[str, fits.Column | None] | None = None,
    gti: Iterable[tuple[float, float]] | None | _FromHeader = FROM_HEADER,
    gti_header_overrides: Mapping[str, Any] | None = None,
    irfs: bool | Sequence[str] = False,
    irf_source: str | os.PathLike = DR1_SAMPLE,
    hduclass: bool = True,
    gzip: bool | None = None,
    extra_hdus: Sequence[fits.hdu.base.ExtensionHDU] = (),
    seed: int = 0,
    mjdref: float | tuple[float, float] = (DR1_MJDREFI, DR1_MJDREFF),
    timesys: str = "TT",
    irf_containment: str | None = None,
    irf_extnames: Mapping[str, str] | None = None,
    irf_header_overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write a synthetic DL3 event list (PRIMARY, EVENTS, [GTI], [IRFs]).

    Parameters
    ----------
    path : path-like
        File to write (parent directories are created; an existing file is
        overwritten).
    obs_id : int, float or str
        OBS_ID keyword, written as given.
    n_events : int
        Number of events when ``energies`` is not given; 0 writes an empty
        EVENTS table.
    energies : astropy.units.Quantity, optional
        Event energies; default: ``n_events`` energies drawn from a power
        law of index 2.5 between 0.2 and 100 TeV.
    energy_unit : str
        Unit the ENERGY column is written in (the values are converted to
        it) and value of the EUNIT keyword.
    energy_tunit : bool
        Whether the ENERGY column carries a TUNIT (False: only EUNIT says).
    times : sequence of float, optional
        Event TIMEs in MET seconds; default: sorted uniform in
        [tstart, tstop].
    ra, dec : sequence of float, optional
        Event positions (deg); default: uniform within 2 deg of the
        pointing.
    tstart, tstop : float
        TSTART/TSTOP (MET seconds); ONTIME is their difference.
    ra_pnt, dec_pnt : float
        Pointing position (deg).
    object_name : str
        OBJECT keyword.
    header_overrides : mapping, optional
        EVENTS header keywords to set (value ``None``: delete the keyword).
        Applied last, after ``hduclass``.
    primary_overrides : mapping, optional
        The same for the PRIMARY header (empty by default, as in DR1).
    column_overrides : mapping, optional
        EVENTS column name -> :class:`astropy.io.fits.Column` replacing or
        adding that column, or ``None`` to drop it (e.g. ``{"ENERGY": None}``).
    gti : sequence of (start, stop), None or FROM_HEADER
        Rows of the GTI table (MET seconds); ``None``: no GTI HDU at all;
        :data:`FROM_HEADER`: one row TSTART-TSTOP.
    gti_header_overrides : mapping, optional
        GTI header keywords to set or (``None``) delete.
    irfs : bool or sequence of str
        Copy the IRF HDUs (``True``: aeff, edisp, psf, bkg; or a selection
        of :data:`ALL_IRF_TYPES`, ``rad_max`` being generated by
        :func:`rad_max_hdu`) from ``irf_source`` into the file.
    irf_source : path-like
        A DR1 file to copy the IRF HDUs from.
    hduclass : bool
        False strips every HDUCLASS/HDUCLASn keyword from every HDU (IRFs
        included), so that HDUs can only be recognised by EXTNAME.
    gzip : bool, optional
        Compress the file; default: when ``path`` ends with ``.gz``.
    extra_hdus : sequence of HDUs
        Appended after everything else.
    seed : int
        Seed of the random generator used for the default columns.
    mjdref, timesys :
        The time reference of the EVENTS and GTI headers (see
        :func:`event_header`); TSTART, TSTOP and the TIMEs are MET seconds
        from it.
    irf_containment : str, optional
        HDUCLAS3 written into every IRF HDU (e.g. ``"POINT-LIKE"``);
        default: as in the DR1 source (``FULL-ENCLOSURE``).
    irf_extnames : mapping, optional
        hdu_type -> EXTNAME of the IRF HDUs (e.g. ``{"aeff": "EFFECTIVE
        AREA"}``).
    irf_header_overrides : mapping, optional
        hdu_type -> header keywords to set or (``None``) delete in that IRF
        HDU (e.g. ``{"aeff": {"LO_THRES": 0.3}}``).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    rng = np.random.default_rng(seed)
    if energies is None:
        energies = _power_law(rng, n_events, 0.2, 100.0, 2.5) * u.TeV
    energies = u.Quantity(energies).to(energy_unit)
    n = len(energies)
    if times is None:
        times = np.sort(rng.uniform(tstart, tstop, n))
    if ra is None or dec is None:
        radius = 2.0 * np.sqrt(rng.uniform(0, 1, n))
        angle = rng.uniform(0, 2 * np.pi, n)
        cos_dec = max(np.cos(np.radians(dec_pnt)), 1e-3)
        ra = (ra_pnt + radius * np.cos(angle) / cos_dec) % 360 if ra is None else ra
        dec = np.clip(dec_pnt + radius * np.sin(angle), -90, 90) if dec is None else dec

    columns = {
        "EVENT_ID": fits.Column("EVENT_ID", "K", array=np.arange(1, n + 1)),
        "TIME": fits.Column("TIME", "D", unit="s", array=np.asarray(times, float)),
        "RA": fits.Column("RA", "E", unit="deg", array=np.asarray(ra, float)),
        "DEC": fits.Column("DEC", "E", unit="deg", array=np.asarray(dec, float)),
        "ENERGY": fits.Column("ENERGY", "E", unit=energy_unit if energy_tunit else None,
                              array=energies.value),
    }
    for name, column in (column_overrides or {}).items():
        if column is None:
            columns.pop(name, None)
        else:
            columns[name] = column
    events = fits.BinTableHDU.from_columns(list(columns.values()), name="EVENTS")
    _update(events.header, event_header(
        obs_id=obs_id, tstart=tstart, tstop=tstop, ra_pnt=ra_pnt, dec_pnt=dec_pnt,
        object_name=object_name, energy_unit=energy_unit, mjdref=mjdref, timesys=timesys))

    hdus = [fits.PrimaryHDU(), events]
    if gti is not None:
        rows = [(tstart, tstop)] if gti is FROM_HEADER else list(gti)
        hdus.append(_gti_hdu(rows, tstart, tstop, mjdref, timesys))
    if irfs:
        types = IRF_TYPES if irfs is True else tuple(irfs)
        hdus.extend(_customised_irfs(types, irf_source, None, irf_containment,
                                     irf_extnames, irf_header_overrides))
    hdus.extend(extra_hdus)

    if not hduclass:
        for hdu in hdus:
            for key in [k for k in hdu.header if _HDUCLAS_PATTERN.match(k)]:
                del hdu.header[key]
    _update(hdus[0].header, primary_overrides or {})
    _update(events.header, header_overrides or {})
    if gti is not None:
        _update(hdus[2].header, gti_header_overrides or {})
    return write_hdus(fits.HDUList(hdus), path, gzip)


def _power_law(rng, n, e_min, e_max, index):
    """``n`` values from dN/dE ~ E**-index between e_min and e_max."""
    a, b = e_min ** (1 - index), e_max ** (1 - index)
    return (a + (b - a) * rng.uniform(0, 1, n)) ** (1 / (1 - index))


def _gti_hdu(rows, tstart, tstop, mjdref=(DR1_MJDREFI, DR1_MJDREFF),
             timesys="TT") -> fits.BinTableHDU:
    """A DR1-like GTI table (MJDREF/TIMESYS of its own, TIMEREF 'LOCAL')."""
    rows = np.asarray(rows, dtype=float).reshape(-1, 2)
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("START", "D", unit="s", array=rows[:, 0]),
        fits.Column("STOP", "D", unit="s", array=rows[:, 1])], name="GTI")
    _update(hdu.header, {
        "TSTART": float(tstart), "TSTOP": float(tstop), "TIMEZERO": 0.0,
        "TIMEUNIT": "s", "TIMESYS": timesys, "TIMEREF": "LOCAL",
        "HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2", "HDUCLAS1": "GTI",
        **_mjdref_keywords(mjdref)})
    return hdu


# --------------------------------------------------------------------------
# IRFs
# --------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _read_irfs(source: str) -> dict:
    """{hdu_type: (header, data)} of a DR1 file, read once per process."""
    with fits.open(source, memmap=False) as hdus:
        return {t: (hdus[_IRF_EXTNAMES[t]].header.copy(), hdus[_IRF_EXTNAMES[t]].data.copy())
                for t in IRF_TYPES}


def irf_hdus(types: Iterable[str] = IRF_TYPES, *, source: str | os.PathLike = DR1_SAMPLE,
             obs_id: int | None = None) -> list[fits.BinTableHDU]:
    """Copies of IRF HDUs of a real DR1 file.

    Parameters
    ----------
    types : iterable of str
        Among :data:`ALL_IRF_TYPES` (``rad_max`` is generated, see
        :func:`rad_max_hdu`).
    source : path-like
        The DR1 file to copy from.
    obs_id : int, optional
        If given, written as OBS_ID into the AEFF header (which carries one
        in DR1).

    Returns
    -------
    list of astropy.io.fits.BinTableHDU
        Fresh HDUs (headers copied; the data arrays are shared, read-only by
        convention).
    """
    cache = _read_irfs(str(Path(source).resolve()))
    hdus = []
    for hdu_type in types:
        if hdu_type == "rad_max":
            hdus.append(rad_max_hdu())
            continue
        if hdu_type not in cache:
            raise ValueError(f"unknown IRF type {hdu_type!r}; use one of {ALL_IRF_TYPES}")
        header, data = cache[hdu_type]
        hdu = fits.BinTableHDU(data=data, header=header.copy())
        if obs_id is not None and hdu_type == "aeff":
            hdu.header["OBS_ID"] = obs_id
        hdus.append(hdu)
    return hdus


def write_irf_file(path: str | os.PathLike, *, types: Iterable[str] = IRF_TYPES,
                   obs_id: int | None = None, hduclass: bool = True,
                   extnames: Mapping[str, str] | None = None,
                   source: str | os.PathLike = DR1_SAMPLE, gzip: bool | None = None,
                   containment: str | None = None,
                   header_overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write a file holding only IRF HDUs (IRFs separate from the events).

    Parameters
    ----------
    path : path-like
        File to write.
    types : iterable of str
        IRF HDUs to include (see :data:`IRF_TYPES`).
    obs_id : int, optional
        OBS_ID for the AEFF header.
    hduclass : bool
        False strips the HDUCLASS/HDUCLASn keywords.
    extnames : mapping, optional
        hdu_type -> EXTNAME replacing DR1's ('AEFF', 'EDISP', 'PSF', 'BKG'),
        e.g. ``{"aeff": "EFFECTIVE AREA"}``.
    source : path-like
        DR1 file to copy from.
    gzip : bool, optional
        Compress; default: when ``path`` ends with ``.gz``.
    containment : str, optional
        HDUCLAS3 of every IRF HDU (e.g. ``"POINT-LIKE"``); default: DR1's.
    header_overrides : mapping, optional
        hdu_type -> header keywords to set or (``None``) delete.

    Returns
    -------
    pathlib.Path
    """
    hdus = _customised_irfs(tuple(types), source, obs_id, containment, extnames,
                            header_overrides)
    if not hduclass:
        for hdu in hdus:
            for key in [k for k in hdu.header if _HDUCLAS_PATTERN.match(k)]:
                del hdu.header[key]
    return write_hdus(fits.HDUList([fits.PrimaryHDU(), *hdus]), path, gzip)


def _customised_irfs(types, source, obs_id, containment, extnames, header_overrides):
    hdus = irf_hdus(types, source=source, obs_id=obs_id)
    for hdu_type, hdu in zip(types, hdus):
        if containment is not None:
            hdu.header["HDUCLAS3"] = containment
        if extnames and hdu_type in extnames:
            hdu.name = extnames[hdu_type]
        _update(hdu.header, (header_overrides or {}).get(hdu_type, {}))
    return hdus


def rad_max_hdu(radius_deg: float | Sequence[float] = 0.2, *,
                energy_edges_tev: Sequence[float] | None = None,
                offset_edges_deg: Sequence[float] = (0.0, 2.5),
                name: str = "RAD_MAX") -> fits.BinTableHDU:
    """A GADF ``rad_max_2d`` HDU: the directional cut of point-like IRFs.

    Parameters
    ----------
    radius_deg : float or sequence of float
        The cut radius (deg): one value for every bin, or one per energy bin.
    energy_edges_tev : sequence of float, optional
        Reconstructed energy bin edges (TeV); default 12 log bins 0.01-100 TeV.
    offset_edges_deg : sequence of float
        Offset bin edges (deg); default one bin 0-2.5 deg.
    name : str
        EXTNAME.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        HDUCLAS1 RESPONSE, HDUCLAS2 RAD_MAX, HDUCLAS3 POINT-LIKE, HDUCLAS4
        RAD_MAX_2D; readable by ``gammapy.irf.RadMax2D.read``.
    """
    edges = np.asarray(energy_edges_tev if energy_edges_tev is not None
                       else np.geomspace(0.01, 100.0, 13), dtype=float)
    offsets = np.asarray(offset_edges_deg, dtype=float)
    n_e, n_o = len(edges) - 1, len(offsets) - 1
    radius = np.broadcast_to(np.asarray(radius_deg, dtype=float), (n_e,))
    data = np.tile(radius, (n_o, 1))[np.newaxis]  # (1, n_offset, n_energy)
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("ENERG_LO", f"{n_e}D", unit="TeV", dim=f"({n_e})", array=edges[np.newaxis, :-1]),
        fits.Column("ENERG_HI", f"{n_e}D", unit="TeV", dim=f"({n_e})", array=edges[np.newaxis, 1:]),
        fits.Column("THETA_LO", f"{n_o}D", unit="deg", dim=f"({n_o})", array=offsets[np.newaxis, :-1]),
        fits.Column("THETA_HI", f"{n_o}D", unit="deg", dim=f"({n_o})", array=offsets[np.newaxis, 1:]),
        fits.Column("RAD_MAX", f"{n_e * n_o}D", unit="deg", dim=f"({n_e},{n_o})", array=data),
    ], name=name)
    _update(hdu.header, {"HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2",
                         "HDUCLAS1": "RESPONSE", "HDUCLAS2": "RAD_MAX",
                         "HDUCLAS3": "POINT-LIKE", "HDUCLAS4": "RAD_MAX_2D"})
    return hdu


# --------------------------------------------------------------------------
# index files
# --------------------------------------------------------------------------

#: Units of the obs-index columns GADF defines (DR1's obs-index).
OBS_INDEX_UNITS = {
    "RA_PNT": "deg", "DEC_PNT": "deg", "GLON_PNT": "deg", "GLAT_PNT": "deg",
    "ZEN_PNT": "deg", "ALT_PNT": "deg", "AZ_PNT": "deg", "RA_OBJ": "deg",
    "DEC_OBJ": "deg", "OFFSET_OBJ": "deg", "ONTIME": "s", "LIVETIME": "s",
    "TSTART": "s", "TSTOP": "s", "TARGET_OFFSET": "deg",
    "SAFE_ENERGY_LO": "TeV", "SAFE_ENERGY_HI": "TeV",
}


def _table_hdu(rows: Sequence[Mapping[str, Any]], name: str, units: Mapping[str, str]):
    """A binary table from dicts: str -> A, all-int -> K, else D (NaN if missing)."""
    names = []
    for row in rows:
        names.extend(k for k in row if k not in names)
    columns = []
    for col in names:
        values = [row.get(col) for row in rows]
        present = [v for v in values if v is not None]
        if any(isinstance(v, (str, bytes)) for v in present):
            text = ["" if v is None else (v.decode() if isinstance(v, bytes) else str(v))
                    for v in values]
            width = max([len(t) for t in text] + [1])
            columns.append(fits.Column(col, f"{width}A", array=np.array(text)))
        elif present and len(present) == len(values) and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            columns.append(fits.Column(col, "K", array=np.array(values, dtype=np.int64),
                                       unit=units.get(col)))
        else:
            array = np.array([np.nan if v is None else float(v) for v in values])
            columns.append(fits.Column(col, "D", array=array, unit=units.get(col)))
    return fits.BinTableHDU.from_columns(columns, name=name)


def write_obs_index(directory: str | os.PathLike, rows: Sequence[Mapping[str, Any]], *,
                    name: str = "obs-index.fits.gz",
                    header_overrides: Mapping[str, Any] | None = None) -> Path:
    """Write a GADF obs-index (HDU ``OBS_INDEX``).

    Parameters
    ----------
    directory : path-like
        Where to write it (created if needed).
    rows : sequence of mapping
        One dict per observation, upper-case GADF column names
        (``OBS_ID``, ``ZEN_PNT``, ``TARGET_NAME``, ``QUALITY``...).  Column
        types follow the values: text -> ``A``, all ints -> ``K``, otherwise
        ``D`` with NaN for missing values.
    name : str
        File name; ``.gz`` compresses.
    header_overrides : mapping, optional
        Header keywords to set or (``None``) delete.

    Returns
    -------
    pathlib.Path
    """
    hdu = _table_hdu(rows, "OBS_INDEX", OBS_INDEX_UNITS)
    _update(hdu.header, {"HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2",
                         "HDUCLAS1": "INDEX", "HDUCLAS2": "OBS",
                         "MJDREFI": DR1_MJDREFI, "MJDREFF": DR1_MJDREFF,
                         "TIMEUNIT": "s", "TIMESYS": "TT", "TIMEREF": "local"})
    _update(hdu.header, header_overrides or {})
    return write_hdus(fits.HDUList([fits.PrimaryHDU(), hdu]), Path(directory) / name, None)


def hdu_index_rows(obs_id: Any, file_name: str, *, file_dir: str = ".",
                   types: Iterable[str] = ("events", "gti") + IRF_TYPES,
                   hdu_names: Mapping[str, str] | None = None) -> list[dict]:
    """hdu-index rows for one observation whose HDUs all live in one file.

    Parameters
    ----------
    obs_id : int or str
    file_name : str
        FILE_NAME (relative to ``file_dir``).
    file_dir : str
        FILE_DIR, relative to the index file's directory.
    types : iterable of str
        HDU_TYPEs to list; HDU_CLASS follows DR1 (aeff_2d, psf_table...).
    hdu_names : mapping, optional
        hdu_type -> HDU_NAME; default: the DR1 EXTNAMEs ('EVENTS', 'AEFF'...).

    Returns
    -------
    list of dict
        Rows for :func:`write_hdu_index`.
    """
    names = {"events": "EVENTS", "gti": "GTI", **_IRF_EXTNAMES, **(hdu_names or {})}
    return [{"OBS_ID": obs_id, "HDU_TYPE": t, "HDU_CLASS": _HDU_CLASSES.get(t, t),
             "FILE_DIR": file_dir, "FILE_NAME": file_name, "HDU_NAME": names.get(t, t.upper()),
             "SIZE": 0} for t in types]


def write_hdu_index(directory: str | os.PathLike, rows: Sequence[Mapping[str, Any]], *,
                    name: str = "hdu-index.fits.gz",
                    header_overrides: Mapping[str, Any] | None = None) -> Path:
    """Write a GADF hdu-index (HDU ``HDU_INDEX``).

    Parameters
    ----------
    directory : path-like
        Where to write it; FILE_DIR values are relative to it.
    rows : sequence of mapping
        Dicts with OBS_ID, HDU_TYPE, HDU_CLASS, FILE_DIR, FILE_NAME,
        HDU_NAME and optionally SIZE (see :func:`hdu_index_rows`).
    name : str
        File name; ``.gz`` compresses.
    header_overrides : mapping, optional
        Header keywords to set or (``None``) delete, e.g. ``BASE_DIR``.

    Returns
    -------
    pathlib.Path
    """
    rows = [{"SIZE": 0, **row} for row in rows]
    hdu = _table_hdu(rows, "HDU_INDEX", {"SIZE": None})
    _update(hdu.header, {"HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2",
                         "HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"})
    _update(hdu.header, header_overrides or {})
    return write_hdus(fits.HDUList([fits.PrimaryHDU(), hdu]), Path(directory) / name, None)


# --------------------------------------------------------------------------
# damaged files and helpers
# --------------------------------------------------------------------------

def truncated_copy(source: str | os.PathLike, dest: str | os.PathLike,
                   keep: int | float = 0.5) -> Path:
    """Copy the first bytes of ``source`` to ``dest`` (a truncated download).

    Parameters
    ----------
    keep : int or float
        Bytes to keep (int) or fraction of the file (float in (0, 1)).
    """
    data = Path(source).read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else int(keep)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data[:n])
    return dest


def _update(header: fits.Header, values: Mapping[str, Any]) -> None:
    """Set header keywords in order; a value of None deletes the keyword."""
    for key, value in values.items():
        if value is None:
            header.remove(key, ignore_missing=True, remove_all=True)
        else:
            header[key] = value


def write_hdus(hdulist: fits.HDUList, path: str | os.PathLike, gzip: bool | None = None) -> Path:
    """Write any HDU list deterministically (gzip header timestamp 0).

    Parameters
    ----------
    hdulist : astropy.io.fits.HDUList
    path : path-like
        Parent directories are created; an existing file is overwritten.
    gzip : bool, optional
        Compress; default: when ``path`` ends with ``.gz``.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    hdulist.writeto(buffer, output_verify="silentfix")
    data = buffer.getvalue()
    if gzip if gzip is not None else path.name.endswith(".gz"):
        data = _gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
    return path



# --------------------------------------------------------------------------
# quirks of files Gammapy reads ("what Gammapy reads, we publish")
# --------------------------------------------------------------------------

#: Energies (TeV) and TIME offsets from TSTART (s) of every quirk file's
#: three events (unless the quirk is about them).
QUIRK_ENERGIES_TEV = (0.5, 2.0, 30.0)
QUIRK_TIME_OFFSETS_S = (100.0, 800.0, 1500.0)
#: OBS_ID of the quirk files (unless the quirk is about it).
QUIRK_OBS_ID = 4242


@dataclasses.dataclass(frozen=True)
class Quirk:
    """An oddity of real DL3 files, written by :func:`write_quirk`.

    Attributes
    ----------
    kind : str
        The quirk class (``events-hdu``, ``time-reference``, ``run-times``,
        ``gti``, ``live-time``, ``pointing``, ``dates``, ``energy``,
        ``columns``, ``irfs``, ``compression``).
    description : str
    kwargs : dict
        :func:`write_event_list` keyword arguments (over the quirk defaults:
        three events, OBS_ID :data:`QUIRK_OBS_ID`).
    finish : callable, optional
        ``finish(path)`` edits the written file or writes files beside it.
    suffix : str
        File name suffix.
    """

    kind: str
    description: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    finish: Any = None
    suffix: str = ".fits.gz"


def _rename_gti_start(path: Path) -> None:
    with fits.open(path, mode="update") as hdus:
        hdus["GTI"].columns.change_name("START", "T_BEGIN")


def _unparsable_tstart(path: Path) -> None:
    """Overwrite the EVENTS TSTART card with ``TSTART = NaN`` (not a FITS value)."""
    data = bytearray(path.read_bytes())
    offset = next(i for i in range(0, len(data), 80) if data[i:i + 9] == b"TSTART  =")
    data[offset:offset + 80] = f"{'TSTART':<8}= {'NaN':>20}".ljust(80).encode()
    path.write_bytes(bytes(data))


def _ascii_events(path: Path) -> None:
    """Rewrite the EVENTS binary table as an ASCII table (XTENSION 'TABLE')."""
    formats = {"D": "D25.17", "E": "E15.7", "K": "I20"}
    with fits.open(path) as hdus:
        events = hdus["EVENTS"]
        columns = [fits.Column(c.name, formats[c.format], unit=c.unit, array=events.data[c.name])
                   for c in events.columns]
        table = fits.TableHDU.from_columns(columns, name="EVENTS")
        for card in events.header.cards:
            if card.keyword not in table.header and not re.match(
                    r"^(T(TYPE|FORM|UNIT)\d+|NAXIS\d*|XTENSION|BITPIX|PCOUNT|GCOUNT|TFIELDS)$",
                    card.keyword):
                table.header[card.keyword] = (card.value, card.comment)
        hdulist = fits.HDUList([hdus[0].copy(), table] + [h.copy() for h in hdus[2:]])
        data = io.BytesIO()
        hdulist.writeto(data)
    path.write_bytes(data.getvalue())


def _irfs_beside(path: Path) -> None:
    """IRFs in their own file, named by an hdu-index beside the event list."""
    irf_name = "irfs_" + path.name
    write_irf_file(path.parent / irf_name)
    write_hdu_index(path.parent, hdu_index_rows(QUIRK_OBS_ID, path.name, types=("events", "gti"))
                    + hdu_index_rows(QUIRK_OBS_ID, irf_name, types=IRF_TYPES))


def _column(name: str, form: str, unit: str | None, values) -> fits.Column:
    return fits.Column(name, form, unit=unit, array=np.asarray(values))


_T0 = 123890826.0
_TIMES = [_T0 + dt for dt in QUIRK_TIME_OFFSETS_S]

#: name -> :class:`Quirk`.  Each writes a small event list (three events)
#: with one oddity of real files; tests/unit/test_gammapy_quirks.py checks,
#: per quirk, what Gammapy 1.3 makes of it and what hess_dr publishes.
QUIRKS: dict[str, Quirk] = {
    # which HDU holds the events
    "events-extname-lowercase": Quirk("events-hdu", "EXTNAME 'events'",
                                      {"header_overrides": {"EXTNAME": "events"}}),
    "events-no-hduclass": Quirk("events-hdu", "no HDUCLASS anywhere: HDUs found by EXTNAME",
                                {"hduclass": False, "irfs": True}),
    "events-other-extname": Quirk("events-hdu", "HDUCLAS1 EVENTS, EXTNAME 'EVTS' (Gammapy"
                                  " looks for EXTNAME EVENTS only)",
                                  {"header_overrides": {"EXTNAME": "EVTS"}}),
    "no-events-table": Quirk("events-hdu", "IRFs only, no EVENTS table",
                             {"header_overrides": {"EXTNAME": "EVTS", "HDUCLAS1": "OTHER"}}),
    "events-ascii-table": Quirk("events-hdu", "EVENTS as an ASCII table (XTENSION 'TABLE')",
                                {}, _ascii_events, suffix=".fits"),
    "obs-id-missing": Quirk("events-hdu", "no OBS_ID", {"header_overrides": {"OBS_ID": None}}),
    # the time reference
    "timesys-missing": Quirk("time-reference", "no TIMESYS",
                             {"header_overrides": {"TIMESYS": None},
                              "gti_header_overrides": {"TIMESYS": None}}),
    "timesys-lowercase-utc": Quirk("time-reference", "TIMESYS 'utc' (and MET from a UTC epoch)",
                                   {"timesys": "utc", "mjdref": (51910, 0.0)}),
    "mjdreff-string": Quirk("time-reference", "MJDREFF written as a string",
                            {"header_overrides": {"MJDREFF": repr(DR1_MJDREFF)}}),
    "mjdrefi-float": Quirk("time-reference", "MJDREFI written as a float",
                           {"mjdref": (float(DR1_MJDREFI), DR1_MJDREFF)}),
    "mjdref-only": Quirk("time-reference", "MJDREF instead of MJDREFI/MJDREFF",
                         {"mjdref": DR1_MJDREFI + DR1_MJDREFF}),
    "timeref-solarsystem": Quirk("time-reference", "TIMEREF 'SOLARSYSTEM' (barycentred"
                                 " times; Gammapy and hess_dr read TIME as written)",
                                 {"header_overrides": {"TIMEREF": "SOLARSYSTEM"}}),
    "timeunit-missing": Quirk("time-reference", "no TIMEUNIT",
                              {"header_overrides": {"TIMEUNIT": None}}),
    "timeunit-not-time": Quirk("time-reference", "TIMEUNIT 'm' (not a time unit)",
                               {"header_overrides": {"TIMEUNIT": "m"}}),
    "mjdref-missing": Quirk("time-reference", "no MJDREFI/MJDREFF/MJDREF",
                            {"header_overrides": {"MJDREFI": None, "MJDREFF": None}}),
    "mjdrefi-text": Quirk("time-reference", "MJDREFI 'soon'",
                          {"header_overrides": {"MJDREFI": "soon"}}),
    "timesys-unknown": Quirk("time-reference", "TIMESYS 'XYZ'",
                             {"header_overrides": {"TIMESYS": "XYZ"}}),
    # TSTART/TSTOP
    "tstart-tstop-missing": Quirk("run-times", "no TSTART/TSTOP (a GTI table)",
                                  {"header_overrides": {"TSTART": None, "TSTOP": None}}),
    "tstart-tstop-missing-no-gti": Quirk("run-times", "no TSTART/TSTOP, no GTI table",
                                         {"header_overrides": {"TSTART": None, "TSTOP": None},
                                          "gti": None}),
    "tstop-before-tstart": Quirk("run-times", "TSTOP before TSTART (a GTI table)",
                                 {"header_overrides": {"TSTOP": _T0 - 1000.0}}),
    "tstart-unparsable": Quirk("run-times", "TSTART = NaN (not a FITS value)", {},
                               _unparsable_tstart, suffix=".fits"),
    "no-times-no-events": Quirk("run-times", "no TSTART/TSTOP, no GTI table, no events",
                                {"header_overrides": {"TSTART": None, "TSTOP": None},
                                 "gti": None, "energies": [] * u.TeV, "times": []}),
    # GTIs
    "gti-missing": Quirk("gti", "no GTI table", {"gti": None}),
    "gti-empty": Quirk("gti", "a GTI table without rows", {"gti": []}),
    "gti-inverted-row": Quirk("gti", "a GTI with STOP before START",
                              {"gti": [(_T0, _T0 + 1000.0), (_T0 + 1500.0, _T0 + 1400.0)]}),
    "gti-nan-row": Quirk("gti", "a GTI with a NaN START",
                         {"gti": [(_T0, _T0 + 1000.0), (np.nan, _T0 + 1400.0)]}),
    "gti-no-start-stop": Quirk("gti", "GTI table without a START column", {},
                               _rename_gti_start),
    "gti-outside-run": Quirk("gti", "no GTI overlaps TSTART-TSTOP",
                             {"gti": [(_T0 + 5000.0, _T0 + 6000.0)]}),
    "gti-no-mjdref": Quirk("gti", "GTI header without a time reference",
                           {"gti_header_overrides": {"MJDREFI": None, "MJDREFF": None}}),
    # dead time
    "deadc-missing": Quirk("live-time", "no DEADC", {"header_overrides": {"DEADC": None}}),
    "livetime-missing": Quirk("live-time", "no LIVETIME",
                              {"header_overrides": {"LIVETIME": None}}),
    "deadc-livetime-missing": Quirk("live-time", "no DEADC, no LIVETIME",
                                    {"header_overrides": {"DEADC": None, "LIVETIME": None}}),
    "livetime-negative": Quirk("live-time", "LIVETIME -5 s",
                               {"header_overrides": {"LIVETIME": -5.0}}),
    "ontime-negative": Quirk("live-time", "ONTIME -5 s, no LIVETIME",
                             {"header_overrides": {"ONTIME": -5.0, "LIVETIME": None}}),
    # pointing
    "pointing-missing-obj-present": Quirk("pointing", "no RA_PNT/DEC_PNT, RA_OBJ/DEC_OBJ given",
                                          {"header_overrides": {"RA_PNT": None,
                                                                "DEC_PNT": None}}),
    "ra-pnt-negative": Quirk("pointing", "RA_PNT -10 deg",
                             {"header_overrides": {"RA_PNT": -10.0}}),
    "dec-pnt-out-of-range": Quirk("pointing", "DEC_PNT 95 deg",
                                  {"header_overrides": {"DEC_PNT": 95.0}}),
    "altaz-missing": Quirk("pointing", "no ALT_PNT/AZ_PNT",
                           {"header_overrides": {"ALT_PNT": None, "AZ_PNT": None}}),
    "site-missing": Quirk("pointing", "no GEOLON/GEOLAT/ALTITUDE",
                          {"header_overrides": {"GEOLON": None, "GEOLAT": None,
                                                "ALTITUDE": None}}),
    # DATE-OBS and friends
    "date-obs-isot": Quirk("dates", "DATE-OBS/DATE-END as ISO date-times, no TIME-OBS/TIME-END",
                           {"header_overrides": {"DATE-OBS": "2004-12-04T22:08:10.184",
                                                 "TIME-OBS": None,
                                                 "DATE-END": "2004-12-04T22:36:17.184",
                                                 "TIME-END": None}}),
    "date-obs-underscore": Quirk("dates", "DATE_OBS/TIME_OBS with underscores",
                                 {"header_overrides": {"DATE-OBS": None, "TIME-OBS": None,
                                                       "DATE_OBS": "2004-12-04",
                                                       "TIME_OBS": "22:08:10.184"}}),
    "date-obs-old-format": Quirk("dates", "DATE-OBS in the old 'dd/mm/yy' form",
                                 {"header_overrides": {"DATE-OBS": "04/12/04"}}),
    "date-obs-missing": Quirk("dates", "no DATE-OBS/TIME-OBS",
                              {"header_overrides": {"DATE-OBS": None, "TIME-OBS": None}}),
    # the ENERGY column
    "energy-gev": Quirk("energy", "ENERGY in GeV", {"energy_unit": "GeV"}),
    "energy-mev-ogip": Quirk("energy", "ENERGY in MeV, EUNIT MeV", {"energy_unit": "MeV"}),
    "energy-eunit-only": Quirk("energy", "ENERGY without TUNIT, EUNIT 'TeV'",
                               {"energy_tunit": False}),
    "energy-all-nan": Quirk("energy", "every ENERGY NaN",
                            {"energies": [np.nan, np.nan, np.nan] * u.TeV}),
    "energy-no-unit": Quirk("energy", "ENERGY without TUNIT or EUNIT",
                            {"energy_tunit": False, "header_overrides": {"EUNIT": None}}),
    "energy-not-an-energy": Quirk("energy", "ENERGY in deg",
                                  {"energy_unit": "deg", "energies": [1.0, 2.0, 3.0] * u.deg}),
    # columns
    "columns-lowercase": Quirk("columns", "lower-case column names (time, energy, ra, dec)",
                               {"column_overrides": {
                                   "TIME": None, "ENERGY": None, "RA": None, "DEC": None,
                                   "time": _column("time", "D", "s", _TIMES),
                                   "energy": _column("energy", "E", "TeV", QUIRK_ENERGIES_TEV),
                                   "ra": _column("ra", "E", "deg", [83.6, 83.7, 83.8]),
                                   "dec": _column("dec", "E", "deg", [21.5, 22.0, 22.5])}}),
    "columns-extra": Quirk("columns", "extra columns (MULTIP, GLON, DETX, a vector column)",
                           {"column_overrides": {
                               "MULTIP": _column("MULTIP", "I", None, [2, 3, 4]),
                               "GLON": _column("GLON", "E", "deg", [184.5, 184.6, 184.7]),
                               "DETX": _column("DETX", "E", "deg", [0.1, 0.2, 0.3]),
                               "TELMASK": _column("TELMASK", "4L", None,
                                                  [[True] * 4, [True, False] * 2,
                                                   [False] * 4])}}),
    "energy-missing": Quirk("columns", "no ENERGY column", {"column_overrides": {"ENERGY": None}}),
    "time-missing": Quirk("columns", "no TIME column", {"column_overrides": {"TIME": None}}),
    "events-empty": Quirk("columns", "an EVENTS table without rows",
                          {"energies": [] * u.TeV, "times": []}),
    # IRFs
    "irfs-none": Quirk("irfs", "no IRF in the file", {"irfs": False}),
    "irfs-separate-file": Quirk("irfs", "IRFs in another file, named by an hdu-index",
                                {"irfs": False}, _irfs_beside),
    "irfs-ogip-extnames": Quirk("irfs", "untagged IRFs named 'EFFECTIVE AREA', 'ENERGY"
                                " DISPERSION', 'POINT SPREAD FUNCTION', 'BACKGROUND'",
                                {"hduclass": False, "irfs": True,
                                 "irf_extnames": {"aeff": "EFFECTIVE AREA",
                                                  "edisp": "ENERGY DISPERSION",
                                                  "psf": "POINT SPREAD FUNCTION",
                                                  "bkg": "BACKGROUND"}}),
    # compression
    "uncompressed": Quirk("compression", "plain FITS (.fits)", {"irfs": True}, suffix=".fits"),
    "gzip": Quirk("compression", "gzipped FITS (.fits.gz)", {"irfs": True}),
    "gzip-named-fits": Quirk("compression", "gzipped FITS named .fits",
                             {"irfs": True, "gzip": True}, suffix=".fits"),
}


def write_quirk(directory: str | os.PathLike, name: str) -> Path:
    """Write the event list of the quirk ``name`` (:data:`QUIRKS`) into
    ``directory`` (with the files it needs beside it); return its path.

    Defaults: OBS_ID :data:`QUIRK_OBS_ID`, DR1's TSTART/TSTOP and time
    reference, three events of :data:`QUIRK_ENERGIES_TEV` at TSTART +
    :data:`QUIRK_TIME_OFFSETS_S`, no IRFs, a GTI table TSTART-TSTOP.
    """
    quirk = QUIRKS[name]
    kwargs = {"obs_id": QUIRK_OBS_ID, "energies": list(QUIRK_ENERGIES_TEV) * u.TeV,
              "times": _TIMES, "ra": [83.6, 83.7, 83.8], "dec": [21.5, 22.0, 22.5],
              **quirk.kwargs}
    if len(kwargs["energies"]) == 0:  # an empty EVENTS table
        kwargs["ra"] = kwargs["dec"] = kwargs["times"] = []
    path = write_event_list(Path(directory) / f"{name}{quirk.suffix}", **kwargs)
    if quirk.finish is not None:
        quirk.finish(path)
    return path


# --------------------------------------------------------------------------
# space-mission event files in OGIP form (Fermi-LAT FT1)
# --------------------------------------------------------------------------

#: Fermi MET reference: 2001-01-01T00:00:00 UTC in TT, as FT1 headers write it.
FT1_MJDREFI = 51910
FT1_MJDREFF = 7.428703703703703e-4


def _sphere_disc(rng, n, ra0, dec0, radius_deg):
    """``n`` positions uniform on the sphere within ``radius_deg`` of a centre."""
    from astropy.coordinates import SkyCoord
    cos_r = np.cos(np.radians(radius_deg))
    separation = np.degrees(np.arccos(1 - rng.uniform(0, 1, n) * (1 - cos_r)))
    angle = rng.uniform(0, 360, n)
    centre = SkyCoord(ra0 * u.deg, dec0 * u.deg, frame="icrs")
    points = centre.directional_offset_by(angle * u.deg, separation * u.deg)
    return points.ra.deg, points.dec.deg


def _times_in_gtis(rng, n, gti) -> np.ndarray:
    """``n`` sorted times uniform over the good time intervals."""
    gti = np.asarray(gti, dtype=float).reshape(-1, 2)
    lengths = gti[:, 1] - gti[:, 0]
    which = rng.choice(len(gti), size=n, p=lengths / lengths.sum())
    return np.sort(gti[which, 0] + rng.uniform(0, 1, n) * lengths[which])


def write_ft1(path: str | os.PathLike, *, n_events: int = 300,
              tstart: float = 600_000_000.0, tstop: float = 600_086_400.0,
              roi: tuple[float, float, float] | None = (83.633, 22.0145, 10.0),
              gti: Iterable[tuple[float, float]] | None = None,
              energy_range_mev: tuple[float, float] = (100.0, 300_000.0),
              obs_id: Any = None, header_overrides: Mapping[str, Any] | None = None,
              gzip: bool | None = None, seed: int = 0) -> Path:
    """Write a Fermi-LAT FT1 ("photon") event file, OGIP style.

    No OBS_ID, no pointing, TELESCOP 'GLAST', INSTRUME 'LAT', MJDREFI 51910,
    MJDREFF 7.428703703703703e-4, TIMESYS 'TT', energies in MeV, the FT1
    columns (ENERGY, RA, DEC, L, B, THETA, PHI, ZENITH_ANGLE, TIME,
    EVENT_CLASS as a bit field...), a GTI extension and the data
    sub-space (DSS) keywords of a gtselect region-of-interest cut.

    Parameters
    ----------
    path : path-like
        File to write (FT1 names look like ``L2306101234567F357373F04_PH00.fits``).
    n_events : int
        Number of events (power law of index 2 in energy).
    tstart, tstop : float
        Fermi MET seconds (default: one day from 2020-01-05).
    roi : (ra, dec, radius) in deg, optional
        Region of interest: events are drawn within it and the DSS keywords
        describe it; ``None``: all-sky events, no position DSS keyword.
    gti : sequence of (start, stop), optional
        Default: orbits of 5,700 s with 4,000 s of good time each.
    energy_range_mev : (float, float)
        Energy range of the events (MeV).
    obs_id : optional
        Written as OBS_ID when given (real FT1 files have none).
    header_overrides : mapping, optional
        EVENTS header keywords to set or (``None``) delete.
    gzip : bool, optional
        Compress; default when ``path`` ends with ``.gz``.
    seed : int
        Random seed.

    Returns
    -------
    pathlib.Path
    """
    from astropy.coordinates import SkyCoord
    rng = np.random.default_rng(seed)
    if gti is None:
        starts = np.arange(tstart, tstop, 5700.0)
        gti = [(a, min(a + 4000.0, tstop)) for a in starts if a < tstop]
    gti = np.asarray(list(gti), dtype=float).reshape(-1, 2)
    times = _times_in_gtis(rng, n_events, gti)
    if roi is not None:
        ra, dec = _sphere_disc(rng, n_events, *roi)
    else:
        ra = rng.uniform(0, 360, n_events)
        dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n_events)))
    galactic = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").galactic
    energy = 1.0 / rng.uniform(1 / energy_range_mev[1], 1 / energy_range_mev[0], n_events)
    bits = np.zeros((n_events, 32), dtype=bool)
    bits[:, 24] = True  # EVENT_CLASS 128 (SOURCE) as gtselect writes it
    columns = [
        fits.Column("ENERGY", "E", unit="MeV", array=energy),
        fits.Column("RA", "E", unit="deg", array=ra),
        fits.Column("DEC", "E", unit="deg", array=dec),
        fits.Column("L", "E", unit="deg", array=galactic.l.deg),
        fits.Column("B", "E", unit="deg", array=galactic.b.deg),
        fits.Column("THETA", "E", unit="deg", array=rng.uniform(0, 70, n_events)),
        fits.Column("PHI", "E", unit="deg", array=rng.uniform(0, 360, n_events)),
        fits.Column("ZENITH_ANGLE", "E", unit="deg", array=rng.uniform(0, 90, n_events)),
        fits.Column("EARTH_AZIMUTH_ANGLE", "E", unit="deg", array=rng.uniform(0, 360, n_events)),
        fits.Column("TIME", "D", unit="s", array=times),
        fits.Column("EVENT_ID", "J", array=np.arange(n_events, dtype=np.int32)),
        fits.Column("RUN_ID", "J", array=np.full(n_events, 599990000, dtype=np.int32)),
        fits.Column("RECON_VERSION", "I", array=np.zeros(n_events, dtype=np.int16)),
        fits.Column("CALIB_VERSION", "3I", array=np.ones((n_events, 3), dtype=np.int16)),
        fits.Column("EVENT_CLASS", "32X", array=bits),
        fits.Column("EVENT_TYPE", "32X", array=bits),
        fits.Column("CONVERSION_TYPE", "I", array=rng.integers(0, 2, n_events).astype(np.int16)),
        fits.Column("LIVETIME", "D", unit="s", array=rng.uniform(0, 30, n_events)),
    ]
    events = fits.BinTableHDU.from_columns(columns, name="EVENTS")
    epoch = Time(FT1_MJDREFI, FT1_MJDREFF, format="mjd", scale="tt")
    start, stop = (epoch + TimeDelta([tstart, tstop], format="sec")).isot
    common = {
        "TELESCOP": "GLAST", "INSTRUME": "LAT", "EQUINOX": 2000.0, "RADECSYS": "FK5",
        "DATE-OBS": start, "DATE-END": stop, "OBSERVER": "Peter Michelson",
        "ORIGIN": "LISOC", "CREATOR": "gtselect Version 2.1.6",
        "TSTART": float(tstart), "TSTOP": float(tstop),
        "MJDREFI": FT1_MJDREFI, "MJDREFF": FT1_MJDREFF, "TIMEUNIT": "s",
        "TIMEZERO": 0.0, "TIMESYS": "TT", "TIMEREF": "LOCAL", "TASSIGN": "SATELLITE",
        "CLOCKAPP": False, "GPS_OUT": False,
    }
    dss = [("BIT_MASK(EVENT_CLASS,128,P8R3)", "DIMENSIONLESS", "1:1", None)]
    if roi is not None:
        dss.append(("POS(RA,DEC)", "deg", f"CIRCLE({roi[0]:g},{roi[1]:g},{roi[2]:g})", None))
    dss.append(("TIME", "s", "TABLE", ":GTI"))
    dss.append(("ENERGY", "MeV", f"{energy_range_mev[0]:g}:{energy_range_mev[1]:g}", None))
    dss_keys = {"NDSKEYS": len(dss)}
    for i, (typ, unit, val, ref) in enumerate(dss, start=1):
        dss_keys.update({f"DSTYP{i}": typ, f"DSUNI{i}": unit, f"DSVAL{i}": val})
        if ref:
            dss_keys[f"DSREF{i}"] = ref
    _update(events.header, {"HDUCLASS": "OGIP", "HDUCLAS1": "EVENTS", "HDUCLAS2": "ALL",
                            **common, "PROC_VER": 305, **dss_keys})
    if obs_id is not None:
        events.header["OBS_ID"] = obs_id
    _update(events.header, header_overrides or {})
    gti_hdu = fits.BinTableHDU.from_columns([
        fits.Column("START", "D", unit="s", array=gti[:, 0]),
        fits.Column("STOP", "D", unit="s", array=gti[:, 1])], name="GTI")
    _update(gti_hdu.header, {"HDUCLASS": "OGIP", "HDUCLAS1": "GTI", "HDUCLAS2": "STANDARD",
                             **common})
    primary = fits.PrimaryHDU()
    _update(primary.header, {**common, "FILENAME": Path(path).name})
    return write_hdus(fits.HDUList([primary, events, gti_hdu]), path, gzip)


# --------------------------------------------------------------------------
# instrument families: one folder per kind of DL3 file
# --------------------------------------------------------------------------

#: Terms of use written into every family's configuration.
SYNTHETIC_RIGHTS = ("Synthetic event lists written by hess_dr_dev.synthetic for tests and"
                    " demonstrations; no scientific use.")


@dataclasses.dataclass
class Family:
    """One instrument family written by :func:`write_families`.

    Attributes
    ----------
    name : str
        Folder name below the destination, also the collection name.
    directory : pathlib.Path
        The family's folder.
    collection : dict
        Its collection entry for the operator configuration, ``data_dir``
        relative to the destination folder.
    event_files : list of pathlib.Path
        The event lists written (index and IRF-only files excluded).
    quirks : tuple of str
        What is peculiar about these files (REFERENCE.md section 3).
    """

    name: str
    directory: Path
    collection: dict
    event_files: list
    quirks: tuple


def _isot(mjdref, timesys: str, met: float) -> str:
    return (_epoch(mjdref, timesys) + TimeDelta(met, format="sec")).isot


_IACT_SCAN_MODES = {"WOBBLE": "on-source", "POINTING": "on-source", "ON": "on-source",
                    "OFF": "on-off"}


def _collection(name, obs_collection, title, facility, **extra) -> dict:
    entry = {"name": name, "data_dir": name, "obs_collection": obs_collection,
             "title_prefix": title}
    if facility:
        entry["facility_name"] = facility
    entry.update(extra)
    entry.setdefault("rights", SYNTHETIC_RIGHTS)
    return entry


def _family_hess(directory: Path) -> Family:
    files = [write_event_list(directory / "hess_dl3_obs_id_023523.fits.gz", obs_id=23523,
                              irfs=True, seed=1),
             write_event_list(directory / "hess_dl3_obs_id_033787.fits.gz", obs_id=33787,
                              tstart=191000000.0, tstop=191001682.0, ra_pnt=329.717,
                              dec_pnt=-29.725, object_name="PKS 2155-304", irfs=True, seed=2)]
    return Family("hess", directory, _collection(
        "hess", "SYNTH-HESS", "Synthetic H.E.S.S.", "H.E.S.S.", fov_diameter_deg=5.0,
        tracking_mode="sidereal", scan_modes=dict(_IACT_SCAN_MODES), defaults={"timesys": "TT"}),
        files, ("GADF with HDUCLASS tags", "IRFs in the event file", "TIMESYS TT"))


_MAGIC_EXTNAMES = {"aeff": "EFFECTIVE AREA", "edisp": "ENERGY DISPERSION",
                   "psf": "POINT SPREAD FUNCTION", "bkg": "BACKGROUND"}


def _family_magic(directory: Path) -> Family:
    mjdref, timesys = (58484.0, 0.0), "utc"
    files = []
    for i, (obs_id, tstart) in enumerate([(5093174.0, 30578400.0), (5093175.0, 30580200.0)]):
        tstop = tstart + 1200.0
        files.append(write_event_list(
            directory / f"{int(obs_id):08d}_magic_dl3.fits", obs_id=obs_id,
            tstart=tstart, tstop=tstop, mjdref=mjdref, timesys=timesys,
            irfs=True, irf_extnames=_MAGIC_EXTNAMES, hduclass=False, seed=10 + i,
            header_overrides={
                "TELESCOP": "MAGIC", "INSTRUME": "MAGIC", "ORIGIN": "MAGIC Collaboration",
                "N_TELS": 2, "TELLIST": "M1,M2", "TASSIGN": "La Palma",
                "GEOLON": -17.8900, "GEOLAT": 28.7619,
                "ALTITUDE": (2.2, "[km] altitude of the site"),
                "EQUINOX": "J2000", "CONV_DEP": None, "MUONEFF": None,
                "DATE-OBS": _isot(mjdref, timesys, tstart), "TIME-OBS": None,
                "DATE-END": _isot(mjdref, timesys, tstop), "TIME-END": None}))
    return Family("magic", directory, _collection(
        "magic", "SYNTH-MAGIC", "Synthetic MAGIC", "MAGIC", fov_diameter_deg=3.5,
        tracking_mode="sidereal", scan_modes=dict(_IACT_SCAN_MODES)),
        files, ("no HDUCLASS at all (OGIP EXTNAMEs)", "OBS_ID as a float", "MJDREFI as a float",
                "TIMESYS 'utc'", "DATE-OBS as a full ISO date-time", "EQUINOX as a string",
                "ALTITUDE in km (comment [km])"))


def _family_veritas(directory: Path) -> Family:
    mjdref, timesys = (53402, 0.0), "tt"
    files = []
    runs = [(64080, 400000000.0, 100), (64081, 400002000.0, 100), (64082, 400004000.0, 0)]
    for i, (obs_id, tstart, n) in enumerate(runs):
        tstop = tstart + 1800.0
        files.append(write_event_list(
            directory / f"{obs_id}.anasum.fits", obs_id=obs_id, n_events=n,
            tstart=tstart, tstop=tstop, mjdref=mjdref, timesys=timesys,
            ra_pnt=166.6138, dec_pnt=38.7089, object_name="Mrk 421", irfs=True, seed=20 + i,
            gti=[(tstart, tstop - 30.0)],  # GTI stop is not TSTOP
            header_overrides={
                "TELESCOP": "VERITAS", "INSTRUME": "VERITAS", "ORIGIN": "VERITAS Collaboration",
                "N_TELS": 4, "TELLIST": "T1,T2,T3,T4", "TASSIGN": "FLWO",
                "GEOLON": -110.952, "GEOLAT": 31.675, "ALTITUDE": 1268.0,
                "EQUINOX": "", "DATE-OBS": None, "TIME-OBS": None,
                "DATE_OBS": _isot(mjdref, timesys, tstart)[:10],
                "TIME_OBS": _isot(mjdref, timesys, tstart)[11:]}))
    return Family("veritas", directory, _collection(
        "veritas", "SYNTH-VERITAS", "Synthetic VERITAS", "VERITAS", fov_diameter_deg=3.5,
        tracking_mode="sidereal", scan_modes=dict(_IACT_SCAN_MODES)),
        files, ("TIMESYS 'tt'", "EQUINOX ''", "DATE_OBS with an underscore",
                "GTI stop before TSTOP", "an empty EVENTS table"))


def _family_fact(directory: Path) -> Family:
    mjdref, timesys = (56658, 0.0), "UTC"
    write_irf_file(  # one IRF file shared by every run
        directory / "irf" / "fact_irf.fits.gz", types=("aeff", "edisp"),
        containment="POINT-LIKE",
        header_overrides={"aeff": {"RAD_MAX": (0.1732, "[deg] directional cut"),
                                   "LO_THRES": 0.5, "HI_THRES": 30.0}})
    files, hdu_rows, obs_rows = [], [], []
    for i, (obs_id, tstart) in enumerate([(20140105001, 345600.0), (20140105002, 347400.0)]):
        tstop = tstart + 300.0
        name = f"fact_{obs_id}.fits.gz"
        files.append(write_event_list(
            directory / "events" / name, obs_id=obs_id, tstart=tstart, tstop=tstop,
            mjdref=mjdref, timesys=timesys, seed=30 + i,
            header_overrides={
                "TELESCOP": "FACT", "INSTRUME": "FACT", "ORIGIN": "FACT Collaboration",
                "N_TELS": None, "TELLIST": None, "ALT_PNT": None, "AZ_PNT": None,
                "OBS_MODE": None, "RA_OBJ": None, "DEC_OBJ": None, "CONV_DEP": None,
                "MUONEFF": None, "TASSIGN": "La Palma",
                "GEOLON": -17.8907, "GEOLAT": 28.7615, "ALTITUDE": 2200.0}))
        hdu_rows += hdu_index_rows(obs_id, name, file_dir="events", types=("events", "gti"))
        hdu_rows += hdu_index_rows(obs_id, "fact_irf.fits.gz", file_dir="irf",
                                   types=("aeff", "edisp"))
        obs_rows.append({"OBS_ID": obs_id, "ZEN_PNT": 20.0 + i, "AZ_PNT": 180.0 + i,
                         "TARGET_NAME": "Crab", "QUALITY": 0})
    write_hdu_index(directory, hdu_rows)
    write_obs_index(directory, obs_rows)
    return Family("fact", directory, _collection(
        "fact", "SYNTH-FACT", "Synthetic FACT", "FACT", fov_diameter_deg=4.5,
        tracking_mode="sidereal", scan_modes=dict(_IACT_SCAN_MODES)),
        files, ("IRFs in one separate file named by an hdu-index", "point-like IRFs (HDUCLAS3)"
                " with RAD_MAX as a keyword", "obs-index with ZEN_PNT/AZ_PNT",
                "N_TELS/TELLIST/ALT/AZ/OBS_MODE/RA_OBJ missing", "TIMESYS UTC"))


_LST_EXTNAMES = {"aeff": "EFFECTIVE AREA", "edisp": "ENERGY DISPERSION", "rad_max": "RAD_MAX"}


def _pointing_hdu(tstart, tstop, ra, dec) -> fits.BinTableHDU:
    times = np.linspace(tstart, tstop, 5)
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("TIME", "D", unit="s", array=times),
        fits.Column("RA_PNT", "D", unit="deg", array=np.full(5, ra)),
        fits.Column("DEC_PNT", "D", unit="deg", array=np.full(5, dec)),
        fits.Column("ALT_PNT", "D", unit="deg", array=np.linspace(60, 65, 5)),
        fits.Column("AZ_PNT", "D", unit="deg", array=np.linspace(100, 110, 5))], name="POINTING")
    _update(hdu.header, {"HDUCLASS": "GADF", "HDUCLAS1": "POINTING"})
    return hdu


def _family_lst(directory: Path) -> Family:
    mjdref, timesys = (58484, 0.0), "UTC"
    files = []
    for i, (obs_id, tstart) in enumerate([(2967, 54000000.0), (2968, 54001300.0)]):
        tstop = tstart + 1200.0
        files.append(write_event_list(
            directory / f"dl3_LST-1.Run{obs_id:05d}.fits", obs_id=obs_id,
            tstart=tstart, tstop=tstop, mjdref=mjdref, timesys=timesys, seed=40 + i,
            irfs=("aeff", "edisp", "rad_max"), irf_containment="POINT-LIKE",
            irf_extnames=_LST_EXTNAMES,
            extra_hdus=[_pointing_hdu(tstart, tstop, 83.963, 22.246)],
            ra_pnt=83.963, dec_pnt=22.246,
            header_overrides={
                "TELESCOP": "CTA-N", "INSTRUME": "LST-1", "ORIGIN": "CTA",
                "N_TELS": 1, "TELLIST": "LST-1", "TASSIGN": "La Palma",
                "GEOLON": -17.89149, "GEOLAT": 28.76152, "ALTITUDE": 2177.0,
                "CONV_DEP": None, "MUONEFF": None}))
    return Family("lst-pointlike", directory, _collection(
        "lst-pointlike", "SYNTH-LST1", "Synthetic LST-1", "CTAO", fov_diameter_deg=4.3,
        tracking_mode="sidereal", scan_modes=dict(_IACT_SCAN_MODES)),
        files, ("point-like IRFs with a RAD_MAX HDU (rad_max_2d)", "LST EXTNAMEs",
                "a POINTING HDU", "TIMESYS UTC"))


def _family_hawc(directory: Path, gti_count: int = 20000) -> Family:
    """One day of a drift-scan instrument: text OBS_ID, no pointing, TAI,
    a single MJDREF, ``gti_count`` good time intervals."""
    rng = np.random.default_rng(50)
    mjdref, timesys = 59366.0, "TAI"
    t0, step, length = 1000.0, 86400.0 / gti_count, 86400.0 / gti_count * 0.925
    starts = t0 + step * np.arange(gti_count)
    gti = np.column_stack([starts, starts + length])
    n = 2000
    times = _times_in_gtis(rng, n, gti)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-26.0)),
                                           np.sin(np.radians(64.0)), n)))
    path = write_event_list(
        directory / "hawc_dl3_2021-06-01.fits.gz", obs_id="HAWC-2021-06-01",
        energies=_power_law(rng, n, 0.3, 300.0, 2.6) * u.TeV, times=times, ra=ra, dec=dec,
        tstart=float(gti[0, 0]), tstop=float(gti[-1, 1]), mjdref=mjdref, timesys=timesys,
        object_name="HAWC daily transit", gti=gti, seed=51,
        header_overrides={
            "TELESCOP": "HAWC", "INSTRUME": "HAWC", "ORIGIN": "HAWC Collaboration",
            "TASSIGN": "Sierra Negra", "OBS_MODE": "DRIFT",
            "RA_PNT": None, "DEC_PNT": None, "ALT_PNT": None, "AZ_PNT": None,
            "RA_OBJ": None, "DEC_OBJ": None, "CONV_DEP": None, "N_TELS": None,
            "TELLIST": None, "MUONEFF": None, "ONTIME": None, "LIVETIME": None,
            "DEADC": None, "DATE-OBS": None, "TIME-OBS": None, "DATE-END": None,
            "TIME-END": None, "GEOLON": -97.3078, "GEOLAT": 18.9948, "ALTITUDE": 4100.0})
    return Family("hawc", directory, _collection(
        "hawc", "SYNTH-HAWC", "Synthetic HAWC", "HAWC",
        tracking_mode="fixed-az-el-transit"),
        [path], ("OBS_ID as text", "no pointing (drift/survey)", f"{gti_count} GTI rows",
                 "TIMESYS TAI", "a single MJDREF", "no ONTIME/LIVETIME/DATE-OBS"))


#: FT1 file name of the Fermi family, and the configuration that gets an
#: OBS_ID from it.
FT1_FILE_NAME = "L2306101234567F357373F04_PH00.fits"
FT1_OBS_ID_PATTERN = r"^(L\d+F\d+F\d+)_PH\d+"


def _family_fermi(directory: Path) -> Family:
    path = write_ft1(directory / FT1_FILE_NAME, seed=60)
    return Family("fermi-ft1", directory, _collection(
        "fermi-ft1", "SYNTH-FERMI-LAT", "Synthetic Fermi-LAT", "Fermi",
        obs_id_from_filename=FT1_OBS_ID_PATTERN),
        [path], ("OGIP FT1: no OBS_ID", "energies in MeV", "no pointing, a gtselect ROI"
                 " (DSS keywords)", "MJDREFI/MJDREFF of Fermi, TIMESYS TT"))


#: Family name -> writer(directory) -> Family.
FAMILIES = {
    "hess": _family_hess,
    "magic": _family_magic,
    "veritas": _family_veritas,
    "fact": _family_fact,
    "lst-pointlike": _family_lst,
    "hawc": _family_hawc,
    "fermi-ft1": _family_fermi,
}


def write_families(dest: str | os.PathLike, names: Iterable[str] | None = None, *,
                   hawc_gti_count: int = 20000) -> dict:
    """Write one folder per instrument family below ``dest``.

    Parameters
    ----------
    dest : path-like
        Destination folder (created).
    names : iterable of str, optional
        Families to write (keys of :data:`FAMILIES`); default all.
    hawc_gti_count : int
        Number of GTIs of the HAWC-like run.

    Returns
    -------
    dict
        name -> :class:`Family`.
    """
    dest = Path(dest)
    written = {}
    for name in (names or FAMILIES):
        writer = FAMILIES[name]
        directory = dest / name
        directory.mkdir(parents=True, exist_ok=True)
        written[name] = (writer(directory, hawc_gti_count) if name == "hawc"
                         else writer(directory))
    return written


def families_config(families: Mapping[str, Family], *, absolute: bool = False) -> dict:
    """The operator configuration (a YAML-ready dict) publishing ``families``.

    Parameters
    ----------
    families : mapping
        As returned by :func:`write_families`.
    absolute : bool
        Write absolute ``data_dir`` paths (default: relative, for a file
        written into the destination folder).
    """
    collections = []
    for family in families.values():
        entry = dict(family.collection)
        if absolute:
            entry["data_dir"] = str(family.directory.resolve())
        collections.append(entry)
    return {"service": {"contact_name": "hess_dr operators",
                        "contact_email": "hess-dr@example.org"},
            "collections": collections}
