"""The study grid (model × momentum range × protocol) and the tables and figures of the PID notebook."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.pid import constants as C
from hepnb.pid import study as P
from hepnb.pid.models import FSEAttention
from hepnb.pid.selection import FEATURES, select
from hepnb.pid.sweep import run_grid

__all__ = ["SEED_REPORTED", "confidence_bins", "data_like_summary", "efficiency_purity", "gating_by_mode",
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
TREES = ("random_forest", "xgboost")


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
    x = raw.astype(np.float64).copy()
    has_tof = raw[:, FEATURES.index("has_tof")] > 0
    if data.protocol == "corrected":
        x[np.ix_(~has_tof, P._TOF_COLS)] = np.nan
        x[np.ix_(raw[:, FEATURES.index("bayes_available")] == 0, P._BAYES_COLS)] = np.nan
    scaled = (x - data.mean) / data.std
    scaled = np.nan_to_num(scaled, nan=0.0) if data.protocol == "corrected" else scaled
    mode = (raw[:, FEATURES.index("has_tpc")] > 0).astype(np.int32) + 2 * has_tof.astype(np.int32)
    return {"x": scaled.astype(np.float32), "mask": P._masks(raw, data.protocol), "mode": mode, "raw": raw}


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
