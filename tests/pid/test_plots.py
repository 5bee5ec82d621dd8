"""The PID figures pass the book's figure checks (page width, fonts, nothing cut off, no overlaps) on small inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hepnb import plotting
from hepnb.book import figure_check
from hepnb.pid import plots, working_points
from hepnb.pid.calibration import CORE_BINS_GEV
from hepnb.pid.constants import SPECIES
from hepnb.pid.data import simulate_tracks
from hepnb.pid.selection import RANGE_LABELS, selected

RANGES = ["0-1", "1-3", "full"]
MODELS = ["simple_nn", "dnn", "xgboost"]


@pytest.fixture(autouse=True)
def _style() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    plotting.use_style("ALICE")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _accuracy_rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows = []
    for r in RANGES:
        for name in ("all_pions", "alice_bayes"):
            v = rng.uniform(0.7, 0.97)
            rows.append({"range": r, "protocol": "", "model": name, "kind": "baseline", "value": v, "lo": v - 0.01,
                         "hi": v + 0.01})
        for p in ("original", "corrected"):
            for m in MODELS:
                v = rng.uniform(0.3, 0.97)
                rows.append({"range": r, "protocol": p, "model": m, "kind": "network", "value": v, "lo": v - 0.02,
                             "hi": v + 0.02})
    return rows


def _figures() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    gaps = [{"range": r, "protocol": p, "gap_value": g, "gap_lo": g - 0.5, "gap_hi": g + 0.5}
            for r in RANGES for p, g in zip(("original", "original_val", "corrected"), (30.0, 10.0, 1.0), strict=True)]
    cores = [{"species": s, "p_lo_gev": lo, "p_hi_gev": hi, "detector": d, "median": 0.05, "width": 1.02}
             for s in SPECIES for lo, hi in CORE_BINS_GEV for d in ("TPC", "TOF")]
    n_track = 400
    y = rng.integers(0, 4, n_track)
    prob = rng.dirichlet([1, 1, 1, 1], n_track)
    prob[y == 1, 1] += 1.0
    prob /= prob.sum(axis=1, keepdims=True)
    p = rng.uniform(0.2, 2.5, n_track)
    contamination = {m: working_points.contamination_vs_p(prob, y, p, 1, t, [0.2, 0.5, 1.0, 2.0, 2.4, 2.5])
                     for m, t in zip(MODELS, (0.5, 0.6, 0.7), strict=True)}
    curves = {m: {"efficiency": np.linspace(0, 1, 20).tolist(), "purity": np.linspace(1, 0.3, 20).tolist()}
              for m in MODELS}
    syst = [{"range": "full", "variation": v, "model": m, "shift_value": x, "shift_lo": x - 0.2, "shift_hi": x + 0.2}
            for v in ("bethe_bloch_o2physics", "tof_mismatch_x2") for m in MODELS for x in [rng.normal()]]
    return {
        "detector": plots.detector_figure(selected(simulate_tracks(4000, seed=1), "o2")),
        "cores": plots.nsigma_core_figure(cores),
        "accuracy": plots.accuracy_figure(_accuracy_rows(), RANGES, ["original", "corrected"], RANGE_LABELS),
        "gap": plots.gap_figure(gaps, RANGES, ["original", "original_val", "corrected"]),
        "confusion": plots.confusion_figure({m: np.eye(4, dtype=int) * 10 + 1 for m in MODELS}),
        "working_points": plots.working_point_figure(curves, contamination, "ka"),
        "systematics": plots.systematics_figure(syst, MODELS, "full"),
        "training": plots.training_figure({m: [0.2, 0.1, 0.08] for m in MODELS[:2]}, {"XGBoost": 0.95}),
    }


def test_every_figure_passes_the_books_checks() -> None:
    for name, fig in _figures().items():
        assert figure_check.check_figure(fig) == [], name
        labels = figure_check.experiment_labels(fig)
        assert "ALICE" in labels and "Simulation" in labels, f"{name}: no ALICE Simulation label ({labels})"
