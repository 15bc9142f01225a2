"""The events of a run, decoded one way for the import, cutouts and previews.

:class:`EventTable` is the EVENTS table of a file read as its
:class:`~hess_dr.layout.Layout` says: :meth:`EventTable.values` gives TIME
(MET, in the file's TIMEUNIT), ENERGY (in the layout's energy unit, which
may come from the configuration), RA and DEC (degrees), with TSCAL/TZERO
applied; :meth:`EventTable.rows_bytes` gives selected rows exactly as the
file stores them.  The reader (:mod:`hess_dr.dl3`) computes a run's energy
range with it, cutouts select with it, previews histogram it: the same
numbers everywhere.

:class:`EventCache` keeps, per event file (keyed by its sha256), the
decompressed EVENTS rows as a memory-mapped ``.npy`` file, the headers of
PRIMARY, EVENTS and GTI, and each IRF HDU as a ready-to-append FITS piece
(checksummed), under DaCHS's ``cacheDir``.  The import fills it; a cutout
then reads no compressed file at all.  A missing entry is rebuilt from the
file by whoever needs it.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import os
import zlib
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from . import files, fitsbytes
from .layout import FileStamp, Layout

#: Files larger than this are not decompressed into memory in one go (the
#: reader lets astropy stream them instead).
IN_MEMORY_LIMIT = 512 * 2**20

#: The first bytes of a gzip and of a bzip2 stream.
GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"

_CACHE_VERSION = "2"


class EventsError(ValueError):
    """The events cannot be read as the request or the layout needs.

    Attributes
    ----------
    http_status : int
        400 when the request asks for something the file lacks (a region
        on events without RA/DEC), else 500.
    """

    def __init__(self, message: str, http_status: int = 500):
        super().__init__(message)
        self.http_status = http_status

    def __reduce__(self):  # (raised in worker processes, pickled back)
        return type(self), (str(self), self.http_status)


# --------------------------------------------------------------------------
# reading a file once
# --------------------------------------------------------------------------

def read_file_bytes(path: str | os.PathLike) -> tuple[bytes | None, FileStamp]:
    """The decompressed content of a FITS file (None for files above
    :data:`IN_MEMORY_LIMIT`) and its stamp (with the sha256 of its bytes
    as stored).

    Raises
    ------
    OSError, EOFError, zlib.error, gzip.BadGzipFile
        Unreadable file, truncated or corrupt gzip or bzip2 stream (a
        truncated or corrupt bzip2 stream raises EOFError).
    """
    with open(path, "rb") as f:
        status = os.fstat(f.fileno())
        if status.st_size > IN_MEMORY_LIMIT:
            digest = hashlib.sha256()
            while chunk := f.read(1 << 22):
                digest.update(chunk)
            return None, FileStamp(status.st_size, status.st_mtime_ns, digest.hexdigest())
        raw = f.read()
    stamp = FileStamp(status.st_size, status.st_mtime_ns, hashlib.sha256(raw).hexdigest())
    if raw[:2] == GZIP_MAGIC:
        return gzip.decompress(raw), stamp
    if raw[:3] == BZIP2_MAGIC:
        try:
            return bz2.decompress(raw), stamp
        # ValueError "Compressed data ended before the end-of-stream marker",
        # OSError "Invalid data stream": one kind for callers, as for gzip
        except (ValueError, OSError) as exc:
            raise EOFError(str(exc)) from None
    return raw, stamp


def open_fits(path: str | os.PathLike) -> tuple[fits.HDUList, bytes | None, FileStamp]:
    """Open a (gzip- or bzip2-compressed) FITS file decompressed in memory,
    read once.

    Returns the HDU list (headers parsed), the decompressed bytes (None for
    a large file, then opened by astropy directly) and the file's stamp.
    """
    data, stamp = read_file_bytes(path)
    if data is None:
        return fits.open(path, memmap=False, lazy_load_hdus=False), None, stamp
    return fits.open(io.BytesIO(data), memmap=False, lazy_load_hdus=False), data, stamp


def raw_data(hdu, data: bytes | None) -> bytes:
    """The data part (rows and heap, padded) of an HDU as the file stores it."""
    if data is not None:
        return data[hdu._data_offset:hdu._data_offset + hdu._data_size]
    return hdu._get_raw_data(hdu._data_size, "ubyte", hdu._data_offset).tobytes()


def stripped(header):
    """A copy of ``header`` (a Header or :class:`hess_dr.fitsbytes.Cards`)
    without CHECKSUM/DATASUM cards."""
    header = header.copy()
    for key in ("CHECKSUM", "DATASUM"):
        header.remove(key, ignore_missing=True, remove_all=True)
    return header


def cards_of(header) -> fitsbytes.Cards | None:
    """A header as :class:`hess_dr.fitsbytes.Cards` (None stays None)."""
    if header is None or isinstance(header, fitsbytes.Cards):
        return header
    return fitsbytes.Cards(header.tostring())


def raw_header(hdu, data: bytes | None) -> bytes:
    """The header of an HDU as the file stores it (its cards, END, padding)."""
    if data is not None:
        return data[hdu._header_offset:hdu._data_offset]
    return hdu.header.tostring().encode("ascii")


def hdu_piece(hdu, data: bytes | None) -> bytes:
    """An HDU of an open file as a FITS piece to append to another file:
    its header and data unchanged, CHECKSUM/DATASUM recomputed."""
    return fitsbytes.hdu_bytes(raw_header(hdu, data), raw_data(hdu, data))


# --------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------

class EventTable:
    """The EVENTS table of a run with the headers an output file copies.

    Parameters
    ----------
    layout : hess_dr.layout.Layout
    header : hess_dr.fitsbytes.Cards or astropy.io.fits.Header
        The EVENTS header as in the file (kept as Cards: copy before
        changing).
    records : numpy.ndarray or None
        The rows as stored (structured, big-endian; may be memory-mapped);
        None for a table with a heap (variable-length columns), then read
        through ``hdu``.
    primary_header, gti_header : Cards, Header or None
    hdu : astropy.io.fits.BinTableHDU or None
        The open HDU, for tables that cannot be held as plain records.
    """

    def __init__(self, layout: Layout, header: fits.Header, records, primary_header=None,
                 gti_header=None, hdu=None):
        self.layout = layout
        self.header = cards_of(header)
        self.records = records
        self.primary_header = cards_of(primary_header) if primary_header is not None \
            else fitsbytes.Cards(fits.PrimaryHDU().header.tostring())
        self.gti_header = cards_of(gti_header)
        self.hdu = hdu
        self._values: dict = {}

    @classmethod
    def from_hdulist(cls, hdus, layout: Layout, data: bytes | None = None) -> "EventTable":
        """The events of an open file (its HDU ``layout.events_hdu``).

        ``data``: the file's decompressed bytes, when it was read into
        memory (:func:`open_fits`); the headers are then taken as the file
        stores them, as :meth:`EventCache.store` keeps them (instead of
        astropy's rewriting of every card).
        """
        def cards(header_hdu):
            if data is None:
                return header_hdu.header
            return fitsbytes.Cards(raw_header(header_hdu, data))
        try:
            hdu = hdus[layout.events_hdu]
        except IndexError:
            raise EventsError(f"no HDU {layout.events_hdu} (the EVENTS table)") from None
        if not isinstance(hdu, fits.BinTableHDU):
            raise EventsError(f"HDU {layout.events_hdu} is not the EVENTS table")
        gti = cards(hdus[layout.gti_hdu]) if layout.gti_hdu is not None else None
        header = hdu.header
        records = None
        if not int(header.get("PCOUNT", 0) or 0):
            records = np.asarray(hdu.data.view(np.ndarray)) if hdu.data is not None else None
            if records is None or records.dtype.itemsize != int(header["NAXIS1"]):
                records = None
        table = cls(layout, cards(hdu), records, cards(hdus[0]), gti,
                    hdu=None if records is not None else hdu)
        if records is None and hdu.data is None:
            table.records = np.zeros(0, dtype=[("_", "u1", int(header.get("NAXIS1", 0) or 0))])
            table.hdu = None
        return table

    def __len__(self) -> int:
        if self.records is not None:
            return len(self.records)
        return 0 if self.hdu.data is None else len(self.hdu.data)

    # ------------------------------------------------------------ values

    def _column_number(self, name: str) -> int:
        """FITS column number (TTYPEn) of a field of :attr:`records`."""
        try:
            return self.records.dtype.names.index(name) + 1
        except ValueError:
            raise EventsError(f"EVENTS table has no {name} column") from None

    def _raw_column(self, name: str, quantity: str) -> np.ndarray:
        if self.records is not None:
            number = self._column_number(name)
            values = np.asarray(self.records[name])
            tform = self.header.get(f"TFORM{number}")
        else:
            values = np.asarray(self.hdu.data[name])
            tform = self.hdu.columns[name].format
        if values.dtype.kind not in "iuf":
            raise EventsError(f"{quantity} column is not numeric (TFORM {tform})")
        if values.ndim != 1:
            raise EventsError(f"{quantity} column is not a scalar column (TFORM {tform})")
        values = values.astype(float)
        if self.records is not None:
            scale = self.header.get(f"TSCAL{number}")
            zero = self.header.get(f"TZERO{number}")
            if scale not in (None, 1, 1.0):
                values *= float(scale)
            if zero not in (None, 0, 0.0):
                values += float(zero)
        return values

    def values(self, quantity: str) -> np.ndarray:
        """Float values of TIME (MET), ENERGY (in ``layout.energy_unit``),
        RA or DEC (degrees), one per row.

        Raises
        ------
        EventsError
            If the file has no such column (HTTP status 400) or it is not
            numeric, or an angle column has no angle unit.
        """
        if quantity in self._values:
            return self._values[quantity]
        name = self.layout.column(quantity)
        if name is None:
            raise EventsError(f"EVENTS table has no {quantity} column", 400)
        if len(self) == 0:
            values = np.zeros(0)
        else:
            values = self._raw_column(name, quantity)
        if quantity in ("RA", "DEC"):
            unit_name = (self.layout.unit(quantity) or "deg").strip() or "deg"
            try:
                factor = u.Unit(unit_name).to(u.deg)
            except (ValueError, u.UnitConversionError):
                raise EventsError(f"{quantity} unit {unit_name!r} is not an angle") from None
            if factor != 1.0:
                values = values * factor
        self._values[quantity] = values
        return values

    def energy_unit(self) -> u.UnitBase:
        return u.Unit(self.layout.energy_unit)

    def energy_tev(self) -> np.ndarray:
        """ENERGY in TeV."""
        factor = self.energy_unit().to(u.TeV)
        values = self.values("ENERGY")
        return values * factor if factor != 1.0 else values

    def has(self, quantity: str) -> bool:
        return self.layout.column(quantity) is not None

    # -------------------------------------------------------------- rows

    def selected_hdu(self, header: fits.Header, mask: np.ndarray) -> bytes:
        """The EVENTS HDU (``header``, NAXIS2 set here) with the rows of
        ``mask`` as bytes, checksummed."""
        if self.records is not None:
            rows = self.records[mask] if len(self.records) else self.records[:0]
            header["NAXIS2"] = len(rows)
            return fitsbytes.hdu_bytes(header, np.ascontiguousarray(rows).tobytes())
        # a table with a heap: let astropy rebuild rows and heap
        if isinstance(header, fitsbytes.Cards):
            header = header.to_header()
        selected = fits.BinTableHDU(data=self.hdu.data[mask], header=header)
        selected.name = "EVENTS"
        selected.update_header()
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), selected]).writeto(buffer, checksum=True,
                                                            output_verify="silentfix")
        return buffer.getvalue()[fitsbytes.BLOCK:]


# --------------------------------------------------------------------------
# the cache
# --------------------------------------------------------------------------

def events_dir(cache_dir: str | os.PathLike) -> str:
    """Where the event cache lives below hess_dr's cache directory (DaCHS's
    ``cacheDir``/hess_dr)."""
    return os.path.join(cache_dir, "events")


class EventCache:
    """Decompressed EVENTS rows, headers and IRF pieces of event files,
    below ``root`` (see the module docstring).

    An entry, for an event file of sha256 ``s``::

        <root>/<s[:2]>/<s>/events.npy    the EVENTS rows (np.load, mmap)
        <root>/<s[:2]>/<s>/irfs.fits     the IRF HDUs of the file, as pieces
        <root>/<s[:2]>/<s>/meta.json     PRIMARY, EVENTS, GTI headers and
                                         where each IRF piece is in irfs.fits
        <root>/shared/<k[:2]>/<k>.fits   an IRF HDU of a separate file
                                         (k: its path, stamp and HDU)
        <root>/memo/<kind>/...           values computed from content
                                         (PSF containment radii)

    Every file is written atomically, ``meta.json`` last: an entry with it
    is complete.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._meta: dict = {}

    def _entry(self, sha256: str) -> Path:
        if not sha256 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"invalid cache key {sha256!r}")
        return self.root / sha256[:2] / sha256

    def _load_meta(self, layout: Layout) -> dict | None:
        if layout.stamp is None or layout.stamp.sha256 is None:
            return None
        sha = layout.stamp.sha256
        meta = self._meta.get(sha)
        if meta is None:
            try:
                meta = json.loads((self._entry(sha) / "meta.json").read_text())
            except (OSError, ValueError):
                return None
            if meta.get("version") != _CACHE_VERSION:
                return None
            if len(self._meta) > 256:
                self._meta.clear()
            self._meta[sha] = meta
        return meta if meta.get("events_hdu") == layout.events_hdu else None

    # ------------------------------------------------------------ events

    def complete(self, layout: Layout) -> bool:
        """Whether the entry of the file ``layout`` describes holds all a
        cutout needs (events, headers, the IRF pieces of its layout)."""
        meta = self._load_meta(layout)
        if meta is None:
            return False
        entry = self._entry(layout.stamp.sha256)
        if meta["records"] and not (entry / "events.npy").exists():
            return False
        for ref in layout.irfs:
            if self._shared_path(layout, ref) is not None:
                if not self.has_irf_piece(layout, ref):
                    return False
            elif ref.hdu.strip().upper() not in meta["irfs"]:
                return False
        return not meta["irfs"] or (entry / "irfs.fits").exists()

    def load(self, layout: Layout) -> EventTable | None:
        """The cached events of the file ``layout`` describes, or None."""
        meta = self._load_meta(layout)
        if meta is None or not meta["records"]:
            return None
        try:
            records = np.load(self._entry(layout.stamp.sha256) / "events.npy", mmap_mode="r")
        except (OSError, ValueError):
            return None
        headers = {key: None if text is None else fitsbytes.Cards(text)
                   for key, text in meta["headers"].items()}
        return EventTable(layout, headers["events"], records, headers["primary"],
                          headers["gti"])

    def store(self, table: EventTable, raw_headers: dict | None = None,
              irf_pieces: dict | None = None) -> None:
        """Keep ``table`` (read from its file) for later requests, with the
        IRF pieces of its file ({EXTNAME: bytes}).

        ``raw_headers``: {"primary", "events", "gti": header text as in the
        file}, else taken from the table's parsed headers.
        """
        layout = table.layout
        if layout.stamp is None or layout.stamp.sha256 is None:
            return
        entry = self._entry(layout.stamp.sha256)
        entry.mkdir(parents=True, exist_ok=True)
        if table.records is not None:
            def write(out):
                np.save(out, np.ascontiguousarray(table.records), allow_pickle=False)
            files.write_atomically(entry / "events.npy", write)
        offsets = {}
        if irf_pieces:
            position = 0
            for name, piece in irf_pieces.items():
                offsets[name] = [position, len(piece)]
                position += len(piece)
            files.write_bytes_atomically(entry / "irfs.fits", b"".join(irf_pieces.values()))
        if raw_headers is None:
            raw_headers = {"primary": table.primary_header.tostring(),
                           "events": table.header.tostring(),
                           "gti": None if table.gti_header is None
                           else table.gti_header.tostring()}
        meta = {"version": _CACHE_VERSION, "events_hdu": layout.events_hdu,
                "records": table.records is not None,
                "headers": {key: None if text is None else
                            (text.decode("ascii", "replace") if isinstance(text, bytes) else text)
                            for key, text in raw_headers.items()},
                "irfs": offsets}
        files.write_bytes_atomically(entry / "meta.json", json.dumps(meta).encode())
        self._meta.pop(layout.stamp.sha256, None)

    # -------------------------------------------------------------- IRFs

    def _shared_path(self, layout: Layout, ref) -> Path | None:
        path = os.path.abspath(ref.path)
        stamp = layout.irf_stamps.get(path)
        if stamp is None:
            return None
        key = hashlib.sha256(json.dumps([path, stamp.size, stamp.mtime_ns, ref.hdu]).encode()
                             ).hexdigest()
        return self.root / "shared" / key[:2] / f"{key}.fits"

    def irf_piece(self, layout: Layout, ref) -> bytes | None:
        """The cached FITS piece of an IRF HDU, or None."""
        shared = self._shared_path(layout, ref)
        try:
            if shared is not None:
                return shared.read_bytes()
            meta = self._load_meta(layout)
            where = None if meta is None else meta["irfs"].get(ref.hdu.strip().upper())
            if where is None:
                return None
            with open(self._entry(layout.stamp.sha256) / "irfs.fits", "rb") as f:
                f.seek(where[0])
                piece = f.read(where[1])
            return piece if len(piece) == where[1] else None
        except (OSError, ValueError):
            return None

    def store_irf_piece(self, layout: Layout, ref, piece: bytes) -> None:
        """Keep the piece of an IRF HDU of a separate file (those of the
        event file itself are kept by :meth:`store`)."""
        shared = self._shared_path(layout, ref)
        if shared is None:
            return
        shared.parent.mkdir(parents=True, exist_ok=True)
        files.write_bytes_atomically(shared, piece)

    def has_irf_piece(self, layout: Layout, ref) -> bool:
        shared = self._shared_path(layout, ref)
        return shared is not None and shared.exists()

    # ------------------------------------------------------------- memos

    def _memo_path(self, kind: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / "memo" / kind / digest[:2] / f"{digest}.json"

    def memo(self, kind: str, key: str):
        """A value :meth:`remember` stored under (kind, key), or None."""
        try:
            return json.loads(self._memo_path(kind, key).read_text())["value"]
        except (OSError, ValueError, KeyError):
            return None

    def remember(self, kind: str, key: str, value) -> None:
        """Store a JSON value computed from content ``key`` identifies."""
        path = self._memo_path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_bytes_atomically(path, json.dumps({"key": key, "value": value}).encode())


def fill_cache(cache: EventCache, hdus, data: bytes | None, layout: Layout) -> None:
    """Store what cutouts need of an open event file (done at import):
    its events and headers, the IRF HDUs it holds, and the IRF HDUs of
    separate files not cached yet.  An entry of the same content (sha256)
    that is complete already is kept as it is."""
    if cache.complete(layout):
        return
    table = EventTable.from_hdulist(hdus, layout, data)
    raw = {"primary": raw_header(hdus[0], data),
           "events": raw_header(hdus[layout.events_hdu], data),
           "gti": None if layout.gti_hdu is None else raw_header(hdus[layout.gti_hdu], data)}
    own = {}
    for ref in layout.irfs:
        if os.path.abspath(ref.path) in layout.irf_stamps:
            if not cache.has_irf_piece(layout, ref):
                cache.store_irf_piece(layout, ref, read_irf_piece(ref))
        else:
            own[ref.hdu.strip().upper()] = hdu_piece(hdus[ref.hdu], data)
    cache.store(table, raw, own)


def read_irf_piece(ref) -> bytes:
    """The FITS piece of an IRF HDU read from its file.

    Raises
    ------
    EventsError
        If the file cannot be read or lacks the HDU.
    """
    path = Path(ref.path)
    try:
        hdus, data, _ = open_fits(path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise EventsError(f"{path.name}: cannot read the IRF file ({exc})") from None
    with hdus:
        try:
            hdu = hdus[ref.hdu]
        except KeyError:
            raise EventsError(f"{path.name}: no HDU {ref.hdu!r} ({ref.hdu_type})") from None
        return hdu_piece(hdu, data)
