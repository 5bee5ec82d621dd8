from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hepnb.metrics import (
    auc,
    bootstrap_ci,
    expected_calibration_error,
    interpolated_eff_bkg,
    quantile_resolution,
    reliability_curve,
)


def test_auc_of_two_gaussians_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    n, d = 200_000, 1.0
    y = np.r_[np.ones(n), np.zeros(n)]
    s = np.r_[rng.normal(d, 1, n), rng.normal(0, 1, n)]
    assert auc(y, s) == pytest.approx(stats.norm.cdf(d / np.sqrt(2)), abs=3e-3)
    # at 50 % signal efficiency the threshold is the signal median, d; background above it: 1 - Phi(d)
    assert interpolated_eff_bkg(y, s, 0.5) == pytest.approx(stats.norm.sf(d), abs=3e-3)


def test_binary_checks() -> None:
    with pytest.raises(ValueError, match="both 0 and 1"):
        auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="same length"):
        auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="non-finite"):
        auc([0, 1], [0.1, np.nan])


def test_bootstrap_of_a_mean_matches_the_standard_error() -> None:
    x = np.random.default_rng(3).normal(0, 2, 4000)
    ci = bootstrap_ci(np.mean, x, n_boot=400)
    assert ci["std"] == pytest.approx(2 / np.sqrt(4000), rel=0.15)
    assert ci["lo"] < ci["value"] < ci["hi"]


def test_calibrated_probabilities_have_small_ece() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 100_000)
    y = rng.uniform(0, 1, p.size) < p
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, p**3) > 0.1
    curve = reliability_curve(y, p, 5)
    np.testing.assert_allclose(curve["frac_positive"], [0.1, 0.3, 0.5, 0.7, 0.9], atol=0.01)


def test_quantile_resolution_of_a_gaussian() -> None:
    r = np.random.default_rng(2).normal(1.0, 0.1, 200_000)
    res = quantile_resolution(r)
    assert res["median"] == pytest.approx(1.0, abs=1e-3)
    assert res["resolution"] == pytest.approx(2 * stats.norm.ppf(0.75) * 0.1, rel=0.01)
    with pytest.raises(ValueError, match="no finite values"):
        quantile_resolution([np.nan])


def test_interpolated_eff_bkg_reads_the_roc_curve_between_its_points() -> None:
    y, s = np.array([1, 1, 0, 0]), np.array([0.9, 0.6, 0.7, 0.1])  # ROC: (0, 0) (0, ½) (½, ½) (½, 1) (1, 1)
    np.testing.assert_allclose(interpolated_eff_bkg(y, s, [0.25, 0.75]), [0.0, 0.5])
    assert interpolated_eff_bkg(y, s, 0.75).shape == ()
    separated = interpolated_eff_bkg([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 0.9)
    assert float(separated) == 0.0


def test_one_bootstrap_serves_every_form() -> None:
    """bootstrap, bootstrap_counts and bootstrap_ci draw the same resamplings for the same n and seed, so a
    mean over counts equals the statistic over indices, and paired differences shrink for correlated samples."""
    from hepnb import metrics

    rng = np.random.default_rng(5)
    x = rng.normal(size=500)
    by_index = metrics.bootstrap(np.mean, x, n_boot=50, seed=3)
    counts = metrics.bootstrap_counts(500, 50, seed=3)
    np.testing.assert_allclose(counts @ x / 500, by_index, rtol=1e-12)
    assert metrics.mean_interval(x, counts)["std"] == pytest.approx(metrics.spread(by_index))
    ci = metrics.bootstrap_ci(np.mean, x, n_boot=50, seed=3)
    assert ci["lo"] < ci["value"] < ci["hi"] and ci["std"] == pytest.approx(np.std(by_index, ddof=1))
    y = x + rng.normal(scale=0.05, size=500)
    paired = metrics.paired_difference(np.mean, (x,), (y,), n_boot=200)
    unpaired = np.hypot(metrics.spread(metrics.bootstrap(np.mean, x, n_boot=200, seed=1)),
                        metrics.spread(metrics.bootstrap(np.mean, y, n_boot=200, seed=2)))
    assert paired["std"] < 0.2 * unpaired
    with pytest.raises(ValueError, match="same length"):
        metrics.bootstrap(np.mean, x, y[:10])
