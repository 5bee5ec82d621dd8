"""Working points: per-species probability thresholds for a target purity, and what they select.

A physicist selects kaons (say) with P(K) ≥ t, choosing t for a purity. Here t is chosen on the validation split
(the highest efficiency whose validation purity reaches the target) and the efficiency and purity are measured on
the common test set, so the test purity shows how well the choice carries over. The contamination of the
selection by each other species is measured in momentum bins.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.metrics import binomial_interval, efficiency_at_purity, purity_efficiency_curve
from hepnb.pid.constants import SPECIES

__all__ = ["MIN_SELECTED", "PURITIES", "contamination_vs_p", "roc_points", "threshold_scan", "working_points"]

#: Target purities of the working points.
PURITIES: tuple[float, ...] = (0.90, 0.95)
#: The fewest selected tracks in a momentum bin for a figure to draw its fractions (fewer: the bin is shaded).
MIN_SELECTED = 10


def threshold_scan(prob: NDArray[np.float64], y: NDArray[np.int64], species: int, n_points: int = 50
                   ) -> dict[str, list[float]]:
    """Efficiency and purity of ``P(species) >= t`` for ``n_points`` thresholds evenly spaced in [0, 1)."""
    thresholds = np.linspace(0.0, 1.0, n_points, endpoint=False)
    truth = y == species
    eff, pur = [], []
    for t in thresholds:
        sel = prob[:, species] >= t
        eff.append(float(np.mean(sel[truth])) if truth.any() else float("nan"))
        pur.append(float(np.mean(truth[sel])) if sel.any() else float("nan"))
    return {"threshold": thresholds.tolist(), "efficiency": eff, "purity": pur}


def _measure(prob: NDArray[np.float64], y: NDArray[np.int64], species: int, threshold: float) -> tuple[float, float]:
    truth, sel = y == species, prob[:, species] >= threshold
    eff = float(np.mean(sel[truth])) if truth.any() else float("nan")
    pur = float(np.mean(truth[sel])) if sel.any() else float("nan")
    return eff, pur


def working_points(prob_val: NDArray[np.float64], y_val: NDArray[np.int64], prob_test: NDArray[np.float64],
                   y_test: NDArray[np.int64], purities: Sequence[float] = PURITIES) -> dict[str, dict[str, Any]]:
    """Per species and target purity: the threshold chosen on validation, and the test efficiency and purity.

    Returns
    -------
    dict
        ``{species: {"purity_90": {"threshold", "efficiency", "purity", "reached"}, ...}}``; ``reached`` is false
        (and the efficiency 0) where no threshold reaches the purity on validation.
    """
    out: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(SPECIES):
        out[s] = {}
        for target in purities:
            key = f"purity_{round(100 * target)}"
            truth = y_val == i
            if not 0 < truth.sum() < len(truth):
                out[s][key] = {"threshold": float("nan"), "efficiency": float("nan"), "purity": float("nan"),
                               "reached": False}
                continue
            _, threshold = efficiency_at_purity(truth, prob_val[:, i], target)
            reached = np.isfinite(threshold)
            eff, pur = _measure(prob_test, y_test, i, threshold) if reached else (0.0, float("nan"))
            out[s][key] = {"threshold": threshold if reached else float("nan"), "efficiency": eff, "purity": pur,
                           "reached": bool(reached)}
    return out


def contamination_vs_p(prob: NDArray[np.float64], y: NDArray[np.int64], p_gev: NDArray[np.float64], species: int,
                       threshold: float, edges: Sequence[float]) -> dict[str, Any]:
    """In momentum bins: the efficiency of ``P(species) >= threshold`` and the fraction of its selection made of
    each species (the selected species' own fraction is the purity; the others are its contamination), with the
    counts they rest on and their 68 % Clopper–Pearson intervals (:func:`hepnb.metrics.binomial_interval`).

    Returns
    -------
    dict
        ``edges_gev``; per bin ``n_true`` (tracks of ``species``), ``n_selected``, ``efficiency`` with
        ``efficiency_lo``/``_hi``, and per species ``n_<s>`` (selected tracks of that species) and
        ``fraction_<s>`` with ``fraction_<s>_lo``/``_hi`` (NaN where the bin selects nothing); ``shown``: whether
        the bin selects at least :data:`MIN_SELECTED` tracks, the fewest a figure draws.
    """
    selected = prob[:, species] >= threshold if np.isfinite(threshold) else np.zeros(len(y), dtype=bool)
    out: dict[str, Any] = {"edges_gev": list(edges), "n_true": [], "n_selected": [], "shown": [],
                           **{f"{key}{suffix}": [] for key in ("efficiency", *(f"fraction_{s}" for s in SPECIES))
                              for suffix in ("", "_lo", "_hi")}, **{f"n_{s}": [] for s in SPECIES}}

    def add(key: str, k: int, n: int) -> None:
        lo, hi = binomial_interval(k, n)
        out[key].append(k / n if n else float("nan"))
        out[f"{key}_lo"].append(lo)
        out[f"{key}_hi"].append(hi)

    for lo, hi in itertools.pairwise(edges):
        b = (p_gev >= lo) & (p_gev < hi)
        truth, sel = b & (y == species), b & selected
        n_true, n_sel = int(truth.sum()), int(sel.sum())
        out["n_true"].append(n_true)
        out["n_selected"].append(n_sel)
        out["shown"].append(n_sel >= MIN_SELECTED)
        add("efficiency", int(np.sum(selected[truth])), n_true)
        for j, s in enumerate(SPECIES):
            k = int(np.sum(y[sel] == j))
            out[f"n_{s}"].append(k)
            add(f"fraction_{s}", k, n_sel)
    return out


def roc_points(prob: NDArray[np.float64], y: NDArray[np.int64], species: int) -> dict[str, list[float]]:
    """The full purity-efficiency curve of ``P(species)`` (for a figure), thinned to at most 200 points."""
    truth = y == species
    if not 0 < truth.sum() < len(truth):
        return {"efficiency": [], "purity": []}
    _, eff, pur = purity_efficiency_curve(truth, prob[:, species])
    keep = np.unique(np.linspace(0, len(eff) - 1, min(200, len(eff))).astype(int))
    return {"efficiency": eff[keep].tolist(), "purity": pur[keep].tolist()}
