"""SODA / DataLink cutout parameters of an event list, parsed into a :class:`CutoutSpec`.

Parameters arrive as strings over HTTP (DALI syntax: numbers separated by
blanks, ``-Inf`` / ``+Inf`` for open interval bounds).  :func:`parse_cutout`
turns them into a frozen :class:`CutoutSpec` holding astropy quantities and
times, or raises :class:`SodaError` (HTTP status 400) naming the parameter.

Accepted parameters (:data:`CUTOUT_PARAMETERS`):

``BAND``
    SODA wavelength interval in metres, ``"lo hi"``; converted to energies
    with E = hc / lambda, so the energy interval is [hc/hi, hc/lo].
``ENERGY``
    Energy interval in TeV, ``"lo hi"`` (hess_dr extension).  Given with
    ``BAND``, the two intervals are intersected.
``TIME``
    Time interval, ``"lo hi"`` as MJD in UTC (the scale of every MJD
    hess_dr publishes, see :data:`hess_dr.rows.PUBLISHED_SCALE`).
``CIRCLE``
    ``"ra dec radius"`` in degrees (ICRS).
``POLYGON``
    ``"ra1 dec1 ra2 dec2 ra3 dec3 ..."`` in degrees; edges are great
    circles; either winding order is accepted and the interior is the part
    of the sky the polygon encloses within one hemisphere.
``POS``
    SODA/DALI shape: ``"CIRCLE ra dec radius"``, ``"POLYGON ra1 dec1 ..."``
    or ``"RANGE ra_min ra_max dec_min dec_max"`` (a box bounded by
    meridians and parallels; ``-Inf``/``+Inf`` open its sides).

At most one of ``CIRCLE``, ``POLYGON`` and ``POS`` may be given; each
parameter at most once.  The DALI/DataLink parameters in
:data:`IGNORED_PARAMETERS` (ID, RESPONSEFORMAT, REQUEST...) are skipped.

Coordinates are ICRS; the FK5 J2000 positions of the H.E.S.S. files differ
from ICRS by less than 0.1 arcsec, which no cut here resolves.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Mapping

import numpy as np
from astropy import units as u
from astropy.time import Time

#: hc in eV m: lambda = hc / E (the constant hess_dr.dl3 uses for em_min/em_max).
HC_EV_M = 1.239841984332e-6

#: Cutout parameters :func:`parse_cutout` understands (upper case).
CUTOUT_PARAMETERS = ("BAND", "ENERGY", "TIME", "POS", "CIRCLE", "POLYGON")
#: Spatial parameters: at most one of them per request.
SPATIAL_PARAMETERS = ("POS", "CIRCLE", "POLYGON")
#: DALI / DataLink / SODA parameters that are not cutout constraints; the
#: parser skips them so that a caller may pass the whole request.
IGNORED_PARAMETERS = frozenset({"ID", "RESPONSEFORMAT", "REQUEST", "RUNID", "MAXREC",
                                "VERSION", "UPLOAD", "LANG", "FORMAT"})

#: Longest accepted parameter value, in characters.
MAX_VALUE_LENGTH = 10_000
#: Most accepted polygon vertices.
MAX_POLYGON_VERTICES = 1000
#: Accepted MJD range for TIME (1858-11-17 to about year 4596).
MJD_RANGE = (0.0, 1.0e6)

# A DALI double: decimal digits only (float() would also take '1_0',
# unicode digits, 'nan' and 'infinity').
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_INFINITY = re.compile(r"([+-]?)inf(?:inity)?\Z", re.IGNORECASE)
_NAN = re.compile(r"[+-]?nan\Z", re.IGNORECASE)


class SodaError(ValueError):
    """A cutout request that cannot be served as given (an HTTP 400).

    Attributes
    ----------
    parameter : str or None
        The offending parameter (upper case), if one is to blame.
    http_status : int
        Always 400 (bad request); the DaCHS layer turns the error into a
        DALI error document with this status.
    code : str
        The DataLink/SODA error code the message should start with:
        ``UsageError``, or ``MultiValuedParamNotSupported`` for a repeated
        parameter.
    """

    http_status = 400

    def __init__(self, message: str, parameter: str | None = None,
                 code: str = "UsageError"):
        super().__init__(f"{parameter}: {message}" if parameter else message)
        self.parameter = parameter
        self.code = code

    @property
    def dali_message(self) -> str:
        """The message as a DALI error document wants it (``Code: text``)."""
        return f"{self.code}: {self}"


# --------------------------------------------------------------------------
# regions
# --------------------------------------------------------------------------

def _unit_vectors(ra, dec) -> np.ndarray:
    """(N, 3) unit vectors of positions in degrees."""
    ra, dec = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


_DEG_TO_RAD = u.deg.to(u.rad)
_RAD_TO_DEG = u.rad.to(u.deg)


def separation_deg(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Angular separation (deg) of positions given in degrees, computed as
    ``SkyCoord(lon1, lat1).separation(SkyCoord(lon2, lat2)).deg`` computes
    it (Vincenty; longitudes wrapped to [0, 360) as astropy's Longitude
    does, differences taken in degrees), without building SkyCoords."""
    lon1 = np.mod(lon1, 360.0)
    lon2 = np.mod(lon2, 360.0)
    dlon = (lon2 - lon1) * _DEG_TO_RAD
    sdlon, cdlon = np.sin(dlon), np.cos(dlon)
    lat1, lat2 = np.asarray(lat1) * _DEG_TO_RAD, np.asarray(lat2) * _DEG_TO_RAD
    slat1, slat2, clat1, clat2 = np.sin(lat1), np.sin(lat2), np.cos(lat1), np.cos(lat2)
    num1 = clat2 * sdlon
    num2 = clat1 * slat2 - slat1 * clat2 * cdlon
    denominator = slat1 * slat2 + clat1 * clat2 * cdlon
    return np.arctan2(np.hypot(num1, num2), denominator) * _RAD_TO_DEG


