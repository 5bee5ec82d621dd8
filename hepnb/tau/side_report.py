"""Tables and sentences of the tau page's side studies (model size, label efficiency), from
:class:`hepnb.tau.side_studies.SideStudy`.

Every number is the mean over seeds (or draws of the labelled jets) with the test bootstrap ⊕ the seed spread;
every sentence that compares two settings goes through the verdict gate (:func:`hepnb.book.verdict.paired_verdict`:
both converged, paired difference beyond twice the test ⊕ seed uncertainty), so a row that did not converge is
named as such and a difference within the scatter is called consistent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hepnb.book.numbers import format_count, format_with_uncertainty
from hepnb.book.verdict import Contender, paired_verdict
from hepnb.tau.side_studies import AUC_KEY, SideStudy

__all__ = ["combined_error", "comparison_sentence", "label_efficiency_table", "pretraining_text", "size_table",
           "sizes_text", "study_json"]


def combined_error(row: Mapping[str, Any], key: str) -> float | None:
    """The uncertainty of a row's mean: its test bootstrap spread ⊕ its seed spread (those that are finite)."""
    parts = [row.get("errors", {}).get(key, float("nan")), row.get("seed_std", {}).get(key, float("nan"))]
    finite = [p for p in parts if p is not None and math.isfinite(p)]
    return math.hypot(*finite) if finite else None


def _value(row: Mapping[str, Any], key: str) -> str:
    value = row["summary"].get(key, float("nan"))
    return format_with_uncertainty(value, combined_error(row, key)) if math.isfinite(value) else "–"


def _converged(row: Mapping[str, Any]) -> str:
    records = row.get("convergence", [])
    n_ok = sum(bool(r["converged"]) for r in records)
    return f"{n_ok} of {len(records)}"


def comparison_sentence(comparison: Mapping[str, Any]) -> str:
    """The gated sentence of one recorded comparison (:class:`~hepnb.tau.side_studies.SideStudy`)."""
    a = Contender(comparison["a"], comparison["a_converged"])
    b = Contender(comparison["b"], comparison["b_converged"])
    return paired_verdict(comparison["quantity"], a, b, {"value": comparison["value"], "std": comparison["std"]},
                          lower_is_better=False, seed_std=comparison["seed_std"]).sentence


def size_table(study: SideStudy) -> Any:
    """Model size: parameters, training jets, the epochs the seeds ran (each stops once converged) and the most
    optimiser steps, how many seeds converged, and the mean summary numbers (test ⊕ seed)."""
    import pandas as pd

    out = {}
    for r in study.rows:
        out[r["name"]] = {"parameters": format_count(r["parameters"]), "training jets": r["n_train"],
                          "epochs": _epochs_run(r), "steps (most)": r["steps"], "seeds converged": _converged(r),
                          **{k: _value(r, k) for k in r["summary"]}}
    return pd.DataFrame(out).T


def label_efficiency_table(study: SideStudy) -> Any:
    """The label-efficiency curve: per label fraction and start, the labelled jets of each draw, the draws and
    how many converged, the peak learning rate chosen on validation, and the mean summary numbers."""
    import pandas as pd

    out = {}
    for r in study.rows:
        out[(r["fraction"], r["init"])] = {"labelled jets": r["n_train"][0], "draws converged": _converged(r),
                                           "learning rate": f"{r['lr']:g}", **{k: _value(r, k) for k in r["summary"]}}
    table = pd.DataFrame(out).T
    table.index.names = ["label fraction", "start"]
    return table


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _steps(row: Mapping[str, Any]) -> str:
    return (f"{format_count(row['n_train'])} jets for at most {row['epochs']} epoch{'s' if row['epochs'] != 1 else ''} "
            f"({format_count(row['steps'])} optimiser steps), stopping once converged")


def _epochs_run(row: Mapping[str, Any]) -> str:
    """The epochs each seed ran (a training stops once converged), as ``a–b`` when they differ."""
    runs = row.get("epochs_run") or [row["epochs"]]
    return f"{min(runs)}" if min(runs) == max(runs) else f"{min(runs)}–{max(runs)}"


def sizes_text(study: SideStudy) -> str:
    """The model-size sentences: the tau-ID AUC of the smallest and largest ParT and their gated comparison
    ("" without rows)."""
    rows = study.rows
    if not rows:
        return ""
    first, last = rows[0], rows[-1]
    seeds = f"{last['n_seeds']} seed{'s' if last['n_seeds'] != 1 else ''} each"
    if len(rows) == 1:
        return (f"{last['name']} ({format_count(last['parameters'])} parameters), trained on {_steps(last)}, "
                f"{seeds}, reaches a tau-ID AUC of {_value(last, AUC_KEY)}.")
    text = (f"From {first['name']} ({format_count(first['parameters'])} parameters) to {last['name']} "
            f"({format_count(last['parameters'])}), each trained on {_steps(last)}, {seeds}, the mean tau-ID AUC "
            f"goes from {_value(first, AUC_KEY)} to {_value(last, AUC_KEY)} (test ⊕ seed spread).")
    return " ".join([text, *(_upper_first(comparison_sentence(c)) + "." for c in study.comparisons)])


def pretraining_text(study: SideStudy) -> str:
    """The label-efficiency sentences: per labelled fraction below one, the tau-ID AUC fine-tuned and from scratch
    with their learning rates chosen on validation, and the gated comparison ("" without rows)."""
    rows = study.rows
    if not rows:
        return ""
    by_key = {(r["fraction"], r["init"]): r for r in rows}
    parts = []
    for c in study.comparisons:
        f = c["fraction"]
        pre, scratch = by_key[(f, "pre-trained")], by_key[(f, "scratch")]
        draws = len(scratch["n_train"])
        jets = format_count(scratch["n_train"][0])
        what = (f"With a fraction {f:g} of the labels ({jets} labelled jets"
                + (f", {draws} draws" if draws > 1 else "") + ")")
        parts.append(f"{what}, the tau-ID AUC is {_value(pre, AUC_KEY)} fine-tuned (peak learning rate "
                     f"{pre['lr']:g}) and {_value(scratch, AUC_KEY)} from scratch ({scratch['lr']:g}), both learning "
                     f"rates chosen on the validation loss: {comparison_sentence(c)}.")
    return " ".join(parts)


def _rows_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "history"} for r in rows]


def study_json(study: SideStudy) -> dict[str, Any]:
    """The study for ``results.json``: its rows (without the learning curves) and its comparisons with their
    sentences."""
    return {"rows": _rows_json(study.rows),
            "comparisons": [{**c, "sentence": comparison_sentence(c)} for c in study.comparisons]}
