"""The leaderboard page's settings (hepnb.tracks.pipeline.Settings) from its declared parameters, the sample
description (hepnb.tracks.data.TrackSample) and the page's tables (hepnb.tracks.report) on hand-made results."""

from __future__ import annotations

import pytest

from hepnb.book.registry import get_study
from hepnb.tracks import pipeline, report
from hepnb.tracks.data import TrackSample, generate_tracks_chunked, make_dataset
from hepnb.tracks.fieldmap import default_field_map


def _parameters(profile: str) -> dict[str, object]:
    study = get_study("rkpinn_leaderboard")
    values = {name: p.default for name, p in study.parameters.items()}
    return {**values, **study.profile_overrides(profile)}


def test_settings_come_from_the_page_parameters() -> None:
    settings = pipeline.Settings.from_parameters(_parameters("ci"))
    assert isinstance(settings.legs, tuple) and settings.first_leg == settings.legs[0]
    assert len(settings.edges_gev) == 9
    assert settings.edges_gev[0] == pytest.approx(settings.p_min_gev)
    assert settings.edges_gev[-1] == pytest.approx(settings.p_max_gev)
    zoo = settings.zoo(7)
    assert (zoo.steps, zoo.batch_size, zoo.lr, zoo.bases) == (7, settings.batch_size, settings.learning_rate,
                                                              settings.mlp_bases)
    with pytest.raises(KeyError):
        pipeline.Settings.from_parameters({k: v for k, v in _parameters("ci").items() if k != "n_coarse"})


def test_an_unknown_or_misspelt_keyword_is_refused() -> None:
    with pytest.raises(TypeError):
        make_dataset(10, 10, 10, legg="ut_t")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        TrackSample(physic="original")  # type: ignore[call-arg]


def test_a_chunked_sample_names_its_map_for_the_workers() -> None:
    with pytest.raises(TypeError, match="spec the workers read"):
        generate_tracks_chunked(10, sample=TrackSample(field_map=default_field_map()))


def test_glued_numbers_of_the_original_setting() -> None:
    numbers = report.glue_original({"original_line_um": 500.0, "correct_line_um": 200_000.0})
    assert numbers == {"original_line_mm": 0.5, "correct_line_mm": 200.0, "original_ratio": 400.0}


def test_seed_spread_retrains_every_stack_and_gives_each_learned_model_its_own_spread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every (family, size) stack is retrained once per extra seed, in one batch of tasks per leg, and every learned
    model gets the test medians of all its seeds (the zoo's first) and their spread; a baseline gets none."""
    import numpy as np

    from hepnb.tracks import training

    settings = pipeline.Settings.from_parameters({**_parameters("ci"), "legs": ["ut_t"], "n_seeds": 3})
    end = np.zeros((4, 5))
    samples = pipeline.Samples(datasets={"ut_t": {"test": {"start": np.zeros((4, 5), np.float32), "end": end}}},
                               convergence=[])
    names = [f"mlp_{s}_{b}" for s in settings.mlp_sizes for b in settings.mlp_bases] + [
        f"rkpinn_{s}_pde{w:g}" for s in settings.rkpinn_sizes for w in (0.0, settings.pde_weight)]
    rows = [{"model": n, "family": n.split("_")[0], "pos_median_um": 10.0} for n in names]
    rows.append({"model": "rk4_2", "family": "rk4", "pos_median_um": 500.0})
    boards = type("B", (), {"rows": {"ut_t": rows}})()
    zoo = type("Z", (), {"records": {"ut_t": {n: {"converged": True} for n in names}}})()
    seen: list[tuple[tuple[str, str], int]] = []

    def fake_tasks(data, tasks, *, client=None, desc=""):  # type: ignore[no-untyped-def]
        out = []
        for (family, size), config in tasks:
            seen.append(((family, size), config.seed))
            stack = [n for n in names if n.startswith(f"{family}_{size}_")]
            # a model's error is its seed (µm) plus 10: the spread over seeds 0, 1, 2 is exactly 1 µm
            out.append(({n: float(config.seed) for n in stack},
                        {n: {"converged": config.seed != 2 or family == "mlp"} for n in stack}))
        return out

    monkeypatch.setattr(training, "run_zoo_tasks", fake_tasks)
    monkeypatch.setattr(pipeline.evaluate, "predict_batched", lambda model, start: np.full((len(start), 5), model))
    monkeypatch.setattr(pipeline.evaluate, "position_error_um", lambda pred, truth: 10.0 + pred[:, 0])
    spread = pipeline.seed_spread(settings, samples, boards, zoo)["ut_t"]
    members = [("mlp", s) for s in settings.mlp_sizes] + [("rkpinn", s) for s in settings.rkpinn_sizes]
    assert sorted(seen) == sorted((m, settings.seed + k) for m in members for k in (1, 2))
    assert set(spread) == set(names)  # every learned model, no baseline
    for name in names:
        assert spread[name]["median_um"] == [10.0, 11.0, 12.0]
        assert spread[name]["std_um"] == pytest.approx(1.0)
        assert spread[name]["all_converged"] is name.startswith("mlp")  # an RK-PINN seed did not converge
