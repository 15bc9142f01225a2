"""What the search form (q.rd's ``web`` service) understands, as pure code.

The form asks for a position (coordinates, or a target name the archive
knows) and a radius, an energy range in TeV, a time range as calendar
dates, a minimum live time, a maximum zenith angle and a collection or
instrument.  The functions here turn what a person types into numbers, or
raise :class:`SearchError` with a message for the page; q.rd's phrase
makers turn the numbers into SQL on ``hess_dr.obs_index``:

========================  ==================================================
position, radius          the run's pointing (``s_ra``, ``s_dec``) within
                          the radius of the position (a q3c cone)
energy range (TeV)        the run's event energies overlap the range:
                          ``energy_max >= lo`` and ``energy_min <= hi``
dates (UTC)               the run overlaps [first day 00:00, day after the
                          last day 00:00): ``t_max >= from``, ``t_min < to``
minimum live time (s)     ``livetime >= value``
maximum zenith angle      ``zen_pnt <= value``
========================  ==================================================

A target name is resolved against the names the archive publishes
(``target_name`` and ``object`` of ``hess_dr.obs_index``): ignoring case,
spaces and punctuation, an exact match first, else the names containing
what was typed; the position is the mean of the matching runs' target
positions (``ra_obj``/``dec_obj``, else their pointing), refused when the
matches lie in different places.
"""
from __future__ import annotations

import dataclasses
import datetime
import math
import re
from typing import Iterable

#: Largest search radius (deg).
MAX_RADIUS_DEG = 30.0
#: Runs named alike whose target positions differ by more than this (deg)
#: do not resolve to one position.
NAME_SPREAD_DEG = 1.5
#: MJD of 1970-01-01 (the Unix epoch).
MJD_UNIX_EPOCH = 40587.0

_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_DECIMAL_PAIR = re.compile(rf"^\s*({_FLOAT})\s*(?:deg|d|°)?\s*[,;\s]\s*({_FLOAT})\s*(?:deg|d|°)?\s*$")
_SEXAGESIMAL = re.compile(r"^\s*\d{1,2}\s*[h:\s]\s*\d{1,2}\s*[m:\s]\s*\d{1,2}(?:\.\d*)?\s*s?"
                          r"\s*,?\s*[-+−]?\s*\d{1,2}\s*[d°:\s]\s*\d{1,2}\s*['m:\s]\s*"
                          r"\d{1,2}(?:\.\d*)?\s*(?:\"|''|s)?\s*$")
_DATE = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?\s*$")


