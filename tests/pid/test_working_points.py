"""The contamination of a working point per momentum bin (hepnb.pid.working_points.contamination_vs_p) on
hand-placed tracks: the counts, the binning at the edges, and the Clopper–Pearson intervals against scipy's Beta
quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hepnb.pid import working_points as wp

ALPHA_HALF = (1 - 0.6827) / 2  # a 68.27 % central interval
EDGES = [0.2, 0.5, 1.0, 2.0]


def _tracks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin 0.2–0.5: 12 selected (9 K, 2 π, 1 p) and 1 K not selected; 0.5–1.0: 3 selected (1 K, 2 e), tracks at
    p = 0.5 exactly among them; 1.0–2.0: none selected, 4 K missed; one selected track at p = 2.0 (outside)."""
    rows = ([(0.3, 1, 0.9)] * 9 + [(0.3, 0, 0.8)] * 2 + [(0.3, 2, 0.7)] + [(0.3, 1, 0.2)]
            + [(0.5, 1, 0.95)] + [(0.7, 3, 0.6)] * 2 + [(1.5, 1, 0.1)] * 4 + [(2.0, 1, 0.99)])
    p, y, p_kaon = (np.array(col) for col in zip(*rows, strict=True))
    prob = np.zeros((len(rows), 4))
    prob[:, 1] = p_kaon
    prob[:, 0] = 1 - p_kaon
    return prob, y.astype(np.int64), p.astype(np.float64)


def _cp(k: int, n: int) -> tuple[float, float]:
    lo = 0.0 if k == 0 else stats.beta.ppf(ALPHA_HALF, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(1 - ALPHA_HALF, k + 1, n - k)
    return lo, hi


def test_contamination_counts_and_clopper_pearson_intervals() -> None:
    prob, y, p = _tracks()
    c = wp.contamination_vs_p(prob, y, p, 1, 0.5, EDGES)
    assert c["n_selected"] == [12, 3, 0]
    assert c["n_true"] == [10, 1, 4]
    assert (c["n_pi"], c["n_ka"], c["n_pr"], c["n_el"]) == ([2, 0, 0], [9, 1, 0], [1, 0, 0], [0, 2, 0])
    for s, ks in {"pi": (2, 0), "ka": (9, 1), "pr": (1, 0), "el": (0, 2)}.items():
        for i, (k, n) in enumerate(zip(ks, (12, 3), strict=True)):
            assert c[f"fraction_{s}"][i] == pytest.approx(k / n)
            assert (c[f"fraction_{s}_lo"][i], c[f"fraction_{s}_hi"][i]) == pytest.approx(_cp(k, n), abs=1e-9)
        assert np.isnan(c[f"fraction_{s}"][2]) and np.isnan(c[f"fraction_{s}_lo"][2])
    assert c["efficiency"][:2] == pytest.approx([0.9, 1.0]) and c["efficiency"][2] == 0.0
    assert (c["efficiency_lo"][0], c["efficiency_hi"][0]) == pytest.approx(_cp(9, 10), abs=1e-9)
    assert (c["efficiency_lo"][2], c["efficiency_hi"][2]) == pytest.approx(_cp(0, 4), abs=1e-9)
    assert wp.MIN_SELECTED == 10 and c["shown"] == [True, False, False]


def test_no_threshold_selects_nothing() -> None:
    prob, y, p = _tracks()
    c = wp.contamination_vs_p(prob, y, p, 1, float("nan"), EDGES)
    assert c["n_selected"] == [0, 0, 0] and c["efficiency"] == [0.0, 0.0, 0.0] and not any(c["shown"])
