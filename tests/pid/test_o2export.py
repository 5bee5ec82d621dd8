"""O2Physics export: the files Tools/PIDML loads, checked by emulating its C++ reader (pidOnnxModel.h) in Python
against the network in memory, for every network family."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hepnb.pid import training
from hepnb.pid.constants import O2_TOF_P_MIN_GEV, SPECIES
from hepnb.pid.data import simulate_tracks
from hepnb.pid.export import load_deployable, predict_table, save_deployable
from hepnb.pid.models import NETWORKS, build_network
from hepnb.pid.o2export import O2_COLUMNS, ao2d_table, export_o2, model_file_name, o2_reader_certainty
from hepnb.pid.protocols import prepare_cell, scale_inputs
from hepnb.pid.selection import selected
from hepnb.pid.transforms import ColumnTransform, InputTransform

PDGS = {"pi": (211, -211), "ka": (321, -321), "pr": (2212, -2212), "el": (-11, 11)}  # (positive, negative) track


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    return selected(simulate_tracks(4000, seed=5), "o2")


@pytest.fixture(scope="module")
def blanked(sample: dict[str, np.ndarray]) -> training.RangeData:
    return training.range_data(sample, "full", tof_p_min_gev=O2_TOF_P_MIN_GEV)


def _emulate(folder: Path, table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {s: np.stack([o2_reader_certainty(folder, pdg, table) for pdg in PDGS[s]]) for s in SPECIES}


def test_trained_network_through_the_o2_reader(sample: dict[str, np.ndarray], blanked: training.RangeData,
                                               tmp_path: Path) -> None:
    """A trained network's folder, read as O2 reads it, gives the in-memory probabilities to 1e-5 for every
    species and charge, on tracks with and without TOF and below the TOF limit."""
    data = prepare_cell(blanked.raw, blanked.y, "corrected")
    model, _ = training.train_network("dnn", data, training.TrainingConfig(epochs=1, patience=1, lr_scale=10.0),
                                     range_name="full")
    folder = save_deployable(tmp_path / "dnn", "dnn", model, data, tof_p_min_gev=O2_TOF_P_MIN_GEV)
    out = export_o2(*reversed(load_deployable(folder)), tmp_path / "o2")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["columns_for_training.json", "scaling_params.json",
         *(model_file_name(pdg) for pair in PDGS.values() for pdg in pair)])
    assert (out / "attention_model_0211.onnx").is_file() and (out / "attention_model_011.onnx").is_file()
    columns = json.loads((out / "columns_for_training.json").read_text())["columns_for_training"]
    assert columns == list(O2_COLUMNS) and all(c.startswith("f") for c in columns)
    rows = json.loads((out / "scaling_params.json").read_text())["data"]
    assert [r[0] for r in rows] == columns and all(len(r) == 3 and r[2] > 0 for r in rows)
    import onnx

    graph = onnx.load(out / "attention_model_321.onnx").graph
    assert len(graph.input) == 1 and len(graph.output) == 1
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_value == len(columns)

    tracks = {k: v[data.test["index"][:120]] for k, v in blanked.tracks.items()}
    raw_tracks = {k: v[data.test["index"][:120]] for k, v in training.range_data(sample, "full").tracks.items()}
    assert raw_tracks["has_tof"].any() and (raw_tracks["has_tof"] & (raw_tracks["p"] < O2_TOF_P_MIN_GEV)).any()
    in_memory = predict_table(folder, raw_tracks)  # the folder blanks TOF below 0.5 GeV/c as O2 does
    emulated = _emulate(out, ao2d_table(raw_tracks))
    for s in SPECIES:
        for certainty in emulated[s]:  # both charges: one network
            np.testing.assert_allclose(certainty, in_memory[f"prob_{s}"], atol=1e-5, err_msg=s)
    prob = training.predict_network(model, data.test)[:120]
    np.testing.assert_allclose(np.stack([in_memory[f"prob_{s}"] for s in SPECIES], 1), prob, atol=1e-6)
    np.testing.assert_array_equal(tracks["has_tof"], raw_tracks["has_tof"] & (raw_tracks["p"] >= O2_TOF_P_MIN_GEV))


@pytest.mark.parametrize("name", [n for n in NETWORKS if n != "dnn"])
def test_every_network_family_exports(name: str, blanked: training.RangeData, tmp_path: Path) -> None:
    """FSE (attention), MoE and the dense networks all go through jax2onnx; checked on a few tracks."""
    data = prepare_cell(blanked.raw, blanked.y, "corrected")
    model = build_network(name, seed=1, range_name="full")
    model.eval()
    folder = save_deployable(tmp_path / name, name, model, data, tof_p_min_gev=O2_TOF_P_MIN_GEV)
    out = export_o2(*reversed(load_deployable(folder)), tmp_path / "o2")
    tracks = {k: v[data.test["index"][:25]] for k, v in blanked.tracks.items()}
    in_memory = predict_table(folder, tracks)
    table = ao2d_table(tracks)
    for s in ("ka", "el"):
        np.testing.assert_allclose(o2_reader_certainty(out, PDGS[s][0], table), in_memory[f"prob_{s}"], atol=1e-5)


def test_export_refuses_what_o2_cannot_run(blanked: training.RangeData, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from hepnb.cli import main
    from hepnb.pid.training import train_tree

    data = prepare_cell(blanked.raw, blanked.y, "corrected")
    booster, _ = train_tree("xgboost", data, n_trees=3)
    save_deployable(tmp_path / "xgb", "xgboost", booster, data)
    assert main(["pid", "export", "--model", str(tmp_path / "xgb"), "--o2", str(tmp_path / "o2")]) == 2
    assert "only networks can be exported" in capsys.readouterr().err
    net = build_network("simple_nn")
    save_deployable(tmp_path / "net", "simple_nn", net, data)  # trained without O2's TOF limit
    with pytest.raises(ValueError, match="train it with tof_p_min_gev=0.5"):
        export_o2(*reversed(load_deployable(tmp_path / "net")), tmp_path / "o2")
    save_deployable(tmp_path / "net05", "simple_nn", net, data, tof_p_min_gev=O2_TOF_P_MIN_GEV)
    for inside in (tmp_path / "net05", tmp_path / "net05" / "checkpoint" / "o2"):
        assert main(["pid", "export", "--model", str(tmp_path / "net05"), "--o2", str(inside)]) == 2
        assert "overlaps the model folder" in capsys.readouterr().err
    assert main(["pid", "export", "--model", str(tmp_path / "net05"), "--o2", str(tmp_path / "o2")]) == 0
    assert "exported for O2Physics PIDML" in capsys.readouterr().out
    assert (tmp_path / "o2" / "attention_model_02212.onnx").is_file()


@pytest.mark.parametrize("transform", [InputTransform(nsigma=ColumnTransform("clip", 10.0)),
                                       InputTransform(nsigma=ColumnTransform("asinh", 3.0),
                                                      dedx=ColumnTransform("asinh", 50.0))],
                         ids=["clip", "asinh"])
def test_o2_graph_applies_the_input_transform(transform: InputTransform, sample: dict[str, np.ndarray],
                                              blanked: training.RangeData, tmp_path: Path) -> None:
    """A network trained on transformed inputs, exported: O2's reader feeds the raw AO2D values (standardised by
    scaling_params.json only) and the graph transforms them itself. Its certainties equal the JAX network applied
    to the transformed inputs, and differ from it applied to untransformed ones (the transform matters)."""
    data = prepare_cell(blanked.raw, blanked.y, "tuned", transform=transform)
    model, _ = training.train_network("simple_nn", data, training.TrainingConfig(epochs=1, patience=1, lr_scale=10.0),
                                     range_name="full")
    folder = save_deployable(tmp_path / "net", "simple_nn", model, data, tof_p_min_gev=O2_TOF_P_MIN_GEV)
    meta, loaded = load_deployable(folder)
    assert InputTransform.from_dict(meta["transform"]) == transform
    out = export_o2(loaded, meta, tmp_path / "o2")
    rows = data.test["index"][:60]
    tracks = {k: v[rows] for k, v in blanked.tracks.items()}
    raw_tracks = {k: v[rows] for k, v in training.range_data(sample, "full").tracks.items()}
    assert (np.abs(raw_tracks["tpc_nsigma_el"]) > 10).any()  # the transform bites on these tracks
    jax_prob = training.predict_network(model, {k: v[:60] for k, v in data.test.items()})
    untransformed = training.predict_network(model, scale_inputs(data.test["raw"][:60], "tuned", data.mean, data.std))
    assert np.max(np.abs(untransformed - jax_prob)) > 1e-3
    table = ao2d_table(raw_tracks)
    np.testing.assert_array_equal(tracks["has_tof"], raw_tracks["has_tof"] & (raw_tracks["p"] >= O2_TOF_P_MIN_GEV))
    for i, s in enumerate(SPECIES):
        for pdg in PDGS[s]:
            np.testing.assert_allclose(o2_reader_certainty(out, pdg, table), jax_prob[:, i], atol=1e-5, err_msg=s)
    np.testing.assert_allclose(np.stack([predict_table(folder, raw_tracks)[f"prob_{s}"] for s in SPECIES], 1),
                               jax_prob, atol=1e-6)


@pytest.mark.parametrize(("name", "text", "field"), [
    ("columns_for_training.json", '{"columns": ["fPt"]}', "columns_for_training: field required"),
    ("columns_for_training.json", '{"columns_for_training": []}', "columns_for_training: list should have at least 1"),
    ("scaling_params.json", '{"data": [["fPt", 1.0]]}', "data.0"),
    ("scaling_params.json", '{"data": [["fPt", 1.0, 0.0]]}', "data.0.2: should be greater than 0"),
    ("scaling_params.json", '{"data": [["fPt", NaN, 1.0]]}', "data.0.1: value error, must be finite"),
    ("scaling_params.json", '{"data": [["fBogus", 0.0, 1.0]]}', "rows for ['fBogus'], which are not in"),
    ("scaling_params.json", '{"data": ', "is not valid JSON"),
])
def test_o2_files_are_read_through_their_schemas(tmp_path: Path, name: str, text: str, field: str) -> None:
    from hepnb.pid.o2export import read_o2_files

    (tmp_path / "columns_for_training.json").write_text('{"columns_for_training": ["fPt", "fEta"]}')
    (tmp_path / "scaling_params.json").write_text('{"data": [["fPt", 1.5, 2.0]]}')
    columns, scaling = read_o2_files(tmp_path)
    assert columns == ["fPt", "fEta"] and scaling == {"fPt": (np.float32(1.5), np.float32(2.0))}
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=re.escape(field)) as caught:
        read_o2_files(tmp_path)
    assert str(tmp_path / name) in str(caught.value) and "\n" not in str(caught.value)