@dataclasses.dataclass(frozen=True)
class Circle:
    """A cone: centre (ra, dec) and radius, all in degrees (ICRS)."""

    ra: float
    dec: float
    radius: float

    def contains(self, ra, dec) -> np.ndarray:
        """Boolean mask of the positions (degrees) within the circle (edge included).

        The angular separation is astropy's (``SkyCoord.separation``:
        the Vincenty formula of ``angular_separation``, on longitudes
        wrapped to [0, 360)), evaluated in the same order of operations on
        plain arrays: the same numbers, bit for bit, at a twentieth of
        the cost.
        """
        return separation_deg(np.asarray(ra, float), np.asarray(dec, float),
                              self.ra, self.dec) <= self.radius

    def describe(self) -> str:
        return f"circle centre (ra, dec) = ({self.ra:g}, {self.dec:g}) deg, radius {self.radius:g} deg"


@dataclasses.dataclass(frozen=True)
class Polygon:
    """A spherical polygon with great-circle edges, vertices in degrees (ICRS).

    The polygon must fit within a hemisphere: every vertex is less than 90
    degrees from the vertices' mean direction (:attr:`centre`).  Points are
    tested in the gnomonic projection about that centre, which maps great
    circles to straight lines, so the test is exact on the sphere and
    indifferent to RA = 0 and to the winding order.
    """

    vertices: tuple  # ((ra, dec), ...)

    @property
    def centre(self) -> np.ndarray:
        """Unit vector of the vertices' mean direction."""
        total = _unit_vectors(*np.transpose(self.vertices)).sum(axis=0)
        return total / np.linalg.norm(total)

    def _basis(self):
        centre = self.centre
        # A reference axis not parallel to the centre for the tangent plane.
        axis = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        east = np.cross(axis, centre)
        east /= np.linalg.norm(east)
        return centre, east, np.cross(centre, east)

    def project(self, ra, dec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gnomonic projection about :attr:`centre`.

        Returns
        -------
        x, y : numpy.ndarray
            Tangent-plane coordinates (NaN where undefined).
        front : numpy.ndarray
            True for positions in the hemisphere of the centre (the only
            ones the projection maps).
        """
        centre, east, north = self._basis()
        vectors = _unit_vectors(ra, dec).reshape(-1, 3)
        z = vectors @ centre
        front = z > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(front, (vectors @ east) / z, np.nan)
            y = np.where(front, (vectors @ north) / z, np.nan)
        return x, y, front

    def area_in_projection(self) -> float:
        """Absolute shoelace area of the projected polygon (0 when degenerate)."""
        x, y, _ = self.project(*np.transpose(self.vertices))
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)

    def contains(self, ra, dec) -> np.ndarray:
        """Boolean mask of the positions (degrees) inside the polygon (even-odd rule)."""
        shape = np.shape(ra)
        x, y, front = self.project(ra, dec)
        vx, vy, _ = self.project(*np.transpose(self.vertices))
        inside = np.zeros(x.shape, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in range(len(vx)):
                x1, y1, x2, y2 = vx[i], vy[i], vx[i - 1], vy[i - 1]
                crosses = (y1 > y) != (y2 > y)
                x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                inside ^= crosses & (x < x_cross)
        return (inside & front).reshape(shape)

    def describe(self) -> str:
        shown = self.vertices[:8]
        points = " ".join(f"({ra:g}, {dec:g})" for ra, dec in shown)
        more = " ..." if len(self.vertices) > len(shown) else ""
        return f"polygon of {len(self.vertices)} vertices (ra, dec) deg: {points}{more}"


@dataclasses.dataclass(frozen=True)
class Range:
    """A box bounded by meridians and parallels (SODA ``POS=RANGE``), degrees.

    ``ra_min <= ra_max`` (no wrap through RA = 0, as in DaCHS's own SODA
    code); open sides were mapped to 0/360 and -90/+90 by the parser.
    """

    ra_min: float
    ra_max: float
    dec_min: float
    dec_max: float

    def contains(self, ra, dec) -> np.ndarray:
        """Boolean mask of the positions (degrees) in the box (edges included)."""
        ra, dec = np.asarray(ra, float), np.asarray(dec, float)
        wrapped = np.mod(ra, 360.0)
        in_ra = ((wrapped >= self.ra_min) & (wrapped <= self.ra_max)) | (
            (self.ra_max >= 360.0) & (wrapped == 0.0))
        return in_ra & (dec >= self.dec_min) & (dec <= self.dec_max)

    def describe(self) -> str:
        return (f"range ra {self.ra_min:g} to {self.ra_max:g} deg,"
                f" dec {self.dec_min:g} to {self.dec_max:g} deg")


# --------------------------------------------------------------------------
# the spec
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CutoutSpec:
    """What a cutout keeps of an event list; ``None`` fields do not cut.

    Attributes
    ----------
    energy : tuple of astropy.units.Quantity, or None
        (lo, hi) in TeV, inclusive; open bounds are 0 TeV and +inf TeV.
    time : tuple of (astropy.time.Time or None), or None
        (lo, hi) in UTC (format mjd), inclusive; an open bound is None.
    region : Circle, Polygon, Range or None
        Sky region (ICRS degrees).
    parameters : tuple of (str, str)
        The parameters the spec was parsed from (upper-case name,
        normalised value), for provenance records.
    """

    energy: tuple | None = None
    time: tuple | None = None
    region: Circle | Polygon | Range | None = None
    parameters: tuple = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing is cut."""
        return self.energy is None and self.time is None and self.region is None

    def describe(self) -> list[str]:
        """One human-readable line per constraint (for FITS HISTORY)."""
        lines = []
        if self.energy is not None:
            lo, hi = (e.to_value(u.TeV) for e in self.energy)
            lines.append(f"energy {lo:.10g} to {hi:.10g} TeV")
        if self.time is not None:
            lo, hi = (("open" if t is None else f"{t.utc.mjd:.9f}") for t in self.time)
            lines.append(f"time MJD (UTC) {lo} to {hi}")
        if self.region is not None:
            lines.append(self.region.describe())
        return lines


# --------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------

def parse_cutout(params: Mapping[str, Any]) -> CutoutSpec:
    """Parse SODA / DataLink request parameters into a :class:`CutoutSpec`.

    Parameters
    ----------
    params : mapping
        Parameter name (any case) -> value.  A value is a string, or a
        list/tuple of strings as web frameworks deliver repeated
        parameters (more than one element is an error; none, None or a
        blank string count as absent).  Numbers are accepted and read
        through their ``repr``.

    Returns
    -------
    CutoutSpec

    Raises
    ------
    SodaError
        For unknown or repeated parameters, malformed values, and values
        outside their domain; the message names the parameter.
    """
    if not isinstance(params, Mapping):
        raise SodaError(f"parameters must be a mapping, not {type(params).__name__}")
    values = _collect(params)
    spatial = [name for name in SPATIAL_PARAMETERS if name in values]
    if len(spatial) > 1:
        raise SodaError(f"give at most one spatial constraint, got {' and '.join(spatial)}",
                        spatial[1])
    energy = _energy(values)
    time = _time_interval(values["TIME"]) if "TIME" in values else None
    region = None
    if "POS" in values:
        region = _pos(values["POS"])
    elif "CIRCLE" in values:
        region = _circle(_numbers("CIRCLE", values["CIRCLE"]), "CIRCLE")
    elif "POLYGON" in values:
        region = _polygon(_numbers("POLYGON", values["POLYGON"]), "POLYGON")
    parameters = tuple((name, " ".join(values[name].split())) for name in CUTOUT_PARAMETERS
                       if name in values)
    return CutoutSpec(energy=energy, time=time, region=region, parameters=parameters)


def _collect(params: Mapping[str, Any]) -> dict:
    """{UPPER NAME: value string} of the cutout parameters actually given."""
    values = {}
    for raw_name, raw_value in params.items():
        if not isinstance(raw_name, str):
            raise SodaError(f"parameter names must be strings, got {raw_name!r}")
        name = raw_name.strip().upper()
        if name in IGNORED_PARAMETERS:
            continue
        if name not in CUTOUT_PARAMETERS:
            shown = raw_name if len(raw_name) <= 40 else raw_name[:40] + "..."
            raise SodaError(f"unknown parameter {shown!r}; cutout parameters are "
                            f"{', '.join(CUTOUT_PARAMETERS)}", shown)
        value = _single_value(name, raw_value)
        if value is None:
            continue
        if name in values:
            raise SodaError("given more than once", name, code="MultiValuedParamNotSupported")
        values[name] = value
    return values


def _single_value(name: str, raw) -> str | None:
    """The one value of a parameter as text, or None when absent."""
    if isinstance(raw, (list, tuple)):
        present = [v for v in raw if v is not None and not (isinstance(v, (str, bytes)) and not v.strip())]
        if len(present) > 1:
            raise SodaError(f"given {len(present)} times; give it at most once", name,
                            code="MultiValuedParamNotSupported")
        raw = present[0] if present else None
    if raw is None:
        return None
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SodaError("value is not valid UTF-8", name) from None
    elif isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, (bool, np.bool_)):
        raw = repr(float(raw))
    elif not isinstance(raw, str):
        raise SodaError(f"value must be text, not {type(raw).__name__}", name)
    if len(raw) > MAX_VALUE_LENGTH:
        raise SodaError(f"value too long ({len(raw)} characters, at most {MAX_VALUE_LENGTH})", name)
    return raw if raw.strip() else None


