"""What results.json holds, in words: the markdown section at the end of every study page, from the file itself.

A study notebook's last cell::

    from hepnb.book import results_text

    display(Markdown(results_text.results_markdown(results_file, heading="")))
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hepnb.book.escape import code_span, page_text
from hepnb.book.numbers import split_unit

__all__ = ["results_markdown"]

def _unit(key: str) -> str:
    return split_unit(key)[1]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "list"
    return "object"


def _signature(value: Any) -> Any:
    """A hashable shape of a JSON value, used to find siblings that share a structure."""
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, _signature(v)) for k, v in value.items())))
    if isinstance(value, list):
        inner = {_signature(v) for v in value}
        return ("list", tuple(sorted(inner, key=repr)) if len(inner) <= 1 else "mixed")
    kind = _kind(value)
    return "number" if kind in ("int", "float") else kind


def _list_text(value: list[Any]) -> str:
    if not value:
        return "empty list"
    kinds = {_kind(v) for v in value}
    depth, inner = 1, value
    while all(isinstance(v, list) for v in inner) and inner and all(inner):
        depth += 1
        inner = [x for v in inner for x in v]
        kinds = {_kind(v) for v in inner}
    shape = "×".join(str(n) for n in _shape(value)) if depth > 1 else str(len(value))
    kinds_text = "numbers" if kinds <= {"int", "float", "null"} else "/".join(sorted(kinds))
    return f"list of {shape} {kinds_text}"


def _shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list) and value:
        shape.append(len(value))
        value = value[0]
    return shape


def _keys_text(keys: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(code_span(k) for k in keys[:limit])
    return shown + (f", … ({len(keys)} in all)" if len(keys) > limit else "")


def _describe(key: str, value: Any, depth: int, max_depth: int, lines: list[str], indent: str) -> None:
    unit = _unit(key)
    unit_text = f" [{unit}]" if unit else ""
    if isinstance(value, dict) and isinstance(value.get("label"), str) and "value" in value:
        # a headline entry (hepnb.book.headline.headline_entry): its label says what it is
        extra = [k for k in ("uncertainty", "unit") if k in value]
        entry_unit = f" [{page_text(value['unit'])}]" if value.get("unit") else unit_text
        with_text = f", with {' and '.join(extra)}" if extra else ""
        label = page_text(value["label"])
        lines.append(f"{indent}- {code_span(key)}{entry_unit}: “{label}”, {_kind(value['value'])}{with_text}")
        return
    if isinstance(value, dict):
        keys = list(value)
        if not keys:
            lines.append(f"{indent}- {code_span(key)}: empty object")
            return
        children = list(value.values())
        shared = len(keys) > 2 and len({_signature(v) for v in children}) == 1 and isinstance(children[0], dict)
        if shared:
            lines.append(f"{indent}- {code_span(key)}: object keyed by {_keys_text(keys)}; each:")
            if depth < max_depth:
                for sub_key, sub_value in children[0].items():
                    _describe(sub_key, sub_value, depth + 1, max_depth, lines, indent + "  ")
            else:
                lines.append(f"{indent}  - object with {_keys_text(list(children[0]))}")
            return
        if depth >= max_depth:
            lines.append(f"{indent}- {code_span(key)}: object with {_keys_text(keys)}")
            return
        lines.append(f"{indent}- {code_span(key)}: object with {len(keys)} key{'s' if len(keys) != 1 else ''}")
        for sub_key, sub_value in value.items():
            _describe(sub_key, sub_value, depth + 1, max_depth, lines, indent + "  ")
        return
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            fields = list(dict.fromkeys(k for v in value for k in v))
            lines.append(f"{indent}- {code_span(key)}: list of {len(value)} records with {_keys_text(fields, 12)}")
            return
        lines.append(f"{indent}- {code_span(key)}{unit_text}: {_list_text(value)}")
        return
    lines.append(f"{indent}- {code_span(key)}{unit_text}: {_kind(value)}")


def results_markdown(results: str | os.PathLike[str] | Mapping[str, Any], *, max_depth: int = 3,
                     sections: Sequence[str] = ("params", "timings_s", "metrics"),
                     heading: str = "### What `results.json` holds") -> str:
    """Markdown that says what a results file holds, from the file itself.

    Every key of ``params``, ``timings_s`` and ``metrics`` is listed with its type (object, list with its
    shape, number, string); siblings that share one structure (the same record per model or per range)
    are written once, "keyed by …; each: …"; units come from the key names (``pos_median_um`` → µm).

    Parameters
    ----------
    results
        Path of a ``results.json``, or the loaded record.
    max_depth
        Nesting depth written out in full; deeper objects are summarised by their keys.
    sections
        The top-level sections described in detail; the provenance fields are named in one line.
    heading
        The section heading (empty for none).

    Returns
    -------
    str
        Markdown, for ``IPython.display.Markdown`` in the notebook's last cell. No local path appears in it:
        the file is named as ``results/<profile>/<study>/results.json``.
    """
    if isinstance(results, (str, os.PathLike)):
        record = json.loads(Path(results).read_text(encoding="utf-8"))
    else:
        record = dict(results)
    missing = [k for k in ("study", "profile") if k not in record]
    if missing:
        msg = f"not a results record: the keys {missing} are missing (found {sorted(record)[:10]})"
        raise ValueError(msg)
    where = code_span(f"results/{record['profile']}/{record['study']}/results.json")
    provenance = [k for k in record if k not in sections]
    lines = [heading, ""] if heading else []
    lines += [f"{where} holds the provenance of the run ({_keys_text(provenance, 12)}) and:", ""]
    for section in sections:
        if section in record:
            _describe(section, record[section], 1, max_depth, lines, "")
    return "\n".join(lines) + "\n"
