"""Paired comparisons on the common test set: accuracies with bootstrap intervals, the XGBoost − network gap per
protocol, and the gap each fix closes.

Every model, baseline and protocol of a momentum range is evaluated on the same test tracks, so one set of
bootstrap resamplings of those tracks (:func:`hepnb.metrics.bootstrap_counts`) serves them all: an interval of a difference
is the spread of the difference over the same resamplings — a paired bootstrap.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score

from hepnb.metrics import CONFIDENCE_LEVEL, expected_calibration_error, mean_interval, spread
from hepnb.pid.constants import SPECIES
from hepnb.pid.protocols import PROTOCOLS
from hepnb.pid.training import TREES, Grid, chosen_network

__all__ = [
    "accuracy_rows",
    "balanced_difference",
    "baseline_rows",
    "class_rates",
    "fix_rows",
    "fraction_bias",
    "gap_rows",
    "model_metrics",
    "test_labels",
]

def test_labels(grid: Grid, range_name: str) -> NDArray[np.int64]:
    """The common test set's labels of a range; every protocol's test set is checked to hold the same tracks."""
    cells = [c for (r, _), c in grid.cells.items() if r == range_name]
    index = cells[0]["data"].test["index"]
    for c in cells[1:]:
        if not np.array_equal(c["data"].test["index"], index):
            msg = f"the protocols of range {range_name!r} have different test sets: comparisons would not be paired"
            raise AssertionError(msg)
    return grid.ranges[range_name].y[index]


def _correct(pred: NDArray[np.int64], y: NDArray[np.int64]) -> NDArray[np.float64]:
    return (pred == y).astype(np.float64)


def _interval(value: float, values: NDArray[np.float64]) -> dict[str, float]:
    """``value`` with the std and the central interval of its resampled ``values`` (NaN ones left out)."""
    finite = values[np.isfinite(values)]
    lo, hi = (np.quantile(finite, [(1 - CONFIDENCE_LEVEL) / 2, (1 + CONFIDENCE_LEVEL) / 2]) if finite.size
              else (np.nan, np.nan))
    return {"value": float(value), "std": spread(values), "lo": float(lo), "hi": float(hi)}


def _rates(pred: NDArray[np.int64], y: NDArray[np.int64], weights: NDArray[np.float64]
           ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per species efficiency (recall) and purity (precision) under per-track ``weights`` (one row per
    resampling, shape (B, N)): arrays (B, 4), NaN where a species has no true (efficiency) or no predicted
    (purity) track."""
    true = np.stack([y == i for i in range(len(SPECIES))], axis=1).astype(np.float64)
    called = np.stack([pred == i for i in range(len(SPECIES))], axis=1).astype(np.float64)
    hits = weights @ (true * called)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / (weights @ true), hits / (weights @ called)


