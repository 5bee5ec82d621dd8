"""Saved extrapolators (``model.json`` + weights) through ``hepnb tracks propagate --model`` and ``hepnb tracks
export``: predictions equal the in-memory model's and follow the reference integrator, states outside the training
domain are flagged and not predicted, bad folders and inputs are refused before the weights load, and the ONNX file
agrees with JAX."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hepnb.cli import main
from hepnb.io import read_table
from hepnb.tracks import evaluate, training
from hepnb.tracks.data import END_COLUMNS, TrackSample, generate_tracks, make_dataset
from hepnb.tracks.fieldmap import FieldMap
from hepnb.tracks.models import LearnedExtrapolator, build_head
from hepnb.tracks.physpoly import fit_physics_polynomial
from hepnb.tracks.saved import read_saved_meta, save_model_folder

# The bits as documented in hepnb.tracks.saved (written out here, not imported: a renumbering must fail).
FLAGS = {"p": 1, "tx": 2, "ty": 4, "x": 8, "y": 16, "origin": 32}
UT_T_MM = (2648.2, 7826.0)  # the ut_t leg's planes (LHCb's last UT plane and T1)


@pytest.fixture(scope="module")
def dataset() -> dict:
    return make_dataset(3000, 600, 500, sample=TrackSample(leg="ut_t"), seed=21)


@pytest.fixture(scope="module")
def saved(dataset: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny RK-PINN (on a two-step RK4 base through the map) and a physics polynomial, trained here and saved."""
    config = training.ZooConfig(steps=300, batch_size=256, lr=3e-3, seed=0, eval_every=100, n_coarse=2,
                                pde_weights=(0.1,))
    models, _ = training.run_zoo(dataset, [("rkpinn", "tiny")], config)
    (name, learned), = models.items()
    train = dataset["train"]
    poly = fit_physics_polynomial(train["start64"], train["end"], *UT_T_MM, 6)
    root = tmp_path_factory.mktemp("models")
    return {"learned": (learned, save_model_folder(root / "ut_t" / name, learned, dataset, name=name)),
            "polynomial": (poly, save_model_folder(root / "ut_t" / "lhcb_poly_6", poly, dataset, name="lhcb_poly_6"))}


@pytest.fixture(scope="module")
def user_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """Tracks simulated apart from the study (another seed), written by pyarrow with an extra column."""
    sample = generate_tracks(400, leg="ut_t", seed=77)
    start, end = sample["start"], sample["end"]
    path = tmp_path_factory.mktemp("user") / "states.parquet"
    columns = {"x_mm": start[:, 0], "y_mm": start[:, 1], "tx": start[:, 2], "ty": start[:, 3],
               "qop_per_gev": start[:, 4], "run_number": np.arange(len(start), dtype=np.int64)}
    pq.write_table(pa.table(columns), path)
    return path, start, end


def _write_states(path: Path, states: np.ndarray) -> Path:
    names = ("x_mm", "y_mm", "tx", "ty", "qop_per_gev")
    pq.write_table(pa.table({n: np.asarray(states[:, i], np.float64) for i, n in enumerate(names)}), path)
    return path


def _median_um(pred: np.ndarray, end: np.ndarray) -> float:
    return float(np.median(evaluate.position_error_um(pred[:, :4], end)))


def _untrained(model: LearnedExtrapolator, dataset: dict) -> LearnedExtrapolator:
    """The same base with a fresh head (its last layer starts at zero: base + the training mean)."""
    train = dataset["train"]
    base_train = np.asarray(jax.jit(model.base)(jnp.asarray(train["start"])))
    head = build_head(model.family, "tiny", stats=training.target_stats(train["start64"], train["end"], base_train),
                      per_qop=model.head.per_qop_scaled)
    return LearnedExtrapolator("untrained", head, model.base)


