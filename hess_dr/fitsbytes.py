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
_COMMENTARY = frozenset(("HISTORY", "COMMENT", ""))
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
    if isinstance(header, Cards):
        cards = [card for card in header._cards if card[:8] not in _SKIPPED]
    else:
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


class Cards:
    """A FITS header as its 80-character cards, edited without astropy's
    Header: the few lookups parse the card asked for, every change makes
    only the new card.  Reads and writes the subset of
    :class:`astropy.io.fits.Header`'s interface that hess_dr's cutouts use
    (``in``, ``get``, ``[]``, ``set``, ``remove``, ``add_history``,
    ``update``, ``copy``, ``tostring``), with the same effects, at a tenth
    of the cost.

    Parameters
    ----------
    text : str or bytes
        A header as a FITS file holds it (cards up to END).
    """

    def __init__(self, text=b""):
        self._cards = [] if not text else header_cards(text)
        self._keys = [self._keyword(card) for card in self._cards]

    @staticmethod
    def _keyword(card: bytes) -> str:
        return card[:8].decode("ascii", "replace").rstrip()

    def _index(self, key: str) -> int | None:
        try:
            return self._keys.index(key.upper())
        except ValueError:
            return None

    def _end(self, index: int) -> int:
        """End of the card at ``index`` with its CONTINUE cards."""
        end = index + 1
        while end < len(self._keys) and self._keys[end] == "CONTINUE":
            end += 1
        return end

    def _replace(self, start: int, stop: int, cards: list) -> None:
        self._cards[start:stop] = cards
        self._keys[start:stop] = [self._keyword(card) for card in cards]

    def __contains__(self, key: str) -> bool:
        return key.upper() in self._keys

    def _card(self, key: str):
        index = self._index(key)
        return None if index is None else fits.Card.fromstring(
            self._cards[index].decode("ascii", "replace"))

    def get(self, key: str, default=None):
        card = self._card(key)
        return default if card is None else card.value

    def __getitem__(self, key: str):
        card = self._card(key)
        if card is None:
            raise KeyError(f"Keyword {key!r} not found.")
        return card.value

    @staticmethod
    def _image(key: str, value, comment) -> list[bytes]:
        image = fits.Card(key, value, comment).image.encode("ascii")
        return [image[i:i + 80] for i in range(0, len(image), 80)]

    def set(self, key: str, value, comment=None, before=None, after=None) -> None:
        """Set a keyword in place (keeping its comment unless given), or add
        it before/after another one (else at the end)."""
        index = self._index(key)
        if index is not None:
            if comment is None:
                comment = fits.Card.fromstring(
                    self._cards[index].decode("ascii", "replace")).comment
            self._replace(index, self._end(index), self._image(key, value, comment))
            return
        new = self._image(key, value, comment or "")
        anchor = self._index(after) if after else self._index(before) if before else None
        if anchor is None:
            # as astropy: after the last card that is not commentary
            at = len(self._keys)
            while at and self._keys[at - 1] in _COMMENTARY:
                at -= 1
        else:
            at = anchor + 1 if after else anchor
        self._replace(at, at, new)

    def __setitem__(self, key: str, value) -> None:
        if isinstance(value, tuple):
            self.set(key, *value)
        else:
            self.set(key, value)

    def update(self, values: dict) -> None:
        for key, value in values.items():
            self[key] = value

    def remove(self, key: str, ignore_missing: bool = False, remove_all: bool = False) -> None:
        key = key.upper()
        positions = [i for i, k in enumerate(self._keys) if k == key]
        if not positions:
            if not ignore_missing:
                raise KeyError(f"Keyword {key!r} not found.")
            return
        for index in reversed(positions if remove_all else positions[:1]):
            self._replace(index, self._end(index), [])

    def add_history(self, text: str) -> None:
        at = len(self._cards)
        self._replace(at, at, self._image("HISTORY", text, None))

    def keywords(self) -> list[str]:
        """Keywords of the cards, in order."""
        return list(self._keys)

    def raw(self):
        """(keyword, card bytes) of every card."""
        return list(zip(self._keys, self._cards))

    def append_raw(self, card: bytes) -> None:
        self._cards.append(card)
        self._keys.append(self._keyword(card))

    def set_raw(self, key: str, cards) -> None:
        """Replace the card(s) of ``key`` by ``cards`` (80 bytes each, a
        card and its CONTINUE cards), or add them as :meth:`set` would."""
        cards = [cards] if isinstance(cards, bytes) else list(cards)
        index = self._index(key)
        if index is None:
            at = len(self._keys)
            while at and self._keys[at - 1] in _COMMENTARY:
                at -= 1
            self._replace(at, at, cards)
        else:
            self._replace(index, self._end(index), cards)

    def copy(self) -> "Cards":
        new = Cards()
        new._cards, new._keys = list(self._cards), list(self._keys)
        return new

    def tostring(self) -> str:
        return padded(b"".join(self._cards) + _END_CARD, b" ").decode("ascii", "replace")

    def to_header(self) -> fits.Header:
        return fits.Header.fromstring(self.tostring())
