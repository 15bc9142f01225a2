"""GADF index files (obs-index, hdu-index) next to a folder of event lists.

An obs-index supplies observation metadata that event headers may lack
(ZEN_PNT, QUALITY, SAFE_ENERGY_LO, TARGET_NAME...); an hdu-index says where
each observation's IRFs live, possibly in files other than the event list.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from astropy.io import fits

OBS_INDEX_NAMES = ("obs-index.fits.gz", "obs-index.fits")
HDU_INDEX_NAMES = ("hdu-index.fits.gz", "hdu-index.fits")
INDEX_FILE_NAMES = frozenset(OBS_INDEX_NAMES + HDU_INDEX_NAMES)


@dataclasses.dataclass(frozen=True)
class HduRef:
    """Where one HDU of an observation lives.

    Attributes
    ----------
    hdu_type : str
        GADF HDU_TYPE, lower case: events, gti, aeff, edisp, psf, bkg, rad_max.
    hdu_class : str
        GADF HDU_CLASS, lower case (aeff_2d, edisp_2d, psf_table, bkg_3d...),
        or '' when unknown.
    path : pathlib.Path
        Absolute path of the FITS file.
    hdu : str
        EXTNAME of the HDU in that file.
    """

    hdu_type: str
    hdu_class: str
    path: Path
    hdu: str


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip()


def obs_id_key(value) -> str:
    """Normalise an OBS_ID (int, float, bytes or text) to its text form."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return _text(value)


@dataclasses.dataclass(frozen=True)
class IndexFiles:
    """The parsed index files of one directory (either may be absent)."""

    obs_rows: dict  # obs_id text -> {lowercase column: python value}
    hdu_refs: dict  # obs_id text -> tuple of HduRef
    obs_index_path: Path | None = None
    hdu_index_path: Path | None = None
    #: Why an index file found there could not be used (each message names
    #: the index file); its content is then ignored.
    errors: tuple = ()

    def obs_row(self, obs_id: str) -> dict:
        return self.obs_rows.get(obs_id, {})

    def irfs(self, obs_id: str) -> tuple[HduRef, ...]:
        return self.hdu_refs.get(obs_id, ())


EMPTY = IndexFiles(obs_rows={}, hdu_refs={})


def find_index_files(event_file: str | os.PathLike, root: str | os.PathLike | None) -> IndexFiles:
    """Return the index files that describe ``event_file``.

    The event file's directory is searched first, then its parents up to
    ``root`` (the collection's data directory), the GADF convention of an
    index at the top of a release.
    """
    directory = Path(os.path.abspath(event_file)).parent
    root = Path(os.path.abspath(root)) if root is not None else directory
    while True:
        found = _load_directory(str(directory), _stamp(directory))
        if found is not EMPTY or directory == root or root not in directory.parents:
            return found
        directory = directory.parent


def _stamp(directory: Path) -> tuple:
    """Modification times of the index files: the cache key part that makes
    a rewritten index be read again."""
    stamp = []
    for name in OBS_INDEX_NAMES + HDU_INDEX_NAMES:
        try:
            stamp.append(os.stat(directory / name).st_mtime_ns)
        except OSError:
            stamp.append(None)
    return tuple(stamp)


@functools.lru_cache(maxsize=64)
def _load_directory(directory: str, stamp: tuple) -> IndexFiles:
    if not any(stamp):
        return EMPTY
    directory = Path(directory)
    obs_path = next((directory / n for n in OBS_INDEX_NAMES if (directory / n).exists()), None)
    hdu_path = next((directory / n for n in HDU_INDEX_NAMES if (directory / n).exists()), None)
    errors = []
    obs_rows = _read_or_report(read_obs_index, obs_path, "obs-index", errors)
    hdu_refs = _read_or_report(read_hdu_index, hdu_path, "hdu-index", errors)
    return IndexFiles(obs_rows=obs_rows, hdu_refs=hdu_refs,
                      obs_index_path=obs_path, hdu_index_path=hdu_path, errors=tuple(errors))


class IndexFileError(ValueError):
    """An index file that cannot be used; ``str()`` names the file."""


def _read_or_report(reader, path, kind, errors) -> dict:
    """``reader(path)``, or {} and a message naming the index file."""
    if path is None:
        return {}
    try:
        return reader(path)
    except IndexFileError as exc:
        errors.append(f"{kind} {exc}; ignored")
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        errors.append(f"{kind} {path}: not a readable FITS file ({exc}); ignored")
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        errors.append(f"{kind} {path}: malformed ({type(exc).__name__}: {exc}); ignored")
    return {}


