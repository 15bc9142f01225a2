"""Synthetic archives of DL3 event lists, for benchmarks at CTAO scale.

:func:`write_archive` writes N deterministic, realistic GADF event lists for
several instruments, spread over the sky visible from each site and over ten
years, each with a few hundred events, one to three GTIs and (optionally)
IRFs shared per instrument through an hdu-index, as CTAO data challenges do::

    <dest>/<instrument>/hdu-index.fits.gz          (when irfs=True)
    <dest>/<instrument>/irf/<instrument>_irf.fits.gz
    <dest>/<instrument>/<yyyy>/<mm>/<instrument>_<obs_id>.fits.gz

Run ``i`` is the same file whatever N is (its seed is ``i``), so archives of
growing N are prefixes of each other.  The command-line front end is
``bin/hess-dr-synth-archive``.
"""
from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.time import Time

from . import synthetic

#: MET epoch of the archive's files: 2001-01-01 UTC in TT, as in H.E.S.S. DR1.
MJDREFI, MJDREFF = synthetic.DR1_MJDREFI, synthetic.DR1_MJDREFF
FIRST_NIGHT = Time("2026-01-01T00:00:00", scale="utc")
YEARS = 10


@dataclasses.dataclass(frozen=True)
class Instrument:
    """What differs between the simulated instruments."""

    name: str          # folder and file prefix
    telescope: str     # TELESCOP
    instrument: str    # INSTRUME
    geolat: float
    geolon: float
    altitude: float
    n_tels: int
    obs_id_offset: int


INSTRUMENTS = (
    Instrument("ctao-south", "CTAO-S", "CTAO South Alpha", -24.683, -70.317, 2147.0, 51, 1_000_000),
    Instrument("ctao-north", "CTAO-N", "CTAO North Alpha", 28.762, -17.892, 2200.0, 13, 2_000_000),
    Instrument("hess", "HESS", "H.E.S.S. Phase I", -23.272, 16.500, 1835.0, 4, 3_000_000),
    Instrument("magic", "MAGIC", "MAGIC", 28.762, -17.890, 2200.0, 2, 4_000_000),
)


def run_spec(index: int, instruments=INSTRUMENTS) -> dict:
    """Everything that defines run ``index``: instrument, obs_id, times,
    pointing, number of events, GTIs (deterministic in ``index``)."""
    rng = np.random.default_rng(index)
    instrument = instruments[index % len(instruments)]
    # nights spread over YEARS years; runs start in the local night
    night = int(rng.integers(0, 365 * YEARS))
    start = FIRST_NIGHT + (night + 0.05 + 0.35 * rng.random()) * u.day
    duration = float(rng.choice([900.0, 1200.0, 1687.0, 1800.0]))
    # pointing: uniform on the sky within 60 deg of the site's zenith band
    dec = float(np.degrees(np.arcsin(rng.uniform(
        math.sin(math.radians(max(-90, instrument.geolat - 60))),
        math.sin(math.radians(min(90, instrument.geolat + 60)))))))
    ra = float(rng.uniform(0, 360))
    tstart = float(round((start.tt - Time(MJDREFI, MJDREFF, format="mjd", scale="tt")).to_value(u.s)))
    tstop = tstart + duration
    n_gti = int(rng.integers(1, 4))
    edges = np.sort(rng.uniform(tstart, tstop, 2 * (n_gti - 1)))
    gti = list(zip([tstart, *edges[1::2]], [*edges[0::2], tstop]))
    return {
        "instrument": instrument,
        "obs_id": instrument.obs_id_offset + index,
        "tstart": tstart, "tstop": tstop, "gti": gti,
        "ra_pnt": ra, "dec_pnt": dec,
        "n_events": int(rng.poisson(300)),
        "date": start,
        "seed": index,
    }


def run_path(dest: Path, spec: dict) -> Path:
    date = spec["date"].datetime
    name = spec["instrument"].name
    return dest / name / f"{date:%Y}" / f"{date:%m}" / f"{name}_{spec['obs_id']}.fits.gz"


