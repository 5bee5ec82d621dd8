"""Jet files (Parquet and ROOT), bad files, tensors, (p, θ) weights, split, chunked simulation, the CLI."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepnb.tau.data import FILE_FIELDS, p_theta_weights, read_jets, simulate, split, to_tensors, write_jets
from hepnb.tau.jets import generate_jets


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


def test_tensors_pad_and_truncate(jets: ak.Array) -> None:
    with pytest.warns(UserWarning, match="highest-pT 3 are kept"):
        t = to_tensors(jets, max_candidates=3)
    assert t["features"].shape == (len(jets), 3, 17)
    counts = np.asarray(ak.num(jets.cand_features, axis=1))
    np.testing.assert_array_equal(t["mask"].sum(axis=1), np.minimum(counts, 3))
    assert np.all(t["features"][~t["mask"]] == 0)


def test_tensors_refuse_bad_jets(jets: ak.Array) -> None:
    with pytest.raises(ValueError, match=r"lack the fields \['decay_mode'\]"):
        to_tensors(ak.zip({f: jets[f] for f in ak.fields(jets) if f != "decay_mode"}, depth_limit=1))
    short = ak.Array([{**ak.to_list(jets[0]), "cand_features": [[0.0] * 16]}])
    with pytest.raises(ValueError, match="needs 17 features, found \\[16\\]"):
        to_tensors(short)
    nan = ak.to_list(jets[:1])
    nan[0]["cand_features"][0][2] = float("nan")
    with pytest.raises(ValueError, match="NaN/inf"):
        to_tensors(ak.Array(nan))


def test_weights_flatten_signal_against_background(jets: ak.Array) -> None:
    w = p_theta_weights(jets, p_edges_gev=np.array([2.0, 20.0, 60.0]), theta_edges_deg=np.array([0.0, 90.0, 180.0]))
    assert w.mean() == pytest.approx(1.0)
    p4 = np.asarray(jets.jet_p4)
    ip = np.digitize(np.linalg.norm(p4[:, :3], axis=1), [20.0])
    it = (np.degrees(np.arctan2(np.hypot(p4[:, 0], p4[:, 1]), p4[:, 2])) > 90).astype(int)
    sig = np.asarray(jets.is_tau) == 1
    for b in set(zip(ip, it, strict=True)):
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
