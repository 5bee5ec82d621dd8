"""Deployable model folders, prediction with per-track domain flags, and the ``hepnb pid`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hepnb.cli import main
from hepnb.io import read_table
from hepnb.pid import training
from hepnb.pid.constants import SPECIES
from hepnb.pid.data import LABEL_COLUMNS, simulate_tracks, write_tracks
from hepnb.pid.export import DOMAIN_FLAGS, domain_flags, load_deployable, model_inputs, save_deployable
from hepnb.pid.protocols import prepare_cell
from hepnb.pid.reader import read_tracks
from hepnb.pid.selection import selected


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    return simulate_tracks(3000, seed=2)


def test_domain_flags_per_track() -> None:
    table = {"pt": np.array([0.5, 0.0, 0.05, 0.5, 0.5, 2.0]), "eta": np.array([0.1, 0.1, 0.1, 0.85, 0.1, 0.1]),
             "p": np.array([0.5, 0.0, 0.05, 0.7, 0.5, 2.1])}
    flags = domain_flags(table, {"p_min_gev": 0.0, "p_max_gev": 1.0, "pt_min_gev": 0.1, "abs_eta_max": 0.8})
    np.testing.assert_array_equal(flags, [0, DOMAIN_FLAGS["pt_not_positive"], DOMAIN_FLAGS["pt_below_min"],
                                          DOMAIN_FLAGS["eta_beyond"], 0, DOMAIN_FLAGS["p_outside_range"]])


def test_saved_models_predict_and_flag_through_the_cli(sample: dict[str, np.ndarray], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    rd = training.range_data(selected(sample, "o2"), "0-1")
    data = prepare_cell(rd.raw, rd.y, "corrected")
    net, _ = training.train_network("simple_nn", data, training.TrainingConfig(epochs=1, patience=1), range_name="0-1")
    booster, _ = training.train_tree("xgboost", data, n_trees=10)
    save_deployable(tmp_path / "net", "simple_nn", net, data, range_name="0-1")
    save_deployable(tmp_path / "xgb", "xgboost", booster, data, range_name="0-1")
    unlabelled = {k: v for k, v in sample.items() if k not in LABEL_COLUMNS}  # before the selection: |η| to 0.9
    write_tracks(tmp_path / "in.parquet", unlabelled)
    table = read_tracks(tmp_path / "in.parquet", require_labels=False)
    inside = (np.abs(table["eta"]) <= 0.8) & (table["p"] < 1.0) & (table["pt"] >= 0.1)
    meta, _ = load_deployable(tmp_path / "net")
    inputs = model_inputs(meta, table)
    expected = {"net": training.predict_network(net, {k: v[inside] for k, v in inputs.items()}),
                "xgb": booster.predict_proba(inputs["x"][inside])}
    for name, want in expected.items():
        assert main(["pid", "predict", "--model", str(tmp_path / name), "--input", str(tmp_path / "in.parquet"),
                     "--output", str(tmp_path / f"{name}.root")]) == 0
        assert f"{int(inside.sum())} inside the model's training domain, {int((~inside).sum())} outside" in capsys.readouterr().out
        got = read_table(tmp_path / f"{name}.root", tree="pid", finite=False)  # NaN: not predicted
        np.testing.assert_array_equal(got["track_id"], sample["track_id"])
        np.testing.assert_array_equal(got["in_domain"], inside.astype(np.int32))
        probs = np.stack([got[f"prob_{s}"] for s in SPECIES], axis=1)
        np.testing.assert_allclose(probs[inside], want, rtol=1e-5, atol=1e-6)
        assert np.all(np.isnan(probs[~inside])) and np.all(got["predicted"][~inside] == -1)
        assert np.all(got["domain_flags"][~inside] > 0) and np.all(got["predicted_pdg"][~inside] == 0)
    good = json.loads((tmp_path / "xgb" / "model.json").read_text())
    for change, message in (({"features": good["features"][:-1]}, "trained on another feature set"),
                            ({"kind": None}, "kind: should be 'xgboost' or 'network'"),
                            ({"domain": {**good["domain"], "p_min_gev": "0.1"}}, "domain.p_min_gev: should be a valid number"),
                            ({"std": good["std"][:-1]}, "mean and std must have the same length"),
                            ({"mean": "0"}, "mean: should be a valid list")):
        (tmp_path / "xgb" / "model.json").write_text(json.dumps({**good, **change}))
        with pytest.raises(ValueError, match=message):
            load_deployable(tmp_path / "xgb")
    (tmp_path / "xgb" / "model.json").write_text(json.dumps([good]))
    with pytest.raises(ValueError, match="model.json: the top level: should be a valid dictionary"):
        load_deployable(tmp_path / "xgb")
    (tmp_path / "xgb" / "model.json").write_text(json.dumps(good))
    (tmp_path / "xgb" / "xgboost.json").unlink()
    with pytest.raises(FileNotFoundError, match="describes a xgboost model, but its weights .*xgboost.json are missing"):
        load_deployable(tmp_path / "xgb")
    (tmp_path / "xgb" / "model.json").write_text("{truncated")
    with pytest.raises(ValueError, match="model.json is not valid JSON"):
        load_deployable(tmp_path / "xgb")
    with pytest.raises(FileNotFoundError, match="not a hepnb PID model folder"):
        load_deployable(tmp_path)


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pid", "generate", "--n", "300", "--seed", "2", "--output", str(tmp_path / "t.root")]) == 0
    assert len(read_tracks(tmp_path / "t.root")["pt"]) == 300
    assert main(["pid", "generate", "--n", "300", "--data-like", "--output", str(tmp_path / "d.parquet")]) == 0
    assert not set(LABEL_COLUMNS) & set(read_table(tmp_path / "d.parquet"))
    assert main(["pid", "generate", "--n", "10", "--output", str(tmp_path / "t.csv")]) == 2
    assert "must end in .root or .parquet" in capsys.readouterr().err
