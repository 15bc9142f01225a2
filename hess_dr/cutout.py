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

import datetime
import functools
import gzip
import io
import re
import warnings
import zlib
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.time import Time, TimeDelta

from . import __version__, fitsbytes
from .events import (EventCache, EventsError, EventTable, fill_cache, hdu_piece, open_fits,
                     read_irf_piece, stripped)
from .soda import CutoutSpec
from .timeref import is_time_unit

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

    def __reduce__(self):  # (raised in worker processes, pickled back)
        return type(self), (str(self), self.http_status)


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------

def cutout(run, spec: CutoutSpec, cache: EventCache | None = None) -> fits.HDUList:
    """Return the events of ``run`` selected by ``spec``, with GTIs and IRFs.

    Parameters
    ----------
    run : hess_dr.dl3.Run or hess_dr.stored.StoredRun
        The run (its ``path``, ``layout``, ``time_ref``, ``gti`` and
        ``irfs`` are used).
    spec : hess_dr.soda.CutoutSpec
        The cut; an empty spec copies every event (see
        :func:`hess_dr.products.bundle`).
    cache : hess_dr.events.EventCache, optional
        Where the decompressed events and IRF HDUs are kept.

    Returns
    -------
    astropy.io.fits.HDUList
        PRIMARY, EVENTS, GTI and the IRF HDUs: :func:`cutout_bytes` opened.

    Raises
    ------
    CutoutError
        If a file cannot be read or lacks what the cut needs.
    """
    return fits.open(io.BytesIO(cutout_bytes(run, spec, cache)))


def cutout_bytes(run, spec: CutoutSpec, cache: EventCache | None = None) -> bytes:
    """The file of :func:`cutout` as FITS bytes (what the service sends)."""
    return assemble_bytes(run, spec, label="cutout", cache=cache)


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
# reading the run's file(s)
# --------------------------------------------------------------------------

class _Source:
    """The run's event file, opened at most once, and the cache."""

    def __init__(self, run, cache: EventCache | None):
        self.run = run
        self.path = Path(run.path)
        self.cache = cache
        self._open = None

    def _hdus(self):
        if self._open is None:
            try:
                hdus, data, _ = open_fits(self.path)
            except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise CutoutError(f"{self.path.name}: cannot read the event file ({exc})") from None
            self._open = (hdus, data)
        return self._open

    def events(self) -> EventTable:
        layout = self.run.layout
        table = self.cache.load(layout) if self.cache is not None else None
        if table is not None:
            return table
        hdus, data = self._hdus()
        try:
            table = EventTable.from_hdulist(hdus, layout)
        except EventsError as exc:
            raise CutoutError(f"{self.path.name}: {exc}") from None
        if self.cache is not None:
            try:
                fill_cache(self.cache, hdus, data, layout)
            except (OSError, ValueError, KeyError, EventsError):
                pass  # serve without a cache
        return table

    def irf_piece(self, ref) -> bytes:
        layout = self.run.layout
        piece = self.cache.irf_piece(layout, ref) if self.cache is not None else None
        if piece is not None:
            return piece
        if Path(ref.path) == self.path:
            hdus, data = self._hdus()
            try:
                piece = hdu_piece(hdus[ref.hdu], data)
            except KeyError:
                raise CutoutError(f"{self.path.name}: no HDU {ref.hdu!r} ({ref.hdu_type})") from None
        else:
            try:
                piece = read_irf_piece(ref)
            except EventsError as exc:
                raise CutoutError(str(exc)) from None
        if self.cache is not None:
            try:
                self.cache.store_irf_piece(layout, ref, piece)
            except OSError:
                pass
        return piece

    def close(self):
        if self._open is not None:
            self._open[0].close()


# --------------------------------------------------------------------------
# assembling the output file
# --------------------------------------------------------------------------

def assemble(run, spec: CutoutSpec, *, label: str,
             cache: EventCache | None = None) -> fits.HDUList:
    """:func:`assemble_bytes` opened as an HDU list."""
    return fits.open(io.BytesIO(assemble_bytes(run, spec, label=label, cache=cache)))


