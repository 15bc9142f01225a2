"""The containment radius of a tabulated PSF (GADF ``PSF_TABLE``), without Gammapy.

Gammapy's ``PSF3D.containment_radius`` is what ``s_resolution`` has always
been (see :mod:`hess_dr.irf`), but importing ``gammapy.irf`` costs a reader
process about 1.2 s (matplotlib, regions, gammapy.maps...), a fifth of a
first import of the H.E.S.S. DR1.  This module does the same computation,
step by step and in the same floating-point operations, with numpy, scipy
and astropy only, for the ``psf_table`` class (the PSF of H.E.S.S., MAGIC,
LST, CTAO...):

1. the axes from the HDU's ``ENERG``/``ETRUE``, ``THETA`` and ``RAD``
   ``_LO``/``_HI`` columns (bins, or nodes when LO equals HI), energy
   interpolated in log, offset and rad linearly, their centres and edges
   computed through the pixel interpolators Gammapy uses
   (``gammapy.maps.MapAxis``);
2. the cumulative sum over rad of ``RPSF * 2 pi r dr``, on nodes at the
   upper rad edges (``IRF.cumsum``);
3. that interpolated linearly (``RegularGridInterpolator``, energy axis in
   log, axes of one bin ignored) at the reference energy and offset, on the
   rad axis upsampled 20 times, values clipped at zero, points outside the
   axes set to zero (``IRF.evaluate``);
4. the upsampled rad centre whose containment is nearest the fraction
   (``PSF.containment_radius``).

``tests/unit/test_psf.py`` checks that the result is the one Gammapy 1.3
gives, to the bit, on every PSF of the DR1 and on synthetic ones.  Other PSF
classes (``psf_3gauss``, ``psf_king``) and anything this code does not
expect are left to Gammapy (:func:`hess_dr.irf.containment_radius` falls back
to it on :class:`Unsupported`).
"""
from __future__ import annotations

import re

import numpy as np
import scipy.interpolate
from astropy import units as u

#: Gammapy's upsampling of the rad axis (``containment_radius(factor=20)``).
UPSAMPLE_FACTOR = 20

#: Column prefixes of the axes, as Gammapy looks for them (the first
#: energy prefix found wins).
_ENERGY_PREFIXES = ("ENERG", "ETRUE")

_TINY = np.finfo(np.float32).tiny


class Unsupported(ValueError):
    """The HDU is not a PSF table this module computes as Gammapy would."""


# --------------------------------------------------------------------------
# Gammapy's interpolation scales and axes (gammapy.utils.interpolation,
# gammapy.maps.axes), reduced to what a PSF table uses
# --------------------------------------------------------------------------

def _scale(values, interp: str):
    if interp == "log":
        return np.log(np.clip(values, _TINY, np.inf))
    return values


def _inverse(values, interp: str):
    if interp == "log":
        output = np.exp(values)
        return np.where(abs(output) - _TINY <= _TINY, 0, output)
    return values


class _Axis:
    """A ``MapAxis`` (values in its unit, as float64)."""

    def __init__(self, nodes: np.ndarray, interp: str, node_type: str, unit: u.UnitBase):
        nodes = np.asarray(nodes)
        if len(nodes) != len(np.unique(nodes)):
            raise Unsupported("axis node values are not unique")
        if ~(np.all(nodes == np.sort(nodes)) or np.all(nodes[::-1] == np.sort(nodes))):
            raise Unsupported("axis node values are not sorted")
        self.nodes = nodes.astype(float)
        if (self.nodes < 0).any() and interp != "lin":
            raise Unsupported("negative nodes on a log axis")
        self.interp, self.node_type, self.unit = interp, node_type, unit
        self.pix_offset = -0.5 if node_type == "edges" else 0.0
        self.nbin = len(nodes) - 1 if node_type == "edges" else len(nodes)
        # AxisCoordInterpolator
        self._x = _scale(self.nodes, interp)
        self._y = np.arange(len(self.nodes), dtype=float)
        self._kind = 0 if len(self.nodes) == 1 else 1
        self._edges = self._center = None
        self._upsampled: dict = {}

    def pix_to_coord(self, pix):
        function = scipy.interpolate.interp1d(x=self._y, y=self._x, kind=self._kind,
                                              fill_value="extrapolate")
        return _inverse(function(pix - self.pix_offset), self.interp)

    def coord_to_pix(self, coord):
        function = scipy.interpolate.interp1d(x=self._x, y=self._y, kind=self._kind,
                                              fill_value="extrapolate")
        return np.array(function(_scale(coord, self.interp)) + self.pix_offset, ndmin=1)

    @property
    def edges(self) -> np.ndarray:
        if self._edges is None:
            self._edges = self.pix_to_coord(np.arange(self.nbin + 1, dtype=float) - 0.5)
        return self._edges

    @property
    def center(self) -> np.ndarray:
        if self._center is None:
            self._center = self.pix_to_coord(np.arange(self.nbin, dtype=float))
        return self._center

    def coord_to_idx(self, coord) -> np.ndarray:
        """Bin indices, -1 outside the axis (``clip=False``)."""
        coord = np.array(coord, dtype=float, ndmin=1)
        edges = self.edges
        idx = np.digitize(coord, edges) - 1
        with np.errstate(invalid="ignore"):
            idx[coord > edges[-1]] = -1
        idx[~np.isfinite(coord)] = -1
        return idx

    def upsampled(self, factor: int) -> "_Axis":
        """:meth:`upsample`, made once per axis and factor."""
        if factor not in self._upsampled:
            self._upsampled[factor] = self.upsample(factor)
        return self._upsampled[factor]

    def upsample(self, factor: int) -> "_Axis":
        if self.node_type != "edges":
            raise Unsupported("upsampling an axis of nodes")
        pix = self.coord_to_pix(self.edges)
        pix_new = np.linspace(pix.min(), pix.max(), int(self.nbin * factor) + 1)
        return _axis_of(self.pix_to_coord(pix_new), self.interp, "edges", self.unit)