def test_saved_domain_is_the_training_split(saved: dict, dataset: dict) -> None:
    s = dataset["train"]["start64"]
    for _, folder in saved.values():
        meta = json.loads((folder / "model.json").read_text())
        assert meta["leg"] == "ut_t" and (meta["z0_mm"], meta["z1_mm"]) == UT_T_MM and meta["format_version"] == 1
        assert meta["domain"]["p_min_gev"] == pytest.approx(np.min(1 / np.abs(s[:, 4])), rel=1e-12)
        assert meta["domain"]["p_max_gev"] == pytest.approx(np.max(1 / np.abs(s[:, 4])), rel=1e-12)
        assert meta["domain"]["ty_max"] == pytest.approx(s[:, 3].max()) and meta["domain"]["x_min_mm"] == s[:, 0].min()
        assert meta["domain"]["x0_max_mm"] == pytest.approx(np.max(s[:, 0] - s[:, 2] * UT_T_MM[0]))
        assert meta["field"]["digest"] == dataset["setting"].field.digest() and meta["n_train"] == 3000
        # prompt tracks point back to the beam spot: the lines at z = 0 spread over centimetres (displaced
        # vertices), not over the metre of x at the first plane
        assert meta["domain"]["x0_max_mm"] - meta["domain"]["x0_min_mm"] < 0.2 * (meta["domain"]["x_max_mm"]
                                                                                  - meta["domain"]["x_min_mm"])
        # the momentum range of a 2..500 GeV sample (log-uniform: 3000 tracks come close to both ends)
        assert 2.0 <= meta["domain"]["p_min_gev"] < 2.1 and 450 < meta["domain"]["p_max_gev"] <= 500.0


@pytest.mark.parametrize("kind", ["learned", "polynomial"])
def test_propagate_model_matches_the_model_and_the_reference(kind: str, saved: dict, dataset: dict, user_table: tuple,
                                                             tmp_path: Path) -> None:
    model, folder = saved[kind]
    path, start, end = user_table
    out = tmp_path / "end.parquet"
    assert main(["tracks", "propagate", "--model", str(folder), "--input", str(path), "--output", str(out)]) == 0
    table = read_table(out, finite=False)
    got = np.stack([table[c] for c in END_COLUMNS], axis=1)
    inside = table["in_domain"] == 1
    # the momentum range is the only way these tracks leave the domain (same acceptance, same vertex spread)
    p = 1 / np.abs(start[:, 4])
    meta = json.loads((folder / "model.json").read_text())["domain"]
    p_out = (p < meta["p_min_gev"]) | (p > meta["p_max_gev"])
    np.testing.assert_array_equal(table["domain_flags"] & FLAGS["p"], np.where(p_out, FLAGS["p"], 0))
    assert inside.mean() > 0.95 and np.isnan(got[~inside]).all() and np.isfinite(got[inside]).all()
    memory = np.asarray(jax.jit(model)(jnp.asarray(start[inside], jnp.float32)))
    np.testing.assert_allclose(got[inside], memory[:, :4], rtol=0, atol=2e-3)  # float32 of metre-scale positions
    np.testing.assert_array_equal(table["qop_per_gev"], start[:, 4])
    # against the float64 RK4 reference (measured: 116 µm for the tiny RK-PINN after 300 steps, 16 µm for the
    # weighted-degree-6 polynomial); a fresh head on the same base (826 µm) and the straight line (the polynomial with
    # no correction, millimetres) fail the same bound
    bound_um = {"learned": 250.0, "polynomial": 50.0}[kind]
    assert _median_um(got[inside], end[inside]) < bound_um
    if kind == "learned":
        wrong = np.asarray(jax.jit(_untrained(model, dataset))(jnp.asarray(start[inside], jnp.float32)))
    else:
        wrong = np.concatenate([start[inside, :2] + start[inside, 2:4] * (UT_T_MM[1] - UT_T_MM[0]), start[inside, 2:]],
                               axis=1)
    assert _median_um(wrong, end[inside]) > 2 * bound_um


