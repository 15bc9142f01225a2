"""Derived files of one run: a single IRF, or the whole run in one bundle.

These are the products the ``prod`` service serves for the DataLink
``#calibration`` (one IRF, GADF FITS) and ``#package`` (event bundle)
links (see :mod:`hess_dr.links`).
"""
from __future__ import annotations

import io
from pathlib import Path

from astropy.io import fits
from astropy.time import Time

from . import fitsbytes
from .cutout import (CREATOR, CutoutError, assemble, assemble_bytes, primary_header_values,
                     write_bytes)
from .dl3 import IRF_TYPES
from .events import EventCache, EventsError, read_irf_piece
from .soda import CutoutSpec

__all__ = ["MissingIRFError", "single_irf", "single_irf_bytes", "bundle", "bundle_bytes",
           "write_bytes", "IRF_TYPES"]


class MissingIRFError(KeyError):
    """The run has no IRF of the requested type (an HTTP 404 for the service).

    Attributes
    ----------
    hdu_type : str
        The requested type.
    available : tuple of str
        The IRF types the run has.
    http_status : int
        404.
    """

    http_status = 404

    def __init__(self, obs_id: str, hdu_type: str, available: tuple):
        super().__init__(hdu_type)
        self.obs_id = obs_id
        self.hdu_type = hdu_type
        self.available = available

    def __reduce__(self):  # (raised in worker processes, pickled back)
        return type(self), (self.obs_id, self.hdu_type, self.available)

    def __str__(self):
        have = ", ".join(self.available) or "none"
        return f"run {self.obs_id} has no {self.hdu_type!r} IRF (available: {have})"


def single_irf(run, hdu_type: str, cache: EventCache | None = None) -> fits.HDUList:
    """One IRF of a run as a GADF file: PRIMARY + the IRF HDU.

    Parameters
    ----------
    run : hess_dr.dl3.Run or hess_dr.stored.StoredRun
    hdu_type : str
        GADF HDU type, any case: one of :data:`hess_dr.dl3.IRF_TYPES`
        (aeff, edisp, psf, bkg, rad_max).
    cache : hess_dr.events.EventCache, optional
        Where IRF HDUs are kept, ready to copy.

    Returns
    -------
    astropy.io.fits.HDUList
        The PRIMARY header carries OBS_ID, TELESCOP, INSTRUME, OBJECT (when
        known), CREATOR, DATE, ORIGFILE and a HISTORY card naming the
        source file and HDU; the IRF HDU is copied unchanged (EXTNAME kept).

    Raises
    ------
    ValueError
        If ``hdu_type`` is not an IRF type.
    MissingIRFError
        If the run has no IRF of that type.
    hess_dr.cutout.CutoutError
        If the IRF's file cannot be read.
    """
    return fits.open(io.BytesIO(single_irf_bytes(run, hdu_type, cache)))


def single_irf_bytes(run, hdu_type: str, cache: EventCache | None = None) -> bytes:
    """The file of :func:`single_irf` as FITS bytes (what the service sends)."""
    wanted = str(hdu_type).strip().lower()
    if wanted not in IRF_TYPES:
        raise ValueError(f"unknown IRF type {hdu_type!r}; use one of {', '.join(IRF_TYPES)}")
    ref = run.irf(wanted)
    if ref is None:
        raise MissingIRFError(run.obs_id, wanted, tuple(r.hdu_type for r in run.irfs))
    piece = cache.irf_piece(run.layout, ref) if cache is not None else None
    if piece is None:
        try:
            piece = read_irf_piece(ref)
        except EventsError as exc:
            raise CutoutError(str(exc)) from None
        if cache is not None:
            try:
                cache.store_irf_piece(run.layout, ref, piece)
            except OSError:
                pass
    primary = fits.PrimaryHDU()
    for key, value in primary_header_values(run).items():
        primary.header[key] = value
    primary.header["CREATOR"] = (CREATOR, "software that wrote this file")
    primary.header["DATE"] = (Time.now().utc.isot[:19], "file creation date (UTC)")
    source = Path(ref.path).name
    primary.header["ORIGFILE"] = (source[:68], "file the IRF was taken from")
    primary.header.add_history(f"{CREATOR}: {wanted} IRF of run {run.obs_id}")
    primary.header.add_history(f"HDU {ref.hdu} of {source}, copied unchanged")
    return fitsbytes.hdu_bytes(primary.header) + piece


def bundle(run, cache: EventCache | None = None) -> fits.HDUList:
    """The whole run in one GADF file: events, GTIs and every IRF.

    The same file as :func:`hess_dr.cutout.cutout` with no cut (HISTORY
    says 'bundle'), so IRFs kept in separate files travel with the events.

    Parameters
    ----------
    run : hess_dr.dl3.Run or hess_dr.stored.StoredRun
    cache : hess_dr.events.EventCache, optional

    Returns
    -------
    astropy.io.fits.HDUList
    """
    return assemble(run, CutoutSpec(), label="bundle", cache=cache)


def bundle_bytes(run, cache: EventCache | None = None) -> bytes:
    """The file of :func:`bundle` as FITS bytes (what the service sends)."""
    return assemble_bytes(run, CutoutSpec(), label="bundle", cache=cache)
