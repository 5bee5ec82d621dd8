"""Numbers as a page writes them: a value with its uncertainty (PDG rounding) and counts.

Every table and sentence of the book formats its numbers here, so that one rule decides how many digits a
number keeps: the digits its uncertainty supports (:func:`format_with_uncertainty`), and integers as integers
with thin-space thousands separators (:func:`format_count`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["TABLE_DIGITS", "UNIT_SUFFIXES", "column_header", "format_count", "format_with_uncertainty", "page_table",
           "spaced_unit", "split_unit", "table_cell"]


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


#: Significant digits of a number in a table cell without an uncertainty (:func:`table_cell`).
TABLE_DIGITS = 4


def table_cell(value: object, digits: int = TABLE_DIGITS) -> str:
    """A table cell's number as a page writes it: an integer-valued number as an integer (thin-space groups),
    others with ``digits`` significant digits and no padding zeros (``5177.8`` → ``5178``, ``0.5`` → ``0.5``),
    ``10^n`` for tiny or huge ones, the minus sign as −; anything else as its text. The pages' default for
    tables (:class:`hepnb.book.notebook.Page` sets it for pandas).

    Examples
    --------
    >>> table_cell(408.0), table_cell(5177.8), table_cell(0.5), table_cell(-0.0012345), table_cell(2.5e-7)
    ('408', '5178', '0.5', '−0.001234', '2.5·10⁻⁷')
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    x = float(value)
    if not math.isfinite(x):
        return {math.inf: "∞", -math.inf: "−∞"}.get(x, "–")
    if x.is_integer() and abs(x) < 1e15:
        return format_count(int(x)).replace("-", "−")
    if abs(x) >= 10 ** digits and abs(x) < 1e15:
        return format_count(round(x)).replace("-", "−")
    text = f"{x:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}·10{str(int(exponent)).translate(_SUPERSCRIPT)}".replace("-", "−")
    return text.replace("-", "−")


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


#: Unit suffixes of key names (``pos_median_um``) and their symbols.
UNIT_SUFFIXES: Mapping[str, str] = {
    "um": "µm", "mm": "mm", "cm": "cm", "m": "m", "nm": "nm", "s": "s", "ms": "ms", "us": "µs", "ns": "ns",
    "gev": "GeV", "mev": "MeV", "tev": "TeV", "mrad": "mrad", "rad": "rad", "deg": "°", "pct": "%",
    "percent": "%", "per_s": "1/s", "ps": "ps", "t": "T", "bytes": "bytes", "mb": "MB", "gb": "GB",
}


def split_unit(key: str) -> tuple[str, str]:
    """A label and a unit from a raw key: ``scan_steps_per_s`` → ``("scan steps", "1/s")``; a key without a unit
    suffix gives its words and ``""``."""
    lower = key.lower()
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if lower.endswith("_" + suffix):
            return key[: -len(suffix) - 1].replace("_", " "), UNIT_SUFFIXES[suffix]
    return key.replace("_", " "), ""


def column_header(key: object) -> str:
    """A table header from a raw key, with its unit: ``pos_median_um`` → ``pos median [µm]``; other headers as
    they are."""
    if not isinstance(key, str) or " " in key:
        return str(key)
    label, unit = split_unit(key)
    return f"{label} [{unit}]" if unit else label


def page_table(frame: Any) -> Any:
    """A :class:`pandas.DataFrame` as a page shows it: headers with units (:func:`column_header`), numbers by the
    book's rule (:func:`table_cell`)."""
    return frame.rename(columns=column_header).style.format(table_cell)
