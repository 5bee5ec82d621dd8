"""The kinematics regression (hepnb.tau.regression): a trained head beats the reco jet where the correction is
learnable, the weight chosen on validation, the response and resolution estimators against numpy, the tables."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hepnb.tau import evaluate, regression, report, training
from hepnb.tau.data import TauData
from hepnb.tau.jets import kinematic_targets
from hepnb.tau.models import MultiParTau, ParTConfig, SingleParTau
from hepnb.tau.training import TrainingConfig, model_outputs, train_multi, train_single

TINY = ParTConfig(embed_dims=(16, 32, 16), pair_dims=(8, 8), n_heads=2, n_layers=1, n_cls_layers=1)
#: The synthetic correction: pT_vis = pT_reco · exp(SLOPE · u), u a known per-jet feature uniform in [−1, 1].
SLOPE = 0.08
NOISE = 0.004


def _split(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """τ jets whose visible pT is the reco jet's times f(u), with u written into candidate feature 3 (log E)."""
    n_cand = 20
    u = rng.uniform(-1.0, 1.0, n)
    feats = rng.normal(0.0, 0.5, (n, n_cand, 17)).astype(np.float32)
    feats[:, :, 3] = u[:, None]
    mask = np.arange(n_cand)[None, :] < rng.integers(2, 6, n)[:, None]
    feats[~mask] = 0.0
    pt_c = rng.uniform(0.5, 5.0, (n, n_cand))
    phi_c = rng.normal(0.0, 0.05, (n, n_cand))
    pz_c = rng.normal(0.0, 0.2, (n, n_cand))
    p4 = np.stack([pt_c * np.cos(phi_c), pt_c * np.sin(phi_c), pz_c, np.hypot(pt_c, pz_c) + 0.14], axis=-1)
    p4[~mask] = 0.0
    pt_reco = rng.uniform(10.0, 40.0, n)
    jet = np.column_stack([pt_reco, np.zeros(n), np.zeros(n), np.sqrt(pt_reco**2 + 1.0)])
    pt_vis = pt_reco * np.exp(SLOPE * u + rng.normal(0.0, NOISE, n))
    vis = np.column_stack([pt_vis, np.zeros(n), np.zeros(n), np.sqrt(pt_vis**2 + 1.0)])
    tau = np.arange(n) % 4 != 0  # a quarter q/g jets (tau ID needs both classes), with a shifted feature 2
    feats[~tau, :, 2] += 1.0 * mask[~tau]
    vis[~tau] = 0.0
    targets = np.zeros((n, 5))
    targets[tau] = kinematic_targets(vis[tau], jet[tau])
    return {"features": feats, "p4": p4.astype(np.float32), "mask": mask, "jet_p4": jet.astype(np.float32),
            "is_tau": tau.astype(np.int32), "charge": rng.integers(0, 2, n).astype(np.int32) * tau,
            "decay_mode": np.where(tau, rng.integers(0, 6, n), -1).astype(np.int32),
            "kin_targets": targets.astype(np.float32), "origin": tau.astype(np.int32),
            "gen_vis_p4": vis.astype(np.float32), "weight": np.ones(n, np.float32)}


@pytest.fixture(scope="module")
def synthetic() -> TauData:
    rng = np.random.default_rng(7)
    return TauData(train=_split(1536, rng), val=_split(400, rng), test=_split(800, rng))


def _pt_resolution(model: object, data: TauData) -> float:
    out = {"kinematics": training.test_outputs(model, data.test)["kinematics"]}  # type: ignore[arg-type]
    return float(evaluate.evaluate_outputs(out, data.test, n_boot=0, detail=False)["kinematics"]["pt_resolution"])


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_trained_head_beats_the_reco_jet_where_the_correction_is_learnable(synthetic: TauData, kind: str) -> None:
    """The reco jet is off by exp(0.08 u) (resolution ≈ 0.08); the head sees u and must beat it by far. The
    untrained head, zero-initialised, is the reco jet exactly (so the criterion fails for it)."""
    reco = regression.reco_jet_kinematics(synthetic.test)["pt_resolution"]
    assert reco == pytest.approx(SLOPE, rel=0.15)  # IQR of exp(−0.08 u), u uniform: ≈ 0.08
    if kind == "single":
        untrained = SingleParTau("kinematics", TINY, kin_scale=(0.04, 1e-3, 1e-3, 1e-3, 1e-3), rngs=_rngs())
        trained = train_single(synthetic, "kinematics", TINY, TrainingConfig(10, 128, 3e-3, 0)).model
    else:
        untrained = MultiParTau(TINY, kin_scale=(0.04, 1e-3, 1e-3, 1e-3, 1e-3), rngs=_rngs())
        trained = train_multi(synthetic, TINY, TrainingConfig(10, 128, 3e-3, 0, kin_weight=5.0), surgery="none").model
    untrained.eval()
    assert _pt_resolution(untrained, synthetic) == pytest.approx(reco, rel=1e-6)
    got = _pt_resolution(trained, synthetic)
    print(f"{kind}: trained head pT resolution {got:.4f}, reco jet {reco:.4f}")
    assert got < 0.5 * reco, f"trained head pT resolution {got:.4f} vs reco jet {reco:.4f}"


def _rngs() -> object:
    from flax import nnx

    return nnx.Rngs(params=0, dropout=1)


