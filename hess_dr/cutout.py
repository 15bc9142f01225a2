"""Cut an event list by energy, time and sky region (the SODA service's work).

:func:`cutout` reads a run's event file again and returns a new GADF file
(as an :class:`astropy.io.fits.HDUList`) holding

* PRIMARY: the original primary header plus OBS_ID/TELESCOP/INSTRUME/OBJECT
  when missing there, CREATOR (hess_dr and its version) and DATE;
* EVENTS: the selected events (same columns, same header), with HISTORY
  cards describing the cut, ORIGFILE/ORIGEVTS (source file and its event
  count), CUTOUT = T, and when a time window applies TSTART/TSTOP,
  ONTIME, LIVETIME, TELAPSE and DATE-OBS/TIME-OBS/DATE-END/TIME-END
  recomputed (in the file's own TIMESYS, as the header had them);
* GTI: the good time intervals intersected with the time window, in the
  EVENTS MET (its time keywords are the EVENTS ones);
* every IRF HDU of the run, from the event file or from the separate IRF
  files an hdu-index names, under its own EXTNAME.

Other HDUs of the event file are not copied.  The EVENTS and GTI HDUs are
always named ``EVENTS`` and ``GTI`` (what Gammapy's readers look for).

Events are selected with inclusive bounds: lo <= ENERGY <= hi in the
column's own unit, lo <= TIME <= hi in MET, positions in the region (edge
included).  Events with NaN values fail every cut on that quantity.
"""
from __future__ import annotations

import gzip
import io
import re
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.time import Time, TimeDelta

from . import __version__
from .dl3 import GTI_EXTNAMES, find_hdu
from .soda import CutoutSpec

try:  # the warning erfa gives for UTC far from the leap-second table
    from erfa import ErfaWarning
except ImportError:  # pragma: no cover
    ErfaWarning = Warning

GADF_DOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
#: Value of CREATOR in the PRIMARY header of every file hess_dr writes.
CREATOR = f"hess_dr {__version__}"

_TIME_KEYWORDS = ("MJDREFI", "MJDREFF", "MJDREF", "TIMESYS", "TIMEUNIT", "TIMEZERO")
_STRUCTURAL = frozenset({"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT",
                         "TFIELDS", "EXTEND", "EXTNAME", "CHECKSUM", "DATASUM", "THEAP"})
_STRUCTURAL_PATTERN = re.compile(r"^(NAXIS\d+|T[A-Z]{3,5}\d+)$")
_KNOWN_ENERGY_UNITS = (u.TeV, u.GeV, u.MeV, u.keV, u.eV, u.erg, u.J)


class CutoutError(Exception):
    """The run's files cannot be cut (vanished, unreadable, lacking columns).

    Attributes
    ----------
    http_status : int
        500 for server-side trouble; 400 when the request asks for a cut the
        file cannot support (e.g. a region on events without RA/DEC).
    """

    def __init__(self, message: str, http_status: int = 500):
        super().__init__(message)
        self.http_status = http_status


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------

def cutout(run, spec: CutoutSpec) -> fits.HDUList:
    """Return the events of ``run`` selected by ``spec``, with GTIs and IRFs.

    Parameters
    ----------
    run : hess_dr.dl3.Run
        The run (its ``path``, ``time_ref``, ``gti`` and ``irfs`` are used).
    spec : hess_dr.soda.CutoutSpec
        The cut; an empty spec copies every event (see
        :func:`hess_dr.products.bundle`).

    Returns
    -------
    astropy.io.fits.HDUList
        PRIMARY, EVENTS, GTI and the IRF HDUs, held in memory.

    Raises
    ------
    CutoutError
        If a file cannot be read or lacks what the cut needs.
    """
    return assemble(run, spec, label="cutout")


def write_bytes(hdulist: fits.HDUList, *, compress: bool = False,
                checksum: bool = True) -> bytes:
    """Serialise an HDU list to FITS bytes.

    Parameters
    ----------
    hdulist : astropy.io.fits.HDUList
    compress : bool
        Gzip the result (timestamp 0, so equal inputs give equal bytes).
    checksum : bool
        Write CHECKSUM/DATASUM cards in every HDU.

    Returns
    -------
    bytes
    """
    buffer = io.BytesIO()
    hdulist.writeto(buffer, output_verify="silentfix", checksum=checksum)
    data = buffer.getvalue()
    return gzip.compress(data, compresslevel=6, mtime=0) if compress else data


