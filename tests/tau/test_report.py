"""The tau page's settings (hepnb.tau.pipeline.Settings), its tables and sentences (hepnb.tau.report) on small
hand-made results."""

from __future__ import annotations

import pytest

from hepnb.book.registry import get_study, resolve_parameters
from hepnb.tau import pipeline, report
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
    return {"name": name, "parameters": parameters, "n_train": 3000, "epochs": 3,
            "summary": {"tau ID AUC": auc}, "errors": {"tau ID AUC": error}}


def test_side_study_sentences_quote_their_rows() -> None:
    rows = [_row("ParT-lite", 0.9412, 0.0031, 12_345), _row("ParT-B", 0.9634, 0.0027, 2_100_000)]
    text = report.sizes_text(rows)
    assert "From ParT-lite (12 345 parameters) to ParT-B (2 100 000)" in text.replace("\u202f", " ").replace(",", " ")
    assert "0.9412 ± 0.0031" in text and "0.9634 ± 0.0027" in text and "3 epochs" in text
    assert "reaches a tau-ID AUC of 0.9412 ± 0.0031" in report.sizes_text(rows[:1])
    assert report.sizes_text([]) == "" and report.pretraining_text([]) == ""
    label = [{"fraction": f, "init": init, "n_train": n, "summary": {"tau ID AUC": a, "DM accuracy": 0.5},
              "errors": {"tau ID AUC": 0.01}}
             for f, n in ((0.1, 300), (1.0, 3000)) for init, a in (("scratch", 0.81), ("pre-trained", 0.88))]
    text = report.pretraining_text(label)
    assert "a fraction 0.1" in text and "0.880 ± 0.010 fine-tuned and 0.810 ± 0.010 from scratch" in text


def test_last_change_is_relative_to_the_first_epoch() -> None:
    text = report.last_change_markdown({"Multi (none)": {"val_loss": [2.0, 1.5, 1.4]}, "Single (x)": {"val_loss": [1.0]}})
    assert "Multi (none) -0.050" in text and "Single (x) +nan" in text
