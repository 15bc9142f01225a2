"""Instrument response functions, read with Gammapy's IRF classes.

The PSF containment radius of a PSF table (``s_resolution``) is computed
without importing Gammapy (:mod:`hess_dr.psf`, the same computation); other
PSF classes use Gammapy's.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import locale
import os
import numpy as np
from astropy import units as u

from . import psf as psf_table
from .index import HduRef

# HDUCLAS4 / HDU_CLASS values -> gammapy IRF tag, for files whose class is
# not written in lower case or is missing.
_DEFAULT_PSF_CLASS = "psf_table"


@contextlib.contextmanager
def _utf8_ctype():
    """Temporarily switch LC_CTYPE to UTF-8.

    DaCHS sets the C locale; ``regions`` (imported by gammapy) then fails to
    read its own UTF-8 citation file with the locale's ASCII default.
    """
    saved = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
    except locale.Error:
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            locale.setlocale(locale.LC_CTYPE, saved)


def import_gammapy(module: str = "gammapy.irf"):
    """Import a gammapy module in a way that works inside DaCHS too."""
    with _utf8_ctype():
        return importlib.import_module(module)


def load_irf(ref: HduRef, hdulist=None):
    """Read one IRF HDU with the matching Gammapy class.

    Parameters
    ----------
    ref : hess_dr.index.HduRef
        Where the IRF lives; its ``hdu_class`` selects the Gammapy class
        (aeff_2d, edisp_2d, psf_table, psf_3gauss, psf_king, bkg_2d, bkg_3d,
        rad_max_2d).
    hdulist : astropy.io.fits.HDUList, optional
        ``ref.path`` already open (the file is then not read again).
    """
    IRF_REGISTRY = import_gammapy("gammapy.irf").IRF_REGISTRY
    hdu_class = ref.hdu_class or (_DEFAULT_PSF_CLASS if ref.hdu_type == "psf" else "")
    cls = IRF_REGISTRY.get_cls(hdu_class)
    if hdulist is not None:
        return cls.from_hdulist(hdulist, hdu=ref.hdu)
    return cls.read(ref.path, hdu=ref.hdu)


def containment_radius(ref: HduRef, energy: u.Quantity, offset: u.Quantity,
                       fraction: float = 0.68, hdulist=None,
                       data: bytes | None = None) -> u.Quantity:
    """Radius containing ``fraction`` of the PSF at a true energy and offset.

    Cached per IRF file (path, HDU, modification time) and reference point:
    runs sharing one IRF file through an hdu-index read it once.  With
    ``hdulist`` (``ref.path`` already open, e.g. the event file being
    imported) the PSF is read from it, uncached; ``data``, that file's
    decompressed bytes, if at hand.

    Returns
    -------
    astropy.units.Quantity
        The radius in arcsec.

    Raises
    ------
    ValueError
        If the PSF is not defined there (e.g. the energy is outside its range).
    """
    if hdulist is not None:
        return _containment_radius(ref, energy, offset, fraction, hdulist, data).to(u.arcsec)
    arcsec = _cached_containment_radius(
        ref, os.stat(ref.path).st_mtime_ns, float(energy.to_value(u.TeV)),
        float(offset.to_value(u.deg)), fraction)
    return arcsec * u.arcsec


@functools.lru_cache(maxsize=256)
def _cached_containment_radius(ref: HduRef, mtime_ns: int, energy_tev: float,
                               offset_deg: float, fraction: float) -> float:
    return _containment_radius(ref, energy_tev * u.TeV, offset_deg * u.deg,
                               fraction).to_value(u.arcsec)


def _containment_radius(ref: HduRef, energy: u.Quantity, offset: u.Quantity,
                        fraction: float = 0.68, hdulist=None,
                        data: bytes | None = None) -> u.Quantity:
    """:func:`containment_radius` without the cache."""
    radius = None
    if (ref.hdu_class or _DEFAULT_PSF_CLASS) == "psf_table":
        radius = _table_containment_radius(ref, energy, offset, fraction, hdulist, data)
    if radius is None:
        psf = load_irf(ref, hdulist)
        radius = psf.containment_radius(fraction=fraction, energy_true=energy, offset=offset)
    value = radius.to(u.arcsec).reshape(-1)[0]
    if not (value.value > 0 and np.isfinite(value.value)):
        raise ValueError(f"no finite containment radius at {energy}, {offset}")
    return value


def _table_containment_radius(ref: HduRef, energy: u.Quantity, offset: u.Quantity,
                              fraction: float, hdulist=None,
                              data: bytes | None = None) -> u.Quantity | None:
    """The radius of a PSF table computed by :mod:`hess_dr.psf` (no Gammapy
    import), or None where Gammapy must do it (an HDU that module does not
    read as Gammapy would, or any error: Gammapy then says what is wrong)."""
    from astropy.io import fits
    try:
        if hdulist is not None:
            hdu = hdulist[ref.hdu]
            raw = None if data is None else data[hdu._data_offset:hdu._data_offset + hdu._data_size]
            return psf_table.containment_radius(hdu, energy, offset, fraction, raw)
        with fits.open(ref.path, memmap=False) as hdus:
            return psf_table.containment_radius(hdus[ref.hdu], energy, offset, fraction)
    except Exception:  # noqa: BLE001 -- Gammapy decides and reports
        return None
