"""Train on ML-Tau ntuples, save the model, ``hepnb tau predict`` on ML-Tau and study files, ``hepnb tau export``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hepnb.cli import main
from hepnb.io import read_table
from hepnb.tau import export
from hepnb.tau.data import read_sample, write_jets
from hepnb.tau.export import DM_COLUMNS, load_tau_model, predict_jets, save_tau_model, tensors_for_prediction
from hepnb.tau.models import ParTConfig
from hepnb.tau.training import TrainingConfig, split_sample, train_multi
from tests.tau.mltau_files import random_jets, write_mltau

TINY = ParTConfig(embed_dims=(16, 32, 16), pair_dims=(8, 8), n_heads=2, n_layers=1, n_cls_layers=1)


@dataclass
class Trained:
    folder: Path
    model: Any
    test_file: Path
    test_truth: dict[str, Any]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A MultiParTau trained on ML-Tau ntuples (a Z → ττ and a Z → qq̄ file, two conventions), saved."""
    tmp = tmp_path_factory.mktemp("mltau")
    files = [write_mltau(tmp / "z_train.parquet", random_jets(200, seed=11, tau_fraction=1.0)),
             write_mltau(tmp / "qq_train.parquet", random_jets(200, seed=12, tau_fraction=0.0), "vector")]
    data = split_sample(read_sample(files), seed=0)
    run = train_multi(data, TINY, TrainingConfig(epochs=4, batch_size=32, lr=3e-3, seed=0), surgery="none")
    scale = tuple(float(v) for v in np.asarray(run.model.heads["kinematics"].out.scale[...]))
    folder = save_tau_model(tmp / "model", run.model, TINY, name="MultiParTau (none)", kin_scale=scale)
    truth = random_jets(60, seed=13)
    return Trained(folder, run.model, write_mltau(tmp / "test.parquet", truth, "vector"), truth)


def test_saved_model_reproduces_the_one_in_memory(trained: Trained) -> None:
    tensors = tensors_for_prediction(read_sample(trained.test_file).jets)
    meta, loaded = load_tau_model(trained.folder)
    assert meta.name == "MultiParTau (none)" and meta.embed_dims == [16, 32, 16]
    want, got = predict_jets(trained.model, tensors), predict_jets(loaded, tensors)
    assert set(got) == set(want)
    for column, values in want.items():
        np.testing.assert_allclose(got[column], values, rtol=1e-6, atol=1e-7, err_msg=column)


