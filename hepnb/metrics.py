"""Metrics shared by the studies: ROC, working points, the one (paired) bootstrap, calibration, resolution."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn import metrics as _skm

__all__ = [
    "CONFIDENCE_LEVEL",
    "auc",
    "binomial_interval",
    "bootstrap",
    "bootstrap_ci",
    "bootstrap_counts",
    "efficiency_at_purity",
    "expected_calibration_error",
    "interpolated_eff_bkg",
    "mean_interval",
    "paired_difference",
    "purity_efficiency_curve",
    "quantile_resolution",
    "reliability_curve",
    "resample_indices",
    "roc_curve",
    "spread",
]


def _binary(y_true: ArrayLike, score: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    y = np.asarray(y_true).astype(np.int64).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != s.shape:
        msg = f"labels and scores must have the same length, found {y.shape[0]} and {s.shape[0]}"
        raise ValueError(msg)
    if not set(np.unique(y)).issubset({0, 1}) or np.unique(y).size != 2:
        msg = f"binary labels must contain both 0 and 1, found values {np.unique(y)[:10]}"
        raise ValueError(msg)
    if not np.all(np.isfinite(s)):
        msg = f"scores contain {np.count_nonzero(~np.isfinite(s))} non-finite values"
        raise ValueError(msg)
    return y, s


def roc_curve(y_true: ArrayLike, score: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                             NDArray[np.float64]]:
    """Background efficiency, signal efficiency and thresholds (higher score = more signal-like).

    Returns
    -------
    eff_bkg, eff_sig, thresholds
        As :func:`sklearn.metrics.roc_curve` (``fpr``, ``tpr``, ``thresholds``).
    """
    y, s = _binary(y_true, score)
    fpr, tpr, thr = _skm.roc_curve(y, s)
    return fpr, tpr, thr


def auc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve."""
    y, s = _binary(y_true, score)
    return float(_skm.roc_auc_score(y, s))


def purity_efficiency_curve(y_true: ArrayLike, score: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                                          NDArray[np.float64]]:
    """Selection ``score >= t`` for every distinct threshold ``t``, from the highest down.

    Returns
    -------
    thresholds, efficiency, purity
        Per threshold (descending): the fraction of signal selected and the signal fraction of the selection.
    """
    y, s = _binary(y_true, score)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s_sorted.size - 1]  # last index of each distinct score
    selected_signal = np.cumsum(y_sorted)[last]
    selected = last + 1.0
    return s_sorted[last], selected_signal / y.sum(), selected_signal / selected


def efficiency_at_purity(y_true: ArrayLike, score: ArrayLike, purity: float) -> tuple[float, float]:
    """The highest signal efficiency of a selection ``score >= t`` whose purity is at least ``purity``, and its
    threshold; ``(0.0, inf)`` if no threshold reaches that purity."""
    if not 0.0 < purity <= 1.0:
        msg = f"purity must be in (0, 1], found {purity}"
        raise ValueError(msg)
    thresholds, eff, pur = purity_efficiency_curve(y_true, score)
    ok = pur >= purity
    if not ok.any():
        return 0.0, float("inf")
    best = int(np.argmax(np.where(ok, eff, -1.0)))
    return float(eff[best]), float(thresholds[best])


#: Confidence level of every interval the book quotes: the central 68.27 % (one Gaussian standard deviation).
CONFIDENCE_LEVEL = 0.6827


def _row_count(arrays: Sequence[NDArray[Any]]) -> int:
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        msg = f"all arrays must have the same length, found {[a.shape[0] for a in arrays]}"
        raise ValueError(msg)
    if n < 1:
        msg = "the bootstrap needs at least one row, found an empty sample"
        raise ValueError(msg)
    return n


def resample_indices(n: int, n_boot: int, seed: int = 0) -> Iterator[NDArray[np.int64]]:
    """The rows of each of ``n_boot`` bootstrap resamplings of ``n`` rows (drawn with replacement), one at a time.

    Every bootstrap of the project draws its resamplings here, so that statistics of the same rows with the
    same ``seed`` are paired: each resampling is ``default_rng(seed).integers(0, n, n)``, in turn.
    """
    if n < 1 or n_boot < 0:
        msg = f"the bootstrap needs n >= 1 rows and n_boot >= 0 resamplings, found {n} and {n_boot}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n, n)