def gti_intersection(start, stop, lo: float = -np.inf, hi: float = np.inf):
    """Intersect intervals with the window [lo, hi]; empty results are dropped.

    Parameters
    ----------
    start, stop : array-like
        Interval bounds (same unit as ``lo``/``hi``).
    lo, hi : float
        The window; infinite bounds leave that side open.

    Returns
    -------
    start, stop : numpy.ndarray
        The non-empty clipped intervals, in input order.
    """
    start = np.maximum(np.asarray(start, float), lo)
    stop = np.minimum(np.asarray(stop, float), hi)
    keep = stop > start
    return start[keep], stop[keep]


def time_window_met(run, spec: CutoutSpec) -> tuple[float, float]:
    """The spec's time window as MET (-inf/+inf for open or absent bounds)."""
    if spec.time is None:
        return -np.inf, np.inf
    lo, hi = spec.time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)
        lo_met = -np.inf if lo is None else float(run.time_ref.to_met(lo))
        hi_met = np.inf if hi is None else float(run.time_ref.to_met(hi))
    return lo_met, hi_met


# --------------------------------------------------------------------------
# assembling the output file
# --------------------------------------------------------------------------

def assemble(run, spec: CutoutSpec, *, label: str) -> fits.HDUList:
    """Build the output file of :func:`cutout`.

    Parameters
    ----------
    run : hess_dr.dl3.Run
    spec : hess_dr.soda.CutoutSpec
    label : str
        Names the product in the HISTORY cards ('cutout', 'bundle').

    Returns
    -------
    astropy.io.fits.HDUList

    Raises
    ------
    CutoutError
        If a file cannot be read or lacks what the cut needs.
    """
    path = Path(run.path)
    try:
        with fits.open(path, memmap=False) as hdus:
            events = _events_hdu(path, hdus)
            primary_header = hdus[0].header.copy()
            gti_hdu = _gti_hdu(hdus)
            gti_header = None if gti_hdu is None else gti_hdu.header.copy()
            n_original = 0 if events.data is None else len(events.data)
            mask = event_mask(run, events, spec)
            events_out = _select(events, mask)
            energy_unit = _undocumented_energy_unit(run, events)
            irf_hdus = _irf_hdus(run, path, hdus)
    except (OSError, EOFError) as exc:
        raise CutoutError(f"{path.name}: cannot read the event file ({exc})") from None

    lo_met, hi_met = time_window_met(run, spec)
    gti_start, gti_stop = run.gti.start_met, run.gti.stop_met
    if spec.time is not None:
        gti_start, gti_stop = gti_intersection(gti_start, gti_stop, lo_met, hi_met)
    _fill_time_keywords(events_out.header, run)
    if energy_unit is not None:
        _column(events_out, "ENERGY").unit = energy_unit.to_string("fits")
        events_out.header.add_history(
            f"ENERGY unit {energy_unit.to_string('fits')} added (from the collection configuration)")
    gti_out = _gti_table(run, gti_header, events_out.header, gti_start, gti_stop)
    if spec.time is not None:
        updates = _time_updates(run, events_out.header, gti_start, gti_stop, lo_met)
        _apply_time_updates(events_out.header, updates, always=True)
        _apply_time_updates(primary_header, updates, always=False)
        for key in ("TSTART", "TSTOP"):
            if key in gti_out.header:
                gti_out.header[key] = updates[key]

    _provenance(events_out.header, run, spec, label, n_original, int(mask.sum()))
    primary = _primary(primary_header, run)
    return fits.HDUList([primary, events_out, gti_out, *_unique_names(irf_hdus)])


def _events_hdu(path: Path, hdus) -> fits.BinTableHDU:
    """The EVENTS table, found as the reader finds it (:func:`find_hdu`)."""
    hdu = find_hdu(hdus, "EVENTS", ("EVENTS",))
    if not isinstance(hdu, fits.BinTableHDU):
        raise CutoutError(f"{path.name}: no EVENTS table")
    return hdu


def _gti_hdu(hdus):
    return find_hdu(hdus, "GTI", GTI_EXTNAMES)


def _column(hdu: fits.BinTableHDU, name: str):
    return next((c for c in hdu.columns if c.name.upper() == name), None)


def _select(events: fits.BinTableHDU, mask: np.ndarray) -> fits.BinTableHDU:
    """A new EVENTS HDU holding the masked rows, the header copied."""
    header = _strip_checksums(events.header.copy())
    if events.data is None or len(events.data) == 0:
        hdu = fits.BinTableHDU.from_columns(events.columns, nrows=0, header=header)
    else:
        hdu = fits.BinTableHDU(data=events.data[mask], header=header)
    hdu.name = "EVENTS"
    return hdu


