"""Read one DL3 event list (GADF or OGIP) into a :class:`Run` record.

Everything that can be wrong about a file is found here, once: a file that
cannot be published raises :class:`DL3Error` naming the file and the reason;
a file that can be published with caveats carries them in ``Run.problems``.
Values missing from the file come from the GADF index files next to it, then
from the operator configuration, or stay ``None``; they are never guessed.
"""
from __future__ import annotations

import dataclasses
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time

from . import index as gadf_index
from .config import Collection
from .timeref import TimeReference, TimeRefError, time_reference

# hc, to turn energies into the wavelengths ObsCore wants (lambda = hc / E).
HC_EV_M = 1.239841984332e-6

IRF_TYPES = ("aeff", "edisp", "psf", "bkg", "rad_max")

# GADF HDUCLAS2 of response HDUs -> hdu-index HDU_TYPE.
_HDUCLAS2_TO_TYPE = {"EFF_AREA": "aeff", "EDISP": "edisp", "RPSF": "psf",
                     "PSF": "psf", "BKG": "bkg", "RAD_MAX": "rad_max"}
# EXTNAMEs of untagged files (no HDUCLASS keywords) -> HDU_TYPE.
_EXTNAME_TO_TYPE = {"EFFECTIVE AREA": "aeff", "AEFF": "aeff", "EFFECTIVE_AREA": "aeff",
                    "ENERGY DISPERSION": "edisp", "EDISP": "edisp",
                    "ENERGY_DISPERSION": "edisp", "POINT SPREAD FUNCTION": "psf",
                    "PSF": "psf", "POINT_SPREAD_FUNCTION": "psf",
                    "BACKGROUND": "bkg", "BKG": "bkg", "RAD_MAX": "rad_max"}
_GTI_EXTNAMES = ("GTI", "STDGTI", "GTI_0")


