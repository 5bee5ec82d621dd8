"""The paired comparison of the two ALICE Bayes variants and the page's sentence about it, on hand-made results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from hepnb import metrics
from hepnb.pid import report
from hepnb.pid.baselines import Baseline
from hepnb.pid.bayes_compare import bayes_variant_rows
from hepnb.pid.training import Grid, RangeData


def _grid() -> tuple[Grid, dict[str, np.ndarray]]:
    """200 tracks, the last 100 the common test set: the mismatch-aware variant fixes 6 test tracks, breaks 1."""
    y = np.zeros(200, dtype=np.int64)
    y[::4] = 1
    gaussian, mismatch = y.copy(), y.copy()
    gaussian[[100, 104, 110, 150, 151, 190]] = 2  # wrong only without the terms
    mismatch[120] = 3  # wrong only with them
    gaussian[[130, 131]] = mismatch[[130, 131]] = 2  # wrong in both, the same way
    gaussian[5] = 3  # outside the test set: not counted
    test = np.arange(100, 200)
    data = RangeData("full", {}, y, np.zeros((200, 1), np.float32),
                     {"alice_bayes": Baseline(gaussian, None), "alice_bayes_mismatch": Baseline(mismatch, None)})
    cells = {("full", p): {"data": SimpleNamespace(test={"index": test})} for p in ("original", "corrected")}
    return Grid({"full": data}, cells, ("dnn",)), {"full": metrics.bootstrap_counts(100, 50, seed=1)}


def test_rows_are_paired_on_the_common_test_set() -> None:
    grid, counts = _grid()
    (row,) = bayes_variant_rows(grid, counts)
    assert row["gaussian_value"] == 92.0 and row["mismatch_value"] == 97.0
    assert row["diff_value"] == 5.0
    assert (row["n_test"], row["n_disagree"]) == (100, 7)
    assert (row["disagree_right_mismatch"], row["disagree_right_gaussian"]) == (6, 1)
    # paired: the spread of the per-track difference over the same resamplings, smaller than the unpaired one
    per_track = np.zeros(100)
    per_track[[0, 4, 10, 50, 51, 90]] = 1.0
    per_track[20] = -1.0
    want = 100 * np.std(counts["full"] @ per_track / 100, ddof=1)
    assert abs(row["diff_std"] - want) < 1e-9
    assert row["diff_std"] < np.hypot(row["gaussian_std"], row["mismatch_std"])
    grid.ranges["full"].baselines.pop("alice_bayes_mismatch")
    assert bayes_variant_rows(grid, counts) == []


def test_sentence_goes_through_the_gate() -> None:
    row = {"range": "full", "diff_value": 5.0, "diff_std": 1.0, "n_test": 1200, "n_disagree": 7,
           "disagree_right_mismatch": 6, "disagree_right_gaussian": 1}
    text = report.bayes_variant_text([row])
    assert "exponential tail beyond 0.9σ" in text and "2 % mismatch probability" in text
    assert ("the ALICE Bayes with the TOF tail and mismatch terms is better than the pure-Gaussian one on test "
            "accuracy, by 5.0 ± 1.0 points") in text
    assert "disagree on 7 of 1\u202f200 test tracks" in text and "identifies 6 right and the pure-Gaussian one 1" in text
    close = report.bayes_variant_text([{**row, "diff_value": 0.05, "diff_std": 0.04}])
    assert "is better" not in close and "are consistent on test accuracy" in close
    assert "not compared" in report.bayes_variant_text([])
    at_ci = report.bayes_variant_text([row], may_rank=False)
    assert "is better" not in at_ci and "5.0 ± 1.0 points of test accuracy (5.0σ; not ranked at the ci profile)" in at_ci
