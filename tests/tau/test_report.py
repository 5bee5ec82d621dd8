"""The tau page's settings (hepnb.tau.pipeline.Settings), its tables and sentences (hepnb.tau.report) on small
hand-made results."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from hepnb.book.registry import get_study, resolve_parameters
from hepnb.tau import pipeline, report, side_report
from hepnb.tau.side_studies import SideStudy
from hepnb.tau.training import PART_SIZES


def ci_parameters() -> dict:
    """The page's parameters at ci: the notebook's defaults under the ci profile's values."""
    study = get_study("tau_multitask")
    return {**{n: p.default for n, p in study.parameters.items()}, **resolve_parameters(study, "ci")}


@pytest.fixture
def settings() -> pipeline.Settings:
    return pipeline.Settings.from_parameters(ci_parameters())


def test_settings_come_from_the_page_parameters(settings: pipeline.Settings) -> None:
    """Every setting is one of the page's parameters at ci (lists as tuples), and the ParT and the training
    configurations are built from them."""
    ci = ci_parameters()
    assert settings.n_tau_events == ci["n_tau_events"] and settings.embed_dims == tuple(ci["embed_dims"])
    assert settings.model.embed_dims == tuple(ci["embed_dims"]) and settings.model.n_heads == ci["n_heads"]
    assert settings.compute_dtype == "float32"  # the CPU
    assert settings.training().epochs == ci["epochs"] and settings.training(7).epochs == 7
    assert set(settings.sizes) <= set(PART_SIZES)
    with pytest.raises(KeyError):
        pipeline.Settings.from_parameters({k: v for k, v in ci.items() if k != "n_boot"})


def test_task_models_refuse_an_unknown_task() -> None:
    with pytest.raises(ValueError, match="found 'tau-id'"):
        pipeline.task_models(None, "tau-id")  # type: ignore[arg-type]


def _row(name: str, auc: float, error: float, parameters: int) -> dict:
    return {"name": name, "parameters": parameters, "n_train": 3000, "epochs": 12, "steps": 132, "n_seeds": 3,
            "summary": {"tau ID AUC": auc}, "errors": {"tau ID AUC": error}, "seed_std": {"tau ID AUC": 0.0},
            "convergence": [{"converged": True}] * 3}


def test_side_study_sentences_quote_their_rows() -> None:
    rows = [_row("ParT-lite", 0.9412, 0.0031, 12_345), _row("ParT-B", 0.9634, 0.0027, 2_100_000)]
    comparison = {"a": "ParT-B", "b": "ParT-lite", "a_converged": True, "b_converged": True, "quantity": "tau-ID AUC",
                  "value": 0.0222, "std": 0.002, "seed_std": 0.001, "n_seeds": 3}
    text = side_report.sizes_text(SideStudy(rows, [comparison]))
    assert "From ParT-lite (12 345 parameters) to ParT-B (2 100 000)" in text.replace("\u202f", " ").replace(",", " ")
    assert "0.9412 ± 0.0031" in text and "0.9634 ± 0.0027" in text and "12 epochs" in text and "3 seeds" in text
    assert "ParT-B is better than ParT-lite on tau-ID AUC" in text
    assert "reaches a tau-ID AUC of 0.9412 ± 0.0031" in side_report.sizes_text(SideStudy(rows[:1]))
    assert side_report.sizes_text(SideStudy()) == "" and side_report.pretraining_text(SideStudy()) == ""
    label = [{"fraction": f, "init": init, "n_train": [n, n], "lr": 1e-3, "summary": {"tau ID AUC": a},
              "errors": {"tau ID AUC": 0.01}, "seed_std": {"tau ID AUC": float("nan")}}
             for f, n in ((0.1, 300), (1.0, 3000)) for init, a in (("scratch", 0.81), ("pre-trained", 0.88))]
    pre_vs_scratch = {"a": "pre-trained", "b": "scratch", "a_converged": False, "b_converged": True,
                      "quantity": "tau-ID AUC", "value": 0.07, "std": 0.01, "seed_std": 0.0, "n_seeds": 2,
                      "fraction": 0.1}
    text = side_report.pretraining_text(SideStudy(label, [pre_vs_scratch]))
    assert "a fraction 0.1 of the labels (300 labelled jets, 2 draws)" in text
    assert "0.880 ± 0.010 fine-tuned" in text and "0.810 ± 0.010 from scratch" in text
    assert "pre-trained has not converged" in text


