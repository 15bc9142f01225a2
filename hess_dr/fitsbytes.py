"""FITS HDUs written as bytes, with the CHECKSUM/DATASUM cards of the FITS
checksum convention, without astropy's per-block Python loop.

A FITS file is its HDUs one after the other, each a header and a data
part padded to 2880-byte blocks; hess_dr's cutouts and bundles are built
from such pieces (the selected event rows, cached IRF HDUs) by
concatenation.  Every piece carries valid checksums (astropy verifies
them with ``fits.open(..., checksum=True)``).
"""
from __future__ import annotations

import datetime

import numpy as np
from astropy.io import fits

BLOCK = 2880
_EXCLUDE = frozenset((0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40,
                      0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60))


def padded(data: bytes, fill: bytes = b"\0") -> bytes:
    """``data`` padded with ``fill`` to a whole number of FITS blocks."""
    rest = -len(data) % BLOCK
    return data + fill * rest if rest else data


def ones_complement_sum(data, start: int = 0) -> int:
    """The 32-bit ones' complement sum of big-endian words (FITS checksum),
    continuing from ``start``; ``data`` is a multiple of 4 bytes long."""
    words = np.frombuffer(data, dtype=">u4")
    total = int(start) + int(words.sum(dtype=np.uint64))
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def encode_checksum(value: int) -> str:
    """The 16-character ASCII encoding of a checksum (FITS checksum
    convention, section A.7.2; the encoding astropy writes)."""
    asc = [0] * 16
    for i in range(4):
        byte = (value >> ((3 - i) * 8)) & 0xFF
        quotient = byte // 4 + ord("0")
        remainder = byte % 4
        ch = [quotient + remainder, quotient, quotient, quotient]
        check = True
        while check:
            check = False
            for j in (0, 2):
                while ch[j] in _EXCLUDE or ch[j + 1] in _EXCLUDE:
                    ch[j] += 1
                    ch[j + 1] -= 1
                    check = True
        for j in range(4):
            asc[4 * j + i] = ch[j]
    return bytes(asc[(i + 15) % 16] for i in range(16)).decode("ascii")


def _timestamp() -> str:
    return datetime.datetime.now().isoformat()[:19]


_END_CARD = b"END" + b" " * 77
_SKIPPED = (b"CHECKSUM", b"DATASUM ")


def header_cards(text) -> list[bytes]:
    """The 80-character cards of a header (text or bytes) before its END."""
    if isinstance(text, str):
        text = text.encode("ascii")
    cards = []
    for start in range(0, len(text) - 79, 80):
        card = text[start:start + 80]
        if card[:8] == b"END     ":
            break
        cards.append(card)
    return cards


def hdu_bytes(header, data=b"", *, checksum: bool = True) -> bytes:
    """One HDU as bytes: ``header`` (an astropy Header, or a header's text
    as a FITS file holds it) and ``data`` padded to whole blocks, with new
    DATASUM and CHECKSUM cards when ``checksum`` (any old ones dropped).

    ``data`` is the HDU's data part as it is written (big-endian rows of a
    binary table, its heap after them); the header's structural keywords
    must describe it.
    """
    text = header.tostring() if isinstance(header, fits.Header) else header
    cards = [card for card in header_cards(text) if card[:8] not in _SKIPPED]
    data = padded(bytes(data))
    if not checksum:
        return padded(b"".join(cards) + _END_CARD, b" ") + data
    datasum = ones_complement_sum(data)
    when = _timestamp()
    at = 80 * len(cards)
    cards.append(fits.Card("CHECKSUM", "0" * 16,
                           f"HDU checksum updated {when}").image.encode("ascii"))
    cards.append(fits.Card("DATASUM", str(datasum),
                           f"data unit checksum updated {when}").image.encode("ascii"))
    head = bytearray(padded(b"".join(cards) + _END_CARD, b" "))
    value = head.index(b"'0000000000000000'", at) + 1
    total = ones_complement_sum(bytes(head), datasum)
    head[value:value + 16] = encode_checksum(~total & 0xFFFFFFFF).encode("ascii")
    return bytes(head) + data


def split_hdu(piece: bytes) -> tuple[fits.Header, bytes]:
    """(header, data part) of one HDU's bytes (as :func:`hdu_bytes` wrote them)."""
    end = 0
    while True:
        block = piece[end:end + BLOCK]
        end += BLOCK
        if len(block) < BLOCK:
            raise ValueError("no END card in the HDU")
        cards = [block[i:i + 8] for i in range(0, BLOCK, 80)]
        if b"END     " in cards:
            break
    return fits.Header.fromstring(piece[:end].decode("ascii")), piece[end:]
