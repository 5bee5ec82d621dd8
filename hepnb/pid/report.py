"""The study grid (model × momentum range × protocol) and the tables and figures of the PID notebook."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from hepnb.pid import constants as C
from hepnb.pid import study as P
from hepnb.pid.models import FSEAttention
from hepnb.pid.selection import FEATURES, select
from hepnb.pid.sweep import run_grid

__all__ = ["SEED_REPORTED", "confidence_bins", "data_like_summary", "efficiency_purity", "gap_by_fix", "gating_by_mode",
           "headline_rows", "permutation_importance", "run_grid", "scale_like", "selected"]

#: The seed's README (January 2026): test accuracy (%) per range and model, for its own data.
SEED_REPORTED: dict[str, dict[str, float]] = {
    "full": {"simple_nn": 66.7, "dnn": 65.2, "fse_phase0": 67.9, "fse_phase1": 68.4, "random_forest": 77.5,
             "xgboost": 91.4},
    "0-1": {"simple_nn": 56.8, "dnn": 63.4, "fse_phase0": 60.5, "fse_phase1": 58.8, "random_forest": 71.3,
            "xgboost": 87.2},
    "1-3": {"simple_nn": 63.5, "dnn": 70.5, "fse_phase0": 51.5, "fse_phase1": 62.2, "random_forest": 75.9,
            "xgboost": 83.2},
}


def headline_rows(grid: Mapping[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (range, protocol, model): accuracy ± bootstrap std, macro AUC, the seed's number."""
    rows = []
    for (rng_name, protocol), cell in grid.items():
        for name, m in cell["metrics"].items():
            rows.append({"range": rng_name, "protocol": protocol, "model": name,
                         "accuracy_pct": 100 * m["accuracy"]["value"], "accuracy_std_pct": 100 * m["accuracy"]["std"],
                         "macro_auc": m["macro_auc"]["value"],
                         "seed_reported_accuracy_pct": SEED_REPORTED.get(rng_name, {}).get(name, float("nan")),
                         "train_time_s": cell["timing"][name]["train_time_s"]})
    return rows


