"""The side studies' selection logic (hepnb.tau.side_studies) and their gated sentences (hepnb.tau.side_report):
the fine-tuning learning rate is chosen on the validation loss, never on the test jets; several draws of the
labelled jets give a spread that enters the verdict; a row that did not converge is not ranked."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from hepnb.convergence import relative_convergence
from hepnb.tau import side_report, side_studies, training
from hepnb.tau.data import TauData
from hepnb.train import FitResult


def test_learning_rate_is_the_lowest_validation_loss() -> None:
    assert side_studies.choose_learning_rate({3e-4: 0.52, 1e-3: 0.47, 3e-3: 0.61}) == 1e-3
    assert side_studies.choose_learning_rate({3e-4: 0.5, 1e-3: 0.5}) == 3e-4  # a tie: the first
    assert side_studies.choose_learning_rate({3e-4: float("nan"), 1e-3: 0.9}) == 1e-3
    with pytest.raises(ValueError, match="no learning rate has a finite validation loss"):
        side_studies.choose_learning_rate({1e-3: float("nan")})


# A fake training whose validation loss is lowest at lr = 1e-3 while its test AUC is highest at lr = 3e-3: a study
# that chose on the test jets would pick 3e-3. Its test AUC also depends on the draw's seed, so draws spread.
_VAL_LOSS = {3e-4: 0.60, 1e-3: 0.40, 3e-3: 0.55}
_TEST_AUC = {3e-4: 0.90, 1e-3: 0.92, 3e-3: 0.99}


def _fake_fit(val_loss: float, n: int = 12) -> FitResult:
    curve = [val_loss + 0.3 * math.exp(-i) for i in range(n)]
    return FitResult(model=None, history={"val_loss": curve}, n_epochs_run=n, n_steps=10 * n,
                     convergence=[relative_convergence(curve)])


def _fake_multi(data, cfg, train_cfg, *, surgery, fraction=1.0, pretrained=None):
    model = SimpleNamespace(lr=train_cfg.lr, seed=train_cfg.seed, pre=pretrained is not None)
    n = round(fraction * 1000)
    return training.Trained(model=model, fit=_fake_fit(_VAL_LOSS[train_cfg.lr]), n_params=10, jets_per_s=1.0,
                            n_train=n + train_cfg.seed)


def _fake_outputs(model, data):
    return {"auc": _TEST_AUC[model.lr] - 0.01 * model.seed + (0.005 if model.pre else 0.0)}


def _fake_evaluate(outputs, data, *, n_boot, detail, gen_taus=None):
    return {"tau_id": {"auc": outputs["auc"], "auc_std": 0.001, "working_points": {}}}


@pytest.fixture
def fake_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(side_studies, "train_multi", _fake_multi)
    monkeypatch.setattr(side_studies, "pretrain", lambda *a, **k: SimpleNamespace(model="backbone"))
    monkeypatch.setattr(side_studies, "model_outputs", _fake_outputs)
    monkeypatch.setattr(side_studies, "evaluate_outputs", _fake_evaluate)
    monkeypatch.setattr(side_studies, "paired_auc",
                        lambda a, b, test, n_boot: {"value": a["auc"] - b["auc"], "std": 0.001})


def test_label_efficiency_chooses_on_validation_and_draws_spread(fake_training: None) -> None:
    data = TauData(train={}, val={}, test={})
    cfg = training.TrainingConfig(12, 64, 1e-3, seed=0)
    _, study = side_studies.label_efficiency_study(data, None, (0.1, 1.0), cfg, lrs=(3e-4, 1e-3, 3e-3),
                                                   n_draws=3, pretrain_epochs=1)
    rows = {(r["fraction"], r["init"]): r for r in study.rows}
    assert set(rows) == {(0.1, "scratch"), (0.1, "pre-trained"), (1.0, "scratch"), (1.0, "pre-trained")}
    for r in rows.values():
        assert r["lr"] == 1e-3  # the validation loss's choice, not the test AUC's (3e-3)
        assert r["val_loss_by_lr"] == pytest.approx({"0.0003": 0.6, "0.001": 0.4, "0.003": 0.55}, abs=1e-4)
        assert r["converged"] and len(r["convergence"]) == len(r["n_train"])
    low = rows[(0.1, "scratch")]
    assert low["n_train"] == [100, 101, 102] and low["n_seeds"] == 3  # three draws, each its own seed
    assert low["values"]["tau ID AUC"] == pytest.approx([0.92, 0.91, 0.90])
    assert low["seed_std"]["tau ID AUC"] == pytest.approx(0.01)
    assert len(rows[(1.0, "scratch")]["n_train"]) == 1  # all labels: one draw
    c = next(c for c in study.comparisons if c["fraction"] == 0.1)
    assert c["a"] == "pre-trained" and c["value"] == pytest.approx(0.005) and c["n_seeds"] == 3
    assert c["seed_std"] == pytest.approx(0.0)  # paired draws: the per-draw differences are all 0.005
    assert "pre-trained is better than scratch" in side_report.comparison_sentence(c)


def test_size_study_keeps_every_seed(fake_training: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(side_studies, "learning_curves", lambda t: {})
    train = {"origin": np.zeros(50, int), "weight": np.ones(50)}
    data = TauData(train=train, val={}, test={})
    cfg = training.TrainingConfig(12, 64, 3e-4, seed=4)
    sizes = {"small": training.PART_SIZES["ParT-lite"], "large": training.PART_SIZES["ParT-B"]}
    study = side_studies.size_study(data, sizes, cfg, n_train=50, n_seeds=2)
    assert [r["name"] for r in study.rows] == ["small", "large"]
    assert study.rows[0]["values"]["tau ID AUC"] == pytest.approx([0.86, 0.85])
    assert study.comparisons[0]["a"] == "large" and study.comparisons[0]["b"] == "small"
    with pytest.raises(ValueError, match="n_seeds"):
        side_studies.size_study(data, sizes, cfg, n_train=50, n_seeds=0)


def test_label_draws_differ() -> None:
    """Two draws of the same labelled fraction hold different jets (the spread is not of one draw repeated)."""
    n = 400
    train = {"origin": np.ones(n, int), "weight": np.ones(n), "id": np.arange(n)}
    data = TauData(train=train, val=train, test=train)
    a, n_a = training._label_fraction(data, 0.05, 0)
    b, n_b = training._label_fraction(data, 0.05, 1)
    assert n_a == n_b == 20 and set(a["id"]) != set(b["id"])


def _comparison(a_converged: bool, value: float, seed_std: float) -> dict:
    return {"a": "ParT-B", "b": "ParT-lite", "a_converged": a_converged, "b_converged": True,
            "quantity": "tau-ID AUC", "value": value, "std": 0.002, "seed_std": seed_std, "n_seeds": 3}


def test_sentences_are_gated() -> None:
    """Ranked only beyond 2 × (test ⊕ seed): 0.010 against √(0.002² + 0.002²) = 0.0028 is ranked, against
    √(0.002² + 0.006²) = 0.0063 it is not; a row that did not converge is never ranked."""
    assert side_report.comparison_sentence(_comparison(True, 0.010, 0.002)).startswith(
        "ParT-B is better than ParT-lite on tau-ID AUC")
    assert "consistent" in side_report.comparison_sentence(_comparison(True, 0.010, 0.006))
    assert "ParT-B has not converged" in side_report.comparison_sentence(_comparison(False, 0.05, 0.0))


def test_combined_error_adds_test_and_seed_in_quadrature() -> None:
    row = {"errors": {"tau ID AUC": 0.003}, "seed_std": {"tau ID AUC": 0.004}}
    assert side_report.combined_error(row, "tau ID AUC") == pytest.approx(0.005)
    assert side_report.combined_error({"errors": {"k": 0.003}, "seed_std": {"k": float("nan")}}, "k") == 0.003


def test_labelled_pool_is_a_subset_of_the_training_jets() -> None:
    """The label-efficiency pool: ``n_pool`` distinct training jets (q/g and hadronic τ), validation and test kept."""
    n = 400
    train = {"origin": np.r_[np.ones(n, int), np.full(10, 2)], "weight": np.ones(n + 10), "id": np.arange(n + 10)}
    data = TauData(train=train, val={"id": np.arange(3)}, test={"id": np.arange(5)})
    pool = side_studies._pool(data, 100, seed=0)
    assert len(pool.train["id"]) == 100 and len(set(pool.train["id"])) == 100 and pool.train["id"].max() < n
    assert pool.val is data.val and pool.test is data.test
    assert side_studies._pool(data, 10_000, seed=0) is data and side_studies._pool(data, None, seed=0) is data
