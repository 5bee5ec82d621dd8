"""Protocols, one common test set, choices on validation, paired comparisons, working points — on a small grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepnb import metrics
from hepnb.pid import evaluate, training
from hepnb.pid.data import simulate_tracks
from hepnb.pid.models import build_network, network_settings
from hepnb.pid.protocols import PROTOCOLS, prepare_cell
from hepnb.pid.selection import FEATURES, selected
from hepnb.pid.systematics import evaluate_variation, varied_ranges
from hepnb.pid.working_points import contamination_vs_p, working_points


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    return selected(simulate_tracks(5000, seed=3), "o2")


@pytest.fixture(scope="module")
def rd(sample: dict[str, np.ndarray]) -> training.RangeData:
    return training.range_data(sample, "full")


def test_one_common_test_set_and_the_originals_flaw(rd: training.RangeData) -> None:
    cells = {name: prepare_cell(rd.raw, rd.y, name) for name in PROTOCOLS}
    test = cells["original"].test["index"]
    for name, c in cells.items():
        np.testing.assert_array_equal(c.test["index"], test, err_msg=name)
        assert not set(c.train["index"]) & set(test)
    np.testing.assert_array_equal(cells["original"].val["index"], test)  # the original stops and chooses on its test set
    val = cells["corrected"].val["index"]
    assert not set(val) & set(test) and not set(val) & set(cells["corrected"].train["index"])
    n = len(rd.y)
    assert abs(len(test) - 0.2 * n) <= 1 and abs(len(val) - 0.1 * n) <= 2
    assert len(cells["original"].train["y"]) == n - len(test)  # the original trains on all but the test set


def test_each_protocol_adds_one_fix(rd: training.RangeData) -> None:
    cells = {name: prepare_cell(rd.raw, rd.y, name) for name in PROTOCOLS}
    assert list(cells) == ["original", "original_val", "original_val_tokens", "corrected", "tuned"]
    assert cells["original"].train["mask"][:, 1].all()  # −999 counts as "present": the TOF mask is always on
    no_tof = cells["original_val_tokens"].test["raw"][:, FEATURES.index("has_tof")] == 0
    assert no_tof.any()
    assert np.all(cells["original_val_tokens"].test["x"][no_tof, FEATURES.index("tof_beta")] == 0.0)
    sentinel = cells["original_val"].test["x"][no_tof, FEATURES.index("tof_beta")]  # −999, scaled as a measurement
    assert np.all(sentinel == sentinel[0]) and sentinel[0] < -0.1
    weights = cells["original_val_tokens"].train["w"]
    y = cells["original_val_tokens"].train["y"]
    assert weights[y == 3].mean() / weights[y == 0].mean() > 5  # balanced: electrons weigh far more than pions
    np.testing.assert_array_equal(cells["corrected"].train["x"], cells["original_val_tokens"].train["x"])
    np.testing.assert_array_equal(cells["corrected"].train["w"], 1.0)
    # tuned prepares its untransformed cell as corrected does: it adds the tuning budget, not a new preparation
    np.testing.assert_array_equal(cells["tuned"].train["x"], cells["corrected"].train["x"])
    assert PROTOCOLS["tuned"].tuned and not any(PROTOCOLS[p].tuned for p in PROTOCOLS if p != "tuned")
    with pytest.raises(ValueError, match="unknown protocol"):
        prepare_cell(rd.raw, rd.y, "fancy")


def test_original_fse_architecture_and_group_drop() -> None:
    import jax.numpy as jnp

    fse = build_network("fse_phase1", range_name="0-1")
    assert fse.embed.kernel.shape == (len(FEATURES), 4 * 64)  # Dense(64·G) on the whole feature vector
    assert fse.attention.num_heads == 8 and fse.drop.rate == 0.4 and network_settings("fse_phase1", "0-1").learning_rate == 5e-5
    assert build_network("fse_phase1", range_name="1-3").mode_embed.kernel.shape == (4, 8)  # the original's hard-coded 8
    x, mask = jnp.ones((1000, len(FEATURES))), jnp.ones((1000, 4))
    fse.train()
    _, _, used = fse.group_gates(x, mask)
    assert 0.06 < 1 - float(used.mean()) < 0.10  # each group dropped with p = 0.08 in training
    fse.eval()
    np.testing.assert_array_equal(np.asarray(fse.group_gates(x, mask)[2]), 1.0)
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        build_network("svm")


@pytest.fixture(scope="module")
def grid(sample: dict[str, np.ndarray]) -> training.Grid:
    config = training.TrainingConfig(epochs=3, patience=3, batch_size=128, n_trees_rf=10, n_trees_xgb=20, seed=0,
                                     lr_scale=10.0)
    return training.run_grid(sample, config, ranges=["full"],
                             protocols=["original", "original_val_tokens", "corrected"], networks=["simple_nn", "moe"])


def test_grid_trains_learns_and_chooses_on_validation(grid: training.Grid) -> None:
    y = evaluate.test_labels(grid, "full")
    majority = np.mean(y == 0)
    cell = grid.cells[("full", "corrected")]
    for name in (*grid.networks, *training.TREES):
        prob = cell["prob_test"][name]
        np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-4)
        assert np.mean(prob.argmax(1) == y) > majority, name  # an untrained model does not beat the majority
    val_acc = {n: np.mean(cell["prob_val"][n].argmax(1) == cell["data"].val["y"]) for n in grid.networks}
    assert training.chosen_network(grid, ("full", "corrected")) == max(val_acc, key=val_acc.get)
    original_cell = grid.cells[("full", "original")]
    test_acc = {n: np.mean(original_cell["prob_test"][n].argmax(1) == y) for n in grid.networks}
    assert training.chosen_network(grid, ("full", "original")) == max(test_acc, key=test_acc.get)
    # XGBoost ignores class weights: original_val_tokens' fit serves corrected; the random forest is weighted differently
    assert cell["timing"]["xgboost"]["shared_with"] == "full/original_val_tokens"
    assert cell["timing"]["random_forest"]["shared_with"] == ""
    np.testing.assert_array_equal(cell["prob_test"]["xgboost"],
                                  grid.cells[("full", "original_val_tokens")]["prob_test"]["xgboost"])


def test_paired_gaps_and_fixes(grid: training.Grid) -> None:
    y = evaluate.test_labels(grid, "full")
    counts = {"full": metrics.bootstrap_counts(len(y), 200, seed=1)}
    gaps = {r["protocol"]: r for r in evaluate.gap_rows(grid, counts)}
    for protocol, row in gaps.items():
        cell = grid.cells[("full", protocol)]
        acc = {m: 100 * np.mean(cell["prob_test"][m].argmax(1) == y) for m in ("xgboost", row["best_network"])}
        assert row["gap_value"] == pytest.approx(acc["xgboost"] - acc[row["best_network"]])
        assert row["gap_lo"] <= row["gap_value"] <= row["gap_hi"]
    fixes = evaluate.fix_rows(grid, counts)
    assert [f["fix"] for f in fixes] == ["validation split + missing values tokenised", "class weights dropped"]
    assert fixes[0]["closed_value"] == pytest.approx(gaps["original"]["gap_value"] - gaps["original_val_tokens"]["gap_value"])
    rows = evaluate.accuracy_rows(grid, counts)
    assert {r["model"] for r in rows if r["kind"] == "baseline"} == {"all_pions", "nsigma_cuts", "original_bayes",
                                                                      "o2_bayes", "alice_bayes",
                                                                      "alice_bayes_mismatch"}
    nsig = next(r for r in rows if r["model"] == "nsigma_cuts")
    assert 0 < nsig["unidentified"] < 0.1
    # a paired interval is narrower than the unpaired one when the two are correlated
    row_tokens = gaps["original_val_tokens"]
    assert row_tokens["gap_std"] < np.hypot(row_tokens["network_std"], row_tokens["xgboost_std"]) * 1.01


def test_bootstrap_interval_is_a_resampling() -> None:
    counts = metrics.bootstrap_counts(1000, 400, seed=0)
    assert counts.shape == (400, 1000) and np.all(counts.sum(axis=1) == 1000)
    values = (np.arange(1000) % 4 == 0).astype(float)
    out = metrics.mean_interval(values, counts)
    assert out["value"] == 0.25 and out["std"] == pytest.approx(np.sqrt(0.25 * 0.75 / 1000), rel=0.15)
    with pytest.raises(ValueError, match="n_boot >= 2"):
        metrics.bootstrap_counts(10, 1)


def test_working_points_choose_on_validation(grid: training.Grid) -> None:
    cell = grid.cells[("full", "corrected")]
    y_test = evaluate.test_labels(grid, "full")
    wp = working_points(cell["prob_val"]["xgboost"], cell["data"].val["y"], cell["prob_test"]["xgboost"], y_test)
    pion = wp["pi"]["purity_90"]
    assert pion["reached"] and pion["efficiency"] > 0.8 and pion["purity"] > 0.85
    assert wp["pi"]["purity_95"]["threshold"] >= pion["threshold"]
    p = grid.ranges["full"].tracks["p"][cell["data"].test["index"]]
    cont = contamination_vs_p(cell["prob_test"]["xgboost"], y_test, p, 0, pion["threshold"], [0.1, 0.5, 1.0, 5.0])
    sel = cell["prob_test"]["xgboost"][:, 0] >= pion["threshold"]
    assert sum(cont["n_selected"]) == int(np.sum(sel & (p >= 0.1) & (p < 5.0)))
    total = np.nansum([cont[f"fraction_{s}"] for s in ("pi", "ka", "pr", "el")], axis=0)
    np.testing.assert_allclose(total[np.asarray(cont["n_selected"]) > 0], 1.0)


def test_systematics_are_paired_with_the_nominal_sample(grid: training.Grid) -> None:
    counts = {"full": metrics.bootstrap_counts(len(evaluate.test_labels(grid, "full")), 50)}
    nominal = varied_ranges(5000, seed=3, selection="o2", ranges=["full"], variation="nominal", reference=grid.ranges)
    rows = evaluate_variation(grid, nominal, "nominal", counts)
    assert all(r["shift_value"] == 0 for r in rows)  # the same tracks and response: no shift at all
    varied = varied_ranges(5000, seed=3, selection="o2", ranges=["full"], variation="tpc_resolution_up",
                           reference=grid.ranges)
    rows = {r["model"]: r for r in evaluate_variation(grid, varied, "tpc_resolution_up", counts)}
    assert rows["alice_bayes"]["shift_value"] < 0  # a wider TPC response than expected costs the likelihoods
    assert set(rows) >= {"simple_nn", "xgboost", "all_pions"} and rows["all_pions"]["shift_value"] == 0
    with pytest.raises(AssertionError, match="changed the tracks"):
        varied_ranges(4000, seed=3, selection="o2", ranges=["full"], variation="nominal", reference=grid.ranges)


def test_data_like_look_with_and_without_labels(grid: training.Grid, tmp_path: Path) -> None:
    """The look at data of the labelled data-like sample, and of the same tracks written without labels (a real-data
    input): the same predicted fractions, confidence and agreement, and no cut or disagreement without labels."""
    from hepnb.pid import pipeline
    from hepnb.pid.data import LABEL_COLUMNS, write_tracks

    parameters = {"input_file": "", "input_tree": "", "data_like_file": "", "scheduler": "", "n_tracks": 5000,
                  "n_data_like": 3000, "selection": "o2", "ranges": ["full"], "protocols": ["corrected"],
                  "networks": ["simple_nn", "moe"], "variations": [], "epochs": 3, "patience": 3, "lr_scale": 10.0,
                  "batch_size": 128, "n_trees_rf": 10, "n_trees_xgb": 20, "n_boot": 20, "n_seeds": 1,
                  "n_settings": 1, "evals_per_epoch": 1, "min_steps": 0, "n_core": 500, "n_emulated": 10, "seed": 0, "profile": "ci"}
    comparison = pipeline.Comparison(grid, {}, *([None] * 4), {})  # type: ignore[arg-type]
    labelled = pipeline.data_like(pipeline.Settings.from_parameters(parameters), comparison)
    look = labelled.look["full"]
    assert set(look["agreement"]) == {f"{m}/{b}" for m in (training.chosen_network(grid, ("full", "corrected")),
                                                           "xgboost") for b in pipeline.DATA_LIKE_BAYES}
    assert {"cut", "disagreement"} <= set(look)
    assert set(labelled.bias["model"]) >= {"alice_bayes", "alice_bayes_mismatch", "xgboost"}
    # the look's fractions are the fraction-bias table's predicted fractions, on the same tracks
    xgb = labelled.bias[labelled.bias["model"] == "xgboost"].set_index("species")["predicted_pct"]
    assert {s: look["fractions"]["xgboost"][s]["pct"] for s in xgb.index} == pytest.approx(xgb.to_dict())
    table = simulate_tracks(3000, seed=1, data_like=True)  # what data_like simulates (seed + 1)
    keep = np.isin(np.abs(table["mc_pdg"]), [211, 321, 2212, 11])  # the labelled path keeps π, K, p, e only
    write_tracks(tmp_path / "data.parquet", {k: v[keep] for k, v in table.items() if k not in LABEL_COLUMNS})
    unlabelled = pipeline.data_like(pipeline.Settings.from_parameters(
        {**parameters, "data_like_file": str(tmp_path / "data.parquet")}), comparison)
    blind = unlabelled.look["full"]
    assert not len(unlabelled.bias)
    assert set(blind) == {"fractions", "confidence", "agreement"}
    for pair, agree in look["agreement"].items():
        assert blind["agreement"][pair]["all"]["k"] == agree["all"]["k"]
    assert blind["confidence"]["xgboost"][0]["all"]["k"] == look["confidence"]["xgboost"][0]["all"]["k"]
