"""The detector response checked as a physicist checks a calibration: the true hypothesis' nσ core.

For tracks of one known species, the nσ of that species' own hypothesis must be a unit Gaussian in its core:
median ≈ 0 and width ≈ 1, where the width is the robust 1.4826 × MAD of the tracks with |nσ| < 5 (tails and
mismatches beyond 5σ excluded). :func:`nsigma_cores` measures both on samples of a single forced species in
momentum bins, for TPC and TOF.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.pid.constants import SPECIES
from hepnb.pid.data import simulate_tracks

__all__ = ["CORE_BINS_GEV", "nsigma_core", "nsigma_cores"]

#: Momentum bins (GeV/c) of the core checks.
CORE_BINS_GEV: tuple[tuple[float, float], ...] = ((0.3, 0.5), (0.5, 0.8), (0.8, 1.2), (1.2, 2.0), (2.0, 3.0))


def nsigma_core(nsigma: NDArray[np.floating]) -> dict[str, float]:
    """Median and width (1.4826 × MAD) of the |nσ| < 5 core, and how many tracks it holds."""
    values = np.asarray(nsigma, dtype=np.float64)
    core = values[np.abs(values) < 5.0]
    if core.size == 0:
        return {"median": float("nan"), "width": float("nan"), "n": 0}
    median = float(np.median(core))
    return {"median": median, "width": float(1.4826 * np.median(np.abs(core - median))), "n": int(core.size)}


def nsigma_cores(n_per_bin: int, *, seed: int = 0, species: Sequence[str] = SPECIES,
                 bins: Sequence[tuple[float, float]] = CORE_BINS_GEV, max_batches: int = 40) -> list[dict[str, Any]]:
    """The true-hypothesis nσ core for TPC and TOF, per forced species and momentum bin (p uniform in the bin).

    Each (species, bin) is simulated in batches of ``n_per_bin`` tracks until TOF has matched ``n_per_bin``
    tracks too (at most ``max_batches`` batches: low-momentum kaons mostly decay before the TOF).

    Returns
    -------
    list of dict
        One row per (species, bin, detector): ``species``, ``p_lo_gev``, ``p_hi_gev``, ``detector``, ``median``,
        ``width``, ``n`` (TOF: the matched tracks only).
    """
    rows = []
    for i, s in enumerate(species):
        for j, (lo, hi) in enumerate(bins):
            tpc: list[NDArray] = []
            tof: list[NDArray] = []
            for k in range(max_batches):
                table = simulate_tracks(n_per_bin, seed=seed + 10000 * k + 100 * i + j, species=s,
                                        p_range_gev=(lo, hi))
                tpc.append(table[f"tpc_nsigma_{s}"])
                tof.append(table[f"tof_nsigma_{s}"][np.asarray(table["has_tof"]).astype(bool)])
                if sum(len(t) for t in tof) >= n_per_bin:
                    break
            for detector, values in (("TPC", tpc[0]), ("TOF", np.concatenate(tof))):
                rows.append({"species": s, "p_lo_gev": lo, "p_hi_gev": hi, "detector": detector,
                             **nsigma_core(values)})
    return rows