def _strip_checksums(header: fits.Header) -> fits.Header:
    for key in ("CHECKSUM", "DATASUM"):
        header.remove(key, ignore_missing=True, remove_all=True)
    return header


# --------------------------------------------------------------------------
# selecting events
# --------------------------------------------------------------------------

def event_mask(run, events: fits.BinTableHDU, spec: CutoutSpec) -> np.ndarray:
    """Boolean mask of the rows of ``events`` that pass every cut of ``spec``.

    Parameters
    ----------
    run : hess_dr.dl3.Run
        Supplies the time reference (and the energy unit when the file
        states none).
    events : astropy.io.fits.BinTableHDU
        The run's EVENTS table.
    spec : hess_dr.soda.CutoutSpec

    Returns
    -------
    numpy.ndarray
        One bool per row; bounds are inclusive, NaN values never pass.
    """
    n = 0 if events.data is None else len(events.data)
    mask = np.ones(n, dtype=bool)
    if n == 0:
        return mask
    if spec.energy is not None:
        energy, unit = _energy_values(run, events)
        lo, hi = (bound.to_value(unit) for bound in spec.energy)
        mask &= (energy >= lo) & (energy <= hi)
    if spec.time is not None:
        lo, hi = time_window_met(run, spec)
        time = _numeric_column(run, events, "TIME")
        mask &= (time >= lo) & (time <= hi)
    if spec.region is not None:
        ra, dec = (_angle_values(run, events, name) for name in ("RA", "DEC"))
        mask &= spec.region.contains(ra, dec)
    return mask


def _numeric_column(run, events, name: str) -> np.ndarray:
    column = _column(events, name)
    if column is None:
        raise CutoutError(f"{Path(run.path).name}: EVENTS table has no {name} column", 400)
    values = np.asarray(events.data[column.name])
    if values.dtype.kind not in "iuf":
        raise CutoutError(f"{Path(run.path).name}: {name} column is not numeric")
    return values.astype(float)


def _angle_values(run, events, name: str) -> np.ndarray:
    """RA or DEC in degrees (the column's TUNIT, degrees when absent)."""
    values = _numeric_column(run, events, name)
    unit_name = (_column(events, name).unit or "deg").strip() or "deg"
    try:
        return (values * u.Unit(unit_name)).to_value(u.deg)
    except (ValueError, u.UnitConversionError):
        raise CutoutError(f"{Path(run.path).name}: {name} unit {unit_name!r} is not an angle") from None


def _energy_values(run, events) -> tuple[np.ndarray, u.UnitBase]:
    """ENERGY column values and their unit (TUNIT, else EUNIT, else the
    unit that reproduces the run's energy range, for files whose unit came
    from the collection configuration)."""
    values = _numeric_column(run, events, "ENERGY")
    unit_name = (_column(events, "ENERGY").unit or "").strip() \
        or str(events.header.get("EUNIT", "") or "").strip()
    if unit_name:
        try:
            unit = u.Unit(unit_name)
            unit.to(u.TeV)
            return values, unit
        except (ValueError, u.UnitConversionError):
            raise CutoutError(f"{Path(run.path).name}: ENERGY unit {unit_name!r} is not an energy") from None
    return values, _inferred_energy_unit(run, values)


def _undocumented_energy_unit(run, events: fits.BinTableHDU) -> u.UnitBase | None:
    """The unit of an ENERGY column that has neither TUNIT nor EUNIT (the
    collection's configured unit, found from the run's energy range), so
    that the output file can say it; None when the file says it already."""
    column = _column(events, "ENERGY")
    if column is None or (column.unit or "").strip() or str(events.header.get("EUNIT", "")).strip():
        return None
    if events.data is None or len(events.data) == 0:
        return None
    try:
        return _energy_values(run, events)[1]
    except CutoutError:
        return None


def _inferred_energy_unit(run, values: np.ndarray) -> u.UnitBase:
    finite = values[np.isfinite(values) & (values > 0)]
    if run.energy_min is None or len(finite) == 0:
        return u.TeV
    ratio = run.energy_min.to_value(u.TeV) / float(finite.min())
    for unit in _KNOWN_ENERGY_UNITS:
        if np.isclose(unit.to(u.TeV), ratio, rtol=1e-6):
            return unit
    raise CutoutError(f"{Path(run.path).name}: cannot tell the ENERGY unit (no TUNIT, no EUNIT)")