def gap_by_fix(accuracy_pct: pd.DataFrame, networks: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The XGBoost − best-network accuracy gap per (range, protocol), and the points each fix closes.

    Parameters
    ----------
    accuracy_pct
        Test accuracy (%) indexed by (range, protocol), one column per model (``xgboost`` among them).
    networks
        The network columns to take the best of.

    Returns
    -------
    gap
        Per (range, protocol): the best network, its accuracy, XGBoost's, and the gap in points.
    closed
        Per range, one column per protocol after the first (in :data:`hepnb.pid.study.PROTOCOLS` order):
        the gap of the previous protocol minus this one's, i.e. the points closed by the fix it adds (by
        all the fixes between the two when intermediate protocols were not run).
    """
    nets = [n for n in networks if n in accuracy_pct.columns]
    best = accuracy_pct[nets].max(axis=1)
    gap = pd.DataFrame({"best network": accuracy_pct[nets].idxmax(axis=1), "best network acc": best,
                        "xgboost acc": accuracy_pct["xgboost"], "gap (points)": accuracy_pct["xgboost"] - best})
    points = gap["gap (points)"].unstack("protocol")
    order = [p for p in P.PROTOCOLS if p in points.columns]
    steps = -points[order].diff(axis=1).iloc[:, 1:]
    names = list(P.PROTOCOLS)
    steps.columns = [" + ".join(P.PROTOCOLS[q].fix for q in names[names.index(prev) + 1:names.index(cur) + 1])
                     + f" ({cur})" for prev, cur in itertools.pairwise(order)]
    return gap, steps


def efficiency_purity(prob: NDArray, y: NDArray, p_gev: NDArray, edges: Sequence[float]) -> dict[str, Any]:
    """Per species and momentum bin: efficiency (recall) and purity (precision) of argmax selection."""
    pred = prob.argmax(axis=1)
    out: dict[str, Any] = {"edges_gev": list(edges)}
    for i, s in enumerate(C.SPECIES):
        eff, pur = [], []
        for lo, hi in itertools.pairwise(edges):
            b = (p_gev >= lo) & (p_gev < hi)
            true_i, sel_i = b & (y == i), b & (pred == i)
            eff.append(float((pred[true_i] == i).mean()) if true_i.any() else float("nan"))
            pur.append(float((y[sel_i] == i).mean()) if sel_i.any() else float("nan"))
        out[s] = {"efficiency": eff, "purity": pur}
    return out


def gating_by_mode(model: FSEAttention, data: Mapping[str, NDArray]) -> dict[str, dict[str, float]]:
    """Mean FSE gate value of each detector group, per detector mode (1 = TPC only, 3 = TPC+TOF)."""
    import jax.numpy as jnp

    model.eval()
    _, gates = model.group_gates(jnp.asarray(data["x"]), jnp.asarray(data["mask"]))
    gates = np.asarray(gates)
    names = ("tpc", "tof", "bayes", "kinematics")
    return {f"mode_{m}": {g: float(gates[data["mode"] == m, j].mean()) for j, g in enumerate(names)}
            for m in np.unique(data["mode"])}


def confidence_bins(prob: NDArray) -> dict[str, float]:
    """Fractions of tracks by max probability: > 0.99, 0.95–0.99, 0.90–0.95, 0.80–0.90, < 0.80."""
    top = prob.max(axis=1)
    edges = [(0.99, 1.01), (0.95, 0.99), (0.90, 0.95), (0.80, 0.90), (0.0, 0.80)]
    names = [">0.99", "0.95-0.99", "0.90-0.95", "0.80-0.90", "<0.80"]
    return {n: float(np.mean((top > lo) & (top <= hi))) for n, (lo, hi) in zip(names, edges, strict=True)}


def data_like_summary(prob: NDArray, table: Mapping[str, NDArray], pt_edges: Sequence[float]) -> dict[str, Any]:
    """What the seed's real-data section shows, without labels: fractions, confidence, ordering checks,
    agreement with the extractor's Bayes probabilities, fractions per pT bin."""
    pred = prob.argmax(axis=1)
    beta, dedx, pt = (np.asarray(table[k]) for k in ("tof_beta", "tpc_signal", "pt"))
    bayes = np.stack([np.asarray(table[f"bayes_prob_{s}"]) for s in C.SPECIES], axis=1)
    real = bayes.sum(axis=1) > 0
    out: dict[str, Any] = {
        "fractions": {s: float(np.mean(pred == i)) for i, s in enumerate(C.SPECIES)},
        "confidence_bins": confidence_bins(prob),
        "median_tof_beta": {s: float(np.median(beta[(pred == i) & (beta > 0)])) if np.any((pred == i) & (beta > 0))
                            else float("nan") for i, s in enumerate(C.SPECIES)},
        "median_tpc_dedx": {s: float(np.median(dedx[pred == i])) if np.any(pred == i) else float("nan")
                            for i, s in enumerate(C.SPECIES)},
        "ml_bayes_agreement": {s: float(np.mean(bayes[real & (pred == i)].argmax(1) == i))
                               if np.any(real & (pred == i)) else float("nan") for i, s in enumerate(C.SPECIES)},
        "fractions_by_pt": {},
    }
    for lo, hi in itertools.pairwise(pt_edges):
        b = (pt >= lo) & (pt < hi)
        out["fractions_by_pt"][f"{lo}-{hi}"] = {s: float(np.mean(pred[b] == i)) if b.any() else float("nan")
                                                 for i, s in enumerate(C.SPECIES)}
    return out


def scale_like(data: P.Prepared, raw: NDArray[np.float32]) -> dict[str, NDArray]:
    """Apply a prepared protocol's scaling and tokenisation to new tracks (e.g. the data-like sample)."""
    return P.scale_inputs(raw, data.protocol, data.mean, data.std)


def selected(table: Mapping[str, NDArray], selection: str) -> dict[str, NDArray]:
    """The tracks passing a selection."""
    keep = select(table, selection)
    return {k: np.asarray(v)[keep] for k, v in table.items()}


def permutation_importance(model: Any, part: Mapping[str, NDArray], *, seed: int = 0) -> dict[str, float]:
    """Drop in test accuracy when one feature column is shuffled (the network's permutation importance)."""
    rng = np.random.default_rng(seed)
    base = float(np.mean(P.predict_network(model, part).argmax(1) == part["y"]))
    out = {}
    for j, name in enumerate(FEATURES):
        shuffled = dict(part)
        x = part["x"].copy()
        x[:, j] = rng.permutation(x[:, j])
        shuffled["x"] = x
        out[name] = base - float(np.mean(P.predict_network(model, shuffled).argmax(1) == part["y"]))
    return out
