"""The tau study's figures pass the book's figure check (page width, fonts, nothing cut off, no overlaps) and
carry the FCC-ee Simulation label, on small synthetic inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hepnb import plotting
from hepnb.book import figure_check
from hepnb.tau import evaluate, plots


@pytest.fixture(autouse=True)
def style() -> None:
    plotting.use_style("FCC-ee")
    yield
    plt.close("all")


def _tau_id() -> dict:
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(300), np.zeros(3000)]
    score = np.r_[rng.normal(2, 1, 300), rng.normal(0, 1, 3000)]
    res = evaluate.tau_id_metrics(score, y, n_boot=5)
    jet = np.column_stack([rng.uniform(2, 45, 3300), np.zeros(3300), rng.normal(0, 20, 3300), np.zeros(3300)])
    jet[:, 3] = np.linalg.norm(jet[:, :3], axis=1) + 0.5
    res["binned"] = evaluate.binned_working_points(score, y, jet, {"50": res["working_points"]["50"]["threshold"]})
    return res


def _figures() -> dict:
    rng = np.random.default_rng(1)
    checks = {"vis_pt_hist": {"edges": np.arange(0, 52.5, 2.5).tolist(), "counts": rng.integers(0, 100, 20).tolist()},
              "n_candidates_hist": {"tau": rng.integers(0, 50, 31).tolist(), "qg": rng.integers(0, 50, 31).tolist()}}
    res = _tau_id()
    cm = rng.integers(0, 200, (6, 6))
    bins = [{"lo": lo, "hi": lo + 5, "n": 10, "response": 1 + 0.01 * rng.normal(), "resolution": 0.02 + 0.01 * rng.random()}
            for lo in range(5, 50, 5)]
    curves = {f"model {i}": {"val_loss": list(np.linspace(1, 0.5, 6) + 0.01 * i),
                             "train_loss": list(np.linspace(1.1, 0.45, 6))} for i in range(6)}
    rows = [{"fraction": f, "init": init, "summary": {"tau ID AUC": 0.9 + 0.05 * f, "DM accuracy": 0.7 + 0.1 * f}}
            for f in (0.01, 0.1, 1.0) for init in ("scratch", "pre-trained")]
    sizes = [{"name": n, "parameters": p, "summary": {"tau ID AUC": a}}
             for n, p, a in (("ParT-lite", 6e5, 0.97), ("ParT-B", 2e6, 0.98))]
    return {"physics": plots.physics_figure(checks), "roc": plots.roc_figure({"a": res, "b": res}),
            "binned": plots.binned_figure(res["binned"]),
            "confusion": plots.confusion_figure({"MultiParTau": cm, "HPS-like": cm}),
            "kinematics": plots.kinematics_figure({"net": {"pt_bins": bins}, "reco jet": {"pt_bins": bins}}),
            "learning": plots.learning_curves_figure(curves), "label": plots.label_efficiency_figure(rows),
            "size": plots.size_figure(sizes)}


def test_figures_pass_the_book_check() -> None:
    for name, fig in _figures().items():
        assert figure_check.check_figure(fig) == [], name
        labels = figure_check.experiment_labels(fig)
        assert "FCC-ee" in labels and "Simulation" in labels, name