class DL3Error(Exception):
    """A file that cannot be published; ``str()`` names the file and the reason."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class NotAnEventList(DL3Error):
    """A readable FITS file that is not an event list (an index, an IRF file)."""


@dataclasses.dataclass(frozen=True)
class GTI:
    """Good time intervals of a run.

    Attributes
    ----------
    start_met, stop_met : numpy.ndarray
        Interval bounds in the event list's MET seconds.
    start, stop : astropy.time.Time
        The same bounds as absolute times.
    """

    start_met: np.ndarray
    stop_met: np.ndarray
    start: Time
    stop: Time

    def __len__(self):
        return len(self.start_met)

    @property
    def duration(self) -> float:
        """Summed length of the intervals, in seconds."""
        return float(np.sum(self.stop_met - self.start_met))


@dataclasses.dataclass(frozen=True)
class Run:
    """Everything hess_dr publishes about one event list.

    Header values keep the file's own conventions (MET seconds, the file's
    TIMESYS for DATE-OBS strings); converted values carry units or are
    :class:`astropy.time.Time` objects, so no caller needs to know the
    file's units or time scale.
    """

    path: Path
    file_size: int
    collection: str
    obs_id: str
    # what and who
    telescope: str | None
    instrument: str | None
    object_name: str | None
    target_name: str | None
    target_tag: str | None
    obs_mode: str | None
    event_class: str | None
    # where
    ra_pnt: float | None
    dec_pnt: float | None
    glon_pnt: float | None
    glat_pnt: float | None
    alt_pnt: float | None
    az_pnt: float | None
    zen_pnt: float | None
    ra_obj: float | None
    dec_obj: float | None
    # when
    time_ref: TimeReference
    tstart: float
    tstop: float
    t_start: Time
    t_stop: Time
    date_obs: str | None
    time_obs: str | None
    date_end: str | None
    time_end: str | None
    ontime: float | None
    livetime: float | None
    deadc: float | None
    gti: GTI
    # how
    n_tels: int | None
    tellist: str | None
    quality: int | None
    muoneff: float | None
    convergence_depth: float | None
    geolon: float | None
    geolat: float | None
    altitude: float | None
    # the events
    event_count: int
    energy_min: u.Quantity | None
    energy_max: u.Quantity | None
    safe_energy_lo: u.Quantity | None
    safe_energy_hi: u.Quantity | None
    # responses
    irfs: tuple
    irf_containment: str | None
    psf_radius: u.Quantity | None
    psf_ref_energy: u.Quantity | None
    psf_ref_offset: u.Quantity | None
    problems: tuple = ()

    @property
    def wavelength_min(self) -> float | None:
        """Shortest wavelength in metres (from the highest energy)."""
        return None if self.energy_max is None else HC_EV_M / self.energy_max.to_value(u.eV)

    @property
    def wavelength_max(self) -> float | None:
        """Longest wavelength in metres (from the lowest energy)."""
        return None if self.energy_min is None else HC_EV_M / self.energy_min.to_value(u.eV)

    def irf(self, hdu_type: str):
        """Return the :class:`~hess_dr.index.HduRef` of an IRF type, or None."""
        return next((ref for ref in self.irfs if ref.hdu_type == hdu_type), None)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    value = str(value).strip()
    return value or None


def _float(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number.is_integer() else None


class _Lookup:
    """Keyword lookup: EVENTS header, then PRIMARY header, then obs-index row,
    then configured defaults.  Records which keywords were only found in
    the fallbacks, for the problem report."""

    def __init__(self, events_header, primary_header, obs_row: dict, collection: Collection):
        self.sources = (events_header, primary_header)
        self.obs_row = obs_row
        self.collection = collection

    def get(self, *keywords):
        for keyword in keywords:
            for header in self.sources:
                value = header.get(keyword)
                if value is not None and not (isinstance(value, str) and not value.strip()):
                    return value
        for keyword in keywords:
            value = self.obs_row.get(keyword.lower().replace("-", "_"))
            if value is not None and value != "":
                return value
        for keyword in keywords:
            value = self.collection.default(keyword)
            if value is not None:
                return value
        return None


def read_run(path: str | os.PathLike, collection: Collection, *,
             resolve_psf: bool = True) -> Run:
    """Read an event list into a :class:`Run`.

    Parameters
    ----------
    path : path-like
        A FITS event list, optionally gzipped.
    collection : hess_dr.config.Collection
        The collection the file belongs to (defaults, field of view...).
    resolve_psf : bool
        Evaluate the PSF containment radius (needs gammapy; slow).  Serving
        code that only needs the file's structure passes False.

    Raises
    ------
    DL3Error
        If the file cannot be read or lacks what publishing needs.
    NotAnEventList
        If the file is valid FITS but holds no event list.
    """
    path = Path(os.path.abspath(path))
    try:
        file_size = path.stat().st_size
    except OSError as exc:
        raise DL3Error(path, f"cannot read file: {exc.strerror}") from None
    if file_size == 0:
        raise DL3Error(path, "empty file (0 bytes)")
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=False) as hdus:
            _check_complete(path, hdus)
            return _read_open_file(path, file_size, hdus, collection, resolve_psf)
    except DL3Error:
        raise
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DL3Error(path, f"not a readable FITS file: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise DL3Error(path, f"malformed FITS content: {exc}") from None


def _check_complete(path: Path, hdus) -> None:
    """Raise DL3Error for a truncated file (an interrupted copy or download).

    astropy silently stops at a truncated gzip stream and only warns about
    a short plain file, returning fewer or partial HDUs; both would publish
    a run with missing IRFs or events.
    """
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    if compressed:
        try:
            with gzip.open(path, "rb") as f:
                size = 0
                while chunk := f.read(1 << 20):
                    size += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise DL3Error(path, f"truncated or corrupt gzip stream: {exc}") from None
    else:
        size = path.stat().st_size
    last = hdus.fileinfo(len(hdus) - 1)
    expected = last["datLoc"] + last["datSpan"]
    if size < expected:
        raise DL3Error(path, f"truncated FITS file: {size} bytes, its HDUs need {expected}")


def _find_hdu(hdus, hduclas1: str, extnames: tuple):
    for hdu in hdus[1:]:
        if str(hdu.header.get("HDUCLAS1", "")).strip().upper() == hduclas1:
            return hdu
    for hdu in hdus[1:]:
        if str(hdu.header.get("EXTNAME", "")).strip().upper() in extnames:
            return hdu
    return None


def _read_open_file(path: Path, file_size: int, hdus, collection: Collection,
                    resolve_psf: bool = True) -> Run:
    if path.name in gadf_index.INDEX_FILE_NAMES:
        raise NotAnEventList(path, "GADF index file, not an event list (used for metadata)")
    events = _find_hdu(hdus, "EVENTS", ("EVENTS",))
    if events is None or not isinstance(events, fits.BinTableHDU):
        names = ", ".join(str(h.name) for h in hdus)
        raise NotAnEventList(path, f"no EVENTS table (HDUs: {names})")
    header = events.header
    problems = []

    indexes = gadf_index.find_index_files(path, collection.data_dir)
    raw_obs_id = header.get("OBS_ID", hdus[0].header.get("OBS_ID"))
    if raw_obs_id is None or _text(raw_obs_id) is None:
        raise DL3Error(path, "missing required keyword OBS_ID in the EVENTS header")
    obs_id = gadf_index.obs_id_key(raw_obs_id)
    obs_row = indexes.obs_row(obs_id)
    look = _Lookup(header, hdus[0].header, obs_row, collection)

    columns = {name.upper() for name in events.columns.names}
    for required in ("TIME", "ENERGY"):
        if required not in columns:
            raise DL3Error(path, f"EVENTS table has no {required} column")

    try:
        time_ref = time_reference(_merged_time_header(header, look),
                                  default_timesys=collection.default("timesys"))
    except TimeRefError as exc:
        raise DL3Error(path, f"EVENTS header: {exc}") from None

    gti = _read_gti(path, hdus, time_ref, collection, problems)
    tstart, tstop = _float(look.get("TSTART")), _float(look.get("TSTOP"))
    if tstart is None or tstop is None:
        if gti is None:
            raise DL3Error(path, "missing required keywords TSTART/TSTOP and no GTI table")
        tstart, tstop = float(gti.start_met.min()), float(gti.stop_met.max())
        problems.append("TSTART/TSTOP missing: taken from the GTI bounds")
    if tstop < tstart:
        raise DL3Error(path, f"TSTOP ({tstop}) is before TSTART ({tstart})")
    if gti is None:
        gti = _make_gti(np.array([tstart]), np.array([tstop]), time_ref)
        problems.append("no GTI table: one interval TSTART-TSTOP assumed")
    elif gti.start_met.min() < tstart - 1 or gti.stop_met.max() > tstop + 1:
        problems.append("GTIs extend beyond TSTART-TSTOP")

    energy_min, energy_max, event_count = _energy_range(path, events, look, problems)

    ontime = _float(look.get("ONTIME"))
    if ontime is None:
        ontime = gti.duration
    livetime = _float(look.get("LIVETIME"))
    deadc = _float(look.get("DEADC"))
    if livetime is None and deadc is not None:
        livetime = ontime * deadc
    if livetime is not None and livetime < 0:
        raise DL3Error(path, f"negative LIVETIME ({livetime} s)")
    if ontime < 0:
        raise DL3Error(path, f"negative ONTIME ({ontime} s)")
    if deadc is None and livetime is not None and ontime > 0:
        deadc = livetime / ontime

    ra_pnt, dec_pnt = _float(look.get("RA_PNT")), _float(look.get("DEC_PNT"))
    glon_pnt, glat_pnt = _float(look.get("GLON_PNT")), _float(look.get("GLAT_PNT"))
    if ra_pnt is not None and dec_pnt is not None and (glon_pnt is None or glat_pnt is None):
        galactic = SkyCoord(ra_pnt * u.deg, dec_pnt * u.deg, frame="icrs").galactic
        glon_pnt, glat_pnt = float(galactic.l.deg), float(galactic.b.deg)
    alt_pnt, zen_pnt = _float(look.get("ALT_PNT")), _float(look.get("ZEN_PNT"))
    if zen_pnt is None and alt_pnt is not None:
        zen_pnt = 90.0 - alt_pnt
    elif alt_pnt is None and zen_pnt is not None:
        alt_pnt = 90.0 - zen_pnt

    date_obs, time_obs = _date_time(look.get("DATE-OBS", "DATE_OBS"), look.get("TIME-OBS", "TIME_OBS"))
    date_end, time_end = _date_time(look.get("DATE-END", "DATE_END"), look.get("TIME-END", "TIME_END"))

    irfs = _find_irfs(path, hdus, indexes.irfs(obs_id))
    containment = _irf_containment(hdus, irfs)
    safe_lo, safe_hi = _safe_energies(hdus, obs_row, irfs)
    psf_radius, psf_energy, psf_offset = (_psf_resolution(irfs, collection, problems)
                                          if resolve_psf else (None, None, None))

    altitude = _float(look.get("ALTITUDE"))
    if altitude is not None and altitude < 10:
        # Some files give the site altitude in km (e.g. 2.2); GADF says m.
        altitude *= 1000.0
        problems.append("ALTITUDE looked like km; converted to m")

    return Run(
        path=path, file_size=file_size, collection=collection.name, obs_id=obs_id,
        telescope=_text(look.get("TELESCOP")),
        instrument=_text(look.get("INSTRUME")) or collection.instrument_name,
        object_name=_text(look.get("OBJECT")),
        target_name=_text(obs_row.get("target_name")) or _text(look.get("OBJECT")),
        target_tag=_text(obs_row.get("target_tag")),
        obs_mode=_text(look.get("OBS_MODE")),
        event_class=_text(look.get("EV_CLASS")),
        ra_pnt=ra_pnt, dec_pnt=dec_pnt, glon_pnt=glon_pnt, glat_pnt=glat_pnt,
        alt_pnt=alt_pnt, az_pnt=_float(look.get("AZ_PNT")), zen_pnt=zen_pnt,
        ra_obj=_float(look.get("RA_OBJ")), dec_obj=_float(look.get("DEC_OBJ")),
        time_ref=time_ref, tstart=tstart, tstop=tstop,
        t_start=time_ref.to_time(tstart), t_stop=time_ref.to_time(tstop),
        date_obs=date_obs, time_obs=time_obs, date_end=date_end, time_end=time_end,
        ontime=ontime, livetime=livetime, deadc=deadc, gti=gti,
        n_tels=_int(look.get("N_TELS")), tellist=_text(look.get("TELLIST")),
        quality=_int(look.get("QUALITY")), muoneff=_float(look.get("MUONEFF")),
        convergence_depth=_float(look.get("CONV_DEP")),
        geolon=_float(look.get("GEOLON")), geolat=_float(look.get("GEOLAT")),
        altitude=altitude,
        event_count=event_count, energy_min=energy_min, energy_max=energy_max,
        safe_energy_lo=safe_lo, safe_energy_hi=safe_hi,
        irfs=irfs, irf_containment=containment,
        psf_radius=psf_radius, psf_ref_energy=psf_energy, psf_ref_offset=psf_offset,
        problems=tuple(problems),
    )


def _merged_time_header(header, look: _Lookup) -> dict:
    """Time keywords from the EVENTS header, completed from the fallbacks."""
    return {key: look.get(key) for key in
            ("MJDREFI", "MJDREFF", "MJDREF", "TIMESYS", "TIMEUNIT", "TIMEZERO")}


def _make_gti(start_met, stop_met, time_ref: TimeReference) -> GTI:
    return GTI(start_met=start_met, stop_met=stop_met,
               start=time_ref.to_time(start_met), stop=time_ref.to_time(stop_met))


def _read_gti(path, hdus, events_ref: TimeReference, collection, problems) -> GTI | None:
    hdu = _find_hdu(hdus, "GTI", _GTI_EXTNAMES)
    if hdu is None:
        return None
    names = {n.upper(): n for n in hdu.columns.names}
    if "START" not in names or "STOP" not in names:
        raise DL3Error(path, "GTI table has no START/STOP columns")
    start = np.asarray(hdu.data[names["START"]], dtype=float)
    stop = np.asarray(hdu.data[names["STOP"]], dtype=float)
    if len(start) == 0:
        raise DL3Error(path, "GTI table is empty")
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(stop))):
        raise DL3Error(path, "GTI table has non-finite START/STOP values")
    if np.any(stop < start):
        raise DL3Error(path, "GTI table has an interval with STOP before START")
    # A GTI HDU may declare its own time reference; it is then converted to
    # the event list's MET so that every MET value of a Run is comparable.
    if "MJDREFI" in hdu.header or "MJDREF" in hdu.header:
        try:
            gti_ref = time_reference(hdu.header, default_timesys=events_ref.timesys)
        except TimeRefError as exc:
            raise DL3Error(path, f"GTI header: {exc}") from None
        if gti_ref != events_ref:
            start_t, stop_t = gti_ref.to_time(start), gti_ref.to_time(stop)
            return GTI(start_met=events_ref.to_met(start_t), stop_met=events_ref.to_met(stop_t),
                       start=start_t, stop=stop_t)
    order = np.argsort(start, kind="stable")
    return _make_gti(start[order], stop[order], events_ref)


def _energy_range(path, events, look: _Lookup, problems):
    """Event count and (min, max) energy as Quantities (None when no events)."""
    column = next(c for c in events.columns if c.name.upper() == "ENERGY")
    unit_name = _text(column.unit) or _text(look.get("EUNIT")) or look.collection.default("energy_unit")
    if unit_name is None:
        raise DL3Error(path, "ENERGY column has no unit (TUNIT, EUNIT) and none is configured")
    try:
        unit = u.Unit(unit_name)
        unit.to(u.eV)
    except (ValueError, u.UnitConversionError):
        raise DL3Error(path, f"ENERGY unit {unit_name!r} is not an energy unit") from None
    data = events.data
    count = 0 if data is None else len(data)
    if count == 0:
        return None, None, 0
    raw = np.asarray(data[column.name])
    if raw.dtype.kind not in "iuf":
        raise DL3Error(path, f"ENERGY column is not numeric (TFORM {column.format})")
    energy = raw.astype(float)
    finite = np.isfinite(energy) & (energy > 0)
    if not finite.all():
        problems.append(f"{int((~finite).sum())} events with non-finite or non-positive ENERGY ignored for the energy range")
    if not finite.any():
        return None, None, count
    return (float(energy[finite].min()) * unit).to(u.TeV), (float(energy[finite].max()) * unit).to(u.TeV), count


def _date_time(date, time) -> tuple[str | None, str | None]:
    """Split DATE-OBS written as a full ISO date-time into date and time."""
    date, time = _text(date), _text(time)
    if date and "T" in date:
        date, _, embedded = date.partition("T")
        time = time or embedded
    return date, time


def _find_irfs(path: Path, hdus, indexed: tuple) -> tuple:
    """IRFs in the event file itself, completed by hdu-index entries."""
    found = {}
    for hdu in hdus[1:]:
        header = hdu.header
        hdu_type = None
        if str(header.get("HDUCLAS1", "")).strip().upper() == "RESPONSE":
            hdu_type = _HDUCLAS2_TO_TYPE.get(str(header.get("HDUCLAS2", "")).strip().upper())
        elif "HDUCLAS1" not in header:
            hdu_type = _EXTNAME_TO_TYPE.get(str(header.get("EXTNAME", "")).strip().upper())
        if hdu_type and hdu_type not in found:
            found[hdu_type] = gadf_index.HduRef(
                hdu_type=hdu_type, hdu_class=str(header.get("HDUCLAS4", "")).strip().lower(),
                path=path, hdu=str(hdu.name))
    for ref in indexed:
        if ref.hdu_type in IRF_TYPES and ref.hdu_type not in found:
            found[ref.hdu_type] = ref
    return tuple(found[t] for t in IRF_TYPES if t in found)


def _irf_containment(hdus, irfs) -> str | None:
    """'full-enclosure' or 'point-like', from HDUCLAS3 of the IRFs."""
    for ref in irfs:
        if ref.path != Path(hdus.filename() or ""):
            continue
        value = str(hdus[ref.hdu].header.get("HDUCLAS3", "")).strip().lower()
        if value in ("full-enclosure", "point-like"):
            return value
    if any(ref.hdu_type == "rad_max" for ref in irfs):
        return "point-like"
    return None


def _safe_energies(hdus, obs_row: dict, irfs):
    """Safe energy range: obs-index columns, else AEFF LO_THRES/HI_THRES."""
    lo, hi = _float(obs_row.get("safe_energy_lo")), _float(obs_row.get("safe_energy_hi"))
    aeff = next((r for r in irfs if r.hdu_type == "aeff"), None)
    if (lo is None or hi is None) and aeff is not None and aeff.path == Path(hdus.filename() or ""):
        header = hdus[aeff.hdu].header
        lo = lo if lo is not None else _float(header.get("LO_THRES"))
        hi = hi if hi is not None else _float(header.get("HI_THRES"))
    return (None if lo is None else lo * u.TeV), (None if hi is None else hi * u.TeV)


def _psf_resolution(irfs, collection: Collection, problems):
    """68% containment radius of the PSF at the configured reference point."""
    ref = next((r for r in irfs if r.hdu_type == "psf"), None)
    energy = collection.psf_ref_energy_tev * u.TeV
    offset = collection.psf_ref_offset_deg * u.deg
    if ref is None:
        return None, None, None
    from .irf import containment_radius  # gammapy import is slow; only when needed
    try:
        radius = containment_radius(ref, energy, offset)
    except Exception as exc:  # gammapy raises many types on odd IRFs
        problems.append(f"PSF in {ref.path.name}[{ref.hdu}] unusable for s_resolution: {exc}")
        return None, None, None
    return radius, energy, offset