# --------------------------------------------------------------------------
# GTI and time keywords
# --------------------------------------------------------------------------

def _time_keyword_values(run) -> dict:
    """MJDREFI/MJDREFF/TIMESYS/TIMEUNIT/TIMEZERO of the run's time reference."""
    epoch = run.time_ref.epoch
    mjd_i = float(np.floor(epoch.jd1 - 2400000.5 + epoch.jd2))
    mjd_f = float((epoch.jd1 - 2400000.5 - mjd_i) + epoch.jd2)
    return {"MJDREFI": int(mjd_i), "MJDREFF": mjd_f, "TIMESYS": run.time_ref.timesys,
            "TIMEUNIT": run.time_ref.unit.to_string("fits"), "TIMEZERO": run.time_ref.timezero}


def _fill_time_keywords(header: fits.Header, run) -> None:
    """Add the time reference to an EVENTS header that lacked it (values
    taken from an obs-index or the configuration when the run was read)."""
    has_ref = "MJDREFI" in header or "MJDREF" in header
    values = _time_keyword_values(run)
    for key in ("MJDREFI", "MJDREFF") if not has_ref else ():
        header[key] = values[key]
    for key in ("TIMESYS", "TIMEUNIT"):
        if not str(header.get(key, "") or "").strip():
            header[key] = values[key]


def _gti_table(run, original_header, events_header, start, stop) -> fits.BinTableHDU:
    """GTI HDU in the EVENTS time reference (original non-column cards kept)."""
    unit = run.time_ref.unit.to_string("fits")
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("START", "D", unit=unit, array=np.asarray(start, float)),
        fits.Column("STOP", "D", unit=unit, array=np.asarray(stop, float))], name="GTI")
    if original_header is None:
        hdu.header.update({"HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2",
                           "HDUCLAS1": "GTI"})
    else:
        _copy_cards(original_header, hdu.header)
    for key in _TIME_KEYWORDS:
        hdu.header.remove(key, ignore_missing=True, remove_all=True)
        if key in events_header:
            hdu.header[key] = events_header[key]
    if original_header is None or "TIMEREF" not in original_header:
        if "TIMEREF" in events_header:
            hdu.header["TIMEREF"] = events_header["TIMEREF"]
    return hdu


def _copy_cards(source: fits.Header, target: fits.Header) -> None:
    """Copy the non-structural cards of ``source`` (HISTORY/COMMENT included)."""
    for card in source.cards:
        key = card.keyword
        if key in _STRUCTURAL or _STRUCTURAL_PATTERN.match(key):
            continue
        if key in ("HISTORY", "COMMENT", ""):
            target.append(card, end=True)
        else:
            target[key] = (card.value, card.comment)


def _time_updates(run, header, start, stop, lo_met: float) -> dict:
    """Header values after a time cut: bounds, exposure and date strings."""
    if len(start):
        tstart, tstop = float(np.min(start)), float(np.max(stop))
    else:  # nothing left: a zero-length span where the window begins
        tstart = tstop = float(np.clip(lo_met, run.tstart, run.tstop))
    ontime = float(np.sum(np.asarray(stop) - np.asarray(start)))
    updates = {"TSTART": tstart, "TSTOP": tstop, "TELAPSE": tstop - tstart, "ONTIME": ontime}
    deadc = _header_float(header, "DEADC")
    deadc = run.deadc if deadc is None else deadc
    if deadc is not None:
        updates["LIVETIME"] = ontime * deadc
    updates["_dates"] = _clock_readings(run, tstart, tstop)
    return updates


