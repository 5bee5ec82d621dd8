"""The data-like section's tables and sentences (hepnb.pid.data_report) on hand-made predictions, and the blanking
cost's uncertainty (test bootstrap ⊕ the training spread of two trainings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hepnb.metrics import bootstrap_counts
from hepnb.pid import data_look, data_report, pipeline, report

PARAMETERS = {
    "input_file": "", "input_tree": "", "data_like_file": "", "scheduler": "", "n_tracks": 6000, "n_data_like": 3000,
    "selection": "o2", "ranges": ["full"], "protocols": ["corrected"], "networks": ["dnn"], "variations": [],
    "epochs": 2, "patience": 2, "lr_scale": 10.0, "batch_size": 256, "n_trees_rf": 20, "n_trees_xgb": 30,
    "n_boot": 50, "n_seeds": 2, "n_settings": 1, "evals_per_epoch": 1, "min_steps": 0, "n_core": 1000, "n_emulated": 20, "seed": 0,
}


def _one_hot(pred: np.ndarray, confidence: float) -> np.ndarray:
    prob = np.full((pred.size, 4), (1 - confidence) / 3)
    prob[np.arange(pred.size), pred] = confidence
    return prob


def _case(converged: bool) -> tuple[pipeline.Settings, pipeline.Comparison, pipeline.DataLike]:
    """2000 tracks: the network right on 95 %, Bayes on 80 %, so the network is 15 ± 1 points better."""
    rng = np.random.default_rng(5)
    n = 2000
    y = rng.integers(0, 4, n)
    net = np.where(rng.random(n) < 0.95, y, (y + 1) % 4)
    bayes = np.where(rng.random(n) < 0.80, y, (y + 2) % 4)
    probs = {"dnn": _one_hot(net, 0.97), "alice_bayes": _one_hot(bayes, 0.85)}
    look = data_look.look_at_data(probs, rng.random(n) < 0.3, ml=["dnn"], bayes=["alice_bayes"], y=y,
                                  counts=bootstrap_counts(n, 50, seed=0))
    settings = pipeline.Settings.from_parameters({**PARAMETERS, "profile": "ci"})
    seeds = {"full": {"dnn": {"model": "dnn", "accuracy": [0.90, 0.92], "std": 0.005, "all_converged": converged}}}
    comparison = pipeline.Comparison(None, {}, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
                                     seeds)  # type: ignore[arg-type]
    return settings, comparison, pipeline.DataLike({}, pd.DataFrame(), {"full": look})


def test_tables_carry_the_counts_and_intervals() -> None:
    settings, _, result = _case(True)
    tables = [t.data for t in data_report.data_look_tables(settings, result)]
    assert len(tables) == 5
    fractions, confidence, agreement, cut, disagreement = tables
    assert set(fractions.index) == {"dnn", "alice_bayes", "true"}
    assert list(confidence.columns) == ["> 0.99", "0.95–0.99", "0.90–0.95", "0.80–0.90", "≤ 0.80"]
    # every track of the network sits at 0.97 and every Bayes track at 0.85
    assert confidence.loc[("dnn", "of all 2\u202f000 tracks"), "0.95–0.99"].startswith("100.0 % (")
    assert confidence.loc[("alice_bayes", "of all 2\u202f000 tracks"), "0.80–0.90"].endswith(", 2\u202f000")
    assert confidence.loc[("alice_bayes", "of all 2\u202f000 tracks"), "0.90–0.95"] == "0.0 % (0.0–0.1), 0"
    assert "mostly TPC-only" in confidence.loc[("dnn", "of the bin: with TOF"), "0.95–0.99"]
    assert agreement.index.tolist() == ["dnn vs alice_bayes"]
    assert cut.loc[("alice_bayes", "kept by the cut", ""), "all"].startswith("0.0 % (0.0–")
    assert disagreement.loc[("dnn vs alice_bayes", "all"), "neither right"] != "–"
    assert data_report.rate_text({"k": 1, "n": 4, "pct": 25.0, "lo_pct": 7.0, "hi_pct": 52.0}) == (
        "25.0 % (7.0–52.0), 1/4")
    empty = pipeline.DataLike({}, pd.DataFrame(), {})
    assert "no tracks in" in data_report.data_look_tables(settings, empty)[0].data


def test_the_sentence_ranks_only_through_the_gate() -> None:
    settings, comparison, result = _case(True)
    ranked = data_report.data_look_text(settings, comparison, result, may_rank=True)
    assert "dnn is better than alice_bayes on accuracy on the data-like sample" in ranked
    assert "original: 38 %" in ranked and "keeps" in ranked
    at_ci = data_report.data_look_text(settings, comparison, result, may_rank=False)
    assert "is better than" not in at_ci and "not ranked at the ci profile" in at_ci
    settings, comparison, result = _case(False)
    waiting = data_report.data_look_text(settings, comparison, result, may_rank=True)
    assert "is better than" not in waiting and "dnn has not converged" in waiting


def test_blanking_cost_adds_the_spread_of_two_trainings() -> None:
    _, comparison, _ = _case(True)
    # two trainings, each spread as the seeds' std (0.01414): √2 × 0.01414 = 0.0200
    assert pipeline._blanking_seed_std(comparison, "full", "dnn") == pytest.approx(0.02, abs=1e-12)
    assert pipeline._blanking_seed_std(comparison, "full", "simple_nn") == 0.0
    deployed = pipeline.Deployment("dnn", "full", {"value": -0.01, "std": 0.004}, 5, {"network": Path("m")},
                                   {"a.onnx": 1e-7}, 20, 2.5, blanking_seed_std=0.003)
    numbers = report.deployment_numbers(deployed)
    assert numbers["blanking_cost"] == "−1.0 ± 0.5"  # 0.4 ⊕ 0.3 points
    assert "training spread" in numbers["blanking_uncertainty"]