def _number(name: str, token: str) -> float:
    """One DALI number; +-Inf is returned as +-inf, NaN and garbage raise."""
    if _NAN.match(token):
        raise SodaError("NaN is not allowed", name)
    match = _INFINITY.match(token)
    if match:
        return -math.inf if match.group(1) == "-" else math.inf
    if not _NUMBER.match(token):
        shown = token if len(token) <= 30 else token[:30] + "..."
        raise SodaError(f"{shown!r} is not a number", name)
    value = float(token)
    if not math.isfinite(value):
        raise SodaError(f"{token[:30]!r} is out of the floating-point range", name)
    return value


def _numbers(name: str, text: str) -> list[float]:
    return [_number(name, token) for token in text.split()]


def _interval(name: str, text: str) -> tuple[float, float]:
    """A DALI interval ``lo hi``: lo may be -inf, hi +inf, lo <= hi."""
    values = _numbers(name, text)
    if len(values) != 2:
        raise SodaError(f"expected 2 numbers (lo hi), got {len(values)}", name)
    lo, hi = values
    if lo == math.inf:
        raise SodaError("lower bound cannot be +Inf", name)
    if hi == -math.inf:
        raise SodaError("upper bound cannot be -Inf", name)
    if lo > hi:
        raise SodaError(f"lower bound {lo:g} is above upper bound {hi:g}", name)
    return lo, hi


