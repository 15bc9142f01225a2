"""Read one DL3 event list (GADF or OGIP) into a :class:`Run` record.

Everything that can be wrong about a file is found here, once: a file that
cannot be published raises :class:`DL3Error` naming the file and the reason;
a file that can be published with caveats carries them in ``Run.problems``.
Values missing from the file come from the GADF index files next to it, then
from the operator configuration, or stay ``None``; they are never guessed.
"""
from __future__ import annotations

import bz2
import dataclasses
import functools
import gzip
import io
import math
import os
import re
import stat
import zlib
from pathlib import Path

import erfa
import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.time import Time

from . import events as event_table
from . import index as gadf_index
from .config import Collection
from .layout import MAX_STORED_GTIS, QUANTITIES, FileStamp, Layout
from .timeref import (TIME_KEYWORDS, RunTimes, TimeReference, TimeRefError,
                      convert_together, is_time_unit, time_reference)
from .values import finite_float as _float
from .values import text as _text

# hc, to turn energies into the wavelengths ObsCore wants (lambda = hc / E).
HC_EV_M = 1.239841984332e-6

IRF_TYPES = ("aeff", "edisp", "psf", "bkg", "rad_max")

# GADF HDUCLAS2 of response HDUs -> hdu-index HDU_TYPE.
HDUCLAS2_TO_TYPE = {"EFF_AREA": "aeff", "EDISP": "edisp", "RPSF": "psf",
                     "PSF": "psf", "BKG": "bkg", "RAD_MAX": "rad_max"}
# EXTNAMEs of untagged files (no HDUCLASS keywords) -> HDU_TYPE.
EXTNAME_TO_TYPE = {"EFFECTIVE AREA": "aeff", "AEFF": "aeff", "EFFECTIVE_AREA": "aeff",
                    "ENERGY DISPERSION": "edisp", "EDISP": "edisp",
                    "ENERGY_DISPERSION": "edisp", "POINT SPREAD FUNCTION": "psf",
                    "PSF": "psf", "POINT_SPREAD_FUNCTION": "psf",
                    "BACKGROUND": "bkg", "BKG": "bkg", "RAD_MAX": "rad_max"}
#: EXTNAMEs of GTI tables in files without HDUCLASS tags.
GTI_EXTNAMES = ("GTI", "STDGTI", "GTI_0")


