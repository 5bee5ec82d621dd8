"""The simple baselines every table shows beside the models: what a physicist would do without machine learning.

- ``all_pions``: the majority class for every track.
- ``nsigma_cuts``: |nσ_TPC| < 3, and √(nσ_TPC² + nσ_TOF²) < 3 where TOF exists; among the passing hypotheses the
  smallest (combined) |nσ| wins; a track passing none stays unidentified and counts as wrong.
- ``original_bayes``: argmax of the original extractor's probabilities (all zero without TOF, so "pion").
- ``o2_bayes``: O2Physics' ``pidBayes`` as implemented (:func:`hepnb.pid.bayes.o2_pid_bayes`).
- ``alice_bayes``: the ALICE method of the paper (:func:`hepnb.pid.bayes.alice_bayes`), priors iterated on the
  sample itself, with pure-Gaussian likelihoods.
- ``alice_bayes_mismatch``: the same with ALICE's TOF response (:func:`hepnb.pid.bayes.alice_bayes_mismatch`):
  an exponential tail beyond 0.9σ and a 2 % mismatch term whose time density is the sample's own distribution of
  1/β over its matched tracks.

The hypotheses' expected resolutions, which the two likelihood methods need, come from the detector model
(:mod:`hepnb.pid.detector`) at each track's p, η and cluster count, as O2's response objects give them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from hepnb.pid.bayes import alice_bayes, alice_bayes_mismatch, o2_pid_bayes
from hepnb.pid.constants import MASS_GEV, SPECIES
from hepnb.pid.detector import event_time_resolution_ps, tof_expected_sigma_ps, tof_track_length_cm, tpc_expected_sigma
from hepnb.pid.tof_likelihood import mismatch_density_per_ps

__all__ = ["BASELINES", "Baseline", "baseline_predictions", "hypothesis_sigmas", "mismatch_density",
           "nsigma_cut_prediction"]

BASELINES = ("all_pions", "nsigma_cuts", "original_bayes", "o2_bayes", "alice_bayes", "alice_bayes_mismatch")
#: Event-time resolution assumed by the likelihoods (the simulation's, for 1000 tracks per event).
_SIGMA_TEV_PS = event_time_resolution_ps(300.0)


class Baseline(NamedTuple):
    """A baseline's answer: the predicted class per track (−1: unidentified) and, where it has them, probabilities."""

    pred: NDArray[np.int64]
    prob: NDArray[np.float64] | None


def _stack(table: Mapping[str, NDArray], prefix: str) -> NDArray[np.float64]:
    return np.stack([np.asarray(table[f"{prefix}_{s}"], dtype=np.float64) for s in SPECIES], axis=1)


def hypothesis_sigmas(table: Mapping[str, NDArray]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Expected TPC dE/dx resolution (a.u.) and TOF time resolution (ps) of every hypothesis (N, 4)."""
    p = np.asarray(table["p"], dtype=np.float64)
    ncl = np.asarray(table["tpc_nclusters"], dtype=np.float64)
    length = tof_track_length_cm(np.asarray(table["eta"], dtype=np.float64))
    tpc = np.stack([tpc_expected_sigma(p, MASS_GEV[s], ncl) for s in SPECIES], axis=1)
    tof = np.stack([tof_expected_sigma_ps(p, MASS_GEV[s], length, event_time_ps=_SIGMA_TEV_PS) for s in SPECIES],
                   axis=1)
    return tpc, tof


def mismatch_density(table: Mapping[str, NDArray]) -> NDArray[np.float64]:
    """Density (per ps) of a wrong TOF hit's time at each track's measured time, from the table's own matched
    tracks' 1/β (:func:`hepnb.pid.tof_likelihood.mismatch_density_per_ps`); 0 where a track has no TOF, and
    everywhere when fewer than two tracks have one."""
    has_tof = np.asarray(table["has_tof"]).astype(bool)
    beta = np.asarray(table["tof_beta"], dtype=np.float64)
    usable = has_tof & np.isfinite(beta) & (beta > 0)
    out = np.zeros(len(has_tof))
    if usable.sum() < 2:
        return out
    length = tof_track_length_cm(np.asarray(table["eta"], dtype=np.float64))
    out[usable] = mismatch_density_per_ps(1.0 / beta[usable], length[usable], 1.0 / beta[usable])
    return out


def nsigma_cut_prediction(nsigma_tpc: NDArray[np.float64], nsigma_tof: NDArray[np.float64],
                          has_tof: NDArray[np.bool_], cut: float = 3.0) -> NDArray[np.int64]:
    """Class of the passing hypothesis with the smallest |nσ| (combined in quadrature with TOF where it exists);
    −1 where none passes."""
    combined = np.where(has_tof[:, None], np.hypot(nsigma_tpc, np.where(has_tof[:, None], nsigma_tof, 0.0)),
                        np.abs(nsigma_tpc))
    passing = combined < cut
    best = np.where(passing, combined, np.inf).argmin(axis=1)
    return np.where(passing.any(axis=1), best, -1).astype(np.int64)


def baseline_predictions(table: Mapping[str, NDArray]) -> dict[str, Baseline]:
    """Every baseline of :data:`BASELINES` on a table of tracks (the extractor's columns; no labels used).

    ``alice_bayes`` iterates its priors on these tracks, so pass the whole sample the priors should describe.
    """
    n = len(np.asarray(table["pt"]))
    ns_tpc, ns_tof = _stack(table, "tpc_nsigma"), _stack(table, "tof_nsigma")
    has_tof = np.asarray(table["has_tof"]).astype(bool)
    sigma_tpc, sigma_tof = hypothesis_sigmas(table)
    extractor_prob = _stack(table, "bayes_prob")
    o2 = o2_pid_bayes(ns_tpc, ns_tof, sigma_tof, has_tof)
    pt = np.asarray(table["pt"], dtype=np.float64)
    alice = alice_bayes(ns_tpc, sigma_tpc, ns_tof, sigma_tof, has_tof, pt)
    mismatch = alice_bayes_mismatch(ns_tpc, sigma_tpc, ns_tof, sigma_tof, has_tof, pt, mismatch_density(table))
    return {
        "all_pions": Baseline(np.zeros(n, dtype=np.int64), None),
        "nsigma_cuts": Baseline(nsigma_cut_prediction(ns_tpc, ns_tof, has_tof), None),
        "original_bayes": Baseline(extractor_prob.argmax(axis=1), extractor_prob),
        "o2_bayes": Baseline(o2.argmax(axis=1), o2),
        "alice_bayes": Baseline(alice.argmax(axis=1), alice),
        "alice_bayes_mismatch": Baseline(mismatch.argmax(axis=1), mismatch),
    }