class SearchError(ValueError):
    """A value of the form that cannot be used; ``field`` names its input."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass
class Position:
    ra: float
    dec: float
    #: How the position was found (shown on the result page).
    label: str


# -------------------------------------------------------------- position

def parse_coordinates(text: str, field: str = "pos") -> Position | None:
    """ICRS coordinates typed as decimal degrees ("83.633 22.0145",
    "83.633, 22.0145") or sexagesimal ("05 34 31.9 +22 00 52",
    "05h34m31.9s +22d00m52s", "05:34:31.9 +22:00:52"); None when the text
    is no coordinate pair (then it is a target name)."""
    match = _DECIMAL_PAIR.match(text)
    if match:
        ra, dec = float(match.group(1)), float(match.group(2))
        if not (math.isfinite(ra) and math.isfinite(dec)):
            raise SearchError("coordinates must be finite numbers", field)
        if not -90 <= dec <= 90:
            raise SearchError(f"declination {dec:g} is outside -90..90 degrees", field)
        if not -360 <= ra <= 360:
            raise SearchError(f"right ascension {ra:g} is outside 0..360 degrees", field)
        ra %= 360.0
        return Position(ra, dec, f"RA {ra:.4f}°, Dec {dec:+.4f}° (ICRS)")
    if _SEXAGESIMAL.match(text.replace("−", "-")):
        from astropy import units as u
        from astropy.coordinates import SkyCoord
        try:
            coord = SkyCoord(text.replace("−", "-").replace(",", " "),
                             unit=(u.hourangle, u.deg), frame="icrs")
        except (ValueError, TypeError) as exc:
            raise SearchError(f"cannot read {text.strip()!r} as coordinates: {exc}",
                              field) from None
        ra, dec = float(coord.ra.deg), float(coord.dec.deg)
        if not -90 <= dec <= 90:
            raise SearchError(f"declination {dec:g} is outside -90..90 degrees", field)
        return Position(ra, dec, f"RA {ra:.4f}°, Dec {dec:+.4f}° (ICRS)")
    return None


def normalise_name(name: str) -> str:
    """A name for comparison: lower case letters and digits only."""
    return re.sub(r"[^a-z0-9]+", "", (name or "").lower())


@dataclasses.dataclass
class NamedRuns:
    """The runs published under one name (a row of the form's lookup):
    ``x``, ``y``, ``z`` the mean unit vector of their target positions."""

    name: str
    runs: int
    x: float
    y: float
    z: float

    @property
    def direction(self) -> tuple[float, float]:
        ra = math.degrees(math.atan2(self.y, self.x)) % 360.0
        dec = math.degrees(math.atan2(self.z, math.hypot(self.x, self.y)))
        return ra, dec

    @property
    def spread_deg(self) -> float:
        """A measure of how far apart the runs' positions are: the angle
        whose cosine is the length of the mean unit vector (0 when they
        all agree; at least the typical distance from their mean)."""
        length = min(1.0, math.sqrt(self.x ** 2 + self.y ** 2 + self.z ** 2))
        return math.degrees(math.acos(length))


def name_pattern(text: str) -> str:
    """The SQL LIKE pattern finding candidate names (on normalised names)."""
    return "%" + normalise_name(text).replace("%", "").replace("_", "") + "%"


def resolve_target(text: str, candidates: Iterable[NamedRuns],
                   field: str = "pos") -> Position:
    """The position of the target named ``text``, from the names the
    archive publishes (``candidates``: the names containing the typed one,
    see :func:`name_pattern`)."""
    wanted = normalise_name(text)
    if not wanted:
        raise SearchError("give coordinates or a target name", field)
    candidates = [c for c in candidates if wanted in normalise_name(c.name)]
    exact = [c for c in candidates if normalise_name(c.name) == wanted]
    chosen = exact or candidates
    if not chosen:
        raise SearchError(f"no published target is called {text.strip()!r}; give"
                          " coordinates (e.g. 83.633 22.0145) or another name", field)
    for candidate in chosen:
        if candidate.spread_deg > NAME_SPREAD_DEG:
            raise SearchError(f"{candidate.name!r} names {candidate.runs} runs in different"
                              " parts of the sky; give coordinates", field)
    x = sum(c.x * c.runs for c in chosen)
    y = sum(c.y * c.runs for c in chosen)
    z = sum(c.z * c.runs for c in chosen)
    runs = sum(c.runs for c in chosen)
    merged = NamedRuns(", ".join(sorted(c.name for c in chosen)), runs,
                       x / runs, y / runs, z / runs)
    if merged.spread_deg > NAME_SPREAD_DEG:
        names = "; ".join(f"{c.name} ({c.direction[0]:.2f}, {c.direction[1]:+.2f})"
                          for c in sorted(chosen, key=lambda c: c.name)[:8])
        raise SearchError(f"{text.strip()!r} matches targets in different places: {names};"
                          " type one of them or give coordinates", field)
    ra, dec = merged.direction
    return Position(ra, dec, f"{merged.name}: RA {ra:.4f}°, Dec {dec:+.4f}° (ICRS,"
                             f" from {runs} published run(s))")


def check_radius(radius: float | None, field: str = "radius") -> float:
    if radius is None:
        raise SearchError("give a radius (degrees) with the position", field)
    if not math.isfinite(radius) or not 0 < radius <= MAX_RADIUS_DEG:
        raise SearchError(f"the radius must be more than 0 and at most"
                          f" {MAX_RADIUS_DEG:g} degrees", field)
    return radius


# ---------------------------------------------------------------- energy

def check_energy_range(lo: float | None, hi: float | None,
                       fields=("emin", "emax")) -> tuple[float | None, float | None]:
    """The energy range in TeV (either end may be open)."""
    for value, field in ((lo, fields[0]), (hi, fields[1])):
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise SearchError("energies are positive numbers of TeV", field)
    if lo is not None and hi is not None and lo > hi:
        raise SearchError(f"the lowest energy ({lo:g} TeV) is above the highest"
                          f" ({hi:g} TeV)", fields[0])
    return lo, hi


# ------------------------------------------------------------------- time

def parse_date(text: str | None, field: str, end: bool = False) -> float | None:
    """MJD (UTC) of a calendar date: ``YYYY``, ``YYYY-MM`` or
    ``YYYY-MM-DD``; the start of that period, or with ``end`` the start of
    the day (month, year) after it."""
    if text is None or not str(text).strip():
        return None
    match = _DATE.match(str(text))
    if not match:
        raise SearchError(f"{str(text).strip()!r} is not a date: write YYYY-MM-DD, YYYY-MM"
                          " or YYYY", field)
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        first = datetime.date(year, month or 1, day or 1)
    except ValueError as exc:
        raise SearchError(f"{str(text).strip()!r} is not a date: {exc}", field) from None
    if end:
        if day is not None:
            first = first + datetime.timedelta(days=1)
        elif month is not None:
            first = datetime.date(year + (month == 12), month % 12 + 1, 1)
        else:
            first = datetime.date(year + 1, 1, 1)
    return (first - datetime.date(1970, 1, 1)).days + MJD_UNIX_EPOCH


def check_date_range(start: float | None, stop: float | None,
                     fields=("date_from", "date_to")) -> None:
    if start is not None and stop is not None and stop <= start:
        raise SearchError("the end date is before the start date", fields[1])


def check_minimum(value: float | None, field: str, what: str,
                  upper: float | None = None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise SearchError(f"the {what} must be a number of at least 0", field)
    if upper is not None and value > upper:
        raise SearchError(f"the {what} must be at most {upper:g}", field)
    return value


# --------------------------------------------------------------- display

def energy_range_tev(energy_min_ev: float | None, energy_max_ev: float | None,
                     unit: str = " TeV") -> str:
    """``"0.244 – 101 TeV"`` from eV (three significant digits)."""
    if energy_min_ev is None or energy_max_ev is None:
        return ""
    return f"{_sig(energy_min_ev / 1e12)} – {_sig(energy_max_ev / 1e12)}{unit}"


def _sig(value: float, digits: int = 3) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"


def mjd_to_iso(mjd: float | None, seconds: bool = False) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of an MJD (UTC)."""
    if mjd is None or not math.isfinite(mjd):
        return ""
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(days=mjd - MJD_UNIX_EPOCH)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

