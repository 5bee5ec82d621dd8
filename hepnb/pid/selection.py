"""Track selections, momentum ranges, labels and the 22 training features of the original study."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.pid.constants import MISSING, PDG, SPECIES

__all__ = ["FEATURES", "GROUPS", "RANGES", "RANGE_LABELS", "SELECTIONS", "SELECTION_COLUMNS", "blank_tof", "feature_columns", "features",
           "labels", "momentum_range", "select", "selected", "stack_features"]

#: The original's 22 training features, in order.
FEATURES: tuple[str, ...] = (
    "pt", "eta", "phi", "tpc_signal", "tpc_nsigma_pi", "tpc_nsigma_ka", "tpc_nsigma_pr", "tpc_nsigma_el",
    "tof_beta", "tof_nsigma_pi", "tof_nsigma_ka", "tof_nsigma_pr", "tof_nsigma_el",
    "bayes_prob_pi", "bayes_prob_ka", "bayes_prob_pr", "bayes_prob_el", "bayes_available",
    "dca_xy", "dca_z", "has_tpc", "has_tof",
)
#: Feature groups (indices into FEATURES): the FSE models' tokens and the per-group presence masks.
GROUPS: dict[str, tuple[int, ...]] = {
    "tpc": tuple(FEATURES.index(k) for k in ("tpc_signal", "tpc_nsigma_pi", "tpc_nsigma_ka", "tpc_nsigma_pr",
                                              "tpc_nsigma_el")),
    "tof": tuple(FEATURES.index(k) for k in ("tof_beta", "tof_nsigma_pi", "tof_nsigma_ka", "tof_nsigma_pr",
                                              "tof_nsigma_el")),
    "bayes": tuple(FEATURES.index(k) for k in ("bayes_prob_pi", "bayes_prob_ka", "bayes_prob_pr", "bayes_prob_el")),
    "kinematics": tuple(FEATURES.index(k) for k in ("pt", "eta", "phi", "dca_xy", "dca_z")),
}
#: Momentum ranges in GeV/c, cut on the total momentum p (the original labelled them "pT").
RANGES: dict[str, tuple[float, float]] = {"0-1": (0.0, 1.0), "1-3": (1.0, 3.0), "full": (0.0, np.inf)}
#: The ranges as a page names them.
RANGE_LABELS: dict[str, str] = {"0-1": "0–1 GeV/c", "1-3": "1–3 GeV/c", "full": "the full range"}
SELECTIONS = ("o2", "original")
#: The columns each selection reads beyond the features: the original's extractor does not write ``its_nclusters``,
#: so only the ``o2`` selection needs it.
SELECTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "o2": ("pt", "eta", "dca_xy", "dca_z", "tpc_nclusters", "its_nclusters"),
    "original": ("eta", "dca_xy", "dca_z", "tpc_nclusters", "tpc_chi2"),
}


def _col(table: Mapping[str, Any], name: str) -> Any:
    """A column as a numpy array; lazy Dask collections (dask-awkward from ``uproot.dask``) pass through."""
    value = table[name]
    return value if hasattr(value, "__dask_graph__") else np.asarray(value)


def select(table: Mapping[str, NDArray], which: str = "o2") -> NDArray[np.bool_]:
    """Track-selection mask (also of lazy dask-awkward columns, which give a lazy mask).

    ``o2``: O2Physics global tracks — pT > 0.1 GeV/c, |η| < 0.8, TPC crossed rows ≥ 70, ITS ≥ 3 clusters,
    |DCAxy| < 0.0105 + 0.035/pT^1.1 cm, |DCAz| < 2 cm. ``original``: the original's cuts — TPC χ²/cluster > 0,
    |η| ≤ 0.8, |DCAxy| ≤ 0.105 cm, |DCAz| ≤ 0.12 cm, TPC clusters ≥ 70 (its ITS cut was configured but not
    applied).

    Raises
    ------
    ValueError
        An unknown selection, or a table without a column the selection needs (named, with what to do).
    """
    if which not in SELECTIONS:
        msg = f"unknown selection {which!r}; choose one of {list(SELECTIONS)}"
        raise ValueError(msg)
    missing = [c for c in SELECTION_COLUMNS[which] if c not in table]
    if missing:
        hint = " (the original's extractor does not write it: use the 'original' selection)" if "its_nclusters" in missing else ""
        msg = f"the {which!r} selection needs the column(s) {missing}, which the tracks lack{hint}"
        raise ValueError(msg)
    eta, dxy, dz = _col(table, "eta"), np.abs(_col(table, "dca_xy")), np.abs(_col(table, "dca_z"))
    ncl = _col(table, "tpc_nclusters")
    if which == "o2":
        pt = _col(table, "pt")
        return ((pt > 0.1) & (np.abs(eta) < 0.8) & (ncl >= 70) & (_col(table, "its_nclusters") >= 3)
                & (dxy < 0.0105 + 0.035 / pt**1.1) & (dz < 2.0))
    return (_col(table, "tpc_chi2") > 0) & (np.abs(eta) <= 0.8) & (dxy <= 0.105) & (dz <= 0.12) & (ncl >= 70)


def selected(table: Mapping[str, NDArray], which: str = "o2") -> dict[str, NDArray]:
    """The tracks passing the selection ``which`` (:func:`select`), column by column."""
    keep = select(table, which)
    return {k: np.asarray(v)[keep] for k, v in table.items()}


def momentum_range(table: Mapping[str, NDArray], name: str) -> NDArray[np.bool_]:
    """Mask of the momentum range ``name`` (one of :data:`RANGES`) on total momentum p."""
    if name not in RANGES:
        msg = f"unknown momentum range {name!r}; choose one of {list(RANGES)}"
        raise ValueError(msg)
    lo, hi = RANGES[name]
    p = np.asarray(table["p"])
    return (p >= lo) & (p < hi)


def labels(table: Mapping[str, NDArray]) -> NDArray[np.int64]:
    """Class index 0..3 (π, K, p, e) from ``mc_pdg``; −1 for other particles."""
    pdg = np.abs(np.asarray(table["mc_pdg"]))
    out = np.full(pdg.shape, -1, dtype=np.int64)
    for i, s in enumerate(SPECIES):
        out[pdg == PDG[s]] = i
    return out


def feature_columns(table: Mapping[str, Any]) -> dict[str, Any]:
    """The 22 raw features by name, in order; lazy dask-awkward columns give lazy features."""
    bayes_sum = sum(_col(table, f"bayes_prob_{s}") for s in SPECIES)
    cols = {k: _col(table, k) for k in FEATURES if k != "bayes_available"}
    return {k: bayes_sum > 0 if k == "bayes_available" else cols[k] for k in FEATURES}


def stack_features(columns: Mapping[str, Any]) -> NDArray[np.float32]:
    """The (N, 22) float32 matrix of :func:`feature_columns` (numpy columns)."""
    return np.stack([np.asarray(columns[k], dtype=np.float64) for k in FEATURES], axis=1).astype(np.float32)


def features(table: Mapping[str, NDArray]) -> NDArray[np.float32]:
    """The 22 features (N, 22), raw: missing TOF values stay −999 as the extractor writes them."""
    return stack_features(feature_columns(table))


def blank_tof(table: Mapping[str, NDArray], p_min_gev: float) -> dict[str, NDArray]:
    """The tracks as O2Physics' PIDML reader presents them to a network: without TOF below ``p_min_gev``.

    Below the limit (``defaultModelPLimits``: 0.5 GeV/c for TPC+TOF) the reader sets the TOF inputs to NaN even
    when TOF matched; here such tracks get ``has_tof`` false, the −999 TOF sentinels and the extractor's Bayes
    probabilities of a track without TOF (all 0). ``p_min_gev = 0`` returns the table unchanged (a copy).
    """
    out = {k: np.asarray(v) for k, v in table.items()}
    if p_min_gev <= 0:
        return out
    blank = (np.asarray(table["p"]) < p_min_gev) & np.asarray(table["has_tof"]).astype(bool)
    out["has_tof"] = np.asarray(table["has_tof"]).astype(bool) & ~blank
    for name in ("tof_beta", "tof_mass", *(f"tof_nsigma_{s}" for s in SPECIES)):
        if name in out:
            out[name] = np.where(blank, np.asarray(MISSING, dtype=out[name].dtype), out[name])
    for s in SPECIES:
        out[f"bayes_prob_{s}"] = np.where(blank, np.zeros((), dtype=out[f"bayes_prob_{s}"].dtype),
                                          out[f"bayes_prob_{s}"])
    return out
