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