class _ColumnIndex(Mapping):
    """A GADF index file as a read-only mapping keyed by OBS_ID text.

    The table stays in its columns (numpy arrays of the file's values) and a
    value is built when asked for: a CTAO-size index (10^5 runs, ~10^6 rows)
    would take ~1 kB a row as Python objects, in every reader process.
    ``_rows`` maps each OBS_ID to its row position(s).
    """

    def __init__(self, columns: dict, rows: dict):
        self._columns, self._rows = columns, rows

    def __iter__(self):
        return iter(self._rows)

    def __len__(self):
        return len(self._rows)


class ObsIndex(_ColumnIndex):
    """An obs-index: {obs_id: {lowercase column: value}}."""

    def __getitem__(self, obs_id: str) -> dict:
        row = self._rows[obs_id]
        return {name: _python(values[row]) for name, values in self._columns.items()}


def read_obs_index(path: Path) -> ObsIndex:
    """Read an obs-index into {obs_id: {lowercase column: value}}."""
    with fits.open(path, memmap=False) as hdus:
        table = _index_hdu(hdus, "OBS", path, ("OBS_ID",)).data
        if table is None:
            return ObsIndex({}, {})
        # Column by column: row access to a FITS_rec costs ~50 us a value.
        columns = {name.lower().replace("-", "_"): np.array(table[name])
                   for name in table.columns.names}
        row_of = {obs_id_key(obs_id): row for row, obs_id in enumerate(table["OBS_ID"])}
    return ObsIndex(columns, row_of)


class HduIndex(_ColumnIndex):
    """An hdu-index: {obs_id: (HduRef, ...)}, paths made absolute from ``base``."""

    def __init__(self, base: str, columns: dict, rows: dict):
        super().__init__(columns, rows)
        self._base = base

    def __getitem__(self, obs_id: str) -> tuple[HduRef, ...]:
        columns = self._columns
        return tuple(
            HduRef(hdu_type=_text(columns["HDU_TYPE"][row]).lower(),
                   hdu_class=_text(columns["HDU_CLASS"][row]).lower(),
                   path=Path(os.path.abspath(os.path.join(
                       self._base, _text(columns["FILE_DIR"][row]),
                       _text(columns["FILE_NAME"][row])))),
                   hdu=_text(columns["HDU_NAME"][row]))
            for row in self._rows[obs_id])


def read_hdu_index(path: Path) -> HduIndex:
    """Read an hdu-index into {obs_id: (HduRef, ...)} with absolute paths.

    FILE_DIR is relative to the index file's directory (or absolute); the
    BASE_DIR header keyword, when present, overrides that base.
    """
    with fits.open(path, memmap=False) as hdus:
        hdu = _index_hdu(hdus, "HDU", path, _HDU_INDEX_COLUMNS)
        base = str(hdu.header.get("BASE_DIR") or path.parent)
        if hdu.data is None:
            return HduIndex(base, {}, {})
        # Column by column: row access to a FITS_rec costs ~50 us a value.
        columns = {name: np.array(hdu.data[name]) for name in _HDU_INDEX_COLUMNS[1:]}
        rows_of: dict[str, list] = {}
        for row, obs_id in enumerate(hdu.data["OBS_ID"]):
            rows_of.setdefault(obs_id_key(obs_id), []).append(row)
    return HduIndex(base, columns, rows_of)


_HDU_INDEX_COLUMNS = ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")


def _index_hdu(hdus, kind: str, path=None, required: tuple = ()):
    """The index table of an index file; IndexFileError (naming the file)
    when there is none or it lacks a required column."""
    chosen = None
    for hdu in hdus[1:]:
        if (_text(hdu.header.get("HDUCLAS2", "")).upper() == kind
                or _text(hdu.header.get("EXTNAME", "")).upper() == f"{kind}_INDEX"):
            chosen = hdu
            break
    if chosen is None:
        if len(hdus) < 2 or not isinstance(hdus[1], fits.BinTableHDU):
            raise IndexFileError(f"{path}: no {kind}_INDEX table")
        chosen = hdus[1]
    if chosen.data is None:
        return chosen
    names = {n.upper() for n in chosen.columns.names}
    missing = [c for c in required if c not in names]
    if missing:
        raise IndexFileError(f"{path}: {kind}_INDEX table has no {', '.join(missing)} column")
    return chosen


def _python(value):
    """numpy scalar -> plain python value (text stripped, NaN -> None)."""
    if isinstance(value, (bytes, str)):
        return _text(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value
