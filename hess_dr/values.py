"""Header and table values as plain Python: text stripped, numbers finite."""
from __future__ import annotations

import math


def text(value) -> str | None:
    """Stripped text of a header or table value; None for a missing or blank one."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    value = str(value).strip()
    return value or None


def finite_float(value) -> float | None:
    """A finite float, or None (missing, boolean, not a number, NaN, inf)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