def bootstrap(statistic: Callable[..., Any], *arrays: ArrayLike, n_boot: int = 100, seed: int = 0
              ) -> NDArray[np.float64]:
    """Values of ``statistic(*arrays)`` on ``n_boot`` resamplings of the rows of ``arrays`` (resampled together).

    ``n_boot = 0`` gives no values (their :func:`spread` is NaN). A resampling on which the statistic raises :class:`ValueError` (a class missing from it, say) gives NaN.
    """
    data = [np.asarray(a) for a in arrays]
    n = _row_count(data)
    out = np.empty(n_boot)
    for i, idx in enumerate(resample_indices(n, n_boot, seed)):
        try:
            out[i] = statistic(*(a[idx] for a in data))
        except ValueError:
            out[i] = np.nan
    return out


def bootstrap_counts(n: int, n_boot: int, seed: int = 0) -> NDArray[np.int64]:
    """How often each of ``n`` rows is drawn in each resampling of :func:`resample_indices`, shape (n_boot, n).

    A mean over rows is then one matrix product (:func:`mean_interval`); the resamplings are the same as those
    of :func:`bootstrap` with the same ``n`` and ``seed``.
    """
    if n < 1 or n_boot < 2:
        msg = f"an interval needs n >= 1 rows and n_boot >= 2 resamplings, found {n} and {n_boot}"
        raise ValueError(msg)
    return np.stack([np.bincount(idx, minlength=n) for idx in resample_indices(n, n_boot, seed)])