@pytest.mark.parametrize("kind", ["mltau", "study"])
def test_predict_command_rows(trained: Trained, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = trained.test_file
    if kind == "study":  # the same jets in the study's own jet format
        source = write_jets(tmp_path / "jets.root", read_sample(trained.test_file).jets)
    out = tmp_path / "scores.parquet"
    assert main(["tau", "predict", "--model", str(trained.folder), "--input", str(source), "--output", str(out)]) == 0
    assert "60 jets predicted by MultiParTau (none) (with their truth labels)" in capsys.readouterr().out
    rows = read_table(out)
    assert len(rows["jet"]) == 60
    score = rows["tau_score"]
    assert np.all((score >= 0) & (score <= 1))
    tau = trained.test_truth["decaymode"] >= 0
    np.testing.assert_array_equal(rows["true_is_tau"], tau)
    assert roc_auc_score(tau, score) > 0.9  # trained: an untrained network scores about 0.5
    probs = np.stack([rows[c] for c in DM_COLUMNS], axis=1)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(rows["decay_mode"], probs.argmax(axis=1))
    np.testing.assert_array_equal(rows["charge"], np.where(rows["prob_tau_plus"] > 0.5, 1, -1))
    np.testing.assert_allclose(rows["vis_px_gev"], rows["vis_pt_gev"] * np.cos(rows["vis_phi_rad"]), rtol=1e-9)
    np.testing.assert_allclose(rows["vis_e_gev"] ** 2, rows["vis_pt_gev"] ** 2 + rows["vis_pz_gev"] ** 2
                               + rows["vis_mass_gev"] ** 2, rtol=1e-9)
    np.testing.assert_allclose(rows["jet_pt_gev"], trained.test_truth["jet"]["pt"], rtol=1e-5)
    # the visible pT stays near the reco jet's (the network corrects it by a few per cent at most)
    assert np.all(np.abs(np.log(rows["vis_pt_gev"][tau] / rows["jet_pt_gev"][tau])) < 0.5)


def test_unlabelled_ntuples_predicted_without_truth(trained: Trained, tmp_path: Path) -> None:
    reco_only = write_mltau(tmp_path / "reco.parquet", trained.test_truth,
                            drop=("gen_jet_tau_p4", "gen_jet_tau_decaymode", "gen_jet_tau_charge"))
    out = tmp_path / "scores.root"
    assert main(["tau", "predict", "--model", str(trained.folder), "--input", str(reco_only), "--output", str(out)]) == 0
    rows = read_table(out, tree="tau")
    assert "true_is_tau" not in rows and len(rows["tau_score"]) == 60
    full = read_table(_predict(trained, tmp_path))
    np.testing.assert_allclose(rows["tau_score"], full["tau_score"], rtol=1e-6)


def _predict(trained: Trained, tmp_path: Path) -> Path:
    out = tmp_path / "full.parquet"
    assert main(["tau", "predict", "--model", str(trained.folder), "--input", str(trained.test_file),
                 "--output", str(out)]) == 0
    return out


def test_bad_inputs_refused_before_the_model_loads(trained: Trained, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def no_load(folder: Any) -> Any:
        raise AssertionError("the model was loaded for a bad input")

    monkeypatch.setattr(export, "load_tau_model", no_load)
    out = tmp_path / "scores.parquet"
    cases = {
        "missing column": (write_mltau(tmp_path / "a.parquet", trained.test_truth, drop=("reco_cand_dxy_error",)),
                           "column 'reco_cand_dxy_error' is missing"),
        "wrong type": (write_mltau(tmp_path / "b.parquet", trained.test_truth,
                                   replace={"reco_cand_charges": np.ones(60)}),
                       "column 'reco_cand_charges' must hold a list of numbers per jet"),
        "not a table": (tmp_path / "c.parquet", "neither a ROOT file"),
    }
    (tmp_path / "c.parquet").write_text("text")
    for path, message in cases.values():
        assert main(["tau", "predict", "--model", str(trained.folder), "--input", str(path), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and str(path) in err and len(err.splitlines()) == 1
        assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".scores")]


def test_bad_model_folders_refused(trained: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--input", str(trained.test_file), "--output", str(tmp_path / "s.parquet")]
    assert main(["tau", "predict", "--model", str(tmp_path), *args]) == 2
    assert "is not a hepnb tau model folder (no model.json)" in capsys.readouterr().err
    good = json.loads((trained.folder / "model.json").read_text())
    bad = tmp_path / "bad"
    (bad / "checkpoint").mkdir(parents=True)
    for change, message in (({"features": good["features"][::-1]}, "trained on other candidate features"),
                            ({"tasks": ["tau_id"]}, "tasks: value error, must be the four tasks"),
                            ({"kin_scale": [1.0]}, "kin_scale: list should have at least 5 items"),
                            ({"n_heads": "8"}, "n_heads: should be a valid integer")):
        (bad / "model.json").write_text(json.dumps({**good, **change}))
        assert main(["tau", "predict", "--model", str(bad), *args]) == 2
        assert message in capsys.readouterr().err.lower()
    from hepnb.tau.jets import CAND_FEATURES

    # a model saved before the inputs had a version: tanh(dxy) and its error, true-mass track energies
    old = {k: v for k, v in good.items() if k != "feature_version"} | {"features": list(CAND_FEATURES)}
    (bad / "model.json").write_text(json.dumps(old))
    assert main(["tau", "predict", "--model", str(bad), *args]) == 2
    assert "trained on network inputs of version 1; this version of hepnb builds version 2" in capsys.readouterr().err
    assert good["feature_version"] == 2
    (bad / "model.json").write_text(json.dumps(good))
    assert main(["tau", "predict", "--model", str(bad), *args]) == 2  # an empty checkpoint folder
    assert "no hepnb model checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "s.parquet").exists()
    before = trained.test_file.read_bytes()
    assert main(["tau", "predict", "--model", str(trained.folder), "--input", str(trained.test_file),
                 "--output", str(trained.test_file)]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert trained.test_file.read_bytes() == before


def test_onnx_export_matches_the_network(trained: Trained, tmp_path: Path) -> None:
    path = tmp_path / "tau.onnx"
    assert main(["tau", "export", "--model", str(trained.folder), "--onnx", str(path), "--batch", "4"]) == 0
    full = tensors_for_prediction(read_sample(trained.test_file).jets)
    # charged pions only: the pair feature ln m² of two near-collinear photons (E² − |p|² cancels to the rounding of
    # float32) differs between the runtimes, so the exact comparison leaves photons out; then all inputs
    charged = {**full, "mask": full["mask"] & (full["features"][..., 7] != 0)}
    # with photons: a few jets move by up to a few 10⁻² (1 of 60 by 0.023 for the model of the fixture), the rest agree
    for tensors, atol in ((charged, 2e-5), (full, 5e-2)):
        want = predict_jets(trained.model, tensors)
        got = _run_onnx(path, tensors)
        np.testing.assert_allclose(got["tau_score"], want["tau_score"], atol=atol)
        np.testing.assert_allclose(got["prob_tau_plus"], want["prob_tau_plus"], atol=atol)
        np.testing.assert_allclose(got["dm"], np.stack([want[c] for c in DM_COLUMNS], axis=1), atol=atol)
        np.testing.assert_allclose(np.exp(got["kin"][:, 0]) * want["jet_pt_gev"], want["vis_pt_gev"], rtol=10 * atol)
        assert np.median(np.abs(got["tau_score"] - want["tau_score"])) < 2e-6


def _run_onnx(path: Path, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ONNX graph (batch 4) on all jets, four at a time, with onnxruntime."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got: dict[str, list[np.ndarray]] = {"tau_score": [], "prob_tau_plus": [], "dm": [], "kin": []}
    for start in range(0, len(tensors["mask"]), 4):
        rows = slice(start, start + 4)
        outputs = session.run(None, {"features": tensors["features"][rows], "p4": tensors["p4"][rows],
                                     "mask": tensors["mask"][rows].astype(np.float32)})
        for key, value in zip(got, outputs, strict=True):
            got[key].append(value)
    return {k: np.concatenate(v) for k, v in got.items()}
