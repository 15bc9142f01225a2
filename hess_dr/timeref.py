"""Mission elapsed time (MET) to absolute time, as OGIP/GADF headers define it.

DL3 times are seconds (TIMEUNIT) since the reference epoch MJDREFI + MJDREFF
(or MJDREF) in the time scale TIMESYS, shifted by TIMEZERO.  Real files write
TIMESYS in any case ('TT', 'utc', 'TAI'), MJDREFI as a float, or only MJDREF.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
from astropy import units as u
from astropy.time import Time, TimeDelta

# FITS TIMESYS values (any case) -> astropy time scales.
_SCALES = {"TT": "tt", "TDT": "tt", "ET": "tt", "UTC": "utc", "TAI": "tai",
           "TDB": "tdb", "TCB": "tcb", "TCG": "tcg", "UT1": "ut1",
           "GPS": "tai"}  # GPS is TAI - 19 s; handled by the offset below
# Seconds to add to a time read in the scale above to get that scale's time:
# a GPS clock reads 19 s behind TAI, so TAI = GPS + 19 s.
_SCALE_OFFSET_S = {"GPS": 19.0}


#: The header keywords that define a time reference.
TIME_KEYWORDS = ("MJDREFI", "MJDREFF", "MJDREF", "TIMESYS", "TIMEUNIT", "TIMEZERO")


class TimeRefError(ValueError):
    """The header does not define a usable time reference."""


@dataclasses.dataclass(frozen=True)
class TimeReference:
    """The epoch and unit that MET values in one HDU are counted from.

    Attributes
    ----------
    epoch : astropy.time.Time
        MJDREF in the file's own time scale.
    unit : astropy.units.Unit
        TIMEUNIT (seconds unless stated otherwise).
    timezero : float
        TIMEZERO, in ``unit``, added to every MET value.
    timesys : str
        TIMESYS as written in the file (upper-cased).
    """

    epoch: Time
    unit: u.UnitBase
    timezero: float
    timesys: str

    def to_time(self, met) -> Time:
        """Convert MET value(s) to :class:`astropy.time.Time` (file's scale)."""
        met = np.asarray(met, dtype=float) + self.timezero
        offset = _SCALE_OFFSET_S.get(self.timesys, 0.0)
        return self.epoch + TimeDelta((met * self.unit).to_value(u.s) + offset, format="sec")

    def to_met(self, time: Time) -> np.ndarray:
        """Convert :class:`astropy.time.Time` to MET (inverse of :meth:`to_time`)."""
        offset = _SCALE_OFFSET_S.get(self.timesys, 0.0)
        seconds = (time - self.epoch).to_value(u.s) - offset
        return (seconds * u.s).to_value(self.unit) - self.timezero


#: Time scales every :class:`RunTimes` is converted to: UTC is what hess_dr
#: publishes, TDB the axis of T-MOCs.
CONVERTED_SCALES = ("utc", "tdb")


class _Conversion:
    """MET values of one or more HDU sets as one astropy Time, with its
    conversions to :data:`CONVERTED_SCALES` (shared by the sets)."""

    def __init__(self, time: Time):
        self.time = time
        self.scaled = {time.scale: time}
        for scale in CONVERTED_SCALES:
            if scale not in self.scaled:
                self.scaled[scale] = getattr(time, scale)
        self._mjd = {}

    def mjd(self, scale: str) -> np.ndarray:
        if scale not in self._mjd:
            self._mjd[scale] = self.scaled[scale].mjd
        return self._mjd[scale]


class RunTimes:
    """Named MET values sharing a time reference (a run's TSTART, TSTOP and
    GTI bounds) and their absolute times.

    A scale conversion costs astropy about a millisecond whatever the
    number of values (ERFA's leap-second table, the TDB series), and each
    Time object a tenth of that: the values are converted together, for
    all the runs of a reader's task with :func:`convert_together`, and the
    rows take plain MJD/JD arrays (:meth:`mjd`, :meth:`jd`); Time objects
    (:meth:`time`) are only made when asked for.

    Parameters
    ----------
    time_ref : TimeReference
    **parts : float or array-like
        MET values by name (a scalar stays a scalar).
    """

    def __init__(self, time_ref: TimeReference, **parts):
        self.time_ref = time_ref
        self._where, values, first = {}, [], 0
        for name, met in parts.items():
            array = np.atleast_1d(np.asarray(met, dtype=float))
            self._where[name] = first if np.ndim(met) == 0 else slice(first, first + len(array))
            values.append(array)
            first += len(array)
        self.met = np.concatenate(values)
        self._conversion: _Conversion | None = None
        self._offset = 0
        self._times: dict = {}

    @property
    def converted(self) -> bool:
        return self._conversion is not None

    def convert(self) -> None:
        """Convert these values alone (see :func:`convert_together`).

        Raises
        ------
        ValueError
            If a time cannot be converted (ERFA refuses absurd dates).
        """
        error = convert_together([self])[0]
        if error is not None:
            raise error

    def _index(self, name: str):
        where = self._where[name]
        if isinstance(where, slice):
            return slice(where.start + self._offset, where.stop + self._offset)
        return where + self._offset

    def _converted(self) -> _Conversion:
        if self._conversion is None:
            self.convert()
        return self._conversion

    def mjd(self, name: str, scale: str = "utc"):
        """MJD (float, or array for an array part) of a part in ``scale``."""
        values = self._converted().mjd(scale)[self._index(name)]
        return float(values) if np.ndim(values) == 0 else values

    def jd(self, name: str, scale: str = "tdb") -> tuple[np.ndarray, np.ndarray]:
        """The two-part Julian dates (jd1, jd2 arrays) of a part in ``scale``."""
        time = self._converted().scaled[scale]
        index = self._index(name)
        return np.atleast_1d(time.jd1[index]), np.atleast_1d(time.jd2[index])

    def time(self, name: str) -> Time:
        """A part as :class:`~astropy.time.Time` in the file's scale, whose
        conversions to :data:`CONVERTED_SCALES` are already in its cache
        (``Time.cache``, where astropy looks first)."""
        if name not in self._times:
            conversion = self._converted()
            index = self._index(name)
            time = conversion.time[index]
            for scale, whole in conversion.scaled.items():
                if scale != time.scale:
                    time.cache["scale"][scale] = whole[index]
            self._times[name] = time
        return self._times[name]


def convert_together(run_times: list[RunTimes]) -> list[ValueError | None]:
    """Convert several :class:`RunTimes` with one astropy conversion per
    time reference they share.

    Returns
    -------
    list
        Per item, None, or the ValueError (or OverflowError) of values that
        give no valid date (ERFA refuses absurd dates); such an item stays
        unconverted and the others are converted regardless.
    """
    errors: list = [None] * len(run_times)
    groups: dict[int, list[int]] = {}
    for i, item in enumerate(run_times):
        groups.setdefault(id(item.time_ref), []).append(i)
    for members in groups.values():
        try:
            _convert_group([run_times[i] for i in members])
        except (ValueError, OverflowError) as exc:
            if len(members) == 1:
                errors[members[0]] = exc
                continue
            for i in members:  # find which of them cannot be converted
                errors[i] = convert_together([run_times[i]])[0]
    return errors


def _convert_group(items: list[RunTimes]) -> None:
    time_ref = items[0].time_ref
    conversion = _Conversion(time_ref.to_time(np.concatenate([item.met for item in items])))
    offset = 0
    for item in items:
        item._conversion, item._offset, item._times = conversion, offset, {}
        offset += len(item.met)


def _number(header, key):
    value = header.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TimeRefError(f"{key}={value!r} is not a number") from None


def is_time_unit(value) -> bool:
    """Whether a TIMEUNIT value is missing or blank (seconds) or a unit of time."""
    if value is None or not str(value).strip():
        return True
    try:
        u.Unit(str(value).strip()).to(u.s)
    except (ValueError, TypeError, u.UnitConversionError):
        return False
    return True


def time_reference(header, default_timesys: str | None = None) -> TimeReference:
    """Build the :class:`TimeReference` of an HDU header.

    Parameters
    ----------
    header : mapping
        A FITS header (or any mapping of keywords).
    default_timesys : str, optional
        Used when TIMESYS is missing (from the operator configuration).

    Raises
    ------
    TimeRefError
        If MJDREF, TIMESYS or TIMEUNIT are missing or unusable.

    Notes
    -----
    The files of a release share their reference, so a reference is built
    once per distinct set of keyword values (with its astropy Time, it costs
    a few percent of a small event list's import); the object is shared.
    """
    values = tuple(header.get(key) for key in TIME_KEYWORDS)
    try:
        return _cached_time_reference(values, default_timesys)
    except TypeError:  # an unhashable value (not from a FITS header)
        return _cached_time_reference.__wrapped__(values, default_timesys)


@functools.lru_cache(maxsize=256)
def _cached_time_reference(values: tuple, default_timesys: str | None) -> TimeReference:
    header = dict(zip(TIME_KEYWORDS, values))
    mjdrefi, mjdreff = _number(header, "MJDREFI"), _number(header, "MJDREFF")
    mjdref = _number(header, "MJDREF")
    if mjdrefi is not None:
        # MJDREFI written as a float (51910.0) is accepted; a fractional part
        # there would be moved into the second part by astropy anyway.
        jd1, jd2 = mjdrefi, mjdreff or 0.0
    elif mjdref is not None:
        jd1, jd2 = mjdref, 0.0
    else:
        raise TimeRefError("no time reference: MJDREFI/MJDREFF and MJDREF are missing")

    timesys = header.get("TIMESYS") or default_timesys
    if not timesys or not str(timesys).strip():
        raise TimeRefError("TIMESYS is missing and no default is configured")
    timesys = str(timesys).strip().upper()
    if timesys not in _SCALES:
        raise TimeRefError(f"TIMESYS={timesys!r} is not a supported time scale")

    unit_name = str(header.get("TIMEUNIT") or "s").strip()
    try:
        unit = u.Unit(unit_name)
        unit.to(u.s)
    except (ValueError, u.UnitConversionError):
        raise TimeRefError(f"TIMEUNIT={unit_name!r} is not a time unit") from None

    epoch = Time(jd1, jd2, format="mjd", scale=_SCALES[timesys])
    return TimeReference(epoch=epoch, unit=unit,
                         timezero=_number(header, "TIMEZERO") or 0.0, timesys=timesys)
