"""The original study's look at data, on the data-like sample: what each model calls the tracks, how sure it is,
how often ML and Bayes agree, what a confidence cut keeps, and — since the data-like sample's labels are known —
which of ML and Bayes is right where the two disagree.

The original applied its model to real Run 3 tracks and reported the predicted species fractions, the
distribution of the confidence (the largest of the four probabilities) in the bins > 0.99, 0.95–0.99, 0.90–0.95,
0.80–0.90 and below 0.80, separately for tracks with and without TOF, the agreement of ML and Bayesian PID per
species (kaons 38 %), and recommended keeping tracks of confidence > 0.90. Here every share is a count ``k`` of
``n`` with its Clopper–Pearson interval (:func:`hepnb.metrics.binomial_interval`).

Bins are closed on the right: ``(0.99, 1]``, ``(0.95, 0.99]``, ``(0.90, 0.95]``, ``(0.80, 0.90]``, ``[0, 0.80]``,
so the cut "confidence > 0.90" keeps exactly the first three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.metrics import binomial_interval, mean_interval
from hepnb.pid.constants import SPECIES

__all__ = [
    "CONFIDENCE_BINS",
    "CONFIDENCE_CUT",
    "DETECTOR_GROUPS",
    "agreement",
    "confidence",
    "confidence_bin_index",
    "confidence_cut",
    "confidence_distribution",
    "count_rate",
    "disagreement",
    "look_at_data",
    "predicted_fractions",
]

#: The original's confidence bins, best first: (label, lower edge (excluded), upper edge (included)).
CONFIDENCE_BINS: tuple[tuple[str, float, float], ...] = (
    ("> 0.99", 0.99, 1.0), ("0.95–0.99", 0.95, 0.99), ("0.90–0.95", 0.90, 0.95), ("0.80–0.90", 0.80, 0.90),
    ("≤ 0.80", -np.inf, 0.80))
#: The confidence cut the original recommended: keep a track whose largest probability exceeds it.
CONFIDENCE_CUT = 0.90
#: The track groups of the confidence distribution: every track, those with a TOF measurement, those without.
DETECTOR_GROUPS = ("all", "TPC+TOF", "TPC-only")


def count_rate(k: int, n: int) -> dict[str, float]:
    """``k`` of ``n`` as a percentage with its 68 % Clopper–Pearson interval (``pct``, ``lo_pct``, ``hi_pct``;
    NaN for ``n == 0``), keeping the counts."""
    lo, hi = binomial_interval(int(k), int(n))
    return {"k": int(k), "n": int(n), "pct": 100 * k / n if n else float("nan"), "lo_pct": 100 * lo,
            "hi_pct": 100 * hi}


def confidence(prob: NDArray[np.float64]) -> NDArray[np.float64]:
    """The confidence of each track: its largest species probability.

    Raises
    ------
    ValueError
        If ``prob`` is not (N, 4).
    """
    prob = np.asarray(prob, dtype=np.float64)
    if prob.ndim != 2 or prob.shape[1] != len(SPECIES):
        msg = f"probabilities must be (N, {len(SPECIES)}), found shape {prob.shape}"
        raise ValueError(msg)
    return prob.max(axis=1)


def confidence_bin_index(conf: NDArray[np.float64]) -> NDArray[np.int64]:
    """The index in :data:`CONFIDENCE_BINS` of each confidence (0: > 0.99, …, 4: ≤ 0.80; right-closed bins)."""
    inner = sorted(lo for _, lo, _ in CONFIDENCE_BINS if np.isfinite(lo))  # 0.80, 0.90, 0.95, 0.99
    return (len(inner) - np.searchsorted(inner, np.asarray(conf, dtype=np.float64), side="left")).astype(np.int64)


def _groups(has_tof: NDArray[np.bool_]) -> dict[str, NDArray[np.bool_]]:
    tof = np.asarray(has_tof).astype(bool)
    return {"all": np.ones_like(tof), "TPC+TOF": tof, "TPC-only": ~tof}


def confidence_distribution(prob: NDArray[np.float64], has_tof: NDArray[np.bool_],
                            y: NDArray[np.int64] | None = None) -> list[dict[str, Any]]:
    """One row per confidence bin: the share of the tracks of each :data:`DETECTOR_GROUPS` group in it, the share
    of the bin's tracks with TOF and whether it is mostly TPC+TOF or mostly TPC-only, and with labels ``y`` the
    accuracy of the argmax call in the bin (each a :func:`count_rate`)."""
    conf_bin = confidence_bin_index(confidence(prob))
    groups = _groups(has_tof)
    tof = groups["TPC+TOF"]
    right = None if y is None else np.asarray(prob).argmax(axis=1) == np.asarray(y)
    rows = []
    for i, (label, _, _) in enumerate(CONFIDENCE_BINS):
        inside = conf_bin == i
        row: dict[str, Any] = {"bin": label}
        for name, group in groups.items():
            row[name] = count_rate(int(np.sum(inside & group)), int(group.sum()))
        row["with_tof"] = count_rate(int(np.sum(inside & tof)), int(inside.sum()))
        row["mostly"] = ("" if not inside.any() else
                         "TPC+TOF" if 2 * np.sum(inside & tof) > inside.sum() else "TPC-only")
        if right is not None:
            row["accuracy"] = count_rate(int(np.sum(inside & right)), int(inside.sum()))
        rows.append(row)
    return rows


def predicted_fractions(pred: NDArray[np.int64]) -> dict[str, dict[str, float]]:
    """Per species: the tracks called that species (:func:`count_rate` of all tracks)."""
    pred = np.asarray(pred)
    return {s: count_rate(int(np.sum(pred == i)), pred.size) for i, s in enumerate(SPECIES)}


def agreement(pred_ml: NDArray[np.int64], pred_bayes: NDArray[np.int64]) -> dict[str, Any]:
    """How often ML and Bayes call a track the same species.

    Returns
    -------
    dict
        ``all``: the tracks both call the same; ``of_ml`` per species: of the tracks ML calls that species, those
        Bayes calls it too; ``of_bayes``: the same the other way round (each a :func:`count_rate`).
    """
    ml, bayes = np.asarray(pred_ml), np.asarray(pred_bayes)
    if ml.shape != bayes.shape:
        msg = f"both predictions must cover the same tracks, found {ml.size} and {bayes.size}"
        raise ValueError(msg)
    both = {i: (ml == i) & (bayes == i) for i in range(len(SPECIES))}
    return {"all": count_rate(int(np.sum(ml == bayes)), ml.size),
            "of_ml": {s: count_rate(int(both[i].sum()), int(np.sum(ml == i))) for i, s in enumerate(SPECIES)},
            "of_bayes": {s: count_rate(int(both[i].sum()), int(np.sum(bayes == i))) for i, s in enumerate(SPECIES)}}


def confidence_cut(prob: NDArray[np.float64], y: NDArray[np.int64], threshold: float = CONFIDENCE_CUT
                   ) -> dict[str, Any]:
    """What keeping the tracks of confidence > ``threshold`` does to the argmax call.

    Per species: the efficiency (true tracks of the species kept and called it, of all true ones) and the purity
    (tracks kept and called the species that are it, of those kept and called it), with the cut and without it;
    ``all``: the same summed over species (efficiency: kept and right of all tracks; purity: right of kept);
    ``kept``: the tracks the cut keeps. Each a :func:`count_rate`.
    """
    prob, y = np.asarray(prob, dtype=np.float64), np.asarray(y)
    pred = prob.argmax(axis=1)
    kept = confidence(prob) > threshold
    out: dict[str, Any] = {"threshold": float(threshold), "kept": count_rate(int(kept.sum()), y.size)}
    for tag, mask in (("cut", kept), ("no_cut", np.ones_like(kept))):
        right = (pred == y) & mask
        rows = {s: {"efficiency": count_rate(int(np.sum(right & (y == i))), int(np.sum(y == i))),
                    "purity": count_rate(int(np.sum(right & (pred == i))), int(np.sum(mask & (pred == i))))}
                for i, s in enumerate(SPECIES)}
        rows["all"] = {"efficiency": count_rate(int(right.sum()), y.size),
                       "purity": count_rate(int(right.sum()), int(mask.sum()))}
        out[tag] = rows
    return out


def disagreement(pred_ml: NDArray[np.int64], pred_bayes: NDArray[np.int64], y: NDArray[np.int64],
                 counts: NDArray[np.int64] | None = None) -> dict[str, Any]:
    """Where ML and Bayes call a track differently: which of the two is right, overall and per true species.

    Parameters
    ----------
    pred_ml, pred_bayes, y
        The two calls and the true species of the same tracks.
    counts
        Bootstrap resamplings of the tracks (:func:`hepnb.metrics.bootstrap_counts`); with them, ``difference``
        is the accuracy ML − Bayes on all tracks (fraction), which only the tracks they disagree on move, with its
        paired interval.

    Returns
    -------
    dict
        Per group (``all`` and each true species): ``n_disagree`` and the :func:`count_rate` of those tracks that
        ``ml_right``, ``bayes_right`` and ``neither_right``; and ``difference`` (with ``counts``).
    """
    ml, bayes, y = np.asarray(pred_ml), np.asarray(pred_bayes), np.asarray(y)
    differ = ml != bayes
    out: dict[str, Any] = {}
    for name, group in (("all", np.ones_like(differ)), *((s, y == i) for i, s in enumerate(SPECIES))):
        d = differ & group
        n = int(d.sum())
        ml_right, bayes_right = int(np.sum(d & (ml == y))), int(np.sum(d & (bayes == y)))
        out[name] = {"n_disagree": n, "ml_right": count_rate(ml_right, n), "bayes_right": count_rate(bayes_right, n),
                     "neither_right": count_rate(n - ml_right - bayes_right, n)}
    if counts is not None:
        out["difference"] = mean_interval((ml == y).astype(np.float64) - (bayes == y).astype(np.float64), counts)
    return out


def look_at_data(probs: Mapping[str, NDArray[np.float64]], has_tof: NDArray[np.bool_], *, ml: Sequence[str],
                 bayes: Sequence[str], y: NDArray[np.int64] | None = None,
                 counts: NDArray[np.int64] | None = None) -> dict[str, Any]:
    """The original's look at data for the models ``probs`` (name → (N, 4) probabilities on the same tracks).

    Parameters
    ----------
    probs
        Every model's and Bayes variant's probabilities.
    has_tof
        Whether each track has a TOF measurement.
    ml, bayes
        The names in ``probs`` compared pairwise (each ML model against each Bayes variant).
    y, counts
        The true species (``None`` for unlabelled data: no cut, no disagreement) and bootstrap resamplings of the
        tracks for the paired accuracy difference.

    Returns
    -------
    dict
        ``fractions``, ``confidence`` and (with ``y``) ``cut`` per model; ``agreement`` and (with ``y``)
        ``disagreement`` per ``"ml/bayes"`` pair; ``true_fractions`` with ``y``.
    """
    preds = {m: p.argmax(axis=1) for m, p in probs.items()}
    out: dict[str, Any] = {
        "fractions": {m: predicted_fractions(p) for m, p in preds.items()},
        "confidence": {m: confidence_distribution(p, has_tof, y) for m, p in probs.items()},
        "agreement": {f"{a}/{b}": agreement(preds[a], preds[b]) for a in ml for b in bayes},
    }
    if y is not None:
        out["true_fractions"] = predicted_fractions(np.asarray(y))
        out["cut"] = {m: confidence_cut(p, y) for m, p in probs.items()}
        out["disagreement"] = {f"{a}/{b}": disagreement(preds[a], preds[b], y, counts) for a in ml for b in bayes}
    return out
