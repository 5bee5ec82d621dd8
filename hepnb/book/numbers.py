"""Numbers as a page writes them: a value with its uncertainty (PDG rounding) and counts.

Every table and sentence of the book formats its numbers here, so that one rule decides how many digits a
number keeps: the digits its uncertainty supports (:func:`format_with_uncertainty`), and integers as integers
with thin-space thousands separators (:func:`format_count`).
"""

from __future__ import annotations

import math

__all__ = ["format_count", "format_with_uncertainty", "spaced_unit"]


def spaced_unit(unit: str) -> str:
    """A unit as written after a number: one space before it (SI style: ``1.2 %``, ``35 µm``); ``""`` for none."""
    return f" {unit.lstrip()}" if unit.strip() else ""


def format_with_uncertainty(value: float | None, uncertainty: float | None = None, *, unit: str = "",
                            digits: int = 4) -> str:
    """``value ± uncertainty`` rounded by the PDG rule.

    The three leading digits of the uncertainty decide: 100–354 keep two significant digits, 355–949 one,
    950–999 round up to 1000 and keep two. The value is rounded to the same decimal place. Without a positive,
    finite uncertainty the value alone keeps ``digits`` significant digits; a value that is missing or not
    finite is written "–".

    Examples
    --------
    >>> format_with_uncertainty(0.91234, 0.00123)
    '0.9123 ± 0.0012'
    >>> format_with_uncertainty(12.3456, 0.5, unit="µm")
    '12.3 ± 0.5 µm'
    >>> format_with_uncertainty(0.123456)
    '0.1235'
    """
    if value is None or not math.isfinite(float(value)):
        return "–"
    value = float(value)
    if uncertainty is None or not math.isfinite(float(uncertainty)) or float(uncertainty) <= 0:
        return f"{value:.{digits}g}{spaced_unit(unit)}".replace("-", "−")
    uncertainty = float(uncertainty)
    exponent = math.floor(math.log10(uncertainty))
    leading = round(uncertainty / 10 ** (exponent - 2))
    if leading >= 1000:  # rounding pushed it to the next decade
        exponent, leading = exponent + 1, leading // 10
    if leading <= 354:
        keep = 2
    elif leading <= 949:
        keep = 1
    else:
        keep, exponent = 2, exponent + 1
    decimals = max(keep - 1 - exponent, 0)
    step = 10.0 ** (exponent - keep + 1)
    err = math.ceil(round(uncertainty / step, 6)) * step if leading > 949 else round(uncertainty / step) * step
    value = round(value / step) * step
    return f"{value:.{decimals}f} ± {err:.{decimals}f}{spaced_unit(unit)}".replace("-", "−")


def format_count(n: int) -> str:
    """An integer with thin-space thousands separators (SI style).

    Examples
    --------
    >>> format_count(1234567)
    '1\u202f234\u202f567'
    """
    return f"{int(n):,}".replace(",", "\u202f")
