"""Jet files (Parquet and ROOT), bad files, tensors, (p, θ) weights, split, chunked simulation, the CLI."""

from __future__ import annotations

import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepnb.compute.chunks import ChunkRun
from hepnb.tau.data import FILE_FIELDS, EventCounts, p_theta_weights, read_jets, simulate, split, to_tensors, write_jets
from hepnb.tau.jets import generate_jets


@pytest.fixture(scope="module")
def jets() -> ak.Array:
    return ak.concatenate([generate_jets("ztautau", 40, seed=21)[0], generate_jets("zqq", 10, seed=21)[0]])


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
    with warnings.catch_warnings():  # a caller that reports the count itself
        warnings.simplefilter("error")
        quiet = to_tensors(jets, max_candidates=3, warn=False)
    np.testing.assert_array_equal(quiet["features"], t["features"])


def test_a_users_unsorted_jet_keeps_its_highest_pt_candidates(jets: ak.Array) -> None:
    """A file that stores a jet's 25 candidates in random order: the 20 of highest pT are kept, by pT."""
    rng = np.random.default_rng(3)
    base = ak.to_list(jets[0])
    pts = rng.uniform(0.2, 10.0, 25)
    feats = []
    p4 = []
    for pt in pts:
        f = [0.0] * 17
        f[2], f[11] = float(np.log(pt)), 1.0
        feats.append(f)
        p4.append([float(pt), 0.0, 0.0, float(pt)])
    order = rng.permutation(25)
    user = ak.Array([{**base, "cand_features": [feats[i] for i in order], "cand_p4": [p4[i] for i in order]}])
    with pytest.warns(UserWarning, match="1 jets have more than 20"):
        t = to_tensors(user)
    kept = np.exp(t["features"][0, :, 2])
    np.testing.assert_allclose(kept, np.sort(pts)[::-1][:20], rtol=1e-5)


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
    is_tau = np.array([1] * 100 + [0] * 900)
    parts = split(is_tau, seed=0)
    assert [int(is_tau[parts[k]].sum()) for k in ("train", "val", "test")] == [70, 10, 20]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(1000))
    # at most 1.5 q/g jets per τ jet in training and validation; every other q/g jet is a test jet; leptonic
    # taus and Z → ℓℓ jets are test-only
    origin = np.array([1] * 100 + [0] * 890 + [2] * 5 + [3] * 5)
    capped = split(np.where(origin == 1, 1, 0), seed=0, origin=origin, bkg_per_tau=1.5)
    assert [int(np.sum(origin[capped[k]] == 0)) for k in ("train", "val")] == [105, 15]
    assert np.sum(origin[capped["test"]] == 0) == 890 - 120
    assert set(origin[capped["test"]]) == {0, 1, 2, 3} and set(origin[capped["train"]]) == {0, 1}
    assert sorted(np.concatenate(list(capped.values())).tolist()) == list(range(1000))
    with pytest.raises(ValueError, match="at least 10 jets"):
        split(np.ones(5), seed=0)


@pytest.mark.parametrize("counts", [(0, 5, 0, 10), (5, 0, 0, 10), (5, 5, -1, 10), (5, 5, 0, 0)])
def test_event_counts_refuse_empty_processes(counts: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="found n_tau="):
        EventCounts(*counts)


def test_simulate_is_independent_of_workers(tmp_path: Path) -> None:
    one = simulate(EventCounts(20, 6, 4, per_chunk=10), seed=3, cache_dir=tmp_path / "a",
                   run=ChunkRun(workers=1, progress=False))
    two = simulate(EventCounts(20, 6, 4, per_chunk=10), seed=3, cache_dir=tmp_path / "b",
                   run=ChunkRun(workers=2, progress=False))
    assert ak.to_list(one.jets.jet_p4) == ak.to_list(two.jets.jet_p4)
    assert ak.to_list(one.taus.vis_p4) == ak.to_list(two.taus.vis_p4)
    assert set(np.asarray(one.jets.origin).tolist()) == {0, 1, 2, 3}
    again = simulate(EventCounts(20, 6, 4, per_chunk=10), seed=3, cache_dir=tmp_path / "a",
                     run=ChunkRun(progress=False))
    assert ak.to_list(again.jets.cand_features) == ak.to_list(one.jets.cand_features)  # read back from the cache


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hepnb.cli import main

    out = tmp_path / "jets.root"
    assert main(["tau", "generate", "--tau-events", "8", "--qq-events", "4", "--events-per-chunk", "4",
                 "--workers", "1", "--cache-dir", str(tmp_path / "cache"), "--output", str(out),
                 "--hepmc-dir", str(tmp_path / "events")]) == 0
    jets = read_jets(out)
    assert f"{len(jets)} jets" in capsys.readouterr().out
    assert set(np.asarray(jets.is_tau).tolist()) == {0, 1}
    files = sorted((tmp_path / "events").glob("*.hepmc3"))
    assert [f.name for f in files] == ["zqq-00000.hepmc3", "ztautau-00000.hepmc3", "ztautau-00001.hepmc3"]
    # the events' own jets, made again from the HepMC3 files (the detector is seeded per chunk in generation,
    # so only the labels' totals are compared)
    again = tmp_path / "again.parquet"
    assert main(["tau", "jets", "--input", *map(str, files[1:]), "--output", str(again)]) == 0
    assert int(np.sum(read_jets(again).is_tau)) == pytest.approx(int(np.sum(jets.is_tau)), abs=2)
    assert main(["tau", "generate", "--tau-events", "8", "--qq-events", "4", "--output", str(tmp_path / "j.csv")]) != 0
    assert "must end in .root or .parquet" in capsys.readouterr().err
    assert not (tmp_path / "j.csv").exists()


def test_impact_parameter_inputs_are_significances(jets: ak.Array) -> None:
    """The network's IP inputs against a direct computation on the study's own jets: tanh(dz), tanh(dxy) (mm)
    and the significances sign(S)·ln(1 + |S|), S = d / max(0.01 |d|, σ) (arXiv:2307.07747), 0 without a track."""
    t = to_tensors(jets, max_candidates=200, warn=False)
    raw = ak.to_numpy(ak.flatten(jets.cand_features[ak.argsort(np.hypot(jets.cand_p4[:, :, 0], jets.cand_p4[:, :, 1]),
                                                                  axis=1, ascending=False, stable=True)]))
    got = t["features"][t["mask"]]
    track = raw[:, 7] != 0
    assert track.sum() > 100 and (~track).sum() > 100
    np.testing.assert_array_equal(got[~track, 13:17], 0.0)
    for value_col, err_col in ((13, 14), (15, 16)):
        d, sigma = raw[track, value_col].astype(np.float64), raw[track, err_col].astype(np.float64)
        significance = d / np.maximum(0.01 * np.abs(d), sigma)
        np.testing.assert_allclose(got[track, value_col], np.tanh(d), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got[track, err_col], np.sign(significance) * np.log1p(np.abs(significance)),
                                   rtol=1e-5, atol=1e-6)
    # τ-decay tracks are displaced: some jets have |S_dxy| > 3, and the floor bounds every input at ln 101
    assert np.any(np.abs(got[track, 16]) > np.log1p(3.0))
    assert np.all(np.abs(got[track][:, [14, 16]]) <= np.log(101.0) + 1e-5)
