"""The paired comparison of the two ALICE Bayes variants and the page's sentence about it, on hand-made results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from hepnb import metrics
from hepnb.pid import report
from hepnb.pid.baselines import Baseline
from hepnb.pid.bayes_compare import bayes_variant_rows, mismatched_track_ids
from hepnb.pid.data import simulate_tracks
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
    data = RangeData("full", {"track_id": 1000 + np.arange(200)}, y, np.zeros((200, 1), np.float32),
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
    assert "n_mismatched_test" not in row  # unknown mismatches: no such counts
    (known,) = bayes_variant_rows(grid, counts, np.array([1100, 1104, 1120, 1005]))  # 1005 is not a test track
    assert (known["n_mismatched_test"], known["mismatched_wrong_gaussian"], known["mismatched_wrong_mismatch"]) == (
        3, 2, 1)
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
    known = report.bayes_variant_text([{**row, "n_mismatched_test": 40, "mismatched_wrong_gaussian": 37,
                                        "mismatched_wrong_mismatch": 9}])
    assert ("of the 40 test tracks that carry another track's TOF hit, the pure-Gaussian one misidentifies 37 and "
            "the one with the terms 9.") in known
    at_ci = report.bayes_variant_text([row], may_rank=False)
    assert "is better" not in at_ci and "5.0 ± 1.0 points of test accuracy (5.0σ; not ranked at the ci profile)" in at_ci


def test_mismatched_tracks_are_found_by_resimulating_without_mismatches() -> None:
    """About 2 % of the matched tracks (the simulation's mismatch fraction), each matched and with another β
    than the same track without mismatches."""
    ids = mismatched_track_ids(20000, seed=7)
    table = simulate_tracks(20000, seed=7)
    matched = int(table["has_tof"].sum())
    assert abs(len(ids) - 0.02 * matched) < 4 * np.sqrt(0.02 * matched)
    assert np.all(table["has_tof"][ids]) and len(np.unique(ids)) == len(ids)