def test_states_outside_the_domain_are_flagged_and_not_predicted(saved: dict, tmp_path: Path) -> None:
    _, folder = saved["polynomial"]
    d = json.loads((folder / "model.json").read_text())["domain"]
    z0 = UT_T_MM[0]

    def on_line(x0: float, y0: float, tx: float, ty: float, qop: float = 1 / 20.0) -> list[float]:
        """A state on the first plane whose straight line crosses z = 0 at (x0, y0)."""
        return [x0 + tx * z0, y0 + ty * z0, tx, ty, qop]

    steep = on_line(0.0, 0.0, d["tx_max"] + 0.001, 0.0)  # just steeper than any training track, from the origin
    low = on_line(0.0, 0.0, 0.0, d["ty_min"] - 0.02)  # pointing 5 cm lower at the first plane than any
    states = [on_line(0.0, 0.0, 0.05, -0.03),  # a prompt 20 GeV track: inside
              on_line(0.0, 0.0, 0.05, -0.03, 1 / (2 * d["p_max_gev"])), on_line(0.0, 0.0, 0.05, -0.03, -2 / d["p_min_gev"]),
              on_line(0.0, 0.0, 0.05, -0.03, 0.0), steep, low,
              on_line(d["x0_max_mm"] + 50.0, 0.0, 0.0, 0.0),  # from 5 cm beyond every training line at z = 0
              [d["x_max_mm"] + 10.0, 0.0, 0.0, 0.0, 0.05],  # beyond x, and its line misses the vertex region
              # the corner of the x and tx ranges: each coordinate inside, yet no training track comes from there
              [d["x_max_mm"] - 1.0, 0.0, d["tx_min"] + 0.001, 0.0, 0.05]]
    want = [0, FLAGS["p"], FLAGS["p"], FLAGS["p"], FLAGS["tx"] | (FLAGS["x"] if steep[0] > d["x_max_mm"] else 0),
            FLAGS["ty"] | (FLAGS["y"] if low[1] < d["y_min_mm"] else 0), FLAGS["origin"], FLAGS["x"] | FLAGS["origin"],
            FLAGS["origin"]]
    path = _write_states(tmp_path / "edge.parquet", np.array(states))
    out = tmp_path / "edge_end.root"
    assert main(["tracks", "propagate", "--model", str(folder), "--input", str(path), "--output", str(out),
                 "--leg", "ut_t"]) == 0
    table = read_table(out, finite=False)
    np.testing.assert_array_equal(table["domain_flags"], want)
    np.testing.assert_array_equal(table["in_domain"], [1] + [0] * (len(want) - 1))
    assert np.isfinite(table["x_mm_end"][0]) and np.isnan(table["x_mm_end"][1:]).all()


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_bad_folders_inputs_and_options_are_refused_before_the_weights_load(
        saved: dict, user_table: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, folder = saved["polynomial"]
    path = user_table[0]
    out = tmp_path / "out.parquet"

    def run(model: Path, source: Path = path, *extra: str) -> list[str]:
        return ["tracks", "propagate", "--model", str(model), "--input", str(source), "--output", str(out), *extra]

    def never(*_: object) -> None:
        raise AssertionError("the weights were loaded")

    monkeypatch.setattr("hepnb.tracks.saved.load_saved_model", never)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no model.json" in _refused(run(empty), capsys)
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    meta = json.loads((folder / "model.json").read_text())
    for field, value, said in ((("domain", "p_min_gev"), "two", "domain.p_min_gev"),
                               (("format_version",), 2, "format_version"), (("leg",), "ut_x", "leg must be one of"),
                               (("domain", "tx_max"), -1.0, "tx_min must be <= tx_max"),
                               (("z1_mm",), 9000.0, "z0_mm, z1_mm must be the planes of leg ut_t")):
        broken = json.loads(json.dumps(meta))
        target = broken
        for key in field[:-1]:
            target = target[key]
        target[field[-1]] = value
        (damaged / "model.json").write_text(json.dumps(broken))
        assert said in _refused(run(damaged), capsys)
    (damaged / "model.json").write_text(json.dumps(meta))
    (damaged / "polynomial.json").unlink()
    said = _refused(run(damaged), capsys)
    assert "its weights" in said and "polynomial.json are missing" in said
    no_qop = tmp_path / "no_qop.parquet"
    pq.write_table(pa.table({"x_mm": [0.0], "y_mm": [0.0], "tx": [0.1], "ty": [0.0]}), no_qop)
    assert "qop_per_gev" in _refused(run(folder, no_qop), capsys)
    text = tmp_path / "text.parquet"
    pq.write_table(pa.table({"x_mm": [0.0], "y_mm": [0.0], "tx": [0.1], "ty": [0.0], "qop_per_gev": ["0.1"]}), text)
    assert "column 'qop_per_gev' is string, expected a flat numeric column" in _refused(run(folder, text), capsys)
    assert "--step-mm sets the RK4 mode's step" in _refused(run(folder, path, "--step-mm", "5"), capsys)
    assert "--leg velo_t asked, but the model" in _refused(run(folder, path, "--leg", "velo_t"), capsys)
    assert "--z1-mm 8000 asked" in _refused(run(folder, path, "--z1-mm", "8000"), capsys)
    other = FieldMap.from_function(lambda x, y, z: (0 * x, 0 * x + 1.0, 0 * x), spacing_mm=1000.0,
                                   x_mm=(-4000, 4000), y_mm=(-3000, 3000), z_mm=(0, 10000)).save_npz(tmp_path / "u.npz")
    assert "is not the map the model" in _refused(run(folder, path, "--field-map", str(other)), capsys)
    assert not out.exists()


def test_export_onnx_agrees_with_jax_or_is_not_kept(saved: dict, user_table: tuple, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from hepnb.tracks.export import onnx_session

    start = np.asarray(user_table[1], np.float32)
    for kind in ("polynomial", "learned"):
        model, folder = saved[kind]
        target = tmp_path / f"{kind}.onnx"
        assert main(["tracks", "export", "--model", str(folder), "--onnx", str(target)]) == 0
        got = onnx_session(target).run(["end"], {"start": start})[0]
        want = np.asarray(jax.jit(model)(jnp.asarray(start)))
        assert 1e3 * np.abs(got[:, :2] - want[:, :2]).max() < 1.0  # µm
    monkeypatch.setattr("hepnb.tracks.export.onnx_max_abs_diff",
                        lambda *_: {"max_pos_diff_um": 5.0, "max_slope_diff_mrad": 0.0, "n_tracks": 1})
    refused = tmp_path / "refused.onnx"
    assert "more than the 1 µm allowed" in _refused(["tracks", "export", "--model", str(saved["polynomial"][1]),
                                                     "--onnx", str(refused)], capsys, code=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["learned.onnx", "polynomial.onnx"]
    assert "lies inside the model folder" in _refused(["tracks", "export", "--model", str(saved["polynomial"][1]),
                                                       "--onnx", str(saved["polynomial"][1] / "m.onnx")], capsys)
    no_sample = tmp_path / "no_sample"
    shutil.copytree(saved["polynomial"][1], no_sample)
    (no_sample / "sample_states.parquet").unlink()
    assert "has no sample_states.parquet" in _refused(["tracks", "export", "--model", str(no_sample), "--onnx",
                                                       str(tmp_path / "x.onnx")], capsys)
    assert not (tmp_path / "x.onnx").exists() and read_saved_meta(no_sample).kind == "polynomial"


def test_the_page_saves_the_validation_choice_of_each_kind(saved: dict, dataset: dict, tmp_path: Path) -> None:
    from types import SimpleNamespace

    from hepnb.tracks import pipeline, report

    learned, poly = saved["learned"][0], saved["polynomial"][0]
    rows = [{"model": "rkpinn_worse", "family": "rkpinn", "val_median_um": 90.0},
            {"model": learned.name, "family": "rkpinn", "val_median_um": 80.0},
            {"model": "lhcb_poly_6", "family": "poly", "val_median_um": 20.0},
            {"model": "poly_9", "family": "poly_naive", "val_median_um": 1.0},  # not a physics polynomial
            {"model": "rk4_50", "family": "rk4", "val_median_um": 0.5}]
    models = {learned.name: learned, "rkpinn_worse": None}
    settings = SimpleNamespace(legs=("ut_t",), field_map="")
    out = pipeline.save_models(settings, SimpleNamespace(datasets={"ut_t": dataset}),  # type: ignore[arg-type]
                               SimpleNamespace(predictors={"ut_t": {"lhcb_poly_6": poly, "poly_9": None}}),  # type: ignore[arg-type]
                               SimpleNamespace(models={"ut_t": models}),  # type: ignore[arg-type]
                               SimpleNamespace(rows={"ut_t": rows}), tmp_path)  # type: ignore[arg-type]
    assert out == {"ut_t": {"learned": tmp_path / "models" / "ut_t" / learned.name,
                            "polynomial": tmp_path / "models" / "ut_t" / "lhcb_poly_6"}}
    assert read_saved_meta(out["ut_t"]["learned"]).name == learned.name
    text = report.saved_models_markdown(out, tmp_path)
    assert f"`models/ut_t/{learned.name}`" in text and "`models/ut_t/lhcb_poly_6`" in text and "\n" not in text
