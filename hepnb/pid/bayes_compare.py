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
from hepnb.pid.evaluate import test_labels
from hepnb.pid.training import Grid

__all__ = ["GAUSSIAN", "WITH_MISMATCH", "bayes_variant_rows"]

#: The pure-Gaussian ALICE Bayes and the one with ALICE's TOF tail and mismatch terms (baseline names).
GAUSSIAN, WITH_MISMATCH = "alice_bayes", "alice_bayes_mismatch"


def bayes_variant_rows(grid: Grid, counts: dict[str, NDArray[np.int64]]) -> list[dict[str, Any]]:
    """Per range: both variants' test accuracy and the paired difference with − without the mismatch terms
    (points, 68 % interval), and the test tracks they disagree on with how many each gets right.

    Parameters
    ----------
    grid
        The trained grid (its ranges hold the baselines on every track of the range).
    counts
        Per range: the bootstrap counts of its common test set.
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
    return rows
