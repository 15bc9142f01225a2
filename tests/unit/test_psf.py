"""hess_dr.psf: the PSF table's containment radius without Gammapy is the one
Gammapy 1.3 computes (PSF3D.containment_radius), to the bit."""
from __future__ import annotations

import gzip
import io
import subprocess
import sys

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from unit_support import SAMPLE_DIR
from hess_dr import dl3, irf, psf
from hess_dr.index import HduRef

# reference points: inside the axes, on their edges and beyond them (where
# Gammapy extrapolates, clips or answers zero)
ENERGIES_TEV = (0.01, 0.1, 0.5, 1.0, 3.0, 10.0, 100.0, 200.0)
OFFSETS_DEG = (0.0, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0)


def gammapy_radius(hdulist, extname, energy, offset, fraction=0.68) -> float:
    from gammapy.irf import PSF3D
    table = PSF3D.from_hdulist(hdulist, hdu=extname)
    radius = table.containment_radius(fraction=fraction, energy_true=energy, offset=offset)
    return float(radius.to_value(u.arcsec).reshape(-1)[0])


def our_radius(hdu, energy, offset, fraction=0.68, raw=None) -> float:
    return float(psf.containment_radius(hdu, energy, offset, fraction, raw=raw)
                 .to_value(u.arcsec).reshape(-1)[0])


def read(path):
    data = gzip.decompress(path.read_bytes())
    return fits.open(io.BytesIO(data)), data


def raw_of(hdu, data):
    return data[hdu._data_offset:hdu._data_offset + hdu._data_size]


def test_bundled_sample_equals_gammapy_at_every_reference_point():
    for path in sorted(SAMPLE_DIR.glob("*.fits.gz")):
        hdus, data = read(path)
        hdu = hdus["PSF"]
        for energy in ENERGIES_TEV:
            for offset in OFFSETS_DEG:
                want = gammapy_radius(hdus, "PSF", energy * u.TeV, offset * u.deg)
                # read through astropy's hdu.data and from the file's bytes
                assert our_radius(hdu, energy * u.TeV, offset * u.deg) == want, (path, energy, offset)
                assert our_radius(hdu, energy * u.TeV, offset * u.deg,
                                  raw=raw_of(hdu, data)) == want, (path, energy, offset)


def test_other_fractions_and_energy_units():
    hdus, data = read(SAMPLE_DIR / "hess_dl3_dr1_obs_id_023523.fits.gz")
    for fraction in (0.39, 0.5, 0.8, 0.95):
        assert our_radius(hdus["PSF"], 1 * u.TeV, 0.5 * u.deg, fraction) == gammapy_radius(
            hdus, "PSF", 1 * u.TeV, 0.5 * u.deg, fraction)
    # the reference energy in GeV, the file's axes in TeV
    assert our_radius(hdus["PSF"], 1000 * u.GeV, 0.5 * u.deg) == gammapy_radius(
        hdus, "PSF", 1 * u.TeV, 0.5 * u.deg)


def synthetic_psf(columns_unit="TeV", energy_prefix="ENERG", n_offsets=6, scale=1.0):
    """A PSF table made from the DR1 one: other energy unit or column names,
    a single offset bin (Gammapy ignores that axis), a rescaled RPSF."""
    hdus, _ = read(SAMPLE_DIR / "hess_dl3_dr1_obs_id_020136.fits.gz")
    table = hdus["PSF"].data
    factor = 1000.0 if columns_unit == "GeV" else 1.0
    rpsf = table["RPSF"][0][:, :n_offsets, :] * scale
    cols = [
        fits.Column(f"{energy_prefix}_LO", "32E", columns_unit, array=[table["ENERG_LO"][0] * factor]),
        fits.Column(f"{energy_prefix}_HI", "32E", columns_unit, array=[table["ENERG_HI"][0] * factor]),
        fits.Column("THETA_LO", f"{n_offsets}E", "deg", array=[table["THETA_LO"][0][:n_offsets]]),
        fits.Column("THETA_HI", f"{n_offsets}E", "deg", array=[table["THETA_HI"][0][:n_offsets]]),
        fits.Column("RAD_LO", "144E", "deg", array=[table["RAD_LO"][0]]),
        fits.Column("RAD_HI", "144E", "deg", array=[table["RAD_HI"][0]]),
        fits.Column("RPSF", f"{rpsf.size}E", "sr-1", array=[rpsf],
                    dim=f"(32,{n_offsets},144)"),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="PSF")
    hdu.header["HDUCLAS2"], hdu.header["HDUCLAS4"] = "RPSF", "PSF_TABLE"
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    data = buffer.getvalue()
    hdus = fits.open(io.BytesIO(data))
    return hdus, data


@pytest.mark.parametrize("kind", [
    dict(columns_unit="GeV"), dict(energy_prefix="ETRUE"), dict(n_offsets=1),
    dict(scale=0.5)])
def test_synthetic_psf_tables_equal_gammapy(kind):
    hdus, data = synthetic_psf(**kind)
    hdu = hdus["PSF"]
    for energy in (0.1, 1.0, 10.0):
        for offset in (0.0, 0.5, 2.0):
            want = gammapy_radius(hdus, "PSF", energy * u.TeV, offset * u.deg)
            assert our_radius(hdu, energy * u.TeV, offset * u.deg) == want
            assert our_radius(hdu, energy * u.TeV, offset * u.deg, raw=raw_of(hdu, data)) == want


def test_every_dr1_psf_equals_gammapy(dr1_dir):
    for path in sorted((dr1_dir / "data").glob("*.fits.gz")):
        hdus, data = read(path)
        hdu = hdus["PSF"]
        for energy, offset in ((1.0, 0.5), (0.3, 1.5), (30.0, 2.2)):
            want = gammapy_radius(hdus, "PSF", energy * u.TeV, offset * u.deg)
            assert our_radius(hdu, energy * u.TeV, offset * u.deg,
                              raw=raw_of(hdu, data)) == want, (path.name, energy, offset)


def test_not_a_psf_table_is_left_to_gammapy():
    hdus, _ = read(SAMPLE_DIR / "hess_dl3_dr1_obs_id_023523.fits.gz")
    with pytest.raises(psf.Unsupported):
        psf.containment_radius(hdus["AEFF"], 1 * u.TeV, 0.5 * u.deg)
    # irf.containment_radius then asks Gammapy, which says what is wrong
    ref = HduRef(hdu_type="psf", hdu_class="psf_table", path=SAMPLE_DIR, hdu="AEFF")
    with pytest.raises(Exception):
        irf.containment_radius(ref, 1 * u.TeV, 0.5 * u.deg, hdulist=hdus)


def test_reading_a_run_imports_no_gammapy(sample_collection):
    """s_resolution of a PSF table costs no Gammapy import (1.2 s a reader
    process): checked in a fresh interpreter."""
    code = ("import sys; from hess_dr import config, dl3; "
            f"c = config.load(config.default_file({str(SAMPLE_DIR.parent)!r})).collections[0]; "
            f"run = dl3.read_run({str(SAMPLE_DIR / 'hess_dl3_dr1_obs_id_023523.fits.gz')!r}, c); "
            "print(run.psf_radius.value, 'gammapy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1] == "False"
    hdus, _ = read(SAMPLE_DIR / "hess_dl3_dr1_obs_id_023523.fits.gz")
    assert float(out[0]) == gammapy_radius(hdus, "PSF", 1 * u.TeV, 0.5 * u.deg)
    assert np.isfinite(float(out[0]))