def _non_negative(name: str, lo: float, hi: float, what: str) -> tuple[float, float]:
    """Map an open lower bound to 0 and reject negative finite bounds."""
    if lo < 0 and lo != -math.inf:
        raise SodaError(f"negative {what} {lo:g}", name)
    if hi < 0:
        raise SodaError(f"negative {what} {hi:g}", name)
    return max(lo, 0.0), hi


def _band_to_energy(text: str) -> tuple[float, float]:
    """BAND wavelengths (m) -> (lo, hi) energies in eV."""
    lo, hi = _non_negative("BAND", *_interval("BAND", text), "wavelength")
    with np.errstate(divide="ignore", over="ignore"):
        e_lo = HC_EV_M / hi if hi > 0 else math.inf  # hc / +inf = 0
        e_hi = HC_EV_M / lo if lo > 0 else math.inf
    return float(e_lo), float(e_hi)


def _energy(values: dict) -> tuple | None:
    """Energy interval in TeV from BAND and/or ENERGY (intersected)."""
    intervals = []
    if "BAND" in values:
        intervals.append(tuple(e * 1e-12 for e in _band_to_energy(values["BAND"])))
    if "ENERGY" in values:
        intervals.append(_non_negative("ENERGY", *_interval("ENERGY", values["ENERGY"]), "energy"))
    if not intervals:
        return None
    lo = max(interval[0] for interval in intervals)
    hi = min(interval[1] for interval in intervals)
    if lo > hi:
        raise SodaError(f"BAND and ENERGY do not overlap (BAND gives {intervals[0][0]:.6g}"
                        f" to {intervals[0][1]:.6g} TeV)", "ENERGY")
    return lo * u.TeV, hi * u.TeV


