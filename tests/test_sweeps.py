"""Sweeps as Dask tasks and large PID inputs, on a real LocalCluster of two worker processes.

A model trained in a worker process must be the model a serial run trains: same seeds, same XLA-CPU
code, same weights, bit for bit, and so the same metrics. (A random forest's ``predict_proba`` with
``n_jobs=-1`` is not reproducible from call to call, serial or not; the grid predicts with its trees
added in order, :func:`hepnb.pid.training.tree_probabilities`.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
import uproot
from flax import nnx

from hepnb.compute.sweep import load_state, state_to_numpy
from hepnb.pid.data import COLUMNS, TREE, simulate_tracks
from hepnb.pid.reader import input_files, read_selected, read_tracks
from hepnb.pid.selection import features, select, selected
from hepnb.pid.training import TrainingConfig, run_grid
from hepnb.tracks import training
from hepnb.tracks.data import TrackSample, make_dataset


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from dask.distributed import Client, LocalCluster

    quiet = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}  # 8787 may be taken
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, **quiet) as cluster, Client(cluster) as c:
        yield c


def _params(model: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_weights_survive_the_trip_as_numpy() -> None:
    from hepnb.pid.models import build_network

    trained, fresh = build_network("dnn", seed=1), build_network("dnn", seed=2)
    load_state(fresh, state_to_numpy(trained))
    for a, b in zip(jax.tree.leaves(nnx.state(trained)), jax.tree.leaves(nnx.state(fresh)), strict=True):
        same = jax.random.key_data(a) if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a
        other = jax.random.key_data(b) if jax.dtypes.issubdtype(b.dtype, jax.dtypes.prng_key) else b
        np.testing.assert_array_equal(np.asarray(same), np.asarray(other))
    with pytest.raises(ValueError, match="do not fit the model"):
        load_state(build_network("simple_nn"), state_to_numpy(trained))


def test_two_model_zoo_on_the_cluster_equals_serial(client: Any) -> None:
    data = make_dataset(1024, 256, 256, sample=TrackSample(leg="ut_t", p_range_gev=(2.0, 100.0)), seed=2)
    config = training.ZooConfig(steps=40, batch_size=128, lr=1e-3, seed=0, n_coarse=2, pde_weight=1e-2,
                                bases=("line", "kick"), eval_every=20)
    members = [("mlp", "tiny"), ("rkpinn", "tiny")]
    serial_models, serial = training.run_zoo(data, members, config)
    models, records = training.run_zoo(data, members, config, client=client)
    assert set(models) == set(serial_models) == {"mlp_tiny_line", "mlp_tiny_kick", "rkpinn_tiny_pde0",
                                                 "rkpinn_tiny_pde0.01"}
    timed = ("train_time_s", "steps_per_s")
    for name in serial:
        assert {k: v for k, v in serial[name].items() if k not in timed} == \
            {k: v for k, v in records[name].items() if k not in timed}
        assert all(records[name][k] > 0 for k in timed)
        for a, b in zip(_params(serial_models[name].head), _params(models[name].head), strict=True):
            np.testing.assert_array_equal(a, b)


def test_pid_grid_cell_on_the_cluster_equals_serial(client: Any) -> None:
    tracks = selected(simulate_tracks(3000, seed=3), "o2")
    config = TrainingConfig(epochs=2, patience=2, batch_size=128, n_trees_rf=5, n_trees_xgb=10, seed=0, n_settings=2)
    kw = {"ranges": ["full"], "protocols": ["corrected", "tuned"], "networks": ["simple_nn"]}
    serial = run_grid(tracks, config, **kw)
    grid = run_grid(tracks, config, client=client, **kw)
    assert list(grid.cells) == list(serial.cells) == [("full", "corrected"), ("full", "tuned")]
    for cell in serial.cells:  # every setting of the tuned protocol trained on a worker: the same choice
        assert serial.cells[cell]["tuning"] == grid.cells[cell]["tuning"]
        for name in serial.cells[cell]["prob_test"]:
            np.testing.assert_array_equal(serial.cells[cell]["prob_test"][name], grid.cells[cell]["prob_test"][name])
    a, b = serial.cells[("full", "corrected")], grid.cells[("full", "corrected")]
    assert list(a["timing"]) == list(b["timing"]) == ["simple_nn", "random_forest", "xgboost"]
    for name in a["prob_test"]:
        np.testing.assert_array_equal(a["prob_val"][name], b["prob_val"][name])
    for name, base in serial.ranges["full"].baselines.items():
        np.testing.assert_array_equal(base.pred, grid.ranges["full"].baselines[name].pred)
    for a_leaf, b_leaf in zip(_params(a["models"]["simple_nn"]), _params(b["models"]["simple_nn"]), strict=True):
        np.testing.assert_array_equal(a_leaf, b_leaf)


@pytest.fixture(scope="module")
def root_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    table = simulate_tracks(2000, seed=5)
    folder = tmp_path_factory.mktemp("runs")
    files = []
    for i, part in enumerate((slice(0, 1200), slice(1200, None))):
        path = folder / f"run{i}.root"
        cols = {k: table[k][part] for k in (*COLUMNS, "mc_pdg")}  # a TTree, as the extractor writes
        with uproot.recreate(path) as f:
            f.mktree(TREE, {k: v.dtype for k, v in cols.items()})
            f[TREE].extend(cols)
        files.append(path)
    return files


def test_glob_and_list_read_the_same_tracks(root_files: list[Path]) -> None:
    pattern = str(root_files[0].parent / "run*.root")
    assert input_files(pattern) == root_files
    by_glob, by_list = read_tracks(pattern), read_tracks(root_files)
    one = [read_tracks(p) for p in root_files]
    assert len(by_glob["pt"]) == 2000
    for k in by_glob:
        np.testing.assert_array_equal(by_glob[k], np.concatenate([t[k] for t in one]))
        np.testing.assert_array_equal(by_glob[k], by_list[k])


@pytest.mark.parametrize("selection", ["o2", "original"])
def test_uproot_dask_selection_equals_in_memory(root_files: list[Path], client: Any, selection: str) -> None:
    pattern = str(root_files[0].parent / "run*.root")
    table = read_tracks(pattern)
    keep = select(table, selection)
    expected = selected(table, selection)
    got = read_selected(pattern, selection=selection, client=client)
    assert got.n_read == 2000
    assert 0 < len(got.tracks["pt"]) == int(keep.sum()) < 2000
    assert set(got.tracks) == set(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(got.tracks[k], v)
        assert got.tracks[k].dtype == v.dtype
    np.testing.assert_array_equal(got.features, features(expected))
    local = read_selected(root_files, selection=selection)  # no client: in memory
    np.testing.assert_array_equal(local.features, got.features)


def test_uproot_dask_reads_ao2d_labels_and_nan_tof_like_memory(client: Any, tmp_path: Path) -> None:
    """DF_ folders, AO2D labels, NaN for a missing TOF and derived columns: the same on the cluster as in memory."""
    from hepnb.pid.reader import AO2D_LABELS

    table = simulate_tracks(1500, seed=6)
    label = {v: k for k, v in AO2D_LABELS.items()}
    names = [c for c in (*COLUMNS, "mc_pdg") if c in label and not c.startswith("bayes")]
    path = tmp_path / "AO2D.root"
    with uproot.recreate(path) as f:
        for j, rows in enumerate((slice(0, 700), slice(700, None))):
            cols = {label[k]: np.asarray(table[k][rows]) for k in names}
            cols["fBeta"] = np.where(table["has_tof"][rows], cols["fBeta"], np.nan).astype(np.float32)
            f.mktree(f"DF_{j}/O2pidtracks", {k: v.dtype for k, v in cols.items()})
            f[f"DF_{j}/O2pidtracks"].extend(cols)
    lazy = read_selected(path, selection="o2", client=client)
    local = read_selected(path, selection="o2")
    assert 0 < len(lazy.tracks["pt"]) == len(local.tracks["pt"]) < 1500
    np.testing.assert_array_equal(lazy.features, local.features)
    np.testing.assert_array_equal(lazy.features, features(selected(table, "o2")))


def test_no_match_and_missing_columns_are_named(root_files: list[Path], tmp_path: Path) -> None:
    pattern = str(tmp_path / "nothing" / "*.root")
    with pytest.raises(FileNotFoundError, match=r"no file matches the pattern '.*nothing/\*\.root'"):
        read_tracks(pattern)
    with pytest.raises(FileNotFoundError, match="no file matches the pattern"):
        read_selected(pattern, client=None)
    bad = tmp_path / "run9.root"
    cols = {k: np.zeros(10) for k in COLUMNS if k != "dca_z"}
    with uproot.recreate(bad) as f:
        f[TREE] = cols
    with pytest.raises(ValueError, match=r"run9\.root lacks 2 required column\(s\): \['dca_z \(AO2D fDcaZ\)', 'mc_pdg"):
        read_tracks([*root_files, bad])
    with pytest.raises(ValueError, match=r"run9\.root lacks"):
        read_selected([*root_files, bad], client=None)


def test_random_forest_probabilities_are_reproducible() -> None:
    from sklearn.ensemble import RandomForestClassifier

    from hepnb.pid.training import tree_probabilities

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3000, 6)), rng.integers(0, 4, 3000)
    rf = RandomForestClassifier(n_estimators=40, min_samples_leaf=5, n_jobs=-1, random_state=0).fit(x, y)
    first = tree_probabilities(rf, x)
    assert all(np.array_equal(first, tree_probabilities(rf, x)) for _ in range(5))
    assert rf.n_jobs == -1
    np.testing.assert_allclose(first, rf.predict_proba(x), rtol=0, atol=1e-12)
