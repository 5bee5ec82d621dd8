"""The original study's look at data (hepnb.pid.data_look) on hand-made tracks whose answers are counted by hand,
the confidence cut against a direct numpy count, and every interval against scipy's Beta quantiles
(Clopper–Pearson)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hepnb.metrics import CONFIDENCE_LEVEL, binomial_interval, bootstrap_counts
from hepnb.pid import data_look

ALPHA_HALF = (1 - CONFIDENCE_LEVEL) / 2  # 0.15865: a 68.27 % central interval

#: Ten tracks: the confidence (largest probability), the class it goes to, TOF, and the true class.
CONF = np.array([1.0, 0.995, 0.99, 0.97, 0.95, 0.93, 0.90, 0.85, 0.80, 0.5])
PRED = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
HAS_TOF = np.array([1, 1, 1, 1, 0, 0, 1, 1, 0, 0], dtype=bool)
Y = np.array([0, 0, 2, 3, 1, 1, 2, 3, 0, 2])  # wrong: tracks 1, 4, 9


def _probabilities(conf: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Rows whose largest entry is ``conf`` at ``pred``, the rest shared by the other three."""
    prob = np.repeat(((1 - conf) / 3)[:, None], 4, axis=1)
    prob[np.arange(conf.size), pred] = conf
    return prob


def _cp(k: int, n: int) -> tuple[float, float]:
    """Clopper–Pearson from scipy's Beta distribution, written out."""
    lo = 0.0 if k == 0 else stats.beta.ppf(ALPHA_HALF, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(1 - ALPHA_HALF, k + 1, n - k)
    return 100 * lo, 100 * hi


def _check_rate(rate: dict, k: int, n: int) -> None:
    assert (rate["k"], rate["n"]) == (k, n)
    assert rate["pct"] == pytest.approx(100 * k / n)
    assert (rate["lo_pct"], rate["hi_pct"]) == pytest.approx(_cp(k, n), abs=1e-9)


def test_clopper_pearson_against_the_beta_quantiles_and_the_closed_form() -> None:
    for k, n in ((3, 10), (1, 2), (17, 40), (99, 100)):
        assert binomial_interval(k, n) == pytest.approx(tuple(x / 100 for x in _cp(k, n)), abs=1e-12)
    # k = 0: the upper end solves (1 − p)^n = α/2, so p = 1 − 0.15865^(1/10) = 0.16815 for n = 10
    assert binomial_interval(0, 10) == pytest.approx((0.0, 0.16815), abs=1e-5)
    assert binomial_interval(10, 10) == pytest.approx((0.83185, 1.0), abs=1e-5)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        binomial_interval(11, 10)


def test_confidence_bins_are_the_originals_closed_on_the_right() -> None:
    assert [label for label, _, _ in data_look.CONFIDENCE_BINS] == ["> 0.99", "0.95–0.99", "0.90–0.95",
                                                                    "0.80–0.90", "≤ 0.80"]
    assert data_look.confidence_bin_index(CONF).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.25, 1.0, 5000)
    independent = 4 - np.digitize(conf, [0.80, 0.90, 0.95, 0.99], right=True)  # bins[i-1] < x <= bins[i]
    assert np.array_equal(data_look.confidence_bin_index(conf), independent)


def test_confidence_distribution_split_by_tof_on_hand_counted_tracks() -> None:
    rows = data_look.confidence_distribution(_probabilities(CONF, PRED), HAS_TOF, Y)
    assert [r["bin"] for r in rows] == [label for label, _, _ in data_look.CONFIDENCE_BINS]
    # per bin, of 10 tracks / of the 6 with TOF / of the 4 without
    for row, n_all, n_tof, n_tpc in zip(rows, (2, 2, 2, 2, 2), (2, 2, 0, 2, 0), (0, 0, 2, 0, 2), strict=True):
        _check_rate(row["all"], n_all, 10)
        _check_rate(row["TPC+TOF"], n_tof, 6)
        _check_rate(row["TPC-only"], n_tpc, 4)
        _check_rate(row["with_tof"], n_tof, 2)
    assert [r["mostly"] for r in rows] == ["TPC+TOF", "TPC+TOF", "TPC-only", "TPC+TOF", "TPC-only"]
    assert [r["accuracy"]["k"] for r in rows] == [1, 2, 1, 2, 1]  # tracks 1, 4, 9 are wrong
    assert "accuracy" not in data_look.confidence_distribution(_probabilities(CONF, PRED), HAS_TOF)[0]