def _header_float(header, key: str) -> float | None:
    try:
        value = float(header[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _clock_readings(run, *met) -> list[str]:
    """ISO date-times (ms) of MET values as read in the file's TIMESYS
    (MJDREF + MET, the convention of DATE-OBS/DATE-END)."""
    ref = run.time_ref
    seconds = ((np.asarray(met, float) + ref.timezero) * ref.unit).to_value(u.s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)
        times = ref.epoch + TimeDelta(seconds, format="sec")
        times.precision = 3
        return list(times.isot)


def _apply_time_updates(header: fits.Header, updates: dict, *, always: bool) -> None:
    """Write the updates (``always``: add missing keywords; else only
    replace those present, e.g. in a PRIMARY header that repeats them)."""
    for key, value in updates.items():
        if key.startswith("_"):
            continue
        if always or key in header:
            header[key] = value
    start, stop = updates["_dates"]
    _set_date(header, ("DATE-OBS", "DATE_OBS"), ("TIME-OBS", "TIME_OBS"), start, always)
    _set_date(header, ("DATE-END", "DATE_END"), ("TIME-END", "TIME_END"), stop, always)


def _set_date(header, date_keys, time_keys, isot: str, always: bool) -> None:
    date, clock = isot.split("T")
    present_dates = [k for k in date_keys if k in header]
    present_times = [k for k in time_keys if k in header]
    if not present_dates and not present_times:
        if always:
            header[date_keys[0]], header[time_keys[0]] = date, clock
        return
    for key in present_dates:
        full = not present_times and "T" in str(header[key])
        header[key] = isot if full else date
    for key in present_times:
        header[key] = clock


# --------------------------------------------------------------------------
# provenance, PRIMARY, IRFs
# --------------------------------------------------------------------------

def _provenance(header: fits.Header, run, spec: CutoutSpec, label: str,
                n_original: int, n_kept: int) -> None:
    name = Path(run.path).name
    if not spec.is_empty:
        header["CUTOUT"] = (True, "events selected by hess_dr (see HISTORY)")
    header["ORIGFILE"] = (name[:68], "file the events were taken from")
    header["ORIGEVTS"] = (n_original, "number of events in ORIGFILE")
    header.add_history(f"{CREATOR} {label} of {name}")
    header.add_history(f"{n_kept} of its {n_original} events kept")
    if spec.is_empty:
        header.add_history("no selection applied: every event, GTI and IRF copied")
    for line in spec.describe():
        header.add_history(f"selection: {line}")
    for key, value in spec.parameters:
        header.add_history(f"request parameter {key}={value}")
    if spec.time is not None:
        header.add_history("TSTART, TSTOP, ONTIME, LIVETIME, TELAPSE, DATE-OBS, DATE-END "
                           "recomputed from the intersected GTIs")


def primary_header_values(run) -> dict:
    """Identification keywords for a PRIMARY header (only known values)."""
    values = {"OBS_ID": _obs_id_value(run.obs_id), "TELESCOP": run.telescope,
              "INSTRUME": run.instrument, "OBJECT": run.object_name}
    return {k: v for k, v in values.items() if v is not None}


def _obs_id_value(obs_id: str):
    return int(obs_id) if obs_id.isdigit() and len(obs_id) < 19 else obs_id


def _primary(header: fits.Header, run) -> fits.PrimaryHDU:
    header = _strip_checksums(header)
    for key, value in primary_header_values(run).items():
        if key not in header:
            header[key] = value
    header["CREATOR"] = (CREATOR, "software that wrote this file")
    header["DATE"] = (Time.now().utc.isot[:19], "file creation date (UTC)")
    return fits.PrimaryHDU(header=header)


def _irf_hdus(run, path: Path, hdus) -> list:
    """Copies of the run's IRF HDUs, in the order of ``run.irfs``."""
    copies = []
    for ref in run.irfs:
        if Path(ref.path) == path:
            copies.append(_copy_hdu(hdus, ref, path))
        else:
            copies.append(read_irf_hdu(ref))
    return copies


def read_irf_hdu(ref) -> fits.BinTableHDU:
    """A copy of the IRF HDU an :class:`~hess_dr.index.HduRef` points to.

    Raises
    ------
    CutoutError
        If its file cannot be read or lacks the HDU.
    """
    path = Path(ref.path)
    try:
        with fits.open(path, memmap=False) as hdus:
            return _copy_hdu(hdus, ref, path)
    except (OSError, EOFError) as exc:
        raise CutoutError(f"{path.name}: cannot read the IRF file ({exc})") from None


def _copy_hdu(hdus, ref, path: Path):
    try:
        hdu = hdus[ref.hdu]
    except KeyError:
        raise CutoutError(f"{path.name}: no HDU {ref.hdu!r} ({ref.hdu_type})") from None
    copy = hdu.copy()
    _strip_checksums(copy.header)
    return copy


def _unique_names(hdus: list) -> list:
    """Give HDUs sharing an EXTNAME increasing EXTVERs (readers pick by name)."""
    seen = {"PRIMARY": 1, "EVENTS": 1, "GTI": 1}
    for hdu in hdus:
        name = str(hdu.name).upper()
        if name in seen:
            seen[name] += 1
            hdu.ver = seen[name]
        else:
            seen[name] = 1
    return hdus
