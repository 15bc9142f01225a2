"""Checks on a request's raw text, made before anything parses it.

DaCHS hands a service its request parameters as ``{name: [text, ...]}``.
Before DaCHS turns any of them into numbers or geometries, hess_dr's
services check here what no parser should have to cope with: control
characters (NUL included), values longer than any real request needs, and
repeated parameters (``ID=a&ID=b`` would otherwise be resolved to one of
them).  A failure is a :class:`hess_dr.soda.SodaError` (HTTP 400) whose
message quotes at most a short excerpt of the offending text.
"""
from __future__ import annotations

import re
from typing import Mapping

from .soda import MAX_VALUE_LENGTH, SodaError

#: Longest accepted parameter name.
MAX_NAME_LENGTH = 64
#: How much of a bad value an error message quotes.
EXCERPT_LENGTH = 40

# C0 and C1 control characters; TAB, LF and CR are white space in DALI
# lists (POLYGON values sent by POST may be folded), everything else is not.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def excerpt(text, length: int = EXCERPT_LENGTH) -> str:
    """A short, printable quotation of ``text`` for an error message."""
    text = str(text)
    shown = text if len(text) <= length else text[:length] + "..."
    return repr(shown)


def check_raw_parameters(raw: Mapping[str, object], *, single: frozenset | set = frozenset()
                         ) -> None:
    """Refuse a request whose raw text no service of hess_dr should parse.

    Parameters
    ----------
    raw : mapping
        Parameter name -> list of values (strings, or objects standing for
        undecodable bytes), as DaCHS's ``request.strargs``.
    single : set of str
        Upper-case names that may be given once only (e.g. ``{"ID"}``).

    Raises
    ------
    hess_dr.soda.SodaError
        For a control character in a name or value, an over-long name or
        value, a value that is not text, or a repeated parameter of
        ``single``.
    """
    for name, values in raw.items():
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or _CONTROL.search(name):
            raise SodaError(f"bad parameter name {excerpt(name)}")
        if not isinstance(values, (list, tuple)):
            values = [values]
        present = [value for value in values if value not in (None, "")]
        for value in present:
            if not isinstance(value, str):
                raise SodaError("value is not valid UTF-8 text", name.upper())
            if len(value) > MAX_VALUE_LENGTH:
                raise SodaError(f"value too long ({len(value)} characters, at most"
                                f" {MAX_VALUE_LENGTH})", name.upper())
            if _CONTROL.search(value):
                raise SodaError(f"control character in {excerpt(value)}", name.upper())
        if name.upper() in single and len(present) > 1:
            raise SodaError(f"given {len(present)} times; give it once", name.upper(),
                            code="MultiValuedParamNotSupported")


_NON_NEGATIVE_INTEGER = re.compile(r"[0-9]{1,9}\Z")


def _single(raw: Mapping[str, object], name: str) -> str | None:
    """The value of a DALI parameter (any case), or None when absent."""
    for key, values in raw.items():
        if isinstance(key, str) and key.upper() == name:
            if not isinstance(values, (list, tuple)):
                values = [values]
            present = [v for v in values if v not in (None, "")]
            if len(present) > 1:
                raise SodaError(f"given {len(present)} times; give it once", name,
                                code="MultiValuedParamNotSupported")
            return present[0] if present else None
    return None


def check_dali_parameters(raw: Mapping[str, object], response_formats) -> None:
    """Check the DALI parameters MAXREC, VERB and RESPONSEFORMAT.

    hess_dr's services read these themselves (DaCHS's generic parser would
    answer a bad value with a plain-text error, not a DALI document).

    Parameters
    ----------
    raw : mapping
        The request's raw parameters (see :func:`check_raw_parameters`).
    response_formats : collection of str, optional
        The RESPONSEFORMAT values (lower case) the endpoint can honour; an
        absent RESPONSEFORMAT is always fine.  None: not checked here.

    Raises
    ------
    hess_dr.soda.SodaError
        For a MAXREC or VERB that is not a small non-negative integer, or a
        RESPONSEFORMAT the endpoint cannot produce.
    """
    for name in ("MAXREC", "VERB"):
        value = _single(raw, name)
        if value is not None and not _NON_NEGATIVE_INTEGER.match(value.strip()):
            raise SodaError(f"{excerpt(value)} is not a non-negative integer", name)
    value = _single(raw, "RESPONSEFORMAT")
    if (value is not None and response_formats is not None
            and value.strip().lower() not in response_formats):
        raise SodaError(f"{excerpt(value)} is not supported here; use one of"
                        f" {', '.join(sorted(f for f in response_formats if f))}",
                        "RESPONSEFORMAT")