def test_agreement_and_who_is_right_where_ml_and_bayes_disagree() -> None:
    ml = np.array([1, 1, 1, 1, 1, 0, 0, 2, 3, 3])
    bayes = np.array([1, 1, 0, 2, 0, 0, 1, 2, 3, 0])
    y = np.array([1, 0, 0, 2, 1, 0, 0, 2, 3, 3])
    agree = data_look.agreement(ml, bayes)
    _check_rate(agree["all"], 5, 10)
    for s, (k, n) in {"pi": (1, 2), "ka": (2, 5), "pr": (1, 1), "el": (1, 2)}.items():
        _check_rate(agree["of_ml"][s], k, n)
    for s, (k, n) in {"pi": (1, 4), "ka": (2, 3), "pr": (1, 2), "el": (1, 1)}.items():
        _check_rate(agree["of_bayes"][s], k, n)
    counts = bootstrap_counts(10, 50, seed=1)
    d = data_look.disagreement(ml, bayes, y, counts)
    assert d["all"]["n_disagree"] == 5
    _check_rate(d["all"]["ml_right"], 3, 5)
    _check_rate(d["all"]["bayes_right"], 2, 5)
    _check_rate(d["all"]["neither_right"], 0, 5)
    for s, (n, k_ml, k_bayes) in {"pi": (2, 1, 1), "ka": (1, 1, 0), "pr": (1, 0, 1), "el": (1, 1, 0)}.items():
        assert d[s]["n_disagree"] == n and d[s]["ml_right"]["k"] == k_ml and d[s]["bayes_right"]["k"] == k_bayes
    # accuracy ML − Bayes: (7 − 6) / 10 right; each resampling's difference is its own weighted mean
    assert d["difference"]["value"] == pytest.approx(0.1)
    per_track = (ml == y).astype(float) - (bayes == y).astype(float)
    assert d["difference"]["std"] == pytest.approx(np.std(counts @ per_track / 10, ddof=1))
    with pytest.raises(ValueError, match="same tracks"):
        data_look.agreement(ml, bayes[:-1])


def test_confidence_cut_against_a_direct_numpy_count() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    prob = rng.dirichlet([0.3, 0.3, 0.3, 0.3], size=n)
    y = np.where(rng.random(n) < 0.7, prob.argmax(1), rng.integers(0, 4, n))
    cut = data_look.confidence_cut(prob, y)
    pred, kept = prob.argmax(1), prob.max(1) > 0.90
    assert cut["kept"]["k"] == int(np.count_nonzero(kept))
    for i, s in enumerate(("pi", "ka", "pr", "el")):
        right = (pred == i) & (y == i)
        eff = np.count_nonzero(right & kept) / np.count_nonzero(y == i)
        pur = np.count_nonzero(right & kept) / np.count_nonzero((pred == i) & kept)
        assert cut["cut"][s]["efficiency"]["pct"] == pytest.approx(100 * eff)
        assert cut["cut"][s]["purity"]["pct"] == pytest.approx(100 * pur)
        assert cut["no_cut"][s]["efficiency"]["pct"] == pytest.approx(100 * np.count_nonzero(right)
                                                                      / np.count_nonzero(y == i))
        assert cut["no_cut"][s]["purity"]["pct"] == pytest.approx(100 * np.count_nonzero(right)
                                                                  / np.count_nonzero(pred == i))
    assert cut["cut"]["all"]["purity"]["pct"] == pytest.approx(100 * np.mean((pred == y)[kept]))
    assert cut["cut"]["all"]["efficiency"]["pct"] == pytest.approx(100 * np.mean((pred == y) & kept))
    # the cut keeps exactly the three bins above 0.90
    rows = data_look.confidence_distribution(prob, np.zeros(n, dtype=bool))
    assert sum(r["all"]["k"] for r in rows[:3]) == cut["kept"]["k"]


def test_look_at_data_needs_labels_only_for_the_cut_and_the_disagreement() -> None:
    probs = {"net": _probabilities(CONF, PRED), "bayes": _probabilities(CONF[::-1], PRED)}
    blind = data_look.look_at_data(probs, HAS_TOF, ml=["net"], bayes=["bayes"])
    assert set(blind) == {"fractions", "confidence", "agreement"}
    _check_rate(blind["fractions"]["net"]["pi"], 3, 10)
    full = data_look.look_at_data(probs, HAS_TOF, ml=["net"], bayes=["bayes"], y=Y)
    assert {"cut", "disagreement", "true_fractions"} <= set(full) and "net/bayes" in full["disagreement"]
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        data_look.confidence(np.ones((3, 3)))
