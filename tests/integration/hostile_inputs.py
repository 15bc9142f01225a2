"""A folder of hostile DL3 inputs mixed with good event lists (used by
test_robustness.py; importable on its own to try the reader on it).

:func:`build` writes it and returns one :class:`Case` per file: where it
is, what the import must do with it (``rejected``: reported and skipped;
``not-event-list``: reported as such and skipped; ``imported``: published,
possibly with a problem noted) and the reason (fragment) the import output
must give next to the file's path.
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from hess_dr_dev import synthetic as synth

CHECKOUT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = CHECKOUT / "data"
GOOD_SAMPLE = ("hess_dl3_dr1_obs_id_020136.fits.gz", "hess_dl3_dr1_obs_id_023523.fits.gz",
               "hess_dl3_dr1_obs_id_023526.fits.gz")

REJECTED, NOT_EVENTS, IMPORTED = "rejected", "not-event-list", "imported"


@dataclasses.dataclass(frozen=True)
class Case:
    """One file of the hostile folder.

    Attributes
    ----------
    name : str
        Label of the case.
    path : Path
        The file (absolute, not resolved: as DaCHS names it).
    outcome : str
        :data:`REJECTED`, :data:`NOT_EVENTS` or :data:`IMPORTED`.
    reason : str or None
        Fragment the import output must show on a line naming ``path``
        (for imported files: the problem noted, if any).
    obs_id : str or None
        OBS_ID of an imported file.
    gti_count : int
        GTI rows of an imported file.
    """

    name: str
    path: Path
    outcome: str
    reason: str | None = None
    obs_id: str | None = None
    gti_count: int = 1


def _patch(path: Path, old: bytes, new: bytes) -> None:
    """Replace bytes in an uncompressed FITS file, keeping its length."""
    assert len(old) == len(new), (old, new)
    data = path.read_bytes()
    assert data.count(old) == 1, (path, old)
    path.write_bytes(data.replace(old, new))


def _card(keyword: str, value: str) -> bytes:
    """An 80-byte header card written verbatim (any value syntax)."""
    return f"{keyword:<8}= {value:<70}".encode("latin-1")


def _set_card(path: Path, keyword: str, value: str, first_only: bool = False) -> None:
    """Overwrite the cards of ``keyword`` (in every HDU, or the first one
    only) of an uncompressed FITS file with ``value`` written verbatim
    (values astropy would refuse to write)."""
    data = bytearray(path.read_bytes())
    prefix = f"{keyword:<8}=".encode()
    offsets = [i for i in range(0, len(data), 80) if data[i:i + 9] == prefix]
    assert offsets, (path, keyword)
    for offset in offsets[:1] if first_only else offsets:
        data[offset:offset + 80] = _card(keyword, value)
    path.write_bytes(bytes(data))


def _add_cards(path: Path, cards: list[bytes]) -> None:
    """Append cards to the EVENTS header of an uncompressed FITS file
    (astropy's Header.append is quadratic: 10,000 cards take 20 s)."""
    with fits.open(path) as hdus:
        start, data_start = hdus.fileinfo(1)["hdrLoc"], hdus.fileinfo(1)["datLoc"]
    raw = path.read_bytes()
    header = raw[start:data_start]
    end = next(i for i in range(0, len(header), 80) if header[i:i + 8] == b"END     ")
    new = header[:end] + b"".join(cards) + header[end:end + 80]
    new += b" " * (-len(new) % 2880)
    path.write_bytes(raw[:start] + new + raw[data_start:])


def build(root: Path) -> list[Case]:
    """Write the hostile folder below ``root``; return its cases.

    Each synthetic event list gets its own OBS_ID (900001...), except the
    deliberate duplicate; the good files are the bundled DR1 sample.
    """
    root = Path(root)
    cases: list[Case] = []
    obs_ids = iter(range(900001, 901000))

    def add(name, rel, outcome, reason=None, obs_id=None, gti_count=1):
        cases.append(Case(name, root / rel, outcome, reason,
                          None if obs_id is None else str(obs_id), gti_count))
        return root / rel

    def events(rel, **kwargs):
        obs_id = kwargs.pop("obs_id", None) or next(obs_ids)
        kwargs.setdefault("n_events", 20)
        path = synth.write_event_list(root / rel, obs_id=obs_id, **kwargs)
        return path, obs_id

    # ---- good files: the DR1 sample, in nested folders -----------------
    good_dirs = ("", "2004/12", "2005/night 03")
    for name, sub in zip(GOOD_SAMPLE, good_dirs):
        dest = root / sub / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DATA / name, dest)
        add(f"good {name}", dest.relative_to(root), IMPORTED, obs_id=int(name[-13:-8]))

    sample = SAMPLE_DATA / GOOD_SAMPLE[1]

    # ---- not FITS, or broken FITS ---------------------------------------
    d = "broken"
    synth.truncated_copy(sample, root / d / "truncated.fits.gz", keep=0.4)
    add("truncated gzip", f"{d}/truncated.fits.gz", REJECTED, "truncated or corrupt gzip stream")

    (root / d / "garbage.fits.gz").write_bytes(
        gzip.compress(os.urandom(5000) + b"not FITS" * 100, mtime=0))
    add("gzip of garbage", f"{d}/garbage.fits.gz", REJECTED, "not a readable FITS file")

    good_plain = synth.write_event_list(root / d / "scratch.fits", obs_id=0, n_events=5)
    raw = good_plain.read_bytes()
    good_plain.unlink()
    (root / d / "wrong_magic.fits").write_bytes(b"SIMPLY  " + raw[8:])
    add("wrong FITS magic", f"{d}/wrong_magic.fits", REJECTED, "not a readable FITS file")

    (root / d / "gzip_in_gzip.fits.gz").write_bytes(
        gzip.compress(sample.read_bytes(), mtime=0))
    add("gzip inside gzip", f"{d}/gzip_in_gzip.fits.gz", REJECTED, "not a readable FITS file")

    (root / d / "empty.fits").write_bytes(b"")
    add("0-byte file", f"{d}/empty.fits", REJECTED, "empty file (0 bytes)")

    (root / d / "text.fits").write_text("SIMPLE = T\nthis is a text file\n")
    add("text file", f"{d}/text.fits", REJECTED, "not a readable FITS file")

    # the headers of a valid file, its data cut off
    path, _ = events(f"{d}/headers_only.fits")
    with fits.open(path) as hdus:
        data_start = hdus.fileinfo(1)["datLoc"]
    path.write_bytes(path.read_bytes()[:data_start])
    add("headers without data", f"{d}/headers_only.fits", REJECTED, "truncated FITS file")

    fits.HDUList([fits.PrimaryHDU()]).writeto(root / d / "primary_only.fits")
    add("FITS primary header only", f"{d}/primary_only.fits", NOT_EVENTS, "no EVENTS table")

    fits.PrimaryHDU(np.zeros((16, 16), dtype=np.float32)).writeto(root / d / "image.fits")
    add("FITS image, no tables", f"{d}/image.fits", NOT_EVENTS, "no EVENTS table")

    # NAXIS2 claims 10^9 rows
    path, _ = events(f"{d}/naxis2_lies.fits", n_events=5)
    _set_card(path, "NAXIS2", f"{10**9:>20}", first_only=True)
    add("NAXIS2 larger than the file", f"{d}/naxis2_lies.fits", REJECTED, "truncated FITS file")

    # ---- not regular files ----------------------------------------------
    d = "special"
    (root / d).mkdir()
    os.mkfifo(root / d / "fifo.fits")
    add("FIFO (unreadable: reading would block)", f"{d}/fifo.fits", REJECTED,
        "not a regular file")
    (root / d / "a_directory.fits").mkdir()
    add("directory named *.fits", f"{d}/a_directory.fits", REJECTED, "not a regular file")

    # ---- EVENTS table contents ------------------------------------------
    d = "events"
    events(f"{d}/no_energy.fits", column_overrides={"ENERGY": None})
    add("EVENTS without ENERGY", f"{d}/no_energy.fits", REJECTED, "EVENTS table has no ENERGY column")
    events(f"{d}/no_time.fits", column_overrides={"TIME": None})
    add("EVENTS without TIME", f"{d}/no_time.fits", REJECTED, "EVENTS table has no TIME column")
    events(f"{d}/energy_strings.fits", column_overrides={
        "ENERGY": fits.Column("ENERGY", "8A", unit="TeV", array=["1.0"] * 20)})
    add("energies as strings", f"{d}/energy_strings.fits", REJECTED, "ENERGY column is not numeric")
    # Gammapy reads the events of the following files: published, with a
    # problem noted (hess_dr publishes what Gammapy reads)
    _, obs_id = events(f"{d}/energy_nan.fits", energies=np.full(20, np.nan) * u.TeV)
    add("all-NaN energies", f"{d}/energy_nan.fits", IMPORTED,
        "no event has a finite, positive ENERGY (20 events): no energy range", obs_id)
    _, obs_id = events(f"{d}/energy_inf.fits", energies=np.full(20, np.inf) * u.TeV)
    add("all-inf energies", f"{d}/energy_inf.fits", IMPORTED,
        "no event has a finite, positive ENERGY", obs_id)
    _, obs_id = events(f"{d}/energy_negative.fits", energies=-np.ones(20) * u.TeV)
    add("negative energies", f"{d}/energy_negative.fits", IMPORTED,
        "no event has a finite, positive ENERGY", obs_id)
    _, obs_id = events(f"{d}/energy_some_inf.fits",
                       energies=np.r_[np.inf, np.nan, np.ones(18)] * u.TeV)
    add("some inf/NaN energies", f"{d}/energy_some_inf.fits", IMPORTED,
        "2 events with non-finite or non-positive ENERGY", obs_id)
    events(f"{d}/energy_furlongs.fits", energy_unit="TeV",
           header_overrides={"EUNIT": "furlong"}, energy_tunit=False)
    add("ENERGY unit not an energy", f"{d}/energy_furlongs.fits", REJECTED, "not an energy unit")
    _, obs_id = events(f"{d}/zero_events.fits", n_events=0)
    add("EVENTS with 0 rows (valid)", f"{d}/zero_events.fits", IMPORTED, None, obs_id)

    # ---- times ------------------------------------------------------------
    d = "times"
    # (Gammapy reads the files below up to the next comment: published, noted)
    _, obs_id = events(f"{d}/negative_livetime.fits", header_overrides={"LIVETIME": -5.0})
    add("negative LIVETIME", f"{d}/negative_livetime.fits", IMPORTED,
        "negative LIVETIME (-5.0 s) ignored", obs_id)
    _, obs_id = events(f"{d}/negative_ontime.fits",
                       header_overrides={"ONTIME": -1687.0, "LIVETIME": None})
    add("negative ONTIME", f"{d}/negative_ontime.fits", IMPORTED,
        "negative ONTIME (-1687.0 s) ignored", obs_id)
    _, obs_id = events(f"{d}/backwards.fits", times=np.full(20, 1500.0), tstart=2000.0,
                       tstop=1000.0, gti=[(1000.0, 2000.0)])
    add("TSTOP before TSTART", f"{d}/backwards.fits", IMPORTED,
        "TSTOP (1000.0) is before TSTART (2000.0): both ignored: taken from the GTI bounds",
        obs_id)
    _, obs_id = events(f"{d}/gti_outside.fits", gti=[(1.0e9, 1.0e9 + 100.0)])
    add("GTI entirely outside TSTART-TSTOP", f"{d}/gti_outside.fits", IMPORTED,
        "no GTI overlaps TSTART-TSTOP", obs_id)
    _, obs_id = events(f"{d}/gti_beyond.fits", gti=[(123890800.0, 123892600.0)])
    add("GTI extending beyond TSTART-TSTOP", f"{d}/gti_beyond.fits", IMPORTED,
        "GTIs extend beyond TSTART-TSTOP", obs_id)
    _, obs_id = events(f"{d}/gti_inverted.fits", gti=[(123892513.0, 123890826.0)])
    add("GTI with STOP before START", f"{d}/gti_inverted.fits", IMPORTED,
        "1 GTI(s) with STOP before START ignored", obs_id)
    _, obs_id = events(f"{d}/gti_empty.fits", gti=[])
    add("empty GTI table", f"{d}/gti_empty.fits", IMPORTED, "GTI table is empty", obs_id)
    path, obs_id = events(f"{d}/gti_nan.fits", gti=[(123890826.0, 123892513.0)])
    with fits.open(path, mode="update") as hdus:
        hdus["GTI"].data["STOP"][0] = np.nan
    add("NaN in the GTI table", f"{d}/gti_nan.fits", IMPORTED,
        "1 GTI(s) with non-finite START/STOP ignored", obs_id)
    # (Gammapy cannot read the times of the files below either)
    path, _ = events(f"{d}/mjdrefi_string.fits")
    _set_card(path, "MJDREFI", "'abc'")
    add("MJDREFI 'abc'", f"{d}/mjdrefi_string.fits", REJECTED, "MJDREFI='abc' is not a number")
    events(f"{d}/timesys_xyz.fits", header_overrides={"TIMESYS": "XYZ"})
    add("TIMESYS 'XYZ'", f"{d}/timesys_xyz.fits", REJECTED, "TIMESYS='XYZ' is not a supported")
    events(f"{d}/mjdref_huge.fits", header_overrides={"MJDREFI": 1.0e30},
           gti_header_overrides={"MJDREFI": 1.0e30})
    add("MJDREFI 1e30", f"{d}/mjdref_huge.fits", REJECTED, "give no valid UTC date")
    events(f"{d}/tstart_huge.fits", header_overrides={"TSTART": -1.0e300})
    add("TSTART -1e300", f"{d}/tstart_huge.fits", REJECTED, "give no valid UTC date")
    path, _ = events(f"{d}/tstart_nan.fits")
    _set_card(path, "TSTART", f"{'NaN':>20}")
    add("TSTART = NaN (not a FITS value)", f"{d}/tstart_nan.fits", REJECTED,
        "Unparsable card (TSTART)")
    path, obs_id = events(f"{d}/tstart_missing.fits", header_overrides={"TSTART": None})
    add("TSTART missing (taken from the GTIs)", f"{d}/tstart_missing.fits", IMPORTED,
        "TSTART/TSTOP missing: taken from the GTI bounds", obs_id)

    # ---- identification and pointing ---------------------------------------
    d = "keywords"
    path, _ = events(f"{d}/obs_id_empty.fits")
    _set_card(path, "OBS_ID", "''")
    # Gammapy reads it: the file name is the OBS_ID
    add("OBS_ID empty string", f"{d}/obs_id_empty.fits", IMPORTED,
        "OBS_ID missing: the file name without its extension used", "obs_id_empty")
    # Gammapy reads both (RA 400 deg is RA 40 deg); published, noted
    _, obs_id = events(f"{d}/ra_400.fits", ra_pnt=400.0)
    add("RA_PNT 400", f"{d}/ra_400.fits", IMPORTED,
        "RA_PNT 400.0 is out of range [0, 360] deg: published as 40", obs_id)
    _, obs_id = events(f"{d}/dec_95.fits", dec_pnt=95.0, dec=np.zeros(20), ra=np.zeros(20))
    add("DEC_PNT 95", f"{d}/dec_95.fits", IMPORTED,
        "DEC_PNT 95.0 is out of range [-90, 90] deg: no pointing published", obs_id)
    path, obs_id = events(f"{d}/object_latin1.fits", object_name="CafX_Nebula")
    _patch(path, b"CafX_Nebula", b"Caf\xe9_Nebula")
    add("non-UTF8 byte 0xE9 in OBJECT", f"{d}/object_latin1.fits", IMPORTED, None, obs_id)
    path, _ = events(f"{d}/object_nul.fits", object_name="NUL_X_here")
    _patch(path, b"NUL_X_here", b"NUL\x00\x01_here")
    add("NUL and control bytes in OBJECT (astropy refuses the header)", f"{d}/object_nul.fits",
        REJECTED, "malformed FITS content")  # astropy's message varies
    path, obs_id = events(f"{d}/huge_header.fits")
    _add_cards(path, [_card(f"JNK{i:05d}", f"{float(i):>20} / padding keyword")
                      for i in range(10_000)])
    add("huge header (10,000 keywords)", f"{d}/huge_header.fits", IMPORTED, None, obs_id)

    # ---- names and layout ----------------------------------------------------
    d = "names"
    _, obs_id = events(f"{d}/plain_but_gz.fits.gz", gzip=False)
    add(".fits.gz that is plain FITS (valid)", f"{d}/plain_but_gz.fits.gz", IMPORTED, None, obs_id)
    events(f"{d}/run_\u00e9t\u00e9_\u65e5\u672c.fits")
    add("non-ASCII file name", f"{d}/run_\u00e9t\u00e9_\u65e5\u672c.fits", REJECTED,
        "non-ASCII file name")
    events(f"{d}/duplicate_a.fits", obs_id=777777)
    events(f"{d}/duplicate_b.fits", obs_id=777777, seed=5)
    add("duplicate OBS_ID (first file)", f"{d}/duplicate_a.fits", IMPORTED, None, 777777)
    add("duplicate OBS_ID (second file)", f"{d}/duplicate_b.fits", IMPORTED, None, 777777)

    # ---- quirks of files Gammapy 1.3 reads (synthetic.QUIRKS; one folder
    # each, as one of them brings an hdu-index) ---------------------------
    d = "quirks"
    quirk = synth.QUIRK_OBS_ID
    for name, outcome, reason in [
        ("timeunit-not-time", IMPORTED, "TIMEUNIT 'm' is not a time unit: seconds assumed"),
        ("tstart-tstop-missing-no-gti", IMPORTED,
         "TSTART/TSTOP missing and no GTI table: taken from the first and last event TIME"),
        ("gti-no-start-stop", IMPORTED, "GTI table 'GTI' has no START/STOP columns: ignored"),
        ("ra-pnt-negative", IMPORTED, "RA_PNT -10.0 is out of range [0, 360] deg"),
        ("irfs-separate-file", IMPORTED, None),
        ("columns-lowercase", IMPORTED, None),
        ("energy-eunit-only", IMPORTED, None),
        ("events-other-extname", IMPORTED, None),
        ("mjdref-only", IMPORTED, None),
        ("energy-no-unit", REJECTED, "ENERGY column has no unit (TUNIT, EUNIT)"),
    ]:
        path = synth.write_quirk(root / d / name, name)
        add(f"quirk {name}", path.relative_to(root), outcome, reason,
            quirk if outcome == IMPORTED else None)
    return cases


def write_bulk(directory: Path, count: int, first_obs_id: int = 500000) -> list[Path]:
    """Write ``count`` small valid event lists (OBS_ID first_obs_id + i)
    fast: one synthetic file, copied with its OBS_ID patched in place."""
    directory = Path(directory)
    template = synth.write_event_list(directory / "template.tmp", obs_id=first_obs_id,
                                      n_events=10, seed=3)
    raw = template.read_bytes()
    template.unlink()
    paths = []
    for i in range(count):
        path = directory / f"bulk_{first_obs_id + i:07d}.fits"
        path.write_bytes(raw)
        _set_card(path, "OBS_ID", f"{first_obs_id + i:>20}")
        paths.append(path)
    return paths