def _time_interval(text: str) -> tuple | None:
    """TIME ``lo hi`` (MJD, UTC) -> (Time or None, Time or None), None if fully open."""
    lo, hi = _interval("TIME", text)
    bounds = []
    for value in (lo, hi):
        if math.isinf(value):
            bounds.append(None)
            continue
        if not MJD_RANGE[0] <= value <= MJD_RANGE[1]:
            raise SodaError(f"MJD {value:g} outside the supported range "
                            f"{MJD_RANGE[0]:g} to {MJD_RANGE[1]:g}", "TIME")
        bounds.append(Time(value, format="mjd", scale="utc"))
    return None if bounds == [None, None] else tuple(bounds)


def _check_position(name: str, ra: float, dec: float) -> None:
    if not 0.0 <= ra <= 360.0:
        raise SodaError(f"ra {ra:g} outside [0, 360] deg", name)
    if not -90.0 <= dec <= 90.0:
        raise SodaError(f"dec {dec:g} outside [-90, 90] deg", name)


def _circle(numbers: list[float], name: str) -> Circle:
    if len(numbers) != 3:
        raise SodaError(f"CIRCLE needs 3 numbers (ra dec radius), got {len(numbers)}", name)
    ra, dec, radius = numbers
    _check_position(name, ra, dec)
    if not 0.0 < radius <= 180.0:
        raise SodaError(f"radius {radius:g} outside (0, 180] deg", name)
    return Circle(ra=ra, dec=dec, radius=radius)