_TFORM = re.compile(r"\s*(\d*)\s*([LXBIJKAEDCMPQ])")
#: Bytes per element of each TFORM letter (X: bits, P/Q: descriptors).
_SIZES = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "A": 1, "E": 4, "D": 8, "C": 8, "M": 16,
          "P": 8, "Q": 16}
_DTYPES = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}


def _columns(hdu, names: tuple, raw: bytes | None = None) -> dict:
    """{NAME: (first row's value, TUNIT)} of the named columns present
    (upper-case names; FITS names compare without case).

    With ``raw`` (the HDU's data part as the file stores it) the values are
    read from those bytes as the header describes them: astropy's
    ``hdu.data`` would build a FITS_rec of every column first (as long as
    the computation itself).  Without it, or for a layout that reading does
    not handle (scaled columns, variable-length arrays...), from ``hdu.data``.
    """
    header = hdu.header
    wanted = set(names)
    if raw is not None:
        try:
            return _raw_columns(header, raw, wanted)
        except (Unsupported, KeyError, ValueError, TypeError):
            pass
    if hdu.data is None or len(hdu.data) < 1:
        raise Unsupported("empty table")
    found = {}
    for column in hdu.columns:
        name = column.name.upper()
        if name in wanted and name not in found:
            found[name] = (np.asarray(hdu.data[column.name][0]), column.unit)
    return found


def _raw_columns(header, raw: bytes, wanted: set) -> dict:
    if int(header["NAXIS2"]) < 1:
        raise Unsupported("empty table")
    offset, found = 0, {}
    for number in range(1, int(header["TFIELDS"]) + 1):
        match = _TFORM.match(str(header[f"TFORM{number}"]))
        if match is None:
            raise Unsupported(f"TFORM{number}")
        repeat, letter = int(match.group(1) or 1), match.group(2)
        size = (repeat + 7) // 8 if letter == "X" else repeat * _SIZES[letter]
        name = str(header.get(f"TTYPE{number}", "")).strip().upper()
        if name in wanted and name not in found:
            if letter not in _DTYPES or any(header.get(f"{key}{number}") is not None
                                            for key in ("TSCAL", "TZERO")):
                raise Unsupported(f"column {name}: TFORM {letter} or scaled")
            shape = (repeat,)
            tdim = header.get(f"TDIM{number}")
            if tdim is not None:
                shape = tuple(int(n) for n in str(tdim).strip().strip("()").split(","))[::-1]
                if int(np.prod(shape)) != repeat:
                    raise Unsupported(f"TDIM{number} {tdim} of {repeat} elements")
            value = np.frombuffer(raw, dtype=np.dtype(_DTYPES[letter]), count=repeat,
                                  offset=offset).reshape(shape)
            found[name] = (value, header.get(f"TUNIT{number}"))
        offset += size
    if offset != int(header["NAXIS1"]) or len(raw) < offset:
        raise Unsupported("the columns do not fill a row")
    return found


#: Axes made before, by their nodes: the PSFs of a collection's runs
#: usually share their axes, whose edges, centres and upsampling (a dozen
#: scipy interpolators) are then computed once.
_AXES: dict = {}


def _axis_of(nodes, interp: str, node_type: str, unit: u.UnitBase) -> _Axis:
    """An :class:`_Axis`, the same object for the same nodes (float64)."""
    values = np.asarray(nodes).astype(float)
    key = (values.tobytes(), interp, node_type, unit.to_string())
    axis = _AXES.get(key)
    if axis is None:
        if len(_AXES) >= 256:
            _AXES.clear()
        axis = _AXES[key] = _Axis(values, interp, node_type, unit)
    return axis


def _unit(text, name: str) -> u.UnitBase:
    text = (text or "").strip()
    unit = u.Unit(text, format="fits", parse_strict="silent") if text else u.dimensionless_unscaled
    if isinstance(unit, u.UnrecognizedUnit):
        raise Unsupported(f"unit {text!r} of column {name}")
    return unit