def assemble_bytes(run, spec: CutoutSpec, *, label: str,
                   cache: EventCache | None = None) -> bytes:
    """Build the output file of :func:`cutout` as FITS bytes.

    The selected rows are copied as the file stores them; the IRF HDUs are
    appended unchanged (from the cache when there); every HDU carries
    CHECKSUM/DATASUM.

    Parameters
    ----------
    run : hess_dr.dl3.Run or hess_dr.stored.StoredRun
    spec : hess_dr.soda.CutoutSpec
    label : str
        Names the product in the HISTORY cards ('cutout', 'bundle').
    cache : hess_dr.events.EventCache, optional

    Raises
    ------
    CutoutError
        If a file cannot be read or lacks what the cut needs.
    """
    source = _Source(run, cache)
    try:
        table = source.events()
        mask = event_mask(run, table, spec)
        irf_pieces = [source.irf_piece(ref) for ref in run.irfs]
    finally:
        source.close()
    n_original = len(table)
    primary_header = table.primary_header.copy()

    events_header = stripped(table.header)
    events_header["EXTNAME"] = "EVENTS"
    lo_met, hi_met = time_window_met(run, spec)
    gti_start, gti_stop = run.gti.start_met, run.gti.stop_met
    if spec.time is not None:
        gti_start, gti_stop = gti_intersection(gti_start, gti_stop, lo_met, hi_met)
    _fill_time_keywords(events_header, run)
    _document_energy_unit(events_header, run.layout)
    _standard_column_names(events_header, run.layout)
    gti_header = _gti_header(run, table.gti_header, events_header, len(gti_start))
    if spec.time is not None:
        updates = _time_updates(run, events_header, gti_start, gti_stop, lo_met)
        _apply_time_updates(events_header, updates, always=True)
        _apply_time_updates(primary_header, updates, always=False)
        for key in ("TSTART", "TSTOP"):
            if key in gti_header:
                gti_header[key] = updates[key]

    _provenance(events_header, run, spec, label, n_original, int(mask.sum()))
    primary = _primary(primary_header, run)
    gti_rows = np.empty(len(gti_start), dtype=[("START", ">f8"), ("STOP", ">f8")])
    gti_rows["START"], gti_rows["STOP"] = gti_start, gti_stop
    pieces = [fitsbytes.hdu_bytes(primary),
              table.selected_hdu(events_header, mask),
              fitsbytes.hdu_bytes(gti_header, gti_rows.tobytes())]
    return b"".join(pieces + _unique_names(irf_pieces, [ref.hdu for ref in run.irfs]))


def _column(hdu: fits.BinTableHDU, name: str):
    return next((c for c in hdu.columns if c.name.upper() == name), None)


def _strip_checksums(header: fits.Header) -> fits.Header:
    for key in ("CHECKSUM", "DATASUM"):
        header.remove(key, ignore_missing=True, remove_all=True)
    return header


def _document_energy_unit(header: fits.Header, layout) -> None:
    """Write the ENERGY unit as the column's TUNIT into an output EVENTS
    header whose file did not (the unit the reader decided: EUNIT, which
    Gammapy does not read, or another source), so that the output file says
    it where every reader looks."""
    if layout.energy_unit_from == "TUNIT":
        return
    name = layout.column("ENERGY")
    number = next((key[5:] for key in header.keywords()
                   if key.startswith("TTYPE") and str(header.get(key)).strip() == name), None)
    if number is None:
        return
    unit = u.Unit(layout.energy_unit).to_string("fits")
    header.set(f"TUNIT{number}", unit, "physical unit of field", after=f"TFORM{number}")
    origin = {"configuration": "the collection configuration",
              "EUNIT": "EUNIT of the EVENTS header",
              "PRIMARY EUNIT": "EUNIT of the PRIMARY header",
              "obs-index": "the obs-index"}.get(layout.energy_unit_from, layout.energy_unit_from)
    header.add_history(f"ENERGY unit {unit} added (from {origin})")


def _standard_column_names(header, layout) -> None:
    """Name the TIME, ENERGY, RA and DEC columns in upper case in an output
    EVENTS header (FITS column names are case-insensitive; Gammapy looks
    for the upper-case ones only)."""
    titles = {key: str(header.get(key)).strip() for key in header.keywords()
              if key.startswith("TTYPE")}
    for quantity in ("TIME", "ENERGY", "RA", "DEC"):
        name = layout.column(quantity)
        if not name or name == quantity or quantity in titles.values():
            continue
        key = next((k for k, title in titles.items() if title == name), None)
        if key is not None:
            header[key] = quantity
            titles[key] = quantity
            header.add_history(f"column {name} named {quantity}")


# --------------------------------------------------------------------------
# selecting events
# --------------------------------------------------------------------------

