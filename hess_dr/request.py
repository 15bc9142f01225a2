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
