"""The tau pipeline on a small generated sample: ParT learns tau ID (it beats a constant and the candidate count
alone), a network trains until its validation loss converges (at most the cap) and keeps the weights at the stop,
the study functions return what the page uses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hepnb import metrics
from hepnb.compute.chunks import ChunkRun
from hepnb.tau import baselines, studies, training
from hepnb.tau.data import EventCounts, TauData, simulate
from hepnb.tau.models import ParTConfig

TINY = ParTConfig(embed_dims=(16, 32, 16), pair_dims=(8, 8), n_heads=2, n_layers=1, n_cls_layers=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> TauData:
    cache = tmp_path_factory.mktemp("tau-cache")
    sample = simulate(EventCounts(400, 120, per_chunk=200), seed=11, cache_dir=Path(cache), run=ChunkRun(progress=False))
    return training.split_sample(sample, seed=0, bkg_per_tau=1.0)


def test_part_beats_a_trivial_model(data: TauData) -> None:
    """A small ParT trained for a few epochs separates τ from q/g jets on unseen jets: its AUC is far above a
    constant's (0.5) and its loss below the best constant's."""
    # one evaluation per epoch: six points cannot show a plateau, so the cap of six epochs is run
    trained = training.train_tagger(data, "part", TINY, training.TrainingConfig(6, 64, 2e-3, 0, eval_steps=10_000))
    assert trained.fit.n_epochs_run == 6 and not trained.fit.converged and trained.fit.history["val_loss"][-1] < trained.fit.history["val_loss"][0]
    score = training.model_outputs(trained.model, data.test)["tau_id"]
    y = data.test["is_tau"]
    keep = np.isin(data.test["origin"], (0, 1))
    auc = metrics.auc(y[keep], score[keep, 1] - score[keep, 0])
    assert auc > 0.9
    p = np.exp(score[keep, 1]) / np.exp(score[keep]).sum(axis=1)
    log_loss = -np.mean(y[keep] * np.log(p) + (1 - y[keep]) * np.log(1 - p))
    base = y[keep].mean()
    constant = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    assert log_loss < 0.8 * constant


def _rule_holds(curve: np.ndarray) -> bool:
    """The Book's convergence rule, written out: at least ten points, and over the last fifth the loss improved by
    less than 1 % of its best value."""
    start = min(int(np.floor(0.8 * len(curve))), len(curve) - 2)
    return len(curve) >= 10 and curve[start] - curve[start:].min() < 0.01 * curve.min()


def test_training_stops_once_the_validation_loss_has_converged(data: TauData) -> None:
    """With a generous cap a network evaluates every ``eval_steps`` steps, stops at the end of the second
    consecutive epoch at which its validation loss satisfied the convergence rule (not at the cap), and its record
    says converged."""
    cap, batch, every = 80, 64, 2
    trained = training.train_tagger(data, "deepsets", TINY, training.TrainingConfig(cap, batch, 3e-3, 0, eval_steps=every))
    per_epoch = max(1, len(training.reference_jets(data.train)["weight"]) // batch // every)
    curve = np.asarray(trained.fit.history["val_loss"])
    n_epochs = trained.fit.n_epochs_run
    assert len(curve) == n_epochs * per_epoch and per_epoch > 1
    assert trained.fit.converged and n_epochs < cap
    ends = [_rule_holds(curve[: e * per_epoch]) for e in range(1, n_epochs + 1)]
    assert ends[-2:] == [True, True] and not (len(ends) > 2 and ends[-3])  # stopped at the first two in a row


def test_headline_and_seed_summary() -> None:
    runs = [{"tau ID AUC": 0.9, "charge mis-ID": 0.1}, {"tau ID AUC": 0.94, "charge mis-ID": 0.12}]
    s = studies.seed_summary(runs)
    assert s["tau ID AUC"]["mean"] == pytest.approx(0.92) and s["tau ID AUC"]["std"] == pytest.approx(0.02828, rel=1e-3)
    assert s["charge mis-ID"]["n_seeds"] == 2
    val = {"none": {"tau_id": {"auc": 0.90, "working_points": {}}, "charge": {"misid": 0.1}},
           "tau": {"tau_id": {"auc": 0.95, "working_points": {}}, "charge": {"misid": 0.05}}}
    assert studies.select_surgery(val) == "tau"


def test_test_subset_keeps_every_tau_and_n_background(data: TauData) -> None:
    """The studies' test subset: all non-q/g test jets, exactly ``n_bkg`` q/g jets drawn from the test split."""
    n_qg = int(np.sum(data.test["origin"] == 0))
    sub = training.with_test_subset(data, n_qg // 3, seed=1)
    assert int(np.sum(sub.test["origin"] == 0)) == n_qg // 3
    assert int(np.sum(sub.test["origin"] != 0)) == int(np.sum(data.test["origin"] != 0))
    ids = {tuple(r) for r in data.test["jet_p4"].round(5).tolist()}
    assert all(tuple(r) in ids for r in sub.test["jet_p4"].round(5).tolist())
    assert sub.train is data.train and sub.val is data.val
    assert int(np.sum(training.with_test_subset(data, 10 * n_qg, seed=1).test["origin"] == 0)) == n_qg
    with pytest.raises(ValueError, match="n_bkg"):
        training.with_test_subset(data, 0, seed=1)


def test_single_task_outputs_on_tau_jets_only(data: TauData) -> None:
    """A decay-mode network's test outputs computed on τ jets alone equal those on the whole split, row by row."""
    trained = training.train_single(data, "decay_mode", TINY, training.TrainingConfig(1, 64, seed=0))
    full = training.model_outputs(trained.model, data.test)["decay_mode"]
    part = training.test_outputs(trained.model, data.test)["decay_mode"]
    tau = data.test["is_tau"] == 1
    np.testing.assert_allclose(part[tau], full[tau], rtol=1e-5, atol=1e-5)
    assert not part[~tau].any()


def test_decay_mode_baseline_chosen_on_validation(data: TauData) -> None:
    """The decay-mode baseline the networks are compared with is the conventional estimator with the higher
    validation accuracy, and its test prediction is that estimator's."""
    base = baselines.evaluate_baselines(data, n_boot=0)
    acc = base["dm_validation_accuracy"]
    assert set(acc) == {"HPS-like", "plain count"} and all(0.0 < v <= 1.0 for v in acc.values())
    assert base["dm_baseline"] == max(acc, key=acc.__getitem__)
    tau = data.test["is_tau"] == 1
    for name in acc:
        pred = baselines.dm_baseline_prediction(data.test, name, base["hps_params"])
        assert len(pred) == int(tau.sum())
        assert np.mean(pred == data.test["decay_mode"][tau]) == pytest.approx(base["decay_mode"][name]["accuracy"])
    with pytest.raises(ValueError, match="decay-mode baseline"):
        baselines.dm_baseline_prediction(data.test, "tau code", base["hps_params"])


def test_surgery_study_reuses_a_given_first_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kinematics-weight choice already trained the plain weighted sum's first seed: the surgery study uses
    it as it is and trains only the other settings and the extra seeds."""
    calls = []

    def fake_multi(data, cfg, train_cfg, *, surgery):
        calls.append((surgery, train_cfg.seed))
        return SimpleNamespace(model=f"{surgery}/{train_cfg.seed}")

    monkeypatch.setattr(studies, "train_multi", fake_multi)
    monkeypatch.setattr(studies, "model_outputs", lambda model, data: model)
    monkeypatch.setattr(studies, "evaluate_outputs", lambda out, data, n_boot, detail: {
        "tau_id": {"auc": 0.99 if out.startswith("none") else 0.9, "working_points": {}}})
    monkeypatch.setattr(studies, "evaluate_run", lambda trained, data, n_boot: list(trained))
    given = SimpleNamespace(model="none/given")
    runs, best, _ = studies.surgery_study(SimpleNamespace(val=None), TINY, ("none", "tau"), training.TrainingConfig(3, 64, seed=5),
                                          n_seeds=3, trained={"none": given})
    assert best == "none" and runs["none"][0] is given
    assert calls == [("tau", 5), ("none", 6), ("none", 7)]