def test_kin_weight_chosen_on_validation(synthetic: TauData) -> None:
    """One MultiParTau per weight; the chosen weight is the row of best validation resolution, and the reco jet's
    validation numbers are those of the validation τ jets."""
    choice = regression.choose_kin_weight(synthetic, TINY, TrainingConfig(1, 512, 3e-3, 0), [0.5, 4.0])
    assert [r["kin_weight"] for r in choice.rows] == [0.5, 4.0]
    assert choice.weight == regression.pick_kin_weight(choice.rows)
    assert all(r["pt_resolution_std"] > 0 for r in choice.rows)
    assert choice.reco_jet["pt_resolution"] == pytest.approx(
        regression.reco_jet_kinematics(synthetic.val)["pt_resolution"], rel=1e-12)
    assert all(r["n_tau"] == 300 for r in choice.rows)
    assert sorted(choice.trained) == [0.5, 4.0]  # each weight's network, for the headline to reuse
    for row in choice.rows:  # the network kept for each weight is the one its row was measured on
        out = model_outputs(choice.trained[row["kin_weight"]].model, synthetic.val)
        val = evaluate.evaluate_outputs(out, synthetic.val, n_boot=0, detail=False)["kinematics"]
        assert val["pt_resolution"] == pytest.approx(row["pt_resolution"], rel=1e-9)
    table = report.kin_weight_table(choice)
    assert list(table.index) == [f"weight 0.5{' (chosen)' if choice.weight == 0.5 else ''}",
                                 f"weight 4{' (chosen)' if choice.weight == 4.0 else ''}", "reco jet"]
    given = regression.choose_kin_weight(synthetic, TINY, TrainingConfig(2, 256), [3.0])
    assert given.weight == 3.0 and not given.rows and report.kin_weight_table(given) is None
    with pytest.raises(ValueError, match="one or more values > 0"):
        regression.choose_kin_weight(synthetic, TINY, TrainingConfig(2, 256), [1.0, 0.0])


def test_pick_kin_weight() -> None:
    rows = [{"kin_weight": 1.0, "pt_resolution": 0.02}, {"kin_weight": 2.0, "pt_resolution": float("nan")},
            {"kin_weight": 5.0, "pt_resolution": 0.015}, {"kin_weight": 10.0, "pt_resolution": 0.015}]
    assert regression.pick_kin_weight(rows) == 5.0  # the first of a tie, NaN never
    # within the bootstrap spreads of the tau code's weight (2): keep it
    spread = [{"kin_weight": 2.0, "pt_resolution": 0.0177, "pt_resolution_std": 0.002},
              {"kin_weight": 5.0, "pt_resolution": 0.0170, "pt_resolution_std": 0.002}]
    assert regression.pick_kin_weight(spread) == 2.0
    spread[1]["pt_resolution"] = 0.0140  # 0.0037 > √2 · 0.002
    assert regression.pick_kin_weight(spread) == 5.0
    with pytest.raises(ValueError, match="no kinematics weight has a finite"):
        regression.pick_kin_weight([{"kin_weight": 1.0, "pt_resolution": float("nan")}])
    with pytest.raises(ValueError, match="kin_weight must be > 0"):
        TrainingConfig(1, 1, kin_weight=0.0)
    assert TrainingConfig(1, 1, kin_weight=3.0).task_weights() == (1.0, 1.0, 1.0, 3.0)  # TASKS order, kinematics last


def test_response_and_resolution_in_bins_against_numpy() -> None:
    """Each bin's median and (q75 − q25)/median of pT_pred/pT_vis, computed here with numpy's percentiles
    (linear interpolation) on fixed arrays, and the overall numbers."""
    rng = np.random.default_rng(3)
    n = 3000
    gen_pt = rng.uniform(2.0, 60.0, n)
    gen = np.column_stack([gen_pt, np.zeros(n), gen_pt * 0.3, np.sqrt(gen_pt**2 * 1.09 + 0.5)])
    ratio = np.exp(rng.standard_t(3, n) * 0.02) * (1.0 + 0.001 * gen_pt)
    pred = {"pt": gen_pt * ratio, "eta": np.zeros(n), "phi": np.zeros(n), "m": np.ones(n)}
    res = evaluate.kinematics_metrics(pred, gen, n_boot=0)
    edges = np.arange(5.0, 55.0, 5.0)
    assert [(b["lo"], b["hi"]) for b in res["pt_bins"]] == list(itertools.pairwise(edges))
    for b, (lo, hi) in zip(res["pt_bins"], itertools.pairwise(edges), strict=True):
        r = ratio[(gen_pt >= lo) & (gen_pt < hi)]
        q25, q50, q75 = np.percentile(r, [25, 50, 75])
        assert b["n"] == len(r)
        assert b["response"] == pytest.approx(q50, rel=1e-12)
        assert b["resolution"] == pytest.approx((q75 - q25) / q50, rel=1e-12)
    q25, q50, q75 = np.percentile(ratio, [25, 50, 75])
    assert res["pt_response"] == pytest.approx(q50, rel=1e-12)
    assert res["pt_resolution"] == pytest.approx((q75 - q25) / q50, rel=1e-12)
    table = report.kinematics_bins_table({"net": res, "reco jet": res})
    assert list(table.columns) == ["τ jets", "net: response", "net: resolution", "reco jet: response",
                                   "reco jet: resolution"]
    assert len(table) == len(edges) - 1 and table.index[0] == "5–10 GeV"


def test_outputs_of_the_reco_jet_decode_to_the_jet(synthetic: TauData) -> None:
    model = MultiParTau(TINY, kin_scale=(0.04, 1e-3, 1e-3, 1e-3, 1e-3), rngs=_rngs())  # type: ignore[arg-type]
    model.eval()
    out = model_outputs(model, synthetic.val)["kinematics"]
    decoded = evaluate.decode_kinematics(out.astype(np.float64), synthetic.val["jet_p4"].astype(np.float64))
    np.testing.assert_allclose(decoded["pt"], np.hypot(synthetic.val["jet_p4"][:, 0], synthetic.val["jet_p4"][:, 1]),
                               rtol=1e-6)
