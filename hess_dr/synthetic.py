"""Synthetic DL3 files: event lists, IRF files and GADF index files.

Used by the tests and by bin/hess-dr-synth (synthetic archives for benchmarks).

Every writer here produces a small, deterministic FITS file (seeded numpy
RNG, gzip streams written with a zero timestamp) shaped like the H.E.S.S.
DL3 DR1 files (one EVENTS table whose header carries all the metadata, one
GTI table, optionally the four IRF HDUs copied from a real DR1 file).  The
knobs let a caller reproduce the quirks of DL3 files from other instruments
(REFERENCE.md section 3): any header keyword can be replaced or deleted,
columns replaced or dropped, the GTI table given thousands of rows or left
out, the HDUCLAS* keywords stripped, the IRFs written to a separate file.

Typical use::

    from astropy import units as u
    import synth

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
    "DR1_SAMPLE", "FROM_HEADER", "IRF_TYPES", "HESS_SITE",
    "write_event_list", "write_irf_file", "write_obs_index", "write_hdu_index",
    "hdu_index_rows", "truncated_copy", "event_header", "irf_hdus", "write_hdus",
]

#: The real H.E.S.S. DR1 file the IRF HDUs are copied from.
DR1_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"  # IRFs are copied from it

#: IRF HDU types, in file order, with their EXTNAME in the DR1 files.
IRF_TYPES = ("aeff", "edisp", "psf", "bkg")
_IRF_EXTNAMES = {"aeff": "AEFF", "edisp": "EDISP", "psf": "PSF", "bkg": "BKG"}
#: hdu-index HDU_CLASS of each DR1 HDU type.
_HDU_CLASSES = {"events": "events", "gti": "gti", "aeff": "aeff_2d",
                "edisp": "edisp_2d", "psf": "psf_table", "bkg": "bkg_3d"}

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
                 hduclass: bool = True) -> dict:
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

    Returns
    -------
    dict
        Ordered keyword -> value.
    """
    epoch = Time(DR1_MJDREFI, DR1_MJDREFF, format="mjd", scale="tt")
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
        "MJDREFI": DR1_MJDREFI, "MJDREFF": DR1_MJDREFF,
        "TIMEUNIT": "s", "TIMESYS": "TT", "TIMEREF": "local", "TASSIGN": "Namibia",
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
        of :data:`IRF_TYPES`) from ``irf_source`` into the file.
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
        object_name=object_name, energy_unit=energy_unit))

    hdus = [fits.PrimaryHDU(), events]
    if gti is not None:
        rows = [(tstart, tstop)] if gti is FROM_HEADER else list(gti)
        hdus.append(_gti_hdu(rows, tstart, tstop))
    if irfs:
        hdus.extend(irf_hdus(IRF_TYPES if irfs is True else irfs, source=irf_source))
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


def _gti_hdu(rows, tstart, tstop) -> fits.BinTableHDU:
    """A DR1-like GTI table (MJDREF/TIMESYS of its own, TIMEREF 'LOCAL')."""
    rows = np.asarray(rows, dtype=float).reshape(-1, 2)
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("START", "D", unit="s", array=rows[:, 0]),
        fits.Column("STOP", "D", unit="s", array=rows[:, 1])], name="GTI")
    _update(hdu.header, {
        "TSTART": float(tstart), "TSTOP": float(tstop), "TIMEZERO": 0.0,
        "TIMEUNIT": "s", "TIMESYS": "TT", "TIMEREF": "LOCAL",
        "HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2", "HDUCLAS1": "GTI",
        "MJDREFI": DR1_MJDREFI, "MJDREFF": DR1_MJDREFF})
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
        Among :data:`IRF_TYPES`.
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
        if hdu_type not in cache:
            raise ValueError(f"unknown IRF type {hdu_type!r}; use one of {IRF_TYPES}")
        header, data = cache[hdu_type]
        hdu = fits.BinTableHDU(data=data, header=header.copy())
        if obs_id is not None and hdu_type == "aeff":
            hdu.header["OBS_ID"] = obs_id
        hdus.append(hdu)
    return hdus


def write_irf_file(path: str | os.PathLike, *, types: Iterable[str] = IRF_TYPES,
                   obs_id: int | None = None, hduclass: bool = True,
                   extnames: Mapping[str, str] | None = None,
                   source: str | os.PathLike = DR1_SAMPLE, gzip: bool | None = None) -> Path:
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

    Returns
    -------
    pathlib.Path
    """
    types = tuple(types)
    hdus = irf_hdus(types, source=source, obs_id=obs_id)
    for hdu_type, hdu in zip(types, hdus):
        if extnames and hdu_type in extnames:
            hdu.name = extnames[hdu_type]
        if not hduclass:
            for key in [k for k in hdu.header if _HDUCLAS_PATTERN.match(k)]:
                del hdu.header[key]
    return write_hdus(fits.HDUList([fits.PrimaryHDU(), *hdus]), path, gzip)


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
