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

from hepnb.metrics import efficiency_at_purity, purity_efficiency_curve
from hepnb.pid.constants import SPECIES

__all__ = ["PURITIES", "contamination_vs_p", "roc_points", "threshold_scan", "working_points"]

#: Target purities of the working points.
PURITIES: tuple[float, ...] = (0.90, 0.95)


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
    each species (the selected species' own fraction is the purity; the others are its contamination)."""
    selected = prob[:, species] >= threshold if np.isfinite(threshold) else np.zeros(len(y), dtype=bool)
    out: dict[str, Any] = {"edges_gev": list(edges), "efficiency": [], "n_selected": [],
                           **{f"fraction_{s}": [] for s in SPECIES}}
    for lo, hi in itertools.pairwise(edges):
        b = (p_gev >= lo) & (p_gev < hi)
        truth, sel = b & (y == species), b & selected
        out["efficiency"].append(float(np.mean(selected[truth])) if truth.any() else float("nan"))
        out["n_selected"].append(int(sel.sum()))
        for j, s in enumerate(SPECIES):
            out[f"fraction_{s}"].append(float(np.mean(y[sel] == j)) if sel.any() else float("nan"))
    return out


def roc_points(prob: NDArray[np.float64], y: NDArray[np.int64], species: int) -> dict[str, list[float]]:
    """The full purity-efficiency curve of ``P(species)`` (for a figure), thinned to at most 200 points."""
    truth = y == species
    if not 0 < truth.sum() < len(truth):
        return {"efficiency": [], "purity": []}
    _, eff, pur = purity_efficiency_curve(truth, prob[:, species])
    keep = np.unique(np.linspace(0, len(eff) - 1, min(200, len(eff))).astype(int))
    return {"efficiency": eff[keep].tolist(), "purity": pur[keep].tolist()}