def _polygon(numbers: list[float], name: str) -> Polygon:
    if len(numbers) % 2:
        raise SodaError(f"POLYGON needs pairs of numbers (ra dec), got {len(numbers)} numbers", name)
    if len(numbers) < 6:
        raise SodaError(f"POLYGON needs at least 3 vertices, got {len(numbers) // 2}", name)
    if len(numbers) > 2 * MAX_POLYGON_VERTICES:
        raise SodaError(f"POLYGON has {len(numbers) // 2} vertices, at most "
                        f"{MAX_POLYGON_VERTICES} are accepted", name)
    vertices = tuple(zip(numbers[0::2], numbers[1::2]))
    for ra, dec in vertices:
        _check_position(name, ra, dec)
    vectors = _unit_vectors(*np.transpose(vertices))
    total = vectors.sum(axis=0)
    norm = np.linalg.norm(total)
    if norm < 1e-9 * len(vertices) or np.any(vectors @ (total / norm) < 1e-9):
        raise SodaError("POLYGON must fit within a hemisphere (every vertex less than "
                        "90 deg from the vertices' mean direction)", name)
    polygon = Polygon(vertices=vertices)
    if not polygon.area_in_projection() > 1e-14:
        raise SodaError("POLYGON is degenerate (its vertices enclose no area)", name)
    return polygon


def _range(numbers: list[float], name: str) -> Range:
    if len(numbers) != 4:
        raise SodaError(f"RANGE needs 4 numbers (ra_min ra_max dec_min dec_max), got {len(numbers)}",
                        name)
    ra_min, ra_max, dec_min, dec_max = numbers
    ra_min, ra_max = (_open_bound(v, 0.0, 360.0) for v in (ra_min, ra_max))
    dec_min, dec_max = (_open_bound(v, -90.0, 90.0) for v in (dec_min, dec_max))
    for ra in (ra_min, ra_max):
        if not 0.0 <= ra <= 360.0:
            raise SodaError(f"ra {ra:g} outside [0, 360] deg", name)
    for dec in (dec_min, dec_max):
        if not -90.0 <= dec <= 90.0:
            raise SodaError(f"dec {dec:g} outside [-90, 90] deg", name)
    if ra_min > ra_max:
        raise SodaError(f"RANGE ra_min {ra_min:g} is above ra_max {ra_max:g}", name)
    if dec_min > dec_max:
        raise SodaError(f"RANGE dec_min {dec_min:g} is above dec_max {dec_max:g}", name)
    return Range(ra_min=ra_min, ra_max=ra_max, dec_min=dec_min, dec_max=dec_max)


def _open_bound(value: float, low: float, high: float) -> float:
    if value == -math.inf:
        return low
    if value == math.inf:
        return high
    return value


def _pos(text: str) -> Circle | Polygon | Range:
    """SODA POS: ``CIRCLE ...``, ``POLYGON ...`` or ``RANGE ...``."""
    parts = text.split(None, 1)
    shape = parts[0].upper() if parts else ""
    rest = parts[1] if len(parts) > 1 else ""
    if shape not in ("CIRCLE", "POLYGON", "RANGE"):
        shown = shape if len(shape) <= 20 else shape[:20] + "..."
        raise SodaError(f"unknown shape {shown!r}; expected CIRCLE, POLYGON or RANGE", "POS")
    numbers = _numbers("POS", rest)
    if shape == "CIRCLE":
        if any(math.isinf(v) for v in numbers):
            raise SodaError("CIRCLE values must be finite", "POS")
        return _circle(numbers, "POS")
    if shape == "POLYGON":
        if any(math.isinf(v) for v in numbers):
            raise SodaError("POLYGON values must be finite", "POS")
        return _polygon(numbers, "POS")
    return _range(numbers, "POS")
