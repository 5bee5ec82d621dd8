"""The tau page's settings (hepnb.tau.pipeline.Settings), its tables and sentences (hepnb.tau.report) on small
hand-made results."""

from __future__ import annotations

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
