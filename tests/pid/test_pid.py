"""PID physics kernels against the reference tables, the reader, selections, protocols and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import uproot

from hepnb.pid.bayes import alice_bayes, seed_bayes_accuracy
from hepnb.pid.constants import MASS_GEV, MISSING, SPECIES, TOF_MATCH_PLATEAU
from hepnb.pid.data import COLUMNS, TREE, read_tracks, simulate_tracks, write_tracks
from hepnb.pid.detector import expected_dedx, expected_time_ps, tof_match_efficiency
from hepnb.pid.models import NETWORKS, build_network
from hepnb.pid.pipeline import predict_network, train_network, train_tree
from hepnb.pid.protocols import PROTOCOLS, prepare
from hepnb.pid.selection import FEATURES, features, labels, momentum_range, select

# reference/pid.md §1: O2 DataFormats Bethe–Bloch ×50 (a.u.), p in GeV/c -> (e, π, K, p)
BB_TABLE = {0.2: (78, 62, 327, 1101), 0.3: (79, 51, 164, 506), 0.5: (80, 48, 83, 203), 0.7: (81, 49, 62, 121),
            1.0: (81, 51, 52, 79), 2.0: (82, 57, 49, 52), 3.0: (82, 60, 50, 49)}
# reference/pid.md §2: Δt at L = 370 cm in ps, p -> (K−π, p−K)
TOF_TABLE = {1: (1302, 3160), 2: (340, 920), 3: (153, 424), 4: (86, 241)}


@pytest.mark.parametrize(("p", "values"), BB_TABLE.items())
def test_bethe_bloch_matches_the_o2_table(p: float, values: tuple[int, ...]) -> None:
    got = [float(expected_dedx(p, MASS_GEV[s])) for s in ("el", "pi", "ka", "pr")]
    np.testing.assert_allclose(got, values, rtol=0.01, atol=0.5)  # the table is rounded to integers


@pytest.mark.parametrize(("p", "values"), TOF_TABLE.items())
def test_tof_separation_table(p: float, values: tuple[int, int]) -> None:
    t = {s: expected_time_ps(p, MASS_GEV[s], 370.0) for s in ("pi", "ka", "pr")}
    np.testing.assert_allclose([t["ka"] - t["pi"], t["pr"] - t["ka"]], values, rtol=0.01)
    assert (t["ka"] - t["pi"]) / 80.0 == pytest.approx(values[0] / 80.0, rel=0.01)  # π/K separation in σ at 80 ps


def test_tof_matching_threshold_and_plateau() -> None:
    eff = tof_match_efficiency(np.array([0.2, 0.28, 0.5, 3.0]))
    assert eff[0] == 0.0 and eff[1] == 0.0
    assert 0.2 < eff[2] < 0.45
    assert eff[3] == pytest.approx(TOF_MATCH_PLATEAU, abs=1e-3)


@pytest.fixture(scope="module")
def table() -> dict[str, np.ndarray]:
    return simulate_tracks(40000, seed=3)


def test_species_mix_and_tof_fraction_after_cuts(table: dict[str, np.ndarray]) -> None:
    keep = select(table, "o2")
    y = labels({k: v[keep] for k, v in table.items()})
    fractions = np.bincount(y, minlength=4) / len(y)
    np.testing.assert_allclose(fractions, [0.85, 0.09, 0.04, 0.02], atol=0.02)
    assert 0.15 < table["has_tof"][keep].mean() < 0.3
    low = table["pt"] < 0.28
    assert not table["has_tof"][low].any()
    assert np.all(table["tof_beta"][table["has_tof"] == 0] == MISSING)


def test_seed_bayes_probabilities_are_zero_without_tof(table: dict[str, np.ndarray]) -> None:
    bayes = np.stack([table[f"bayes_prob_{s}"] for s in SPECIES], axis=1)
    no_tof = table["has_tof"] == 0
    assert np.all(bayes[no_tof] == 0)
    np.testing.assert_allclose(bayes[~no_tof].sum(axis=1), 1.0, rtol=1e-9)
    acc = seed_bayes_accuracy(features(table), labels(table))
    assert acc["real_bayes_subset"] > acc["all_tracks"] - 0.2


def test_alice_bayes_beats_pion_guess_on_tof_tracks(table: dict[str, np.ndarray]) -> None:
    raw, y = features(table), labels(table)
    post = alice_bayes(raw)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-9)
    tof = raw[:, FEATURES.index("has_tof")] > 0
    assert np.mean(post[tof].argmax(1) == y[tof]) > np.mean(y[tof] == 0) + 0.05


def test_selections_and_ranges(table: dict[str, np.ndarray]) -> None:
    o2, seed = select(table, "o2"), select(table, "seed")
    assert 0.5 < o2.mean() < 0.95 and seed.mean() > 0.3
    assert np.all(np.abs(table["eta"][o2]) < 0.8)
    assert momentum_range(table, "full").all()
    low = momentum_range(table, "0-1")
    assert np.all(table["p"][low] < 1.0)
    with pytest.raises(ValueError, match="unknown momentum range '5-9'"):
        momentum_range(table, "5-9")
    with pytest.raises(ValueError, match="unknown selection"):
        select(table, "loose")


def test_data_like_variant_shifts_the_response() -> None:
    mc, dl = simulate_tracks(20000, seed=5), simulate_tracks(20000, seed=5, data_like=True)
    pions = (labels(mc) == 0) & (np.abs(mc["p"] - 0.5) < 0.1)
    assert np.median(dl["tpc_signal"][pions]) > np.median(mc["tpc_signal"][pions]) * 1.02
    assert dl["has_tof"].mean() < mc["has_tof"].mean()


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_reader_roundtrip(table: dict[str, np.ndarray], tmp_path: Path, suffix: str) -> None:
    small = {k: v[:500] for k, v in table.items()}
    path = write_tracks(tmp_path / f"tracks{suffix}", small)
    back = read_tracks(path)
    np.testing.assert_array_equal(back["tpc_signal"], small["tpc_signal"])
    assert set(back) == {*COLUMNS, "mc_pdg"}


def test_reader_on_a_root_file_written_by_uproot(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    path = tmp_path / "user.root"
    cols = {k: table[k][:200] for k in COLUMNS}  # real data: no labels
    with uproot.recreate(path) as f:
        f.mktree(TREE, {k: v.dtype for k, v in cols.items()})
        f[TREE].extend(cols)
    back = read_tracks(path, require_labels=False)
    assert len(back["pt"]) == 200
    with pytest.raises(ValueError, match=r"lacks 1 required column\(s\): \['mc_pdg'\]"):
        read_tracks(path)


def test_reader_bad_inputs(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    bad = tmp_path / "notes.parquet"
    bad.write_text("not a table")
    with pytest.raises(ValueError, match="neither a ROOT file"):
        read_tracks(bad)
    partial = {k: table[k][:50] for k in COLUMNS if k not in ("tof_beta", "dca_z")}
    from hepnb.io import write_table

    path = write_table(tmp_path / "partial.parquet", partial)
    with pytest.raises(ValueError, match=r"\['tof_beta', 'dca_z', 'mc_pdg'\]"):
        read_tracks(path)
    nan = {k: table[k][:50].copy() for k in (*COLUMNS, "mc_pdg")}
    nan["tpc_signal"][3] = np.nan
    path = write_table(tmp_path / "nan.parquet", nan)
    with pytest.raises(ValueError, match=r"NaN/inf values .*'tpc_signal': 1"):
        read_tracks(path)


def test_unknown_model_and_protocol(table: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        build_network("svm")
    with pytest.raises(ValueError, match="unknown protocol"):
        prepare(features(table)[:100], labels(table)[:100], "fancy")


def test_protocols_differ_as_documented(table: dict[str, np.ndarray]) -> None:
    raw, y = features(table)[:4000], labels(table)[:4000]
    seed, fixed = prepare(raw, y, "seed"), prepare(raw, y, "corrected")
    assert np.array_equal(seed.val["y"], seed.test["y"])  # the seed stops on its test split
    assert len(fixed.val["y"]) + len(fixed.test["y"]) + len(fixed.train["y"]) == len(y)
    assert seed.train["mask"][:, 1].all()  # −999 counts as "present": the TOF mask is always on
    tof_col = FEATURES.index("tof_beta")
    no_tof = fixed.test["raw"][:, FEATURES.index("has_tof")] == 0
    assert np.all(fixed.test["x"][no_tof, tof_col] == 0.0)


def test_each_protocol_adds_one_fix(table: dict[str, np.ndarray]) -> None:
    raw, y = features(table)[:4000], labels(table)[:4000]
    cells = {name: prepare(raw, y, name) for name in PROTOCOLS}
    assert list(cells) == ["seed", "seed_val", "seed_val_tokens", "corrected"]
    n_val = len(cells["seed_val"].val["y"])
    assert 0 < n_val < len(cells["seed_val"].test["y"])  # 70/10/20 instead of stopping on the test split
    np.testing.assert_array_equal(cells["seed_val"].train["mask"][:, 1], 1)  # still the seed's scaling and masks
    no_tof = cells["seed_val_tokens"].test["raw"][:, FEATURES.index("has_tof")] == 0
    assert no_tof.any()
    assert np.all(cells["seed_val_tokens"].test["x"][no_tof, FEATURES.index("tof_beta")] == 0.0)
    sentinel = cells["seed_val"].test["x"][no_tof, FEATURES.index("tof_beta")]  # −999, scaled as a measurement
    assert np.all(sentinel == sentinel[0]) and sentinel[0] < -0.1
    weights = cells["seed_val_tokens"].class_weights
    assert weights.max() / weights.min() > 5  # balanced: the rare electrons weigh far more than pions
    for part in ("train", "val", "test"):  # corrected = seed_val_tokens without the weights
        np.testing.assert_array_equal(getattr(cells["corrected"], part)["x"], getattr(cells["seed_val_tokens"], part)["x"])
    np.testing.assert_array_equal(cells["corrected"].class_weights, 1.0)


def test_gap_by_fix_differences() -> None:
    import pandas as pd

    from hepnb.pid.pipeline import gap_by_fix

    acc = pd.DataFrame({"simple_nn": [80.0, 85.0, 86.0, 90.0], "dnn": [70.0, 88.0, 84.0, 91.5],
                        "xgboost": [95.0, 95.0, 94.0, 94.0]},
                       index=pd.MultiIndex.from_product([["full"], ["corrected", "seed", "seed_val", "seed_val_tokens"]],
                                                        names=["range", "protocol"]))
    gap, closed = gap_by_fix(acc, ["simple_nn", "dnn"])
    # best network per row: corrected simple_nn 80, seed dnn 88, seed_val simple_nn 86, seed_val_tokens dnn 91.5
    gaps = {"corrected": 15.0, "seed": 7.0, "seed_val": 8.0, "seed_val_tokens": 2.5}
    assert gap.loc[("full", "corrected"), "best network"] == "simple_nn"
    assert gap.loc[("full", "seed"), "best network"] == "dnn"
    np.testing.assert_allclose([gap.loc[("full", p), "gap (points)"] for p in gaps], list(gaps.values()))
    assert list(closed.columns) == ["validation split (seed_val)", "missing values tokenised (seed_val_tokens)",
                                    "class weights dropped (corrected)"]
    np.testing.assert_allclose(closed.loc["full"].to_numpy(), [-1.0, 5.5, -12.5])
    _, closed = gap_by_fix(acc.drop(index=[("full", "seed_val"), ("full", "seed_val_tokens")]), ["simple_nn", "dnn"])
    assert list(closed.columns) == ["validation split + missing values tokenised + class weights dropped (corrected)"]
    np.testing.assert_allclose(closed.loc["full"].to_numpy(), [-8.0])


@pytest.mark.parametrize("name", NETWORKS)
def test_networks_train_and_output_probabilities(name: str, table: dict[str, np.ndarray]) -> None:
    raw, y = features(table)[:3000], labels(table)[:3000]
    data = prepare(raw, y, "corrected")
    model, info = train_network(name, data, epochs=1, patience=1, batch_size=256)
    prob = predict_network(model, data.test)
    assert prob.shape == (len(data.test["y"]), 4)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-4)
    assert info["epochs_run"] == 1


def test_cli_simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hepnb.cli import main

    assert main(["pid", "simulate", "--n", "300", "--seed", "2", "--output", str(tmp_path / "t.root")]) == 0
    assert len(read_tracks(tmp_path / "t.root")["pt"]) == 300
    assert main(["pid", "simulate", "--n", "300", "--data-like", "--output", str(tmp_path / "d.parquet")]) == 0
    assert "mc_pdg" not in read_tracks(tmp_path / "d.parquet", require_labels=False)
    assert main(["pid", "simulate", "--n", "10", "--output", str(tmp_path / "t.csv")]) == 2
    assert "must end in .root or .parquet" in capsys.readouterr().err


def test_saved_models_predict_through_the_cli(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    import json

    from hepnb.cli import main
    from hepnb.io import read_table
    from hepnb.pid.export import load_deployable, save_deployable
    from hepnb.pid.protocols import scale_like

    sample = {k: v[:3000] for k, v in table.items()}
    raw, y = features(sample), labels(sample)
    data = prepare(raw, y, "corrected")
    net, _ = train_network("fse_phase1", data, epochs=1, patience=1)
    booster, _ = train_tree("xgboost", data, n_trees=10)
    save_deployable(tmp_path / "net", "fse_phase1", net, data)
    save_deployable(tmp_path / "xgb", "xgboost", booster, data)
    write_tracks(tmp_path / "in.parquet", {k: v for k, v in sample.items() if k != "mc_pdg"})  # unlabelled input
    inputs = scale_like(data, raw)
    expected = {"net": predict_network(net, inputs), "xgb": booster.predict_proba(inputs["x"])}
    for name, want in expected.items():
        assert main(["pid", "predict", "--model", str(tmp_path / name), "--input", str(tmp_path / "in.parquet"),
                     "--output", str(tmp_path / f"{name}.parquet")]) == 0
        got = read_table(tmp_path / f"{name}.parquet")
        np.testing.assert_array_equal(got["track_id"], sample["track_id"])
        probs = np.stack([got[f"prob_{s}"] for s in SPECIES], axis=1)
        np.testing.assert_allclose(probs, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got["predicted"], want.argmax(axis=1))
    meta = json.loads((tmp_path / "xgb" / "model.json").read_text())
    meta["features"] = meta["features"][:-1]
    (tmp_path / "xgb" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="trained on another feature set"):
        load_deployable(tmp_path / "xgb")
    with pytest.raises(FileNotFoundError, match="not a hepnb PID model folder"):
        load_deployable(tmp_path)