def binomial_interval(k: int, n: int, cl: float | None = None) -> tuple[float, float]:
    """Clopper–Pearson interval of a binomial fraction ``k/n`` at confidence ``cl`` (default
    :data:`CONFIDENCE_LEVEL`): the Beta quantiles ``B(α/2; k, n − k + 1)`` and ``B(1 − α/2; k + 1, n − k)``, with
    0 and 1 at the ends; NaN for ``n == 0``.

    Raises
    ------
    ValueError
        If ``k`` is not within 0..``n``.
    """
    from scipy import stats

    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        msg = f"a binomial count needs 0 <= k <= n, found k={k}, n={n}"
        raise ValueError(msg)
    alpha = 1 - (CONFIDENCE_LEVEL if cl is None else cl)
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def spread(values: ArrayLike) -> float:
    """Standard deviation (ddof 1) of the finite bootstrap values; NaN with fewer than two."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.std(v, ddof=1)) if v.size > 1 else float("nan")


def _summary(value: float, values: NDArray[np.float64]) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    lo, hi = np.quantile(finite, [(1 - CONFIDENCE_LEVEL) / 2, (1 + CONFIDENCE_LEVEL) / 2]) if finite.size else (
        np.nan, np.nan)
    return {"value": float(value), "std": spread(values), "lo": float(lo), "hi": float(hi)}


def bootstrap_ci(statistic: Callable[..., float], *arrays: ArrayLike, n_boot: int = 200, seed: int = 0
                 ) -> dict[str, float]:
    """``statistic(*arrays)`` with its bootstrap uncertainty.

    Returns
    -------
    dict
        ``value`` (on the full sample), ``std`` and ``lo``/``hi`` (central interval at :data:`CONFIDENCE_LEVEL`)
        over the resamplings of :func:`bootstrap`.
    """
    data = [np.asarray(a) for a in arrays]
    return _summary(statistic(*data), bootstrap(statistic, *data, n_boot=n_boot, seed=seed))


def mean_interval(values: ArrayLike, counts: NDArray[np.int64]) -> dict[str, float]:
    """Mean of per-row ``values`` with its bootstrap std and interval over the resamplings ``counts``
    (:func:`bootstrap_counts`): with the same counts for every model, differences are paired."""
    v = np.asarray(values, dtype=np.float64)
    if counts.shape[1] != v.size:
        msg = f"the resamplings are of {counts.shape[1]} rows, the values of {v.size}"
        raise ValueError(msg)
    return _summary(float(v.mean()), counts @ v / v.size)


def paired_difference(statistic: Callable[..., float], a: Sequence[ArrayLike], b: Sequence[ArrayLike], *,
                      n_boot: int = 100, seed: int = 0) -> dict[str, float]:
    """``statistic(*a) − statistic(*b)`` on the same rows, with the spread of the difference over common
    resamplings (a paired bootstrap): ``value`` and ``std``."""
    k = len(a)
    diffs = bootstrap(lambda *xs: statistic(*xs[:k]) - statistic(*xs[k:]), *a, *b, n_boot=n_boot, seed=seed)
    return {"value": float(statistic(*a) - statistic(*b)), "std": spread(diffs)}


def reliability_curve(y_true: ArrayLike, prob: ArrayLike, n_bins: int = 10) -> dict[str, Any]:
    """Reliability diagram data for a binary probability: mean prediction vs observed frequency.

    The bins are those of :func:`sklearn.calibration.calibration_curve` (``strategy="uniform"``), which
    computes the frequencies; empty bins are kept, as NaN, so that every bin has a count.

    Returns
    -------
    dict
        ``bin_edges``, ``mean_prob``, ``frac_positive``, ``count`` per bin (empty bins give NaN).
    """
    from sklearn.calibration import calibration_curve

    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    if np.any((p < 0) | (p > 1)):
        msg = "probabilities must lie in [0, 1]"
        raise ValueError(msg)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(edges[1:-1], p)  # calibration_curve's own binning
    count = np.bincount(which, minlength=n_bins)
    mean_prob = np.full(n_bins, np.nan)
    frac = np.full(n_bins, np.nan)
    filled = count > 0
    frac[filled], mean_prob[filled] = calibration_curve(y, p, n_bins=n_bins, strategy="uniform", pos_label=1.0)
    return {"bin_edges": edges, "mean_prob": mean_prob, "frac_positive": frac, "count": count}


def expected_calibration_error(y_true: ArrayLike, prob: ArrayLike, n_bins: int = 10) -> float:
    """Count-weighted mean of ``|observed frequency - mean probability|`` over reliability bins."""
    curve = reliability_curve(y_true, prob, n_bins)
    ok = curve["count"] > 0
    weights = curve["count"][ok] / curve["count"].sum()
    return float(np.sum(weights * np.abs(curve["frac_positive"][ok] - curve["mean_prob"][ok])))


def quantile_resolution(ratio: ArrayLike) -> dict[str, float]:
    """Response and resolution of a ratio (e.g. ``pT_reco / pT_gen``) by quantiles.

    Returns
    -------
    dict
        ``median`` (the response), ``iqr`` (``q75 - q25``) and ``resolution`` (``iqr / median``).
    """
    r = np.asarray(ratio, dtype=np.float64).ravel()
    r = r[np.isfinite(r)]
    if r.size == 0:
        msg = "no finite values to compute a resolution from"
        raise ValueError(msg)
    q25, med, q75 = np.quantile(r, [0.25, 0.5, 0.75])
    return {"median": float(med), "iqr": float(q75 - q25),
            "resolution": float((q75 - q25) / med) if med != 0 else float("nan"), "n": int(r.size)}


def interpolated_eff_bkg(y_true: ArrayLike, score: ArrayLike, eff_sig: ArrayLike) -> NDArray[np.float64]:
    """Background efficiency at signal efficiency ``eff_sig``, interpolated linearly along the ROC curve.

    This reads the curve of :func:`roc_curve` between its points, so it is defined at any ``eff_sig`` in
    [0, 1] and is 0 where the curve has not yet left ``eff_bkg = 0``.

    Returns
    -------
    numpy.ndarray
        ``eff_bkg`` with the shape of ``eff_sig``.
    """
    eff_bkg, eff_sig_curve, _ = roc_curve(y_true, score)
    return np.interp(np.asarray(eff_sig, dtype=np.float64), eff_sig_curve, eff_bkg)
