"""The convergence record read from validation curves (hepnb.convergence)."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.convergence import convergence


def _exponential(n: int, tau: float) -> np.ndarray:
    """A loss 0.1 + e^(−i/tau): converged when tau ≪ n, still falling when tau ~ n."""
    return 0.1 + np.exp(-np.arange(n) / tau)


def test_plateau_is_converged_and_a_falling_curve_is_not() -> None:
    # improvement over the last fifth of 0.1 + exp(-i/tau), computed here: exp(-80/tau) - exp(-99/tau)
    flat = convergence(_exponential(100, 5.0), tolerance=1e-4)
    assert flat.converged and flat.improvement == pytest.approx(np.exp(-80 / 5) - np.exp(-99 / 5), rel=1e-9)
    falling = convergence(_exponential(100, 60.0), tolerance=1e-4)
    assert not falling.converged
    assert falling.improvement == pytest.approx(np.exp(-80 / 60) - np.exp(-99 / 60), rel=1e-9)
    assert falling.window == (80, 99) and falling.n_points == 100 and "not below" in falling.reason


def test_direction_seed_spread_and_degenerate_curves() -> None:
    rising_auc = 1 - _exponential(50, 40.0) / 2          # an AUC still rising
    assert not convergence(rising_auc, tolerance=1e-3, lower_is_better=False).converged
    # read as a loss, the same curve only gets worse: no improvement at all
    assert convergence(rising_auc, tolerance=1e-3).improvement == 0.0
    # an improvement below the seed-to-seed spread is not resolved: converged at that spread
    record = convergence(_exponential(50, 40.0), tolerance=1e-4, seed_spread=0.5)
    assert record.converged and record.tolerance == 0.5
    assert not convergence([1.0, 0.5, 0.4], tolerance=1.0).converged          # too few points
    assert not convergence([1.0, 0.9, 0.8, 0.7, 0.6, np.nan], tolerance=1.0).converged
    with pytest.raises(ValueError, match="tolerance"):
        convergence([1.0] * 10, tolerance=0.0)
    assert convergence(_exponential(100, 5.0), tolerance=1e-4).as_dict()["window"] == [80, 99]