def event_mask(run, events: EventTable, spec: CutoutSpec) -> np.ndarray:
    """Boolean mask of the rows of ``events`` that pass every cut of ``spec``.

    Parameters
    ----------
    run : hess_dr.dl3.Run or hess_dr.stored.StoredRun
        Supplies the time reference.
    events : hess_dr.events.EventTable
        The run's events, read as its layout says (energy unit included).
    spec : hess_dr.soda.CutoutSpec

    Returns
    -------
    numpy.ndarray
        One bool per row; bounds are inclusive, NaN values never pass.
    """
    n = len(events)
    mask = np.ones(n, dtype=bool)
    if n == 0:
        return mask
    try:
        if spec.energy is not None:
            energy = events.values("ENERGY")
            unit = events.energy_unit()
            lo, hi = (bound.to_value(unit) for bound in spec.energy)
            mask &= (energy >= lo) & (energy <= hi)
        if spec.time is not None:
            lo, hi = time_window_met(run, spec)
            time = events.values("TIME")
            mask &= (time >= lo) & (time <= hi)
        if spec.region is not None:
            ra, dec = events.values("RA"), events.values("DEC")
            mask &= spec.region.contains(ra, dec)
    except EventsError as exc:
        raise CutoutError(f"{Path(run.path).name}: {exc}", exc.http_status) from None
    return mask


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
    taken from an obs-index or the configuration when the run was read;
    MJDREFI/MJDREFF beside an MJDREF),
    and replace a TIMEUNIT the reader did not use (not a time unit: the
    reader counted seconds, as Gammapy does)."""
    values = _time_keyword_values(run)
    # MJDREFI/MJDREFF also where the file has MJDREF only (Gammapy reads
    # times by MJDREFI/MJDREFF alone); MJDREFF 0 where only it is missing
    if "MJDREFI" not in header:
        header["MJDREFI"], header["MJDREFF"] = values["MJDREFI"], values["MJDREFF"]
    elif "MJDREFF" not in header:
        header["MJDREFF"] = 0.0
    for key in ("TIMESYS", "TIMEUNIT"):
        if not str(header.get(key, "") or "").strip():
            header[key] = values[key]
    if not is_time_unit(header.get("TIMEUNIT")):
        header["TIMEUNIT"] = values["TIMEUNIT"]


@functools.lru_cache(maxsize=16)
def _gti_template(unit: str) -> fitsbytes.Cards:
    """Header of an empty two-column (START, STOP) GTI table."""
    return fitsbytes.Cards(fits.BinTableHDU.from_columns([
        fits.Column("START", "D", unit=unit, array=np.zeros(0)),
        fits.Column("STOP", "D", unit=unit, array=np.zeros(0))], name="GTI").header.tostring())


def _gti_header(run, original_header, events_header, n_rows: int) -> fitsbytes.Cards:
    """GTI header in the EVENTS time reference (original non-column cards
    kept) for a table of ``n_rows`` START/STOP rows (float64)."""
    header = _gti_template(run.time_ref.unit.to_string("fits")).copy()
    header["NAXIS2"] = n_rows
    if original_header is None:
        header.update({"HDUCLASS": "GADF", "HDUDOC": GADF_DOC, "HDUVERS": "0.2",
                       "HDUCLAS1": "GTI"})
    else:
        _copy_cards(original_header, header)
    for key in _TIME_KEYWORDS:
        header.remove(key, ignore_missing=True, remove_all=True)
        if key in events_header:
            header[key] = events_header[key]
    if original_header is None or "TIMEREF" not in original_header:
        if "TIMEREF" in events_header:
            header["TIMEREF"] = events_header["TIMEREF"]
    return header


def _copy_cards(source, target) -> None:
    """Copy the non-structural cards of ``source`` (HISTORY/COMMENT included)
    into ``target`` (Header or :class:`hess_dr.fitsbytes.Cards`)."""
    if isinstance(source, fitsbytes.Cards) and isinstance(target, fitsbytes.Cards):
        groups = []  # (keyword, its card and CONTINUE cards)
        for key, card in source.raw():
            if key == "CONTINUE" and groups:
                groups[-1][1].append(card)
            else:
                groups.append((key, [card]))
        for key, cards in groups:
            if key in _STRUCTURAL or _STRUCTURAL_PATTERN.match(key):
                continue
            if key in ("HISTORY", "COMMENT", ""):
                for card in cards:
                    target.append_raw(card)
            else:
                target.set_raw(key, cards)
        return
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


def _primary(header, run):
    """The output's PRIMARY header (no data): the original's cards with the
    identification keywords it lacks, CREATOR and DATE."""
    header = _strip_checksums(header)
    if header.get("NAXIS", 0):
        for key in [k for k in header.keywords() if re.fullmatch(r"NAXIS\d+", k)]:
            header.remove(key)
        header["NAXIS"] = 0
    for key, value in primary_header_values(run).items():
        if key not in header:
            header[key] = value
    header["CREATOR"] = (CREATOR, "software that wrote this file")
    header["DATE"] = (datetime.datetime.now(datetime.timezone.utc).isoformat()[:19],
                      "file creation date (UTC)")
    return header


def read_irf_hdu(ref) -> fits.BinTableHDU:
    """A copy of the IRF HDU an :class:`~hess_dr.index.HduRef` points to.

    Raises
    ------
    CutoutError
        If its file cannot be read or lacks the HDU.
    """
    try:
        piece = read_irf_piece(ref)
    except EventsError as exc:
        raise CutoutError(str(exc)) from None
    primary = fitsbytes.hdu_bytes(fits.PrimaryHDU().header, checksum=False)
    with fits.open(io.BytesIO(primary + piece)) as hdus:
        hdu = hdus[1]
        hdu.data  # noqa: B018 -- read before the file closes
        copy = hdu.copy()
    _strip_checksums(copy.header)
    return copy


def _unique_names(pieces: list, names: list) -> list:
    """Give HDUs sharing an EXTNAME increasing EXTVERs (readers pick by name)."""
    seen = {"PRIMARY": 1, "EVENTS": 1, "GTI": 1}
    out = []
    for piece, name in zip(pieces, names):
        name = str(name).strip().upper()
        if name in seen:
            seen[name] += 1
            header, data = fitsbytes.split_hdu(piece)
            header["EXTVER"] = seen[name]
            piece = fitsbytes.hdu_bytes(header, data)
        else:
            seen[name] = 1
        out.append(piece)
    return out