def write_run(dest: Path, index: int) -> tuple[Path, dict]:
    """Write run ``index`` below ``dest``; return its path and spec."""
    spec = run_spec(index)
    instrument = spec["instrument"]
    path = run_path(dest, spec)
    livetime_fraction = 0.9
    ontime = sum(stop - start for start, stop in spec["gti"])
    synthetic.write_event_list(
        path, obs_id=spec["obs_id"], n_events=spec["n_events"],
        tstart=spec["tstart"], tstop=spec["tstop"], gti=spec["gti"],
        ra_pnt=spec["ra_pnt"], dec_pnt=spec["dec_pnt"],
        object_name=f"Field {spec['ra_pnt']:.1f}{spec['dec_pnt']:+.1f}",
        header_overrides={
            "TELESCOP": instrument.telescope, "INSTRUME": instrument.instrument,
            "GEOLAT": instrument.geolat, "GEOLON": instrument.geolon,
            "ALTITUDE": instrument.altitude, "N_TELS": instrument.n_tels,
            "TELLIST": ",".join(str(i + 1) for i in range(instrument.n_tels)),
            "ONTIME": ontime, "LIVETIME": ontime * livetime_fraction,
            "DEADC": livetime_fraction, "OBS_MODE": "WOBBLE",
            "ALT_PNT": None, "AZ_PNT": None, "GLON_PNT": None, "GLAT_PNT": None,
            "RA_OBJ": None, "DEC_OBJ": None, "DATE-OBS": None, "TIME-OBS": None,
            "DATE-END": None, "TIME-END": None},
        seed=spec["seed"])
    return path, spec


def _write_batch(args) -> list[tuple[str, int, str]]:
    dest, indices, reuse = args
    written = []
    for index in indices:
        spec = run_spec(index)
        path = run_path(Path(dest), spec)
        previous = run_path(Path(reuse), spec) if reuse else None
        if previous is not None and previous.is_file():
            # run i is the same file in every archive: link, do not rewrite
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.link(previous, path)
        else:
            path, spec = write_run(Path(dest), index)
        written.append((str(path), spec["obs_id"], spec["instrument"].name))
    return written


def write_archive(dest: str | os.PathLike, n_runs: int, *, irfs: bool = True,
                  processes: int | None = None, progress=None,
                  reuse: str | os.PathLike | None = None) -> list[tuple[str, int, str]]:
    """Write ``n_runs`` event lists below ``dest`` (see the module docstring).

    Parameters
    ----------
    dest : path-like
        Archive root (created).
    n_runs : int
        Number of runs (up to 100,000 and more; ~7 kB each).
    irfs : bool
        Also write one IRF file per instrument and an hdu-index per
        instrument folder naming it for every run.
    processes : int, optional
        Worker processes (default: the number of CPUs).
    progress : callable, optional
        Called with the number of runs written so far.
    reuse : path-like, optional
        Root of a smaller archive written by this function on the same file
        system: its runs are hard-linked instead of written again (archives
        are prefixes of each other).

    Returns
    -------
    list of (path, obs_id, instrument name)
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    batch = 500
    jobs = [(str(dest), range(start, min(start + batch, n_runs)), reuse and str(reuse))
            for start in range(0, n_runs, batch)]
    written = []
    with multiprocessing.get_context("fork").Pool(processes or os.cpu_count()) as pool:
        for part in pool.imap(_write_batch, jobs):
            written.extend(part)
            if progress:
                progress(len(written))
    if irfs:
        _write_irf_indexes(dest, written)
    return written


def _write_irf_indexes(dest: Path, written) -> None:
    by_instrument: dict[str, list] = {}
    for path, obs_id, name in written:
        by_instrument.setdefault(name, []).append((path, obs_id))
    for name, runs in by_instrument.items():
        folder = dest / name
        irf_file = synthetic.write_irf_file(folder / "irf" / f"{name}_irf.fits.gz")
        rows = []
        for path, obs_id in runs:
            relative = Path(path).relative_to(folder)
            rows += synthetic.hdu_index_rows(obs_id, relative.name,
                                             file_dir=str(relative.parent),
                                             types=("events", "gti"))
            rows += synthetic.hdu_index_rows(obs_id, irf_file.name, file_dir="irf",
                                             types=synthetic.IRF_TYPES)
        synthetic.write_hdu_index(folder, rows)
