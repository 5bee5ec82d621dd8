"""Jet files (Parquet and ROOT), bad files, (p, θ) weights, split, chunked simulation, metrics and baselines."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepnb.tau import metrics as M
from hepnb.tau.dataset import FILE_FIELDS, p_theta_weights, read_jets, simulate, split, write_jets
from hepnb.tau.generate import generate_jets


@pytest.fixture(scope="module")
def jets() -> ak.Array:
    return ak.concatenate([generate_jets("ztautau", 40, seed=21), generate_jets("zqq", 10, seed=21)])


@pytest.mark.parametrize("suffix", [".parquet", ".root"])
def test_round_trip(jets: ak.Array, tmp_path: Path, suffix: str) -> None:
    path = write_jets(tmp_path / f"jets{suffix}", jets)
    back = read_jets(path)
    assert len(back) == len(jets)
    for field in ak.fields(jets):
        np.testing.assert_allclose(np.asarray(ak.flatten(back[field], axis=None), float),
                                   np.asarray(ak.flatten(jets[field], axis=None), float), rtol=1e-6, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [f"jets{suffix}"]  # no temporary file left


def test_bad_files(jets: ak.Array, tmp_path: Path) -> None:
    text = tmp_path / "jets.parquet"
    text.write_text("not a table")
    with pytest.raises(ValueError, match="neither a ROOT file"):
        read_jets(text)
    flat = {f: ak.Array([0.0] * 3) for f in FILE_FIELDS if f not in ("cand_dz", "is_tau")}
    partial = tmp_path / "partial.parquet"
    ak.to_parquet(ak.zip(flat), partial)
    with pytest.raises(ValueError, match=r"lacks 2 jet field\(s\): \['cand_dz', 'is_tau'\]"):
        read_jets(partial)
    nan = ak.to_list(jets[:2])
    nan[1]["jet_p4"][0] = float("inf")
    write_jets(tmp_path / "nan.parquet", ak.Array(nan))
    with pytest.raises(ValueError, match=r"NaN/inf values in \['jet_px'\]"):
        read_jets(tmp_path / "nan.parquet")
    with pytest.raises(ValueError, match="must end in .root or .parquet"):
        write_jets(tmp_path / "jets.csv", jets)
    assert not (tmp_path / "jets.csv").exists()


def test_weights_flatten_signal_against_background(jets: ak.Array) -> None:
    w = p_theta_weights(jets, p_edges_gev=np.array([2.0, 20.0, 60.0]), theta_edges_deg=np.array([0.0, 90.0, 180.0]))
    assert w.mean() == pytest.approx(1.0)
    p4 = np.asarray(jets.jet_p4)
    ip = np.digitize(np.linalg.norm(p4[:, :3], axis=1), [20.0])
    it = (np.degrees(np.arctan2(np.hypot(p4[:, 0], p4[:, 1]), p4[:, 2])) > 90).astype(int)
    sig = np.asarray(jets.is_tau) == 1
    for b in {(a, c) for a, c in zip(ip, it)}:
        sel = (ip == b[0]) & (it == b[1])
        if (sel & sig).any() and (sel & ~sig).any():
            assert w[sel & sig].sum() == pytest.approx(w[sel & ~sig].sum(), rel=1e-5)


def test_split() -> None:
    parts = split(100, seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [70, 10, 20]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(100))
    with pytest.raises(ValueError, match="at least 10 jets"):
        split(5, seed=0)


def test_simulate_is_independent_of_workers(tmp_path: Path) -> None:
    one = simulate(20, 6, seed=3, cache_dir=tmp_path / "a", events_per_chunk=10, workers=1, progress=False)
    two = simulate(20, 6, seed=3, cache_dir=tmp_path / "b", events_per_chunk=10, workers=2, progress=False)
    assert ak.to_list(one.jet_p4) == ak.to_list(two.jet_p4)
    again = simulate(20, 6, seed=3, cache_dir=tmp_path / "a", events_per_chunk=10, workers=1, progress=False)
    assert ak.to_list(again.cand_features) == ak.to_list(one.cand_features)  # read back from the cache


def test_tau_id_metrics() -> None:
    y = np.array([0] * 50 + [1] * 50)
    score = np.concatenate([np.linspace(0, 0.4, 50), np.linspace(0.6, 1, 50)])
    res = M.tau_id_metrics(score, y)
    assert res["auc"] == 1.0
    assert res["fake_rate_at_eff"]["80"] == 0.0
    assert res["rejection_at_0.5"] == 50.0 and res["rejection_is_lower_bound"]  # no background left: >= 50
    overlap = np.concatenate([np.linspace(0, 0.8, 50), np.linspace(0.2, 1, 50)])  # 1/8 of background above 0.6
    res = M.tau_id_metrics(overlap, y)
    assert not res["rejection_is_lower_bound"]
    assert res["rejection_at_0.5"] == pytest.approx(1 / np.mean(overlap[:50] >= np.median(overlap[50:])), rel=0.15)
    with pytest.raises(ValueError, match="both tau and background"):
        M.tau_id_metrics(score[:50], y[:50])


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
    assert M.counting_decay_mode(feats, mask)[0] == dm


def test_jet_charge_by_hand() -> None:
    feats, mask = _cands([(9.0, -1, 211), (4.0, 1, 211), (1.0, 0, 22)])
    q = M.jet_charge(feats, mask, np.array([16.0]), kappa=0.5)
    assert q[0] == pytest.approx((-3.0 + 2.0) / 4.0, rel=1e-6)


def test_kinematics_decoding_and_resolution() -> None:
    jet = np.array([[30.0, 0.0, 10.0, 33.0]])
    reco = M.decode_kinematics(np.zeros((1, 5)), jet)
    assert reco["pt"][0] == pytest.approx(30.0) and reco["phi"][0] == pytest.approx(0.0)
    shifted = M.decode_kinematics(np.array([[np.log(1.1), 0.0, np.sin(0.2), np.cos(0.2), 0.0]]), jet)
    assert shifted["pt"][0] == pytest.approx(33.0) and shifted["phi"][0] == pytest.approx(0.2)
    rng = np.random.default_rng(0)
    gen_pt = rng.uniform(5, 50, 4000)
    gen = np.column_stack([gen_pt, np.zeros(4000), np.zeros(4000), gen_pt])
    smeared = {"pt": gen_pt * rng.normal(1.0, 0.02, 4000), "eta": np.zeros(4000), "phi": np.zeros(4000),
               "m": np.zeros(4000)}
    res = M.kinematics_metrics(smeared, gen)
    assert res["pt_response"] == pytest.approx(1.0, abs=0.003)
    assert res["pt_resolution"] == pytest.approx(2 * 0.6745 * 0.02, rel=0.08)  # IQR of a Gaussian
    assert len(res["pt_bins"]) == 9


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hepnb.cli import main

    out = tmp_path / "jets.root"
    assert main(["tau", "generate", "--tau-events", "8", "--qq-events", "4", "--events-per-chunk", "4",
                 "--workers", "1", "--cache-dir", str(tmp_path / "cache"), "--output", str(out)]) == 0
    jets = read_jets(out)
    assert f"{len(jets)} jets" in capsys.readouterr().out
    assert set(np.asarray(jets.is_tau).tolist()) == {0, 1}
    assert main(["tau", "generate", "--tau-events", "8", "--qq-events", "4", "--output", str(tmp_path / "j.csv")]) != 0
    assert "must end in .root or .parquet" in capsys.readouterr().err
    assert not (tmp_path / "j.csv").exists()
