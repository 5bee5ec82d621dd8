"""Tau-study metrics and baselines on hand-made cases: working points with their counts and intervals, decay-mode
F1 with an absent class, the HPS-like reconstruction, the summed charge, kinematics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hepnb import metrics
from hepnb.tau import baselines, evaluate

_CAT = {11: 8, 13: 9, 22: 10, 211: 11, 130: 12}


def test_binomial_interval() -> None:
    lo, hi = evaluate.binomial_interval(0, 100)
    assert lo == 0.0 and hi == pytest.approx(1 - ((1 - 0.6827) / 2) ** (1 / 100), rel=1e-6)
    lo, hi = evaluate.binomial_interval(10, 100)
    assert lo == pytest.approx(stats.beta.ppf(0.15865, 10, 91), rel=1e-4) and lo < 0.1 < hi


def test_tau_id_working_points_by_hand() -> None:
    # 10 signal jets scored 0.91..1.0, 1000 background jets scored 0..0.999: at ε_τ = 50 % the threshold is the
    # 6th signal score (0.96), and exactly the background jets with score ≥ 0.96 pass
    sig = np.linspace(0.91, 1.0, 10)
    bkg = np.arange(1000) / 1000
    score = np.concatenate([sig, bkg])
    y = np.concatenate([np.ones(10), np.zeros(1000)])
    res = evaluate.tau_id_metrics(score, y, n_boot=20)
    wp = res["working_points"]["50"]
    assert wp["threshold"] == pytest.approx(0.96)
    assert wp["n_bkg_pass"] == 40 and wp["n_bkg"] == 1000 and wp["fake_rate"] == pytest.approx(0.04)
    assert wp["rejection"] == pytest.approx(25.0)
    assert (wp["fake_rate_lo"], wp["fake_rate_hi"]) == pytest.approx(evaluate.binomial_interval(40, 1000))
    assert wp["eff_tau"] == pytest.approx(0.5)
    assert res["working_points"]["90"]["n_bkg_pass"] == 80  # threshold 0.92
    assert res["auc"] == pytest.approx(1 - np.mean([np.mean(b >= sig) for b in bkg]) / 1, abs=0.01)
    assert res["auc_std"] > 0 and wp["fake_rate_std"] > 0
    perfect = evaluate.tau_id_metrics(np.concatenate([sig + 1, bkg]), y, n_boot=5)["working_points"]["50"]
    assert perfect["n_bkg_pass"] == 0 and perfect["rejection"] == float("inf") and perfect["rejection_lo"] > 500
    with pytest.raises(ValueError, match="both 0 and 1"):
        evaluate.tau_id_metrics(score[:10], y[:10])


def test_binned_working_points_and_generated_efficiency() -> None:
    score = np.array([0.9, 0.8, 0.2, 0.95, 0.1, 0.7])
    y = np.array([1, 1, 0, 0, 0, 1])
    jet_p4 = np.array([[5.0, 0, 0, 5.1], [25.0, 0, 0, 25.1], [5.0, 0, 1.0, 5.2], [25.0, 0, 0, 25.1],
                       [25.0, 0, 0, 25.2], [5.0, 0, 0, 5.1]])
    out = evaluate.binned_working_points(score, y, jet_p4, {"50": 0.75})
    low, mid = out["pt"][0], out["pt"][2]
    assert (low["n_tau"], low["n_bkg"], low["eff_50"], low["fake_50"]) == (2, 1, 0.5, 0.0)
    assert (mid["n_tau"], mid["n_bkg"], mid["eff_50"], mid["fake_50"], mid["fake_50_k"]) == (1, 2, 1.0, 0.5, 1)
    # 4 generated taus in the 5–10 GeV bin, 3 reconstructed; of the 2 test τ jets there, 1 passes
    gen = np.array([[6.0, 0, 0, 6.0]] * 4)
    eff = evaluate.efficiency_vs_generated(np.array([0.9, 0.1]), np.array([[7.0, 0, 0, 7.0]] * 2), gen,
                                           np.array([1, 1, 1, 0]), {"50": 0.5})
    assert eff[0]["eff_reco"] == 0.75 and eff[0]["eff_id_50"] == 0.5 and eff[0]["eff_50"] == pytest.approx(0.375)


def test_decay_mode_metrics_with_an_absent_class() -> None:
    """No "rare" jet in the truth: the macro F1 averages the five present classes only (it would be capped at
    5/6 otherwise); the weighted F1, the 5-class result and the confusion counts by hand."""
    true = np.array([0, 0, 1, 1, 1, 2, 3, 4])
    pred = np.array([0, 1, 1, 1, 1, 2, 3, 5])  # one 1p0 called 1p1, one 3p1 called rare
    res = evaluate.decay_mode_metrics(pred, true, n_boot=10)
    f1 = {0: 2 / 3, 1: 6 / 7, 2: 1.0, 3: 1.0, 4: 0.0}
    assert res["macro_f1"] == pytest.approx(np.mean(list(f1.values())))
    assert res["weighted_f1"] == pytest.approx(sum(f1[c] * np.sum(true == c) for c in f1) / len(true))
    assert res["accuracy"] == pytest.approx(6 / 8)
    assert res["present_classes"] == ["1p0pi0", "1p1pi0", "1p>=2pi0", "3p0pi0", "3p>=1pi0"]
    cm = np.asarray(res["confusion"])
    assert cm.sum() == 8 and cm[0, 1] == 1 and cm[4, 5] == 1 and cm[1, 1] == 3
    # the network's best guess among the five classes turns the 3p1 jet right
    res5 = evaluate.decay_mode_metrics(pred, true, pred_without_rare=np.array([0, 1, 1, 1, 1, 2, 3, 4]))
    assert res5["five_class"]["accuracy"] == pytest.approx(7 / 8)
    # rare jets are left out of the 5-class result
    with_rare = evaluate.decay_mode_metrics(np.array([0, 5]), np.array([0, 5]))
    assert with_rare["five_class"]["n"] == 1 and with_rare["macro_f1"] == 1.0


def _jet(rows: list[tuple[float, float, float, float, int]], n_slots: int = 20) -> tuple[np.ndarray, ...]:
    """Features, four-vectors and mask of one jet from candidate rows (px, py, pz, charge, pdg category)."""
    feats = np.zeros((1, n_slots, 17), np.float32)
    p4 = np.zeros((1, n_slots, 4), np.float32)
    for i, (px, py, pz, q, cat) in enumerate(rows):
        mass = 0.13957 if cat == 211 else 0.0
        e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
        p4[0, i] = (px, py, pz, e)
        feats[0, i, 2], feats[0, i, 7] = np.log(np.hypot(px, py)), q
        feats[0, i, _CAT[cat]] = 1
    mask = np.arange(n_slots)[None] < len(rows)
    return feats, p4, mask


def test_summed_charge() -> None:
    cases = [([(5.0, 0, 0, -1.0, 211)], 0), ([(5.0, 0, 0, 1.0, 211), (3.0, 0, 0, 1.0, 211), (2.0, 0, 0, -1.0, 211)], 1),
             ([(2.0, 0, 0, -1.0, 211), (6.0, 0, 0, 1.0, 211)], 1),  # sum zero: the leading (positive) track decides
             ([(3.0, 0, 0, 0.0, 22)], 0)]
    for rows, expected in cases:
        feats, _, mask = _jet(rows)
        assert baselines.summed_charge(feats, mask)[0] == expected
    res = evaluate.charge_metrics(np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1]))
    assert res["n_wrong"] == 1 and res["misid"] == 0.25 and res["misid_lo"] < 0.25 < res["misid_hi"]


def test_jet_charge_by_hand() -> None:
    feats, _, mask = _jet([(9.0, 0, 0, -1.0, 211), (4.0, 0, 0, 1.0, 211), (1.0, 0, 0, 0.0, 22)])
    q = baselines.jet_charge(feats, mask, np.array([16.0]), kappa=0.5)
    assert q[0] == pytest.approx((-3.0 + 2.0) / 4.0, rel=1e-5)


def test_kinematics_decoding_and_resolution() -> None:
    jet = np.array([[30.0, 0.0, 10.0, 33.0]])
    reco = evaluate.decode_kinematics(np.array([[0.0, 0.0, 0.0, 1.0, 0.0]]), jet)
    assert reco["pt"][0] == pytest.approx(30.0) and reco["phi"][0] == pytest.approx(0.0)
    shifted = evaluate.decode_kinematics(np.array([[np.log(1.1), 0.0, np.sin(0.2), np.cos(0.2), 0.0]]), jet)
    assert shifted["pt"][0] == pytest.approx(33.0) and shifted["phi"][0] == pytest.approx(0.2)
    rng = np.random.default_rng(0)
    gen_pt = rng.uniform(5, 50, 4000)
    gen = np.column_stack([gen_pt, np.zeros(4000), np.zeros(4000), gen_pt])
    smeared = {"pt": gen_pt * rng.normal(1.0, 0.02, 4000), "eta": np.zeros(4000), "phi": np.zeros(4000),
               "m": np.zeros(4000)}
    res = evaluate.kinematics_metrics(smeared, gen, n_boot=30)
    assert res["pt_response"] == pytest.approx(1.0, abs=0.003)
    assert res["pt_resolution"] == pytest.approx(2 * 0.6745 * 0.02, rel=0.08)  # IQR of a Gaussian
    assert res["pt_resolution_std"] == pytest.approx(res["pt_resolution"] / np.sqrt(4000) * 1.1, rel=0.5)
    assert len(res["pt_bins"]) == 9


def test_paired_difference() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 1.0, 2000)
    d = metrics.paired_difference(np.mean, (a + 0.1,), (a,), n_boot=30)
    assert d["value"] == pytest.approx(0.1) and d["std"] < 1e-9  # the same jets: no spread in the difference
