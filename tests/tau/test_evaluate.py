"""Tau-study metrics and baselines: tau ID working points, counting decay mode, jet charge, kinematics."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.tau import evaluate


def test_tau_id_metrics() -> None:
    y = np.array([0] * 50 + [1] * 50)
    score = np.concatenate([np.linspace(0, 0.4, 50), np.linspace(0.6, 1, 50)])
    res = evaluate.tau_id_metrics(score, y)
    assert res["auc"] == 1.0
    assert res["fake_rate_at_eff"]["80"] == 0.0
    assert res["rejection_at_0.5"] == 50.0 and res["rejection_is_lower_bound"]  # no background left: >= 50
    overlap = np.concatenate([np.linspace(0, 0.8, 50), np.linspace(0.2, 1, 50)])  # 1/8 of background above 0.6
    res = evaluate.tau_id_metrics(overlap, y)
    assert not res["rejection_is_lower_bound"]
    assert res["rejection_at_0.5"] == pytest.approx(1 / np.mean(overlap[:50] >= np.median(overlap[50:])), rel=0.15)
    with pytest.raises(ValueError, match="both 0 and 1"):
        evaluate.tau_id_metrics(score[:50], y[:50])


def _cands(rows: list[tuple[float, float, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Candidates from (pT, charge, pdg category) rows, padded to 20."""
    feats = np.zeros((1, 20, 17), np.float32)
    for i, (pt, q, cat) in enumerate(rows):
        feats[0, i, 2], feats[0, i, 7] = np.log(pt), q
        feats[0, i, {11: 8, 13: 9, 22: 10, 211: 11, 130: 12}[cat]] = 1
    mask = np.arange(20)[None] < len(rows)
    return feats, mask


@pytest.mark.parametrize(("rows", "dm"), [
    ([(10.0, -1, 211)], 0),
    ([(10.0, -1, 211), (3.0, 0, 22), (2.0, 0, 22)], 1),
    ([(10.0, -1, 211), (3.0, 0, 22), (2.0, 0, 22), (1.0, 0, 22)], 2),
    ([(10.0, -1, 211), (5.0, 1, 211), (3.0, -1, 211)], 3),
    ([(10.0, -1, 211), (5.0, 1, 211), (3.0, -1, 211), (2.0, 0, 22)], 4),
    ([(3.0, 0, 22)], 5),
])
def test_counting_decay_mode(rows: list[tuple[float, float, int]], dm: int) -> None:
    feats, mask = _cands(rows)
    assert evaluate.counting_decay_mode(feats, mask)[0] == dm


def test_jet_charge_by_hand() -> None:
    feats, mask = _cands([(9.0, -1, 211), (4.0, 1, 211), (1.0, 0, 22)])
    q = evaluate.jet_charge(feats, mask, np.array([16.0]), kappa=0.5)
    assert q[0] == pytest.approx((-3.0 + 2.0) / 4.0, rel=1e-6)


def test_kinematics_decoding_and_resolution() -> None:
    jet = np.array([[30.0, 0.0, 10.0, 33.0]])
    reco = evaluate.decode_kinematics(np.zeros((1, 5)), jet)
    assert reco["pt"][0] == pytest.approx(30.0) and reco["phi"][0] == pytest.approx(0.0)
    shifted = evaluate.decode_kinematics(np.array([[np.log(1.1), 0.0, np.sin(0.2), np.cos(0.2), 0.0]]), jet)
    assert shifted["pt"][0] == pytest.approx(33.0) and shifted["phi"][0] == pytest.approx(0.2)
    rng = np.random.default_rng(0)
    gen_pt = rng.uniform(5, 50, 4000)
    gen = np.column_stack([gen_pt, np.zeros(4000), np.zeros(4000), gen_pt])
    smeared = {"pt": gen_pt * rng.normal(1.0, 0.02, 4000), "eta": np.zeros(4000), "phi": np.zeros(4000),
               "m": np.zeros(4000)}
    res = evaluate.kinematics_metrics(smeared, gen)
    assert res["pt_response"] == pytest.approx(1.0, abs=0.003)
    assert res["pt_resolution"] == pytest.approx(2 * 0.6745 * 0.02, rel=0.08)  # IQR of a Gaussian
    assert len(res["pt_bins"]) == 9
