"""ALICE Bayes with and without ALICE's TOF tail and mismatch terms, compared on each range's common test set.

The two baselines (``alice_bayes``, ``alice_bayes_mismatch`` of :mod:`hepnb.pid.baselines`) differ only in the TOF
likelihood, so every track they disagree on is one where the TOF time sits in a tail or far from every
hypothesis. The comparison is paired: the same test tracks and the same bootstrap resamplings as every other
comparison of the range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.metrics import mean_interval
from hepnb.pid.data import Response, simulate_tracks
from hepnb.pid.evaluate import test_labels
from hepnb.pid.training import Grid

__all__ = ["GAUSSIAN", "WITH_MISMATCH", "bayes_variant_rows", "mismatched_track_ids"]

#: The pure-Gaussian ALICE Bayes and the one with ALICE's TOF tail and mismatch terms (baseline names).
GAUSSIAN, WITH_MISMATCH = "alice_bayes", "alice_bayes_mismatch"


def mismatched_track_ids(n_tracks: int, *, seed: int) -> NDArray[np.int64]:
    """The ``track_id`` of the simulated tracks that carry a wrong TOF hit.

    The sample re-simulated with the same seed and no mismatches holds the same tracks with the same matching
    (:mod:`hepnb.pid.data` draws every random number whatever the response); a matched track whose β differs
    there carries another track's hit.

    Parameters
    ----------
    n_tracks, seed
        As the nominal sample was simulated (``simulate_tracks(n_tracks, seed=seed)``).
    """
    nominal = simulate_tracks(n_tracks, seed=seed)
    clean = simulate_tracks(n_tracks, seed=seed, response=Response(tof_mismatch_fraction=0.0))
    wrong = nominal["has_tof"] & (nominal["tof_beta"] != clean["tof_beta"])
    return np.asarray(nominal["track_id"][wrong], dtype=np.int64)


def bayes_variant_rows(grid: Grid, counts: dict[str, NDArray[np.int64]],
                       mismatched_ids: NDArray[np.int64] | None = None) -> list[dict[str, Any]]:
    """Per range: both variants' test accuracy and the paired difference with − without the mismatch terms
    (points, 68 % interval), the test tracks they disagree on with how many each gets right, and, where the
    mismatched tracks are known, how many of the mismatched test tracks each misidentifies.

    Parameters
    ----------
    grid
        The trained grid (its ranges hold the baselines on every track of the range).
    counts
        Per range: the bootstrap counts of its common test set.
    mismatched_ids
        ``track_id`` of the tracks with a wrong TOF hit (:func:`mismatched_track_ids`; ``None``: unknown, as
        for a user's input).
    """
    rows = []
    for range_name, data in grid.ranges.items():
        if not {GAUSSIAN, WITH_MISMATCH} <= set(data.baselines):
            continue
        y = test_labels(grid, range_name)
        test = next(c for (r, _), c in grid.cells.items() if r == range_name)["data"].test["index"]
        pred = {name: data.baselines[name].pred[test] for name in (GAUSSIAN, WITH_MISMATCH)}
        right = {name: (p == y).astype(np.float64) for name, p in pred.items()}
        differ = pred[GAUSSIAN] != pred[WITH_MISMATCH]
        c = counts[range_name]
        rows.append({"range": range_name,
                     **{f"gaussian_{k}": 100 * v for k, v in mean_interval(right[GAUSSIAN], c).items()},
                     **{f"mismatch_{k}": 100 * v for k, v in mean_interval(right[WITH_MISMATCH], c).items()},
                     **{f"diff_{k}": 100 * v for k, v in
                        mean_interval(right[WITH_MISMATCH] - right[GAUSSIAN], c).items()},
                     "n_test": len(y), "n_disagree": int(differ.sum()),
                     "disagree_right_mismatch": int(right[WITH_MISMATCH][differ].sum()),
                     "disagree_right_gaussian": int(right[GAUSSIAN][differ].sum())})
        if mismatched_ids is not None:
            wrong_hit = np.isin(data.tracks["track_id"][test], mismatched_ids)
            rows[-1] |= {"n_mismatched_test": int(wrong_hit.sum()),
                         "mismatched_wrong_gaussian": int(np.sum(right[GAUSSIAN][wrong_hit] == 0)),
                         "mismatched_wrong_mismatch": int(np.sum(right[WITH_MISMATCH][wrong_hit] == 0))}
    return rows