def test_last_change_is_relative_to_the_first_epoch() -> None:
    text = report.last_change_markdown({"Multi (none)": {"val_loss": [2.0, 1.5, 1.4]}, "Single (x)": {"val_loss": [1.0]}})
    assert "Multi (none) -0.050" in text and "Single (x) +nan" in text


def _wp50(fake: float, lo: float, hi: float) -> dict:
    return {"working_points": {"50": {"fake_rate": fake, "fake_rate_lo": lo, "fake_rate_hi": hi}}}


def _seeds(aucs: list[float], fakes: list[float]) -> dict:
    from hepnb.tau.studies import seed_summary

    return seed_summary([{"tau ID AUC": a, "fake rate @ 50 %": f} for a, f in zip(aucs, fakes, strict=True)])


def _headline(xgb_aucs: list[float]) -> SimpleNamespace:
    """A headline with hand-made seeds: MultiParTau AUCs 0.990/0.992/0.994, SingleParTau none, XGBoost ``xgb_aucs``."""
    seeds = _seeds([0.990, 0.992, 0.994], [0.0012, 0.0019, 0.0020])
    seeds["pT resolution"] = {"values": [0.0170, 0.0172, 0.0174]}
    seeds["charge mis-ID"] = {"values": [0.010, 0.012, 0.014]}
    main = SimpleNamespace(seeds=seeds,
                           metrics={"tau_id": {"auc": 0.990, "auc_std": 0.0005, **_wp50(0.0012, 0.0008, 0.0018)},
                                    "decay_mode": {"macro_f1_std": 0.01, "accuracy_std": 0.01},
                                    "charge": {"misid_lo": 0.008, "misid_hi": 0.011},
                                    "kinematics": {"pt_resolution_std": 0.0003}})
    xgb = {"auc": xgb_aucs[0], "auc_std": 0.0002, **_wp50(0.0005, 0.0003, 0.0009)}
    return SimpleNamespace(main=main, single={}, xgb=xgb,
                           xgb_seeds=_seeds(xgb_aucs, [0.0005] * len(xgb_aucs)))


def test_the_xgboost_difference_carries_the_seed_spread_of_both_sides() -> None:
    from hepnb.tau import summary

    # var(Multi) = 4e-6 (values 0.990, 0.992, 0.994); var(XGBoost) = 1e-6 (0.997, 0.998, 0.999): √5e-6.
    spreads = summary.seed_spreads(_headline([0.997, 0.998, 0.999]))
    assert spreads["tau_auc_multi_minus_xgb"] == pytest.approx(5e-6 ** 0.5, rel=1e-9)
    # one XGBoost seed: no training variance known on that side, Multi's alone
    one = summary.seed_spreads(_headline([0.998]))
    assert one["tau_auc_multi_minus_xgb"] == pytest.approx(2e-3, rel=1e-9)
    assert one["dm_acc_multi_minus_baseline"] == 0.0  # no DM seeds in this headline


def test_tau_id_numbers_are_seed_means_with_seed_spread_and_test_uncertainty() -> None:
    from hepnb.tau import summary

    h = summary._seed_means(_headline([0.997, 0.998, 0.999]))
    assert h["multi_auc_seeds"] == pytest.approx(0.992)
    assert h["multi_auc_seeds_std"] == pytest.approx((0.002 ** 2 + 0.0005 ** 2) ** 0.5)  # seed std ⊕ bootstrap
    # fake rate: mean of 0.0012/0.0019/0.0020; std ⊕ half the Clopper–Pearson interval (0.0005)
    assert h["multi_fake50_seeds"] == pytest.approx(0.0017)
    spread = float(np.std([0.0012, 0.0019, 0.0020], ddof=1))
    assert h["multi_fake50_seeds_std"] == pytest.approx((spread ** 2 + 0.0005 ** 2) ** 0.5)
    assert h["xgb_auc_seeds"] == pytest.approx(0.998)
    assert h["xgb_n_seeds"] == 3 and h["multi_n_seeds"] == 3
    assert "single_auc_seeds" not in h
    # the other headline numbers: pT resolution 0.0172, seed std 0.0002 ⊕ bootstrap 0.0003
    assert h["multi_pt_res_seeds"] == pytest.approx(0.0172)
    assert h["multi_pt_res_seeds_std"] == pytest.approx((0.0002 ** 2 + 0.0003 ** 2) ** 0.5)
    # charge mis-ID 0.012, seed std 0.002 ⊕ half its Clopper–Pearson interval 0.0015
    assert h["multi_charge_seeds_std"] == pytest.approx(0.0025)
    # no DM seeds in this headline: no number, and the sentence would say so
    assert math.isnan(h["multi_dm_acc_seeds"])