class DL3Error(Exception):
    """A file that cannot be published; ``str()`` names the file and the reason."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):  # (raised in worker processes, pickled back)
        return type(self), (self.path, self.reason)


class NotAnEventList(DL3Error):
    """A readable FITS file that is not an event list (an index, an IRF file)."""


@dataclasses.dataclass(frozen=True)
class GTI:
    """Good time intervals of a run.

    Attributes
    ----------
    start_met, stop_met : numpy.ndarray
        Interval bounds in the event list's MET seconds.
    times : hess_dr.timeref.RunTimes
        The run's times (the bounds are its parts ``gti_start``, ``gti_stop``).
    """

    start_met: np.ndarray
    stop_met: np.ndarray
    times: RunTimes = dataclasses.field(repr=False, compare=False)

    def __len__(self):
        return len(self.start_met)

    @property
    def start(self) -> Time:
        """Interval starts as absolute times."""
        return self.times.time("gti_start")

    @property
    def stop(self) -> Time:
        """Interval stops as absolute times."""
        return self.times.time("gti_stop")

    @property
    def duration(self) -> float:
        """Summed length of the intervals, in seconds."""
        return float(np.sum(self.stop_met - self.start_met))


@dataclasses.dataclass(frozen=True)
class Footprint:
    """The sky region of a run without a pointing (survey or drift data).

    Attributes
    ----------
    ra, dec : float
        Centre (deg, ICRS).
    radius : float
        Radius of the circle (deg).
    origin : str
        Where it comes from: ``'file-roi'`` (the file's own data sub-space
        keywords, e.g. a gtselect region of interest) or ``'events'`` (the
        circle around the events' mean direction holding every event).
    """

    ra: float
    dec: float
    radius: float
    origin: str


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
    #: TSTART, TSTOP and the GTI bounds as absolute times (parts ``tstart``,
    #: ``tstop``, ``gti_start``, ``gti_stop``)
    times: RunTimes
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
    # sky region of runs without a pointing (None for pointed runs)
    footprint: Footprint | None = None
    #: 'ogip' for OGIP event files (EVENTS HDUCLASS 'OGIP', e.g. Fermi FT1),
    #: else 'gadf'
    data_format: str = "gadf"
    #: Where the events, GTIs and IRFs are, the energy unit and the time
    #: reference, as this reader decided (stored at import; what serving
    #: code reads the file by)
    layout: Layout | None = None

    @property
    def t_start(self) -> Time:
        """TSTART as an absolute time (the file's scale)."""
        return self.times.time("tstart")

    @property
    def t_stop(self) -> Time:
        """TSTOP as an absolute time (the file's scale)."""
        return self.times.time("tstop")

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
             resolve_psf: bool = True, convert_times: bool = True,
             cache: event_table.EventCache | None = None) -> Run:
    """Read an event list into a :class:`Run`.

    Parameters
    ----------
    path : path-like
        A FITS event list, optionally gzip- or bzip2-compressed.
    collection : hess_dr.config.Collection
        The collection the file belongs to (defaults, field of view...).
    resolve_psf : bool
        Evaluate the PSF containment radius (needs gammapy; slow).  Serving
        code that only needs the file's structure passes False.
    convert_times : bool
        Convert the run's times to absolute times (and raise DL3Error for
        absurd dates).  An importer reading many files passes False and
        converts them together with :func:`convert_times_of`.
    cache : hess_dr.events.EventCache, optional
        Store the decompressed events, headers and IRF HDUs there (the
        import does, so that cutouts need not decompress the file).

    Raises
    ------
    DL3Error
        If the file cannot be read or lacks what publishing needs.
    NotAnEventList
        If the file is valid FITS but holds no event list.
    """
    path = Path(os.path.abspath(path))
    try:
        status = path.stat()
    except OSError as exc:
        raise DL3Error(path, f"cannot read file: {exc.strerror}") from None
    if not stat.S_ISREG(status.st_mode):  # a FIFO would block the reader
        raise DL3Error(path, "not a regular file (a directory, FIFO or device)")
    file_size = status.st_size
    if file_size == 0:
        raise DL3Error(path, "empty file (0 bytes)")
    try:
        hdus, data, stamp = _open(path)
        with hdus:
            _check_complete(path, hdus, data)
            run = _read_open_file(path, file_size, hdus, collection, resolve_psf, stamp,
                                  data, cache)
            if cache is not None:
                try:
                    event_table.fill_cache(cache, hdus, data, run.layout)
                except (OSError, ValueError, event_table.EventsError):
                    pass  # an optimisation only: serving rebuilds a missing entry
    except DL3Error:
        raise
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DL3Error(path, f"not a readable FITS file: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError,
            fits.VerifyError) as exc:  # VerifyError: an unparsable card (TSTART = NaN)
        raise DL3Error(path, f"malformed FITS content: {exc}") from None
    if convert_times:
        error = convert_times_of([run])[0]
        if error is not None:
            raise error
    return run


def _open(path: Path):
    """The file's HDUs (decompressed in memory, read once), its bytes and stamp."""
    with open(path, "rb") as f:
        head = f.read(3)
    try:
        data, stamp = event_table.read_file_bytes(path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if head[:2] == event_table.GZIP_MAGIC:
            raise DL3Error(path, f"truncated or corrupt gzip stream: {exc}") from None
        if head == event_table.BZIP2_MAGIC:
            raise DL3Error(path, f"truncated or corrupt bzip2 stream: {exc}") from None
        raise
    if data is None:  # a very large file: astropy streams it
        return fits.open(path, memmap=False, lazy_load_hdus=False), None, stamp
    return fits.open(io.BytesIO(data), memmap=False, lazy_load_hdus=False), data, stamp


def convert_times_of(runs: list[Run]) -> list[DL3Error | None]:
    """Convert the times of several runs together: one astropy conversion
    per time reference they share (see :class:`hess_dr.timeref.RunTimes`).

    Returns
    -------
    list
        Per run, None, or the DL3Error of a run whose times give no valid
        UTC date (ERFA refuses absurd dates such as MJDREF 1e30); the other
        runs are converted regardless.
    """
    errors = convert_together([run.times for run in runs])
    return [None if exc is None else
            DL3Error(run.path, f"TSTART/TSTOP/GTIs ({run.tstart}-{run.tstop} s after MJDREF"
                               f" {run.time_ref.epoch.mjd}) give no valid UTC date: {exc}")
            for run, exc in zip(runs, errors)]


def _check_complete(path: Path, hdus, data: bytes | None = None) -> None:
    """Raise DL3Error for a truncated file (an interrupted copy or download).

    astropy silently stops at a truncated stream and only warns about a
    short file, returning fewer or partial HDUs; both would publish a run
    with missing IRFs or events.  ``data``: the decompressed file, when
    read into memory (a truncated gzip or bzip2 stream has failed already).
    """
    # Where the last HDU ends, padded to whole FITS blocks.  (HDUList.fileinfo
    # says the same but costs ~5 ms per file, a third of a small run's import.)
    last = hdus[-1]
    end = last._data_offset + last._data_size
    expected = end + (-end % 2880)
    if data is not None:
        if len(data) < expected:
            raise DL3Error(path, f"truncated FITS file: {len(data)} bytes, its HDUs need {expected}")
        return
    with open(path, "rb") as f:
        head = f.read(3)
        compressed = head[:2] == event_table.GZIP_MAGIC
        bzip2 = head == event_table.BZIP2_MAGIC
        if compressed:
            # Fast path: a complete gzip stream ends with the uncompressed
            # size modulo 2**32 (ISIZE); a cut one ends with arbitrary bytes.
            f.seek(-4, os.SEEK_END)
            if int.from_bytes(f.read(4), "little") == expected % 2**32:
                return
    if compressed:
        size = _decompressed_size(path, gzip.open, "gzip")
    elif bzip2:
        size = _decompressed_size(path, bz2.open, "bzip2")
    else:
        size = path.stat().st_size
    if size < expected:
        raise DL3Error(path, f"truncated FITS file: {size} bytes, its HDUs need {expected}")


def find_hdu(hdus, hduclas1: str, extnames: tuple):
    """The first extension with this HDUCLAS1, else the first with one of
    these EXTNAMEs (files without HDUCLASS tags), else None."""
    position = find_hdu_index(hdus, hduclas1, extnames)
    return None if position is None else hdus[position]


def find_hdu_index(hdus, hduclas1: str, extnames: tuple) -> int | None:
    """Position of the HDU :func:`find_hdu` finds, or None."""
    for position, hdu in enumerate(hdus):
        if position and str(hdu.header.get("HDUCLAS1", "")).strip().upper() == hduclas1:
            return position
    for position, hdu in enumerate(hdus):
        if position and str(hdu.header.get("EXTNAME", "")).strip().upper() in extnames:
            return position
    return None


#: EXTNAMEs of EVENTS tables in files without HDUCLASS tags.
EVENTS_EXTNAMES = ("EVENTS",)


def find_events_hdu(hdus):
    """The EVENTS table of an open file (the reader's rule), or None."""
    return find_hdu(hdus, "EVENTS", EVENTS_EXTNAMES)


def find_gti_hdu(hdus):
    """The GTI table of an open file (the reader's rule), or None."""
    return find_hdu(hdus, "GTI", GTI_EXTNAMES)


def irf_type(header) -> str | None:
    """The GADF HDU type (:data:`IRF_TYPES`) of an IRF HDU, or None.

    Tagged HDUs (``HDUCLAS1 = 'RESPONSE'``) by HDUCLAS2; HDUs of files
    without HDUCLASS tags by EXTNAME (:data:`EXTNAME_TO_TYPE`).
    """
    clas1 = str(header.get("HDUCLAS1", "")).strip().upper()
    if clas1 == "RESPONSE":
        return HDUCLAS2_TO_TYPE.get(str(header.get("HDUCLAS2", "")).strip().upper())
    if "HDUCLAS1" not in header:
        return EXTNAME_TO_TYPE.get(str(header.get("EXTNAME", "")).strip().upper())
    return None


# HDU_CLASS of an IRF without HDUCLAS4 (GADF's most common class per type)
_DEFAULT_CLASSES = {"aeff": "aeff_2d", "edisp": "edisp_2d", "psf": "psf_table",
                    "bkg": "bkg_3d", "rad_max": "rad_max_2d"}


def hdu_class(hdu, hdu_type: str) -> str:
    """GADF HDU_CLASS of an IRF HDU: HDUCLAS4 in lower case, else told by
    its columns (PSF: SIGMA_1 a triple Gaussian, GAMMA a King profile;
    background: THETA_LO bkg_2d), else the type's usual class."""
    value = str(hdu.header.get("HDUCLAS4", "")).strip().lower()
    if value:
        return value
    names = {n.upper() for n in hdu.columns.names} if hasattr(hdu, "columns") else set()
    if hdu_type == "psf":
        if "SIGMA_1" in names:
            return "psf_3gauss"
        if "GAMMA" in names:
            return "psf_king"
    if hdu_type == "bkg" and "THETA_LO" in names:
        return "bkg_2d"
    return _DEFAULT_CLASSES[hdu_type]


def response_hdus(hdus) -> dict:
    """{hdu_type: (EXTNAME, HDU_CLASS)} of the IRF HDUs of an open file
    (the first of each type), by :func:`irf_type` and :func:`hdu_class`."""
    found = {}
    for hdu in hdus[1:]:
        hdu_type = irf_type(hdu.header)
        if hdu_type and hdu_type not in found:
            found[hdu_type] = (str(hdu.name), hdu_class(hdu, hdu_type))
    return found


def _without_server_paths(problem: str, collection: Collection) -> str:
    """A problem note as published (obs_index.problems): paths of the
    collection's data folder relative to it (no server path is served)."""
    folder = os.path.abspath(collection.data_dir)
    return problem.replace(folder + os.sep, "").replace(folder, ".")


def _read_open_file(path: Path, file_size: int, hdus, collection: Collection,
                    resolve_psf: bool = True, stamp: FileStamp | None = None,
                    data: bytes | None = None, cache=None) -> Run:
    if path.name in gadf_index.INDEX_FILE_NAMES:
        raise NotAnEventList(path, "GADF index file, not an event list (used for metadata)")
    events_position = find_hdu_index(hdus, "EVENTS", EVENTS_EXTNAMES)
    events = None if events_position is None else hdus[events_position]
    if isinstance(events, fits.TableHDU):  # (Gammapy reads it; a rare form)
        raise DL3Error(path, f"the EVENTS table (HDU {events_position}) is an ASCII table"
                             " (XTENSION 'TABLE'): hess_dr reads binary tables (BINTABLE)"
                             " only; convert it, e.g. with astropy's"
                             " fits.BinTableHDU(Table.read(hdu))")
    if events is None or not isinstance(events, fits.BinTableHDU):
        names = ", ".join(str(h.name) for h in hdus)
        raise NotAnEventList(path, f"no EVENTS table (HDUs: {names})")
    header = events.header
    problems = []

    indexes = gadf_index.find_index_files(path, collection.data_dir)
    problems.extend(indexes.errors)
    obs_id = gadf_index.obs_id_key(_observation_id(path, header, hdus[0].header,
                                                   collection, problems))
    obs_row = indexes.obs_row(obs_id)
    look = _Lookup(header, hdus[0].header, obs_row, collection)

    columns = {}
    for column in events.columns:
        quantity = column.name.upper()
        if quantity in QUANTITIES and quantity not in columns:
            columns[quantity] = (column.name, _text(column.unit))
    for required in ("TIME", "ENERGY"):
        if required not in columns:
            raise DL3Error(path, f"EVENTS table has no {required} column")

    time_keywords = _merged_time_header(header, look)
    if _text(time_keywords.get("TIMESYS")) is None:
        if collection.default("timesys"):
            time_keywords["TIMESYS"] = collection.default("timesys")
        else:
            # Gammapy reads such files as TT (its default time scale)
            time_keywords["TIMESYS"] = "TT"
            problems.append("TIMESYS missing: TT assumed, as Gammapy does (configure"
                            " defaults: timesys: to say otherwise)")
    if not is_time_unit(time_keywords.get("TIMEUNIT")):
        # Gammapy counts event TIMEs in seconds whatever TIMEUNIT says
        problems.append(f"TIMEUNIT {_text(time_keywords['TIMEUNIT'])!r} is not a time unit:"
                        " seconds assumed, as Gammapy does")
        time_keywords["TIMEUNIT"] = "s"
    try:
        time_ref = time_reference(time_keywords)
    except TimeRefError as exc:
        raise DL3Error(path, f"EVENTS header: {exc}") from None

    gti_met = _read_gti(path, hdus, time_ref, collection, problems)
    # (read before the events: an unparsable card, e.g. TSTART = NaN, which
    # Gammapy refuses too, raises here before anything rewrites the header)
    header_times = _float(look.get("TSTART")), _float(look.get("TSTOP"))
    # (a GTI table the reader ignores is not the run's either for the services)
    gti_position = None if gti_met is None else find_hdu_index(hdus, "GTI", GTI_EXTNAMES)

    energy_unit, energy_unit_from = _energy_unit(path, events, hdus[0].header, obs_row, look)
    layout = Layout(events_hdu=events_position, gti_hdu=gti_position, columns=columns,
                    energy_unit=energy_unit, energy_unit_from=energy_unit_from,
                    time_keywords=_jsonable(time_keywords),
                    data_format=("ogip" if (_text(header.get("HDUCLASS")) or "").upper() == "OGIP"
                                 else "gadf"), stamp=stamp)
    table = event_table.EventTable.from_hdulist(hdus, layout, data)
    energy_min, energy_max, event_count = _energy_range(path, table, problems)

    tstart, tstop = _run_bounds(path, header_times, gti_met, table, problems)
    if gti_met is None:
        gti_met = np.array([tstart]), np.array([tstop])
        problems.append("no GTI table: one interval TSTART-TSTOP assumed"
                        if find_hdu_index(hdus, "GTI", GTI_EXTNAMES) is None else
                        "one interval TSTART-TSTOP assumed in place of the GTI table")
    elif not np.any((gti_met[1] >= tstart - 1) & (gti_met[0] <= tstop + 1)):
        # Gammapy's observation time is the GTIs', whatever TSTART/TSTOP say
        problems.append(f"no GTI overlaps TSTART-TSTOP ({tstart}-{tstop}): both published"
                        " as written")
    elif gti_met[0].min() < tstart - 1 or gti_met[1].max() > tstop + 1:
        problems.append("GTIs extend beyond TSTART-TSTOP")
    times = RunTimes(time_ref, tstart=tstart, tstop=tstop, gti_start=gti_met[0],
                     gti_stop=gti_met[1])
    gti = GTI(start_met=gti_met[0], stop_met=gti_met[1], times=times)

    ontime = _float(look.get("ONTIME"))
    if ontime is not None and ontime < 0:
        problems.append(f"negative ONTIME ({ontime} s) ignored: the GTIs' sum used")
        ontime = None
    if ontime is None:
        ontime = gti.duration
    livetime = _float(look.get("LIVETIME"))
    deadc = _float(look.get("DEADC"))
    if livetime is not None and livetime < 0:
        problems.append(f"negative LIVETIME ({livetime} s) ignored"
                        + (": ONTIME x DEADC used" if deadc is not None else ""))
        livetime = None
    if livetime is None and deadc is not None:
        livetime = ontime * deadc
    if deadc is None and livetime is not None and ontime > 0:
        deadc = livetime / ontime

    ra_pnt, dec_pnt = _float(look.get("RA_PNT")), _float(look.get("DEC_PNT"))
    if dec_pnt is not None and not -90 <= dec_pnt <= 90:
        # (Gammapy's Observation refuses it; its EventList reads the events)
        problems.append(f"DEC_PNT {dec_pnt} is out of range [-90, 90] deg: no pointing"
                        " published")
        ra_pnt = dec_pnt = None
    if ra_pnt is not None and not 0 <= ra_pnt <= 360:
        problems.append(f"RA_PNT {ra_pnt} is out of range [0, 360] deg: published as"
                        f" {ra_pnt % 360.0:.10g} (the same direction, as Gammapy reads it)")
        ra_pnt = ra_pnt % 360.0
    glon_pnt, glat_pnt = _float(look.get("GLON_PNT")), _float(look.get("GLAT_PNT"))
    if ra_pnt is not None and dec_pnt is not None and (glon_pnt is None or glat_pnt is None):
        glon_pnt, glat_pnt = icrs_to_galactic(ra_pnt, dec_pnt)
    alt_pnt, zen_pnt = _float(look.get("ALT_PNT")), _float(look.get("ZEN_PNT"))
    if zen_pnt is None and alt_pnt is not None:
        zen_pnt = 90.0 - alt_pnt
    elif alt_pnt is None and zen_pnt is not None:
        alt_pnt = 90.0 - zen_pnt

    date_obs, time_obs = _date_time(look.get("DATE-OBS", "DATE_OBS"), look.get("TIME-OBS", "TIME_OBS"))
    date_end, time_end = _date_time(look.get("DATE-END", "DATE_END"), look.get("TIME-END", "TIME_END"))

    irfs, irf_headers, irf_stamps = _find_irfs(path, hdus, indexes, obs_id, problems)
    layout = dataclasses.replace(
        layout, irfs=irfs, irf_stamps=irf_stamps,
        gti=(tuple(gti.start_met.tolist()), tuple(gti.stop_met.tolist()))
        if len(gti) <= MAX_STORED_GTIS else None)
    containment = _irf_containment(irfs, irf_headers)
    safe_lo, safe_hi = _safe_energies(obs_row, irfs, irf_headers)
    psf_radius, psf_energy, psf_offset = (_psf_resolution(irfs, collection, problems,
                                                          hdus, path, data, cache)
                                          if resolve_psf else (None, None, None))

    altitude = _altitude(look, (header, hdus[0].header), collection, problems)

    footprint = None
    if ra_pnt is None and dec_pnt is None:
        footprint = _survey_footprint(path, table, header, collection, problems)
    elif ra_pnt is None or dec_pnt is None:
        problems.append("incomplete pointing (only one of RA_PNT/DEC_PNT): no s_region")

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
        time_ref=time_ref, tstart=tstart, tstop=tstop, times=times,
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
        problems=tuple(_without_server_paths(p, collection) for p in problems),
        footprint=footprint,
        data_format=layout.data_format, layout=layout,
    )


def icrs_to_galactic(ra: float, dec: float) -> tuple[float, float]:
    """Galactic (l, b) in degrees of an ICRS position in degrees.

    ERFA's ``icrs2g`` (the Hipparcos definition of the galactic frame)
    agrees with astropy's ``SkyCoord(...).galactic`` to 0.03 arcsec and
    takes 3 us instead of 1.8 ms: a tenth of a small run's import.
    """
    lon, lat = erfa.icrs2g(math.radians(ra), math.radians(dec))
    return float(np.degrees(lon)) % 360.0, float(np.degrees(lat))


def _decompressed_size(path: Path, opener, kind: str) -> int:
    """Bytes of a compressed file's content, read to the end (a truncated
    or corrupt stream raises DL3Error naming the file)."""
    try:
        with opener(path, "rb") as f:
            size = 0
            while chunk := f.read(1 << 20):
                size += len(chunk)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise DL3Error(path, f"truncated or corrupt {kind} stream: {exc}") from None
    return size


def file_stem(path) -> str:
    """A file's name without its FITS extensions (``run_42.fits.gz`` -> ``run_42``)."""
    name = Path(path).name
    for extension in (".gz", ".bz2", ".fz", ".fits", ".fit", ".fts", ".evt"):
        if name.lower().endswith(extension) and len(name) > len(extension):
            name = name[:-len(extension)]
    return name


def _observation_id(path, header, primary, collection: Collection, problems):
    """OBS_ID (EVENTS, else PRIMARY header), else the configured keyword,
    else the configured file-name pattern; a DL3Error when none gives one."""
    raw = header.get("OBS_ID", primary.get("OBS_ID"))
    if _text(raw) is not None:
        return raw
    keyword = collection.obs_id_keyword
    if keyword:
        raw = header.get(keyword, primary.get(keyword))
        if _text(raw) is not None:
            problems.append(f"OBS_ID missing: taken from {keyword} (obs_id_keyword)")
            return raw
    if collection.obs_id_from_filename == "none":
        hint = (f" (nor {keyword})" if keyword else
                " (obs_id_from_filename: none; configure obs_id_keyword or a pattern)")
        raise DL3Error(path, "missing required keyword OBS_ID in the EVENTS header" + hint)
    if collection.obs_id_from_filename:
        found = collection.obs_id_from(path)
        if found is None:
            raise DL3Error(path, "missing required keyword OBS_ID in the EVENTS header, and the"
                                 f" file name does not match obs_id_from_filename"
                                 f" {collection.obs_id_from_filename!r}")
        problems.append("OBS_ID missing: taken from the file name (obs_id_from_filename)")
        return found
    # Gammapy reads such files; the file name identifies the run
    problems.append("OBS_ID missing: the file name without its extension used")
    return file_stem(path)


_KM_COMMENT = re.compile(r"\[\s*km\s*\]|\bkm\b|kilomet", re.IGNORECASE)
_M_COMMENT = re.compile(r"\[\s*m\s*\]|\bmet(er|re)s?\b", re.IGNORECASE)


def _altitude(look: _Lookup, headers, collection: Collection, problems) -> float | None:
    """ALTITUDE in metres.

    GADF says metres; some files write km.  The value is converted only
    when the keyword's comment says km (``[km]``) or, for a comment that
    names no unit, when the collection configures ``altitude_unit: km``;
    it is never guessed from its size.
    """
    altitude = _float(look.get("ALTITUDE"))
    if altitude is None:
        return None
    comment = ""
    for header in headers:
        if "ALTITUDE" in header:
            comment = str(header.comments["ALTITUDE"] or "")
            break
    if _KM_COMMENT.search(comment):
        problems.append("ALTITUDE in km (header comment); converted to m")
        return altitude * 1000.0
    if not _M_COMMENT.search(comment) and collection.altitude_unit == "km":
        problems.append("ALTITUDE in km (altitude_unit: km); converted to m")
        return altitude * 1000.0
    if 0 < abs(altitude) < 10 and collection.altitude_unit != "m":
        problems.append(f"ALTITUDE {altitude:g} m is unusually low; if the files give km,"
                        " set altitude_unit: km")
    return altitude


_DSS_CIRCLE = re.compile(r"^\s*CIRCLE\s*\(\s*([^,]+),([^,]+),([^)]+)\)\s*$", re.IGNORECASE)
#: Footprints are at least this large (deg), so that a single event gives
#: a valid polygon.
MIN_FOOTPRINT_RADIUS = 1e-3


def _dss_roi(header) -> Footprint | None:
    """The circular position selection of OGIP data sub-space keywords
    (DSTYPn = 'POS(RA,DEC)', DSVALn = 'CIRCLE(ra,dec,r)'), e.g. a Fermi
    gtselect region of interest, or None."""
    for key in header:
        if not key.startswith("DSTYP"):
            continue
        if str(header[key]).replace(" ", "").upper() != "POS(RA,DEC)":
            continue
        number = key[5:]
        match = _DSS_CIRCLE.match(str(header.get(f"DSVAL{number}", "")))
        if not match:
            continue
        try:
            ra, dec, radius = (float(v) for v in match.groups())
        except ValueError:
            continue
        unit = str(header.get(f"DSUNI{number}", "deg") or "deg").strip().lower()
        if unit.startswith("rad"):
            ra, dec, radius = (math.degrees(v) for v in (ra, dec, radius))
        if math.isfinite(ra + dec + radius) and radius > 0 and -90 <= dec <= 90:
            return Footprint(ra % 360.0, dec, radius, "file-roi")
    return None


def _survey_footprint(path, table, header, collection: Collection, problems):
    """The sky region of a run without a pointing (see :class:`Footprint`)."""
    roi = _dss_roi(header)
    if roi is not None:
        return roi
    if collection.survey_region != "events":
        return None
    if len(table) == 0 or not (table.has("RA") and table.has("DEC")):
        return None
    try:
        ra, dec = table.values("RA"), table.values("DEC")
    except event_table.EventsError:
        problems.append("RA/DEC columns unusable: no s_region")
        return None
    good = np.isfinite(ra) & np.isfinite(dec)
    if not good.any():
        return None
    lon, lat = np.radians(ra[good]), np.radians(dec[good])
    vectors = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    mean = vectors.mean(axis=1)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-9:  # events spread evenly over the sky: no centre
        return None
    mean /= norm
    radius = float(np.degrees(np.arccos(np.clip(mean @ vectors, -1.0, 1.0)).max()))
    centre_ra = float(np.degrees(np.arctan2(mean[1], mean[0])) % 360.0)
    centre_dec = float(np.degrees(np.arcsin(np.clip(mean[2], -1.0, 1.0))))
    return Footprint(centre_ra, centre_dec, max(radius, MIN_FOOTPRINT_RADIUS), "events")


def _jsonable(values: dict) -> dict:
    """Header values as JSON can hold them (numbers, text, booleans, None)."""
    out = {}
    for key, value in values.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        if value is not None and not isinstance(value, (bool, int, float, str)):
            value = str(value)
        out[key] = value
    return out


def _merged_time_header(header, look: _Lookup) -> dict:
    """Time keywords from the EVENTS header, completed from the fallbacks."""
    return {key: look.get(key) for key in TIME_KEYWORDS}


def _read_gti(path, hdus, events_ref: TimeReference, collection, problems):
    """(start, stop) MET arrays of the GTI table, sorted by start and in the
    event list's MET; None without a usable GTI table.

    Gammapy reads the events of files whose GTI table is odd, so such a
    file is published: intervals with non-finite bounds or STOP before
    START are left out, and a table without START/STOP columns or without
    any usable interval is ignored (the caller then assumes one interval
    TSTART-TSTOP), each with a problem note.
    """
    hdu = find_hdu(hdus, "GTI", GTI_EXTNAMES)
    if hdu is None:
        return None
    columns = getattr(hdu, "columns", None)
    names = {n.upper(): n for n in columns.names} if columns is not None else {}
    if "START" not in names or "STOP" not in names:
        problems.append(f"GTI table {hdu.name!r} has no START/STOP columns: ignored")
        return None
    try:
        start = np.asarray(hdu.data[names["START"]], dtype=float).reshape(-1)
        stop = np.asarray(hdu.data[names["STOP"]], dtype=float).reshape(-1)
    except (TypeError, ValueError):
        problems.append(f"GTI table {hdu.name!r} has non-numeric START/STOP columns: ignored")
        return None
    if len(start) != len(stop):  # vector columns of different lengths
        problems.append(f"GTI table {hdu.name!r} has START/STOP of different lengths: ignored")
        return None
    if len(start) == 0:
        problems.append("GTI table is empty (Gammapy: no good time): ignored")
        return None
    finite = np.isfinite(start) & np.isfinite(stop)
    if not finite.all():
        problems.append(f"{int((~finite).sum())} GTI(s) with non-finite START/STOP ignored")
    ordered = finite & ~(stop < start)
    if (finite & ~ordered).any():
        problems.append(f"{int((finite & ~ordered).sum())} GTI(s) with STOP before START ignored")
    if not ordered.any():
        problems.append("GTI table has no usable interval: ignored")
        return None
    start, stop = start[ordered], stop[ordered]
    # A GTI HDU may declare its own time reference; it is then converted to
    # the event list's MET so that every MET value of a Run is comparable.
    if "MJDREFI" in hdu.header or "MJDREF" in hdu.header:
        gti_header = {key: hdu.header[key] for key in TIME_KEYWORDS if key in hdu.header}
        timezero = _float(gti_header.pop("TIMEZERO", None))
        if timezero and timezero != events_ref.timezero:
            # Gammapy's GTI reader ignores a GTI table's TIMEZERO, and files
            # whose GTIs it would move off the run exist: count the GTIs
            # like the events, with the event list's TIMEZERO
            problems.append(f"GTI header TIMEZERO {timezero:g} ignored (the event list's,"
                            f" {events_ref.timezero:g}, used, as Gammapy does)")
        gti_header["TIMEZERO"] = events_ref.timezero
        try:
            gti_ref = time_reference(gti_header, default_timesys=events_ref.timesys)
        except TimeRefError as exc:
            # (Gammapy's GTI reader fails on it; its EventList reads the events)
            problems.append(f"GTI table {hdu.name!r} ignored: its header's time reference is"
                            f" unusable: {exc}")
            return None
        if gti_ref != events_ref:
            try:
                start = events_ref.to_met(gti_ref.to_time(start))
                stop = events_ref.to_met(gti_ref.to_time(stop))
            except (ValueError, OverflowError) as exc:
                problems.append(f"GTI table {hdu.name!r} ignored: its times give no valid"
                                f" date: {exc}")
                return None
    order = np.argsort(start, kind="stable")
    return start[order], stop[order]


def _run_bounds(path, header_times, gti_met, table, problems) -> tuple[float, float]:
    """TSTART and TSTOP (MET): the header's (``header_times``), else (missing
    or TSTOP before TSTART) the GTI bounds, else the first and last event
    TIME."""
    tstart, tstop = header_times
    if tstart is not None and tstop is not None:
        if tstop >= tstart:
            return tstart, tstop
        what = f"TSTOP ({tstop}) is before TSTART ({tstart}): both ignored"
    else:
        what = "TSTART/TSTOP missing"
    if gti_met is not None:
        problems.append(f"{what}: taken from the GTI bounds")
        return float(gti_met[0].min()), float(gti_met[1].max())
    try:
        met = table.values("TIME") if len(table) else np.empty(0)
    except event_table.EventsError as exc:
        raise DL3Error(path, str(exc)) from None
    met = met[np.isfinite(met)]
    if len(met) == 0:
        raise DL3Error(path, f"{what}, no GTI table and no event TIME to take them from")
    # (Gammapy's EventList reads such a file: its times are the events')
    problems.append(f"{what} and no GTI table: taken from the first and last event TIME")
    return float(met.min()), float(met.max())


def _energy_unit(path, events, primary_header, obs_row: dict, look: _Lookup) -> tuple[str, str]:
    """The unit of the ENERGY column values and where it comes from: its
    TUNIT, else EUNIT (EVENTS header, PRIMARY header, obs-index), else the
    configured ``energy_unit``."""
    column = next(c for c in events.columns if c.name.upper() == "ENERGY")
    candidates = ((_text(column.unit), "TUNIT"),
                  (_text(events.header.get("EUNIT")), "EUNIT"),
                  (_text(primary_header.get("EUNIT")), "PRIMARY EUNIT"),
                  (_text(obs_row.get("eunit")), "obs-index"),
                  (_text(look.collection.default("EUNIT"))
                   or _text(look.collection.default("energy_unit")), "configuration"))
    unit_name, origin = next(((name, origin) for name, origin in candidates if name),
                             (None, None))
    if unit_name is None:
        raise DL3Error(path, "ENERGY column has no unit (TUNIT, EUNIT) and none is configured")
    try:
        unit = u.Unit(unit_name)
        unit.to(u.eV)
    except (ValueError, u.UnitConversionError):
        raise DL3Error(path, f"ENERGY unit {unit_name!r} is not an energy unit") from None
    return unit_name, origin


def _energy_range(path, table, problems):
    """Event count and (min, max) energy as Quantities (None when no events)."""
    count = len(table)
    if count == 0:
        return None, None, 0
    try:
        energy = table.values("ENERGY")
    except event_table.EventsError as exc:
        raise DL3Error(path, str(exc)) from None
    finite = np.isfinite(energy) & (energy > 0)
    if not finite.any():
        # Gammapy reads them; there is no energy range to publish
        problems.append(f"no event has a finite, positive ENERGY ({count} events): no"
                        " energy range")
        return None, None, count
    if not finite.all():
        problems.append(f"{int((~finite).sum())} events with non-finite or non-positive ENERGY ignored for the energy range")
    unit = table.energy_unit()
    return (float(energy[finite].min()) * unit).to(u.TeV), (float(energy[finite].max()) * unit).to(u.TeV), count


def _date_time(date, time) -> tuple[str | None, str | None]:
    """Split DATE-OBS written as a full ISO date-time into date and time."""
    date, time = _text(date), _text(time)
    if date and "T" in date:
        date, _, embedded = date.partition("T")
        time = time or embedded
    return date, time


def _find_irfs(path: Path, hdus, indexes, obs_id: str, problems) -> tuple:
    """IRFs in the event file itself, completed by hdu-index entries.

    Returns the IRFs (``HduRef`` tuple, :data:`IRF_TYPES` order), {hdu_type:
    header} of each and {path: FileStamp} of the separate files they are in.
    An IRF the hdu-index names in a file that is missing, unreadable or
    lacks the HDU is left out, with a problem naming the hdu-index.
    """
    found, headers, stamps = {}, {}, {}
    for hdu in hdus[1:]:
        header = hdu.header
        hdu_type = irf_type(header)
        if hdu_type and hdu_type not in found:
            found[hdu_type] = gadf_index.HduRef(
                hdu_type=hdu_type, hdu_class=hdu_class(hdu, hdu_type), path=path,
                hdu=str(hdu.name))
            headers[hdu_type] = header
    for ref in indexes.irfs(obs_id):
        if ref.hdu_type not in IRF_TYPES or ref.hdu_type in found:
            continue
        stamp = None
        if ref.path == path:
            try:
                header = hdus[ref.hdu].header
            except KeyError:
                header = None
            reason = f"no HDU {ref.hdu!r} in the event file"
        else:
            header, reason, stamp = _external_header(ref)
        if header is None:
            problems.append(f"hdu-index {indexes.hdu_index_path}: {ref.hdu_type} IRF of"
                            f" OBS_ID {obs_id} ignored: {ref.path}: {reason}")
            continue
        found[ref.hdu_type] = ref
        headers[ref.hdu_type] = header
        if stamp is not None:
            stamps[os.path.abspath(ref.path)] = stamp
    irfs = tuple(found[t] for t in IRF_TYPES if t in found)
    return irfs, headers, {p: st for p, st in stamps.items()
                           if any(os.path.abspath(r.path) == p for r in irfs)}


def _external_header(ref) -> tuple:
    """(header, None, FileStamp) of an IRF HDU in another file, or (None,
    reason, None)."""
    try:
        status = os.stat(ref.path)
    except OSError as exc:
        return None, f"cannot read file: {exc.strerror}", None
    try:
        headers = _file_headers(str(ref.path), status.st_mtime_ns)
    except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile) as exc:
        return None, f"not a readable FITS file: {exc}", None
    header = headers.get(ref.hdu.strip().upper())
    if header is None:
        return None, f"no HDU {ref.hdu!r} (HDUs: {', '.join(headers) or 'none'})", None
    return header, None, FileStamp(size=status.st_size, mtime_ns=status.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _file_headers(path: str, stamp: int) -> dict:
    """{EXTNAME upper: header} of a FITS file (IRF files shared by many
    runs are read once per modification)."""
    with fits.open(path, memmap=False) as hdus:
        return {str(hdu.name).strip().upper(): hdu.header.copy() for hdu in hdus[1:]}


def _irf_containment(irfs, headers: dict) -> str | None:
    """'full-enclosure' or 'point-like', from HDUCLAS3 of the IRFs (in the
    event file or in the separate files an hdu-index names)."""
    for ref in irfs:
        value = str(headers[ref.hdu_type].get("HDUCLAS3", "")).strip().lower()
        if value in ("full-enclosure", "point-like"):
            return value
    if any(ref.hdu_type == "rad_max" for ref in irfs):
        return "point-like"
    return None


def _safe_energies(obs_row: dict, irfs, headers: dict):
    """Safe energy range: obs-index columns, else AEFF LO_THRES/HI_THRES
    (wherever the AEFF lives)."""
    lo, hi = _float(obs_row.get("safe_energy_lo")), _float(obs_row.get("safe_energy_hi"))
    if (lo is None or hi is None) and "aeff" in headers:
        header = headers["aeff"]
        lo = lo if lo is not None else _float(header.get("LO_THRES"))
        hi = hi if hi is not None else _float(header.get("HI_THRES"))
    return (None if lo is None else lo * u.TeV), (None if hi is None else hi * u.TeV)


def _psf_resolution(irfs, collection: Collection, problems, hdus=None, path=None,
                    data: bytes | None = None, cache=None):
    """68% containment radius of the PSF at the configured reference point
    (a PSF in the event file is read from its open ``hdus``).

    With a ``cache`` (an import), the radius of a PSF in the event file
    that Gammapy computes (not a PSF table) is remembered by the PSF HDU's
    content: a re-import of the file needs no Gammapy.
    """
    ref = next((r for r in irfs if r.hdu_type == "psf"), None)
    energy = collection.psf_ref_energy_tev * u.TeV
    offset = collection.psf_ref_offset_deg * u.deg
    if ref is None:
        return None, None, None
    in_file = Path(ref.path) == path
    memo_key = None
    # A PSF table's radius is computed without Gammapy in a few
    # milliseconds (hess_dr.psf): remembering it would cost as much.
    if cache is not None and in_file and (ref.hdu_class or "psf_table") != "psf_table":
        memo_key = _psf_memo_key(hdus, ref, data, energy, offset)
        if memo_key is not None:
            arcsec = cache.memo("psf-radius", memo_key)
            if isinstance(arcsec, float):
                return arcsec * u.arcsec, energy, offset
    from .irf import containment_radius  # gammapy import is slow; only when needed
    try:
        radius = containment_radius(ref, energy, offset, hdulist=hdus if in_file else None,
                                    data=data if in_file else None)
    except Exception as exc:  # gammapy raises many types on odd IRFs
        problems.append(f"PSF in {ref.path.name}[{ref.hdu}] unusable for s_resolution: {exc}")
        return None, None, None
    if memo_key is not None:
        try:
            cache.remember("psf-radius", memo_key, float(radius.to_value(u.arcsec)))
        except OSError:
            pass
    return radius, energy, offset


def _psf_memo_key(hdus, ref, data, energy, offset) -> str | None:
    """What a PSF containment radius depends on: the PSF HDU (header and
    data), its class, the reference point and the Gammapy version."""
    import hashlib
    from importlib import metadata
    try:
        hdu = hdus[ref.hdu]
        version = metadata.version("gammapy")
    except (KeyError, metadata.PackageNotFoundError):
        return None
    digest = hashlib.sha256(hdu.header.tostring().encode())
    digest.update(event_table.raw_data(hdu, data))
    return (f"{digest.hexdigest()} {ref.hdu_class} {energy.to_value(u.TeV)!r} TeV"
            f" {offset.to_value(u.deg)!r} deg 0.68 gammapy {version}")