def _balanced(pred: NDArray[np.int64], y: NDArray[np.int64], weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """The balanced accuracy per row of ``weights``: the mean efficiency over the species present in ``y``."""
    efficiency, _ = _rates(pred, y, weights)
    present = [i for i in range(len(SPECIES)) if np.any(y == i)]
    return np.nanmean(efficiency[:, present], axis=1)


def class_rates(pred: NDArray[np.int64], y: NDArray[np.int64], counts: NDArray[np.int64]) -> dict[str, Any]:
    """Balanced accuracy and per species efficiency and purity of predictions ``pred``, with bootstrap intervals.

    The balanced accuracy is the mean efficiency (recall) over the species present in ``y``, as
    :func:`sklearn.metrics.balanced_accuracy_score`; efficiency and purity are those of ``pred == species``
    (NaN for a species never true, or never predicted). The intervals come from the resamplings ``counts``
    (:func:`hepnb.metrics.bootstrap_counts`), the same for every model, so differences are paired.

    Returns
    -------
    dict
        ``balanced_accuracy``, and ``efficiency`` and ``purity`` per species, each ``value``, ``std``, ``lo``,
        ``hi`` (fractions).
    """
    pred, y = np.asarray(pred), np.asarray(y)
    if pred.shape != y.shape or counts.shape[1] != y.size:
        msg = (f"predictions, labels and resamplings must cover the same tracks, found {pred.size}, {y.size} and "
               f"{counts.shape[1]}")
        raise ValueError(msg)
    ones = np.ones((1, y.size))
    weights = counts.astype(np.float64)
    eff, pur = _rates(pred, y, ones)
    eff_b, pur_b = _rates(pred, y, weights)
    return {"balanced_accuracy": _interval(float(_balanced(pred, y, ones)[0]), _balanced(pred, y, weights)),
            "efficiency": {s: _interval(eff[0, i], eff_b[:, i]) for i, s in enumerate(SPECIES)},
            "purity": {s: _interval(pur[0, i], pur_b[:, i]) for i, s in enumerate(SPECIES)}}


def balanced_difference(pred_a: NDArray[np.int64], pred_b: NDArray[np.int64], y: NDArray[np.int64],
                        counts: NDArray[np.int64]) -> dict[str, float]:
    """Balanced accuracy of ``pred_a`` − that of ``pred_b`` on the same tracks, with its paired bootstrap interval
    (the same resamplings ``counts`` for both)."""
    ones = np.ones((1, np.asarray(y).size))
    weights = counts.astype(np.float64)
    value = float(_balanced(pred_a, y, ones)[0] - _balanced(pred_b, y, ones)[0])
    return _interval(value, _balanced(pred_a, y, weights) - _balanced(pred_b, y, weights))


def _rate_columns(pred: NDArray[np.int64], y: NDArray[np.int64], counts: NDArray[np.int64]) -> dict[str, float]:
    """The flat columns of :func:`class_rates` for a table row: ``balanced_<k>``, ``efficiency_<s>_<k>`` and
    ``purity_<s>_<k>`` (k: value, std, lo, hi)."""
    rates = class_rates(pred, y, counts)
    out = {f"balanced_{k}": v for k, v in rates["balanced_accuracy"].items()}
    for what in ("efficiency", "purity"):
        out.update({f"{what}_{s}_{k}": v for s, row in rates[what].items() for k, v in row.items()})
    return out


def accuracy_rows(grid: Grid, counts: dict[str, NDArray[np.int64]]) -> list[dict[str, Any]]:
    """One row per (range, protocol, model) and per (range, baseline): test accuracy with its 68 % interval.

    Rows carry ``kind`` (network, tree, baseline), ``chosen`` (the network the protocol chooses), for the nσ
    cuts the ``unidentified`` fraction, and the balanced accuracy and per species efficiency and purity with
    their intervals (:func:`class_rates`; an unidentified track is a miss of its species).
    """
    rows: list[dict[str, Any]] = []
    for range_name, data in grid.ranges.items():
        y = test_labels(grid, range_name)
        test = next(c for (r, _), c in grid.cells.items() if r == range_name)["data"].test["index"]
        for name, base in data.baselines.items():
            pred = base.pred[test]
            rows.append({"range": range_name, "protocol": "", "model": name, "kind": "baseline", "chosen": False,
                         **mean_interval(_correct(pred, y), counts[range_name]),
                         "unidentified": float(np.mean(pred < 0)), **_rate_columns(pred, y, counts[range_name])})
        for (r, protocol), cell in grid.cells.items():
            if r != range_name:
                continue
            best = chosen_network(grid, (r, protocol))
            for name in grid.models:
                pred = cell["prob_test"][name].argmax(axis=1)
                rows.append({"range": r, "protocol": protocol, "model": name,
                             "kind": "tree" if name in TREES else "network", "chosen": name == best,
                             **mean_interval(_correct(pred, y), counts[range_name]), "unidentified": 0.0,
                             **_rate_columns(pred, y, counts[range_name])})
    return rows


def _gap_per_track(grid: Grid, range_name: str, protocol: str) -> tuple[str, NDArray[np.float64],
                                                                          NDArray[np.float64], NDArray[np.float64]]:
    cell = grid.cells[(range_name, protocol)]
    y = test_labels(grid, range_name)
    best = chosen_network(grid, (range_name, protocol))
    net = _correct(cell["prob_test"][best].argmax(1), y)
    xgb = _correct(cell["prob_test"]["xgboost"].argmax(1), y)
    return best, net, xgb, xgb - net


def gap_rows(grid: Grid, counts: dict[str, NDArray[np.int64]]) -> list[dict[str, Any]]:
    """Per (range, protocol): the chosen network, its accuracy, XGBoost's, and the gap XGBoost − network with a
    paired 68 % interval, and the same gap in balanced accuracy (``balanced_gap_*``; all in points, i.e. ×100)."""
    rows = []
    for (range_name, protocol) in grid.cells:
        best, net, xgb, gap = _gap_per_track(grid, range_name, protocol)
        cell, y = grid.cells[(range_name, protocol)], test_labels(grid, range_name)
        balanced = balanced_difference(cell["prob_test"]["xgboost"].argmax(1), cell["prob_test"][best].argmax(1), y,
                                       counts[range_name])
        rows.append({**{f"balanced_gap_{k}": 100 * v for k, v in balanced.items()},"range": range_name, "protocol": protocol, "best_network": best,
                     **{f"network_{k}": 100 * v for k, v in mean_interval(net, counts[range_name]).items()},
                     **{f"xgboost_{k}": 100 * v for k, v in mean_interval(xgb, counts[range_name]).items()},
                     **{f"gap_{k}": 100 * v for k, v in mean_interval(gap, counts[range_name]).items()}})
    return rows


def baseline_rows(grid: Grid, counts: dict[str, NDArray[np.int64]], protocol: str) -> list[dict[str, Any]]:
    """Per range: the network ``protocol`` chooses against the most accurate baseline on the test set, the
    difference network − baseline with its paired 68 % interval (points) on the same test tracks, and the same
    difference in balanced accuracy (``balanced_diff_*``)."""
    rows = []
    for range_name, data in grid.ranges.items():
        if (range_name, protocol) not in grid.cells or not data.baselines:
            continue
        y = test_labels(grid, range_name)
        cell = grid.cells[(range_name, protocol)]
        test = cell["data"].test["index"]
        correct = {name: _correct(base.pred[test], y) for name, base in data.baselines.items()}
        best_base = max(correct, key=lambda n: float(correct[n].mean()))
        network = chosen_network(grid, (range_name, protocol))
        net = _correct(cell["prob_test"][network].argmax(axis=1), y)
        balanced = balanced_difference(cell["prob_test"][network].argmax(axis=1), data.baselines[best_base].pred[test],
                                       y, counts[range_name])
        rows.append({"range": range_name, "protocol": protocol, "network": network, "baseline": best_base,
                     **{f"balanced_diff_{k}": 100 * v for k, v in balanced.items()},
                     **{f"diff_{k}": 100 * v for k, v in mean_interval(net - correct[best_base],
                                                                        counts[range_name]).items()}})
    return rows


def fix_rows(grid: Grid, counts: dict[str, NDArray[np.int64]]) -> list[dict[str, Any]]:
    """Per range, per fix (each protocol after the first present, in :data:`hepnb.pid.protocols.PROTOCOLS` order):
    the points of the gap it closes (gap before − gap after), and how it moves the chosen network's and XGBoost's
    accuracies, each a paired difference on the same test tracks with its 68 % interval (points)."""
    rows = []
    names = list(PROTOCOLS)
    for range_name in grid.ranges:
        present = [p for p in PROTOCOLS if (range_name, p) in grid.cells]
        for prev, cur in itertools.pairwise(present):
            fix = " + ".join(PROTOCOLS[q].fix for q in names[names.index(prev) + 1:names.index(cur) + 1])
            _, net_a, xgb_a, gap_a = _gap_per_track(grid, range_name, prev)
            _, net_b, xgb_b, gap_b = _gap_per_track(grid, range_name, cur)
            c = counts[range_name]
            rows.append({"range": range_name, "fix": fix, "from": prev, "to": cur,
                         **{f"closed_{k}": 100 * v for k, v in mean_interval(gap_a - gap_b, c).items()},
                         **{f"network_change_{k}": 100 * v for k, v in mean_interval(net_b - net_a, c).items()},
                         **{f"xgboost_change_{k}": 100 * v for k, v in mean_interval(xgb_b - xgb_a, c).items()}})
    return rows


def model_metrics(prob: NDArray[np.float64], y: NDArray[np.int64], counts: NDArray[np.int64]) -> dict[str, Any]:
    """Accuracy (68 % interval), macro AUC (one-vs-rest, with a bootstrap std), per-class report, confusion, ECE."""
    pred = prob.argmax(axis=1)
    classes = [c for c in range(4) if 0 < np.sum(y == c) < len(y)]

    def macro_auc(weight: NDArray | None) -> float:
        return float(np.mean([roc_auc_score(y == c, prob[:, c], sample_weight=weight) for c in classes]))

    auc: dict[str, float] = {"value": float("nan")}
    if classes:
        boot = [macro_auc(w) for w in counts[: max(len(counts) // 4, 2)]]
        auc = {"value": macro_auc(None), "std": float(np.std(boot, ddof=1))}
    report = classification_report(y, pred, labels=list(range(4)), target_names=list(SPECIES), output_dict=True,
                                   zero_division=0)
    return {
        "accuracy": mean_interval(_correct(pred, y), counts),
        "macro_auc": auc,
        "per_class": {s: report[s] for s in SPECIES},
        "confusion": confusion_matrix(y, pred, labels=list(range(4))).tolist(),
        "ece": {s: expected_calibration_error(y == i, prob[:, i]) if 0 < np.sum(y == i) < len(y) else float("nan")
                for i, s in enumerate(SPECIES)},
    }



def fraction_bias(pred: NDArray[np.int64], y: NDArray[np.int64], counts: NDArray[np.int64]) -> dict[str, dict[str, float]]:
    """Per species: the predicted fraction, the true one, and the bias predicted − true (points) with its 68 %
    interval over the sample's bootstrap ``counts``."""
    out = {}
    for i, s in enumerate(SPECIES):
        bias = mean_interval((pred == i).astype(np.float64) - (y == i).astype(np.float64), counts)
        out[s] = {"predicted_pct": 100 * float(np.mean(pred == i)), "true_pct": 100 * float(np.mean(y == i)),
                  **{f"bias_{k}": 100 * v for k, v in bias.items()}}
    return out
