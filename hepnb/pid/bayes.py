"""Bayesian PID three ways: the original extractor's probabilities, O2's ``pidBayes`` as implemented, and the ALICE
method of the paper (arXiv:1602.01392) — with a pure-Gaussian TOF likelihood, or with ALICE's TOF tail and
mismatch terms. Facts in reference/pid.md §3.

Every function takes the four hypotheses in :data:`hepnb.pid.constants.SPECIES` order as the last axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.pid.constants import O2_BAYES_N_SPECIES, ORIGINAL_BAYES_PRIORS, TOF_TAIL_SLOPE_SIGMA
from hepnb.pid.tof_likelihood import tof_likelihood_per_ps

__all__ = [
    "PRIOR_PT_EDGES_GEV",
    "alice_bayes",
    "alice_bayes_mismatch",
    "extractor_bayes_columns",
    "extractor_bayes_probabilities",
    "iterated_prior_posteriors",
    "o2_pid_bayes",
    "original_bayes_accuracy",
]

F = NDArray[np.float64]
#: pT bins (GeV/c) of the ALICE method's iterated priors.
PRIOR_PT_EDGES_GEV: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 100.0)


def extractor_bayes_columns(nsigma_tpc: Sequence[Any], nsigma_tof: Sequence[Any]) -> list[Any]:
    """The original extractor's four "Bayesian" probabilities, column by column (numpy or lazy dask-awkward arrays).

    ``PIDFeatureExtractor::computeBayesianPID`` in float32: L_i = exp(−½(nσ_TPC,i² + nσ_TOF,i²)) with a finite
    TOF term (NaN counts as 0), times the priors 1 : 0.2 : 0.1 : 0.05, normalised, and all four 0 when the sum
    is 0 — which the −999 sentinels of a missing TOF cause (exp(−½·999²) = 0 for every hypothesis), so
    "Bayes available" means TPC and TOF.
    """
    terms = []
    for tpc, tof, prior in zip(nsigma_tpc, nsigma_tof, ORIGINAL_BAYES_PRIORS, strict=True):
        tpc32, tof32 = _float32(tpc), _finite_or_zero(_float32(tof))
        chi2 = tpc32 * tpc32 + tof32 * tof32
        terms.append(np.exp(np.float32(-0.5) * chi2) * np.float32(prior))
    total = terms[0] + terms[1] + terms[2] + terms[3]
    safe = total + (total <= 0)  # 1 where the sum is 0, so 0/1 = 0 as the extractor writes
    return [t / safe for t in terms]


def _float32(values: Any) -> Any:
    """The values as float32 (numpy, or lazy dask-awkward through ``dask_awkward.values_astype``)."""
    if hasattr(values, "__dask_graph__"):
        import dask_awkward as dak

        return dak.values_astype(values, np.float32)
    return np.asarray(values).astype(np.float32)


def _finite_or_zero(values: Any) -> Any:
    """The value where finite, else 0 (numpy, or lazy dask-awkward through ``dask_awkward.where``)."""
    if hasattr(values, "__dask_graph__"):
        import dask_awkward as dak

        return dak.where(np.isfinite(values), values, np.float32(0.0))
    return np.where(np.isfinite(values), values, np.float32(0.0))


def extractor_bayes_probabilities(nsigma_tpc: NDArray, nsigma_tof: NDArray) -> NDArray[np.float32]:
    """:func:`extractor_bayes_columns` for (N, 4) arrays; returns (N, 4) float32."""
    cols = extractor_bayes_columns([nsigma_tpc[:, i] for i in range(4)], [nsigma_tof[:, i] for i in range(4)])
    return np.stack(cols, axis=1).astype(np.float32)


def original_bayes_accuracy(bayes_prob: NDArray, y: NDArray[np.int64]) -> dict[str, float]:
    """The original's two-tier Bayes baseline: argmax of the extractor's probabilities on the real-Bayes subset
    (sum > 0, i.e. TPC+TOF) and on all tracks (where the all-zero rows give argmax 0 = pion).

    Parameters
    ----------
    bayes_prob
        The extractor's probabilities (N, 4).
    y
        Class indices (N,).
    """
    real = bayes_prob.sum(axis=1) > 0
    pred = bayes_prob.argmax(axis=1)
    return {"real_bayes_subset": float(np.mean(pred[real] == y[real])) if real.any() else float("nan"),
            "all_tracks": float(np.mean(pred == y)), "real_bayes_fraction": float(real.mean())}


def o2_pid_bayes(nsigma_tpc: F, nsigma_tof: F, sigma_tof_ps: F, has_tof: NDArray[np.bool_]) -> F:
    """Posteriors of O2Physics' ``pidBayes`` (``Common/TableProducer/PID/pidBayes.cxx``) as implemented.

    TPC: exp(−½ nσ²) within 5σ (no 1/σ: the 1/σ is commented out there as a "BUG fix"); beyond 5σ the hypothesis
    is a mismatch with the flat likelihood 1/N, N = 9 O2 species, so a hypothesis far away outranks the true one
    beyond 2.1σ. TOF (when matched): with ν = nσ + 0.07/0.9 (the code's mean correction for the tail),
    exp(−½ ν²)/σ below the tail parameter 0.9, exp(−(ν − 0.45)·0.9)/σ above; no mismatch term (0 by default).
    Flat priors; product of the detectors; normalised over π, K, p, e; a zero sum gives flat probabilities.
    (The code on O2Physics' master has the TOF separation and σ commented out, leaving nσ = 0.078 and σ = 0, a
    division by zero; the separation and σ are restored here as its comments intend.)

    Parameters
    ----------
    nsigma_tpc, nsigma_tof
        nσ per hypothesis (N, 4); ``nsigma_tof`` is ignored where ``has_tof`` is false.
    sigma_tof_ps
        Expected TOF resolution per hypothesis (N, 4), ps.
    has_tof
        TOF matched (N,).
    """
    tpc = np.where(np.abs(nsigma_tpc) <= 5.0, np.exp(-0.5 * nsigma_tpc**2), 1.0 / O2_BAYES_N_SPECIES)
    tail = TOF_TAIL_SLOPE_SIGMA
    nu = np.where(has_tof[:, None], nsigma_tof, 0.0) + 0.07 / tail
    tof = np.where(nu < tail, np.exp(-0.5 * nu**2), np.exp(-(nu - 0.5 * tail) * tail)) / sigma_tof_ps
    like = tpc * np.where(has_tof[:, None], tof, 1.0)
    total = like.sum(axis=1, keepdims=True)
    return np.where(total > 0, like / np.where(total > 0, total, 1.0), 0.25)


def alice_bayes(nsigma_tpc: F, sigma_tpc: F, nsigma_tof: F, sigma_tof_ps: F, has_tof: NDArray[np.bool_],
                pt_gev: F, *, n_iter: int = 5, pt_edges: Sequence[float] = PRIOR_PT_EDGES_GEV) -> F:
    """The ALICE Bayesian method of the paper (EPJ Plus 131 (2016) 168): Gaussian likelihoods with their 1/σ,
    combined as a product over detectors, with pT-dependent priors found iteratively from the sample itself.

    P(H_i | S) ∝ C_i(pT) Π_det exp(−nσ_i²/2)/σ_i. The priors start flat; each iteration re-fills the species'
    pT spectra weighted by the posteriors and normalises them per pT bin. No labels are used.

    Parameters
    ----------
    nsigma_tpc, sigma_tpc
        TPC nσ and expected dE/dx resolution per hypothesis (N, 4).
    nsigma_tof, sigma_tof_ps
        TOF nσ and expected time resolution per hypothesis (N, 4); used where ``has_tof``.
    has_tof
        TOF matched (N,).
    pt_gev
        Transverse momentum (N,), for the priors' bins.
    n_iter
        Prior iterations.
    pt_edges
        pT bins (GeV/c) of the priors.

    Returns
    -------
    numpy.ndarray
        Posterior probabilities (N, 4).
    """
    log_like = -0.5 * nsigma_tpc**2 - np.log(sigma_tpc)
    log_tof = -0.5 * np.where(has_tof[:, None], nsigma_tof, 0.0) ** 2 - np.log(sigma_tof_ps)
    log_like = log_like + np.where(has_tof[:, None], log_tof, 0.0)
    return iterated_prior_posteriors(log_like, pt_gev, n_iter=n_iter, pt_edges=pt_edges)


def alice_bayes_mismatch(nsigma_tpc: F, sigma_tpc: F, nsigma_tof: F, sigma_tof_ps: F, has_tof: NDArray[np.bool_],
                         pt_gev: F, mismatch_per_ps: F, *, n_iter: int = 5) -> F:
    """:func:`alice_bayes` with ALICE's TOF response: the exponential tail and the mismatch probability.

    The TOF likelihood is :func:`hepnb.pid.tof_likelihood.tof_likelihood_per_ps` — the core continued by an
    exponential beyond 0.9σ (O2 ``fTOFtail``), mixed with the mismatch density of the time at the simulation's
    mismatch fraction (2 %) — instead of a pure Gaussian; TPC, the product and the iterated priors are as in
    :func:`alice_bayes`. A time no hypothesis explains then leaves the decision to the TPC rather than to the
    least-distant TOF hypothesis.

    Parameters
    ----------
    nsigma_tpc, sigma_tpc
        TPC nσ and expected dE/dx resolution per hypothesis (N, 4).
    nsigma_tof, sigma_tof_ps
        TOF nσ and expected time resolution (ps) per hypothesis (N, 4); used where ``has_tof``.
    has_tof
        TOF matched (N,).
    pt_gev
        Transverse momentum (N,), for the priors' bins.
    mismatch_per_ps
        Density (per ps) of a wrong hit's time at each track's time (N,)
        (:func:`hepnb.pid.tof_likelihood.mismatch_density_per_ps`); ignored where there is no TOF.
    n_iter
        Prior iterations.

    Returns
    -------
    numpy.ndarray
        Posterior probabilities (N, 4).
    """
    tof = tof_likelihood_per_ps(np.where(has_tof[:, None], nsigma_tof, 0.0), sigma_tof_ps,
                                np.where(has_tof, mismatch_per_ps, 0.0))
    log_tof = np.log(np.maximum(tof, np.finfo(np.float64).tiny))  # a zero density everywhere stays finite
    log_like = -0.5 * nsigma_tpc**2 - np.log(sigma_tpc) + np.where(has_tof[:, None], log_tof, 0.0)
    return iterated_prior_posteriors(log_like, pt_gev, n_iter=n_iter)


def iterated_prior_posteriors(log_like: F, pt_gev: F, *, n_iter: int = 5,
                              pt_edges: Sequence[float] = PRIOR_PT_EDGES_GEV) -> F:
    """Posteriors with pT-dependent priors found iteratively from the sample (the ALICE method's priors).

    The priors start flat; each iteration re-fills the species' pT spectra weighted by the posteriors and
    normalises them per pT bin. No labels are used.

    Parameters
    ----------
    log_like
        Log-likelihood of every hypothesis (N, 4), up to a constant per track.
    pt_gev
        Transverse momentum (N,).
    n_iter
        Prior iterations.
    pt_edges
        pT bins (GeV/c) of the priors.
    """
    like = np.exp(log_like - log_like.max(axis=1, keepdims=True))
    bins = np.clip(np.digitize(pt_gev, pt_edges) - 1, 0, len(pt_edges) - 2)
    priors = np.full((len(pt_edges) - 1, 4), 0.25)

    def posterior() -> F:
        post = like * priors[bins]
        return post / post.sum(axis=1, keepdims=True)

    for _ in range(n_iter):
        post = posterior()
        for b in range(len(pt_edges) - 1):
            sel = bins == b
            if sel.any():
                priors[b] = post[sel].mean(axis=0) + 1e-9
    return posterior()
