"""ONNX export in the O2 PIDML layout: raw features in, one probability per species out, equal to JAX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepnb.pid.data import simulate_tracks
from hepnb.pid.export import export_onnx, onnx_probabilities
from hepnb.pid.models import build_network
from hepnb.pid.pipeline import predict_network, train_network
from hepnb.pid.protocols import prepare, scale_like
from hepnb.pid.selection import features, labels, selected


@pytest.fixture(scope="module")
def raw_and_labels() -> tuple[np.ndarray, np.ndarray]:
    tracks = selected(simulate_tracks(3000, seed=5), "o2")
    return features(tracks), labels(tracks)


@pytest.mark.parametrize("name", ["simple_nn", "dnn"])
@pytest.mark.parametrize("protocol", ["seed", "corrected"])
def test_onnx_matches_jax(raw_and_labels: tuple[np.ndarray, np.ndarray], tmp_path: Path, name: str,
                          protocol: str) -> None:
    import onnx

    raw, y = raw_and_labels
    data = prepare(raw, y, protocol)
    model, _ = train_network(name, data, epochs=1, patience=1)
    path = export_onnx(model, protocol, data.mean, data.std, tmp_path / f"{name}.onnx")
    graph = onnx.load(path).graph
    assert [o.name for o in graph.output] == ["prob_211", "prob_321", "prob_2212", "prob_11"]
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_value == 22
    onnx_prob = onnx_probabilities(path, raw)
    jax_prob = predict_network(model, scale_like(data, raw))
    np.testing.assert_allclose(onnx_prob, jax_prob, atol=2e-5)
    np.testing.assert_allclose(onnx_prob.sum(axis=1), 1.0, atol=1e-5)


def test_export_refuses_other_networks(raw_and_labels: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    raw, y = raw_and_labels
    data = prepare(raw, y, "corrected")
    with pytest.raises(TypeError, match="dense networks"):
        export_onnx(build_network("fse_phase1"), "corrected", data.mean, data.std, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="unknown protocol"):
        export_onnx(build_network("dnn"), "best", data.mean, data.std, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
