"""Bad inputs, model definitions, training, Jacobians and ONNX export."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from hepnb.tracks import pipeline
from hepnb.tracks.data import generate_tracks, setting
from hepnb.tracks.export import export_onnx, onnx_max_abs_diff
from hepnb.tracks.field import default_field_map
from hepnb.tracks.models import SIZES, build_model, n_params
from hepnb.tracks.propagate import rk4

GOOD = np.array([[10.0, 5.0, 0.1, 0.05, 0.1]])


@pytest.mark.parametrize(("states", "kwargs", "message"), [
    (np.array([[np.nan, 0, 0, 0, 0.1]]), {}, "contain NaN/inf"),
    (np.array([[0.0, 0, 0, np.inf, 0.1]]), {}, "contain NaN/inf"),
    (np.zeros((3, 4)), {}, r"shaped \(N, 5\)"),
    (np.array([[0.0, 0, 0, 0, 0.0]]), {}, "q/p must be non-zero"),
    (np.array([[0.0, 0, 0.9, 0, 0.1]]), {}, "slopes too large"),
    (GOOD, {"z1_mm": 20000.0}, r"z1_mm = 20000 mm lies outside"),
    (GOOD, {"z0_mm": -900.0}, r"z0_mm = -900 mm lies outside"),
])
def test_bad_states_are_refused(states: np.ndarray, kwargs: dict[str, float], message: str) -> None:
    args = {"z0_mm": 2648.2, "z1_mm": 7826.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        rk4(states, args["z0_mm"], args["z1_mm"], 10)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown leg 'ut_x'; choose one of \['ut_t', 'velo_t'\]"):
        setting("correct", "ut_x")
    with pytest.raises(ValueError, match="unknown physics 'wrong'"):
        generate_tracks(10, physics="wrong")
    stats = {"in_mean": np.zeros(5), "in_std": np.ones(5), "qop_rms": 0.1, "mlp_scale": np.ones(4), "rkpinn_scale": np.ones(4)}
    with pytest.raises(ValueError, match="unknown model family 'cnn'"):
        build_model("cnn", "tiny", stats=stats, z0_mm=0, z1_mm=1)
    with pytest.raises(ValueError, match="unknown model size 'huge'"):
        build_model("mlp", "huge", stats=stats, z0_mm=0, z1_mm=1)


def test_zoo_spans_3k_to_500k_parameters() -> None:
    stats = {"in_mean": np.zeros(5), "in_std": np.ones(5), "qop_rms": 0.1, "mlp_scale": np.ones(4), "rkpinn_scale": np.ones(4)}
    counts = {s: n_params(build_model("mlp", s, stats=stats, z0_mm=0, z1_mm=1)) for s in SIZES}
    assert len(counts) >= 8
    assert 2_000 <= min(counts.values()) <= 4_000
    assert 400_000 <= max(counts.values()) <= 600_000


@pytest.fixture(scope="module")
def dataset() -> dict:
    return pipeline.make_dataset(1536, 256, 512, leg="ut_t", physics="correct", seed=2, p_range_gev=(2.0, 100.0),
                                 n_coarse=3, n_colloc=2)


def test_rkpinn_starts_at_the_initial_condition_and_learns(dataset: dict) -> None:
    model, result = pipeline.train_extrapolator("rkpinn", "tiny", dataset, epochs=4, batch_size=128, lr=1e-3,
                                                seed=0, n_coarse=3, pde_weight=1e-2)
    start = jnp.asarray(dataset["test"]["start"])
    at_zero = model.state_at(start, jnp.zeros(start.shape[0]))
    np.testing.assert_allclose(np.asarray(at_zero), np.asarray(start[:, :4]), rtol=1e-5, atol=1e-4)
    assert min(result.history["val_pos_um"][1:]) < result.history["val_pos_um"][0]
    assert {"train_pde", "train_data"} <= set(result.history)
    learned = pipeline.accuracy(np.asarray(model(start)), dataset["test_end64"])
    straight_line = pipeline.baseline_predictors(dataset["setting"])["straight_line"]
    line = pipeline.accuracy(np.asarray(straight_line(start)), dataset["test_end64"])
    assert learned["pos_mean_um"] < line["pos_mean_um"] / 100


def test_rk4_jacobian_matches_finite_differences(dataset: dict) -> None:
    st = dataset["setting"]

    def reference(states: np.ndarray) -> np.ndarray:
        return rk4(states, st.z0_mm, st.z1_mm, 1036, field=st.field)

    track = dataset["test_start64"][0].copy()
    jac = pipeline.jacobian_comparison(pipeline.baseline_predictors(st)["rk4_50"], reference, track)
    assert jac["max_rel_diff_4x4"] < 0.02
    assert np.allclose(np.diag(jac["autodiff"]), 1.0, atol=0.2)  # near-identity transport for positions/slopes


def test_onnx_export_matches_jax(dataset: dict, tmp_path: Path) -> None:
    model, _ = pipeline.train_extrapolator("mlp", "tiny", dataset, epochs=1, batch_size=128, lr=1e-3, seed=0,
                                           n_coarse=3, pde_weight=0.0)
    path = export_onnx(model, tmp_path / "mlp.onnx")
    diff = onnx_max_abs_diff(model, path, dataset["test"]["start"])
    assert diff["max_pos_diff_um"] < 5.0  # float32 round-off on metre-scale positions
    assert diff["max_slope_diff_mrad"] < 1e-3


def test_seed_faithful_setting_reproduces_the_weak_bending() -> None:
    seed = generate_tracks(300, physics="seed", seed=1)
    correct = generate_tracks(300, seed=1)
    bend_seed = np.median(np.abs(seed["end"][:, 2] - seed["start"][:, 2]))
    bend_correct = np.median(np.abs(correct["end"][:, 2] - correct["start"][:, 2]))
    assert bend_seed < bend_correct / 100  # the 1000x units bug
    assert seed["setting"].dz_mm == pytest.approx(8000.0)
    assert default_field_map() is default_field_map()
