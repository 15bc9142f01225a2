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


def to_times(time_ref: TimeReference, *mets, scales: tuple = ("utc", "tdb")) -> list[Time]:
    """Convert several MET values or arrays at once.

    Returns one :class:`~astropy.time.Time` per argument (scalar for a
    scalar), in the file's scale, whose conversions to ``scales`` are
    already made: a scale conversion costs about a millisecond whatever the
    number of values (ERFA's leap-second table and TDB series), so all of a
    run's times are converted together and each Time gets its part in its
    conversion cache (``Time.cache``), where astropy looks first.

    Raises
    ------
    ValueError
        If a time cannot be converted (ERFA refuses absurd dates).
    """
    parts = [np.atleast_1d(np.asarray(met, dtype=float)) for met in mets]
    combined = time_ref.to_time(np.concatenate(parts))
    converted = {scale: getattr(combined, scale) for scale in scales if scale != combined.scale}
    times, first = [], 0
    for met, part in zip(mets, parts):
        where = first if np.ndim(met) == 0 else slice(first, first + len(part))
        time = combined[where]
        for scale, whole in converted.items():
            time.cache["scale"][scale] = whole[where]
        times.append(time)
        first += len(part)
    return times


def _number(header, key):
    value = header.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TimeRefError(f"{key}={value!r} is not a number") from None


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