def _axis(columns: dict, prefix: str, interp: str) -> _Axis | None:
    if f"{prefix}_LO" not in columns or f"{prefix}_HI" not in columns:
        return None
    (lo, lo_unit), (hi, hi_unit) = columns[f"{prefix}_LO"], columns[f"{prefix}_HI"]
    # a single bin may be read as a scalar: Gammapy makes it an array
    lo, hi = np.atleast_1d(lo), np.atleast_1d(hi)
    unit = _unit(lo_unit, f"{prefix}_LO")
    if lo.ndim != 1 or hi.ndim != 1 or _unit(hi_unit, f"{prefix}_HI") != unit:
        raise Unsupported(f"{prefix} bounds are not one-dimensional, in one unit")
    if np.allclose(hi, lo):
        return _axis_of(hi, interp, "center", unit)
    return _axis_of(np.append(lo, hi[-1:]).astype(lo.dtype), interp, "edges", unit)


# --------------------------------------------------------------------------
# the containment radius
# --------------------------------------------------------------------------

def containment_radius(hdu, energy: u.Quantity, offset: u.Quantity,
                       fraction: float = 0.68, raw: bytes | None = None) -> u.Quantity:
    """The radius (deg) holding ``fraction`` of the PSF of a GADF PSF_TABLE
    HDU at a true energy and an offset, as Gammapy 1.3's
    ``PSF3D.containment_radius`` computes it.

    ``raw``: the HDU's data part as the file stores it, when at hand (read
    faster than through ``hdu.data``).

    Raises
    ------
    Unsupported
        If the HDU is not a PSF table this function reads as Gammapy does.
    """
    prefixes = (*_ENERGY_PREFIXES, "THETA", "RAD")
    columns = _columns(hdu, (*[f"{p}_{end}" for p in prefixes for end in ("LO", "HI")], "RPSF"),
                       raw)
    energy_axis = None
    for prefix in _ENERGY_PREFIXES:
        energy_axis = _axis(columns, prefix, "log")
        if energy_axis is not None:
            break
    offset_axis, rad_axis = _axis(columns, "THETA", "lin"), _axis(columns, "RAD", "lin")
    if energy_axis is None or offset_axis is None or rad_axis is None or "RPSF" not in columns:
        raise Unsupported("not a PSF table (ENERG, THETA, RAD bounds and RPSF)")
    data = columns["RPSF"][0].transpose()
    axes = (energy_axis, offset_axis, rad_axis)
    if data.shape != tuple(axis.nbin for axis in axes):
        raise Unsupported(f"RPSF of shape {data.shape}, axes of {[a.nbin for a in axes]} bins")
    data_unit = _unit(columns["RPSF"][1], "RPSF")
    if not data_unit.is_equivalent(u.sr ** -1):
        raise Unsupported(f"RPSF unit {data_unit} is not a solid angle^-1")

    # IRF.cumsum("rad"): the containment on nodes at the upper rad edges
    shape = (1, 1, -1)
    values = data * np.diff(rad_axis.edges).reshape(shape)
    values = 2 * np.pi * rad_axis.center.reshape(shape) * values
    cumsum = values.cumsum(axis=2)
    cumsum_unit = data_unit * rad_axis.unit * rad_axis.unit
    shifted = _axis_of(rad_axis.edges[1:], "lin", "center", rad_axis.unit)
    grid = (energy_axis, offset_axis, shifted)

    # IRF.evaluate at the upsampled rad centres
    rad = rad_axis.upsampled(UPSAMPLE_FACTOR).center
    coords = (np.asarray(energy.to_value(energy_axis.unit)),
              np.asarray(offset.to_value(offset_axis.unit)), rad)
    include = [len(axis.center) > 1 for axis in grid]
    if not any(include):
        raise Unsupported("every axis has a single bin")
    points = tuple(_scale(axis.center, axis.interp)
                   for axis, keep in zip(grid, include) if keep)
    interpolate = scipy.interpolate.RegularGridInterpolator(
        points=points, values=np.squeeze(cumsum), bounds_error=False, fill_value=None)
    scaled = [_scale(coord, axis.interp) for coord, axis, keep in zip(coords, grid, include)
              if keep]
    scaled = np.broadcast_arrays(*scaled)
    result = interpolate(np.stack([c.flat for c in scaled]).T, None)
    result = np.clip(result.reshape(scaled[0].shape), 0, np.inf)
    invalid = np.broadcast_arrays(*[axis.coord_to_idx(coord) == -1
                                    for axis, coord in zip(grid, coords)])
    result[np.any(invalid, axis=0)] = 0.0
    result[~np.isfinite(result)] = 0.0
    containment = cumsum_unit.to(u.dimensionless_unscaled) * result

    index = np.argmin(np.abs(containment - fraction), axis=0)
    return u.Quantity(rad[index], rad_axis.unit)
