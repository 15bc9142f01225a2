"""Instrument response functions, read with Gammapy's IRF classes."""
from __future__ import annotations

import numpy as np
from astropy import units as u

from .index import HduRef

# HDUCLAS4 / HDU_CLASS values -> gammapy IRF tag, for files whose class is
# not written in lower case or is missing.
_DEFAULT_PSF_CLASS = "psf_table"


def load_irf(ref: HduRef):
    """Read one IRF HDU with the matching Gammapy class.

    Parameters
    ----------
    ref : hess_dr.index.HduRef
        Where the IRF lives; its ``hdu_class`` selects the Gammapy class
        (aeff_2d, edisp_2d, psf_table, psf_3gauss, psf_king, bkg_2d, bkg_3d,
        rad_max_2d).
    """
    from gammapy.irf import IRF_REGISTRY

    hdu_class = ref.hdu_class or (_DEFAULT_PSF_CLASS if ref.hdu_type == "psf" else "")
    cls = IRF_REGISTRY.get_cls(hdu_class)
    return cls.read(ref.path, hdu=ref.hdu)


def containment_radius(ref: HduRef, energy: u.Quantity, offset: u.Quantity,
                       fraction: float = 0.68) -> u.Quantity:
    """Radius containing ``fraction`` of the PSF at a true energy and offset.

    Returns
    -------
    astropy.units.Quantity
        The radius in arcsec.

    Raises
    ------
    ValueError
        If the PSF is not defined there (e.g. the energy is outside its range).
    """
    psf = load_irf(ref)
    radius = psf.containment_radius(fraction=fraction, energy_true=energy, offset=offset)
    value = radius.to(u.arcsec).reshape(-1)[0]
    if not (value.value > 0 and np.isfinite(value.value)):
        raise ValueError(f"no finite containment radius at {energy}, {offset}")
    return value
