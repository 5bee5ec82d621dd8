"""Bayesian PID: the seed extractor's probabilities, the seed's two-tier baseline, ALICE-style combined Bayes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from hepnb.pid.constants import SEED_BAYES_PRIORS, SPECIES, TOF_TAIL_SLOPE_SIGMA
from hepnb.pid.selection import FEATURES, GROUPS

__all__ = ["alice_bayes", "seed_bayes_accuracy", "seed_bayes_probabilities"]

_BAYES_COLS = list(GROUPS["bayes"])
_HAS_TOF = FEATURES.index("has_tof")


def seed_bayes_probabilities(nsigma_tpc: NDArray[np.float64], nsigma_tof: NDArray[np.float64],
                             has_tof: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The seed extractor's "Bayesian" probabilities: prior × exp(−½(nσ_TPC² + nσ_TOF²)), priors
    1 : 0.2 : 0.1 : 0.05, normalised; all four are 0 without TOF (its −999 sentinels underflow)."""
    priors = np.asarray(SEED_BAYES_PRIORS)
    chi2 = nsigma_tpc**2 + nsigma_tof**2
    like = priors * np.exp(-0.5 * (chi2 - chi2.min(axis=1, keepdims=True)))
    prob = like / like.sum(axis=1, keepdims=True)
    return np.where(has_tof[:, None], prob, 0.0)


def seed_bayes_accuracy(raw: NDArray[np.float32], y: NDArray[np.int64]) -> dict[str, float]:
    """The seed's two-tier Bayes baseline: argmax of the extractor's probabilities on the real-Bayes subset
    (TPC+TOF) and on all tracks (where the all-zero rows give argmax 0 = pion).

    Parameters
    ----------
    raw
        The 22 raw features (N, 22), as :func:`hepnb.pid.selection.features` gives.
    y
        Class indices (N,).
    """
    bayes = raw[:, _BAYES_COLS]
    real = bayes.sum(axis=1) > 0
    pred = bayes.argmax(axis=1)
    return {"real_bayes_subset": float(np.mean(pred[real] == y[real])) if real.any() else float("nan"),
            "all_tracks": float(np.mean(pred == y)), "real_bayes_fraction": float(real.mean())}


def alice_bayes(table_raw: NDArray[np.float32], *, n_iter: int = 4, pt_edges: Sequence[float] = (0, 0.5, 1, 2, 3, 100)
                ) -> NDArray[np.float64]:
    """ALICE-style combined Bayesian PID: TPC × TOF likelihoods, pT-dependent priors found iteratively.

    TPC: exp(−nσ²/2), flat beyond 5σ (mismatch); TOF (when present): Gaussian core with an exponential
    tail beyond 0.9σ. Priors start flat and are re-estimated from the posteriors in pT bins.

    Parameters
    ----------
    table_raw
        The 22 raw features (N, 22).
    n_iter
        Prior iterations.
    pt_edges
        pT bins (GeV/c) of the priors.

    Returns
    -------
    numpy.ndarray
        Posterior probabilities (N, 4) in :data:`hepnb.pid.constants.SPECIES` order.
    """
    pt = table_raw[:, FEATURES.index("pt")]
    ns_tpc = table_raw[:, [FEATURES.index(f"tpc_nsigma_{s}") for s in SPECIES]].astype(np.float64)
    ns_tof = table_raw[:, [FEATURES.index(f"tof_nsigma_{s}") for s in SPECIES]].astype(np.float64)
    has_tof = table_raw[:, _HAS_TOF] > 0
    ns_tof = np.where(has_tof[:, None], ns_tof, 0.0)  # −999 sentinels would overflow the tail term
    like = np.where(np.abs(ns_tpc) < 5, np.exp(-0.5 * ns_tpc**2), 0.25)
    tail = TOF_TAIL_SLOPE_SIGMA
    tof_like = np.where(ns_tof < tail, np.exp(-0.5 * ns_tof**2), np.exp(-(ns_tof - 0.5 * tail) * tail))
    like = like * np.where(has_tof[:, None], tof_like, 1.0)
    bins = np.clip(np.digitize(pt, pt_edges) - 1, 0, len(pt_edges) - 2)
    priors = np.full((len(pt_edges) - 1, 4), 0.25)
    for _ in range(n_iter):
        post = like * priors[bins]
        post /= np.maximum(post.sum(axis=1, keepdims=True), 1e-300)
        for b in range(len(pt_edges) - 1):
            sel = bins == b
            if sel.any():
                priors[b] = post[sel].mean(axis=0) + 1e-6
    post = like * priors[bins]
    return post / np.maximum(post.sum(axis=1, keepdims=True), 1e-300)
