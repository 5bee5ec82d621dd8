"""A study's headline numbers: how it stores them in ``metrics["headline"]`` (:func:`headline_entry`), which
of them a page shows (:func:`landing_numbers`) and how one is written (:func:`headline_text`) — in the landing
table (:mod:`hepnb.book.site`) and in each study page's key-results box (:mod:`hepnb.book.pages`)."""

from __future__ import annotations

import math
from typing import Any

from hepnb.book.escape import page_text

__all__ = ["headline_entry", "headline_text", "landing_numbers"]


_MAX_HEADLINE = 6


def headline_entry(label: str, value: float | str, *, uncertainty: float | None = None,
                   unit: str = "") -> dict[str, Any]:
    """One headline number as a study stores it in ``metrics["headline"]``, for the landing table.

    Parameters
    ----------
    label
        What a reader sees, in words: ``"JAX steps/s, scan vs loop"``, ``"test accuracy, XGBoost"``.
    value
        The number (or a short word, e.g. the best model's name).
    uncertainty
        Its standard uncertainty, if any (rounded with the value by the PDG rule on the page).
    unit
        Written after the number: ``"%"``, ``"µm"``, ``"1/s"``.

    Examples
    --------
    >>> headline_entry("median position error, best model", 12.3, uncertainty=0.4, unit="µm")
    {'label': 'median position error, best model', 'value': 12.3, 'uncertainty': 0.4, 'unit': 'µm'}
    """
    if not label.strip():
        msg = "a headline entry needs a label a reader understands, found an empty one"
        raise ValueError(msg)
    entry: dict[str, Any] = {"label": label, "value": value}
    if uncertainty is not None:
        entry["uncertainty"] = uncertainty
    if unit:
        entry["unit"] = unit
    return entry


def headline_text(key: str, item: Any) -> str:
    """One headline number in words: ``label: **value ± uncertainty unit**`` (escaped, PDG-rounded), from a
    :func:`headline_entry` record or a bare value under a raw key."""
    from hepnb.book.numbers import format_with_uncertainty, split_unit, table_cell

    if isinstance(item, dict) and "value" in item:
        label, unit = str(item.get("label") or split_unit(key)[0]), page_text(item.get("unit", ""))
        value, err = item["value"], item.get("uncertainty")
    else:
        (label, unit), value, err = split_unit(key), item, None
    if isinstance(value, float) and not math.isfinite(value):  # said as such, never printed raw nor dropped
        return f"{page_text(label)}: **not a finite number** (the run gave {page_text(value)})"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(err, (int, float)) and err > 0:
        number = format_with_uncertainty(float(value), float(err), unit=unit)
    else:
        shown = table_cell(value) if isinstance(value, int | float) else page_text(value)
        number = shown + (f" {unit}" if unit else "")
    return f"{page_text(label)}: **{number}**"


def landing_numbers(record: dict[str, Any]) -> dict[str, Any]:
    """The few numbers of a study's results record that the landing page shows.

    ``metrics["headline"]`` if the study defines it (values, or :func:`headline_entry` records); otherwise
    the first scalar metrics.
    """
    metrics = record.get("metrics", {})
    chosen = metrics.get("headline")
    if isinstance(chosen, dict) and chosen:
        return dict(list(chosen.items())[:_MAX_HEADLINE])
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
    return dict(list(flat.items())[:_MAX_HEADLINE])
