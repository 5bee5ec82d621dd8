"""The tau pipeline on a small generated sample: ParT learns tau ID (it beats a constant and the candidate count
alone), the schedule runs to its end and keeps the last epoch, the study functions return what the page uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepnb import metrics
from hepnb.tau import pipeline
from hepnb.tau.data import simulate
from hepnb.tau.models import ParTConfig

TINY = ParTConfig(embed_dims=(16, 32, 16), pair_dims=(8, 8), n_heads=2, n_layers=1, n_cls_layers=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> pipeline.TauData:
    cache = tmp_path_factory.mktemp("tau-cache")
    sample = simulate(400, 120, seed=11, cache_dir=Path(cache), events_per_chunk=200, workers=1, progress=False)
    return pipeline.prepare(sample, seed=0, bkg_per_tau=1.0)


def test_part_beats_a_trivial_model(data: pipeline.TauData) -> None:
    """A small ParT trained for a few epochs separates τ from q/g jets on unseen jets: its AUC is far above a
    constant's (0.5) and its loss below the best constant's."""
    trained = pipeline.train_tagger(data, "part", TINY, epochs=6, batch_size=64, lr=2e-3, seed=0)
    assert trained.fit.n_epochs_run == 6 and trained.fit.history["val_loss"][-1] < trained.fit.history["val_loss"][0]
    score = pipeline.model_outputs(trained.model, data.test)["tau_id"]
    y = data.test["is_tau"]
    keep = np.isin(data.test["origin"], (0, 1))
    auc = metrics.auc(y[keep], score[keep, 1] - score[keep, 0])
    assert auc > 0.9
    p = np.exp(score[keep, 1]) / np.exp(score[keep]).sum(axis=1)
    log_loss = -np.mean(y[keep] * np.log(p) + (1 - y[keep]) * np.log(1 - p))
    base = y[keep].mean()
    constant = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    assert log_loss < 0.8 * constant


def test_headline_and_seed_summary() -> None:
    runs = [{"tau ID AUC": 0.9, "charge mis-ID": 0.1}, {"tau ID AUC": 0.94, "charge mis-ID": 0.12}]
    s = pipeline.seed_summary(runs)
    assert s["tau ID AUC"]["mean"] == pytest.approx(0.92) and s["tau ID AUC"]["std"] == pytest.approx(0.02828, rel=1e-3)
    assert s["charge mis-ID"]["n_seeds"] == 2
    val = {"none": {"tau_id": {"auc": 0.90, "working_points": {}}, "charge": {"misid": 0.1}},
           "tau": {"tau_id": {"auc": 0.95, "working_points": {}}, "charge": {"misid": 0.05}}}
    assert pipeline.select_surgery(val) == "tau"
