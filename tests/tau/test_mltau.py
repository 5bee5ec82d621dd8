"""ML-Tau ntuples (written here with awkward, in both four-vector conventions) read as the study's jets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from hepnb.tau.data import read_sample, to_tensors
from hepnb.tau.mltau import read_mltau, reduce_decay_modes
from tests.tau.mltau_files import random_jets, write_mltau

#: The model card's reduction of the HPS codes (reference/tau.md §1) as indices of the six classes
#: [1p0π⁰, 1p1π⁰, 1p≥2π⁰, 3p0π⁰, 3p≥1π⁰, rare]: 2-prong codes 5–9 join the 3-prong classes.
EXPECTED_CLASS = {0: 0, 1: 1, 2: 2, 3: 2, 4: 2, 5: 3, 6: 4, 7: 4, 8: 4, 9: 4, 10: 3, 11: 4, 12: 4, 13: 4, 14: 4, 15: 5}


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return random_jets(25, seed=3)


def _flat(values: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(values)


@pytest.mark.parametrize("convention", ["ptetaphie", "vector"])
def test_values_in_both_conventions(truth: dict[str, Any], tmp_path: Path, convention: str) -> None:
    jets = read_mltau(write_mltau(tmp_path / "z.parquet", truth, convention, weight=True))
    c, j = truth["cands"], truth["jet"]
    pt, eta, phi, e = (_flat(c[k]) for k in ("pt", "eta", "phi", "energy"))
    want_p4 = np.column_stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e])
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(jets.cand_p4)), want_p4, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(jets.jet_p4), np.column_stack(
        [j["pt"] * np.cos(j["phi"]), j["pt"] * np.sin(j["phi"]), j["pt"] * np.sinh(j["eta"]), j["energy"]]), rtol=1e-9)
    feats = ak.to_numpy(ak.flatten(jets.cand_features))
    n = np.array([len(x) for x in c["pt"]])
    jet_eta, jet_phi, jet_pt = (np.repeat(j[k], n) for k in ("eta", "phi", "pt"))
    dphi = np.angle(np.exp(1j * (phi - jet_phi)))
    np.testing.assert_allclose(feats[:, 0], np.abs(eta - jet_eta), atol=1e-5)
    np.testing.assert_allclose(feats[:, 1], np.abs(dphi), atol=1e-5)
    np.testing.assert_allclose(feats[:, 2], np.log(pt), atol=1e-5)
    np.testing.assert_allclose(feats[:, 3], np.log(e), atol=1e-5)
    np.testing.assert_allclose(feats[:, 4], np.log(pt / jet_pt), atol=1e-5)
    np.testing.assert_allclose(feats[:, 6], np.hypot(eta - jet_eta, dphi), atol=1e-5)
    pdg, charge = _flat(c["pdg"]), _flat(c["charge"])
    np.testing.assert_array_equal(feats[:, 7], charge)
    np.testing.assert_array_equal(feats[:, 11], np.abs(pdg) == 211)
    np.testing.assert_array_equal(feats[:, 10], pdg == 22)
    neutral = charge == 0
    assert neutral.any() and (~neutral).any()
    np.testing.assert_array_equal(feats[neutral, 13:17], -1000.0)  # the ntuples' −1000 kept for neutrals
    np.testing.assert_allclose(feats[~neutral, 13], _flat(c["dz"])[~neutral], rtol=1e-6)  # signed, as stored
    np.testing.assert_allclose(feats[~neutral, 15], _flat(c["dxy"])[~neutral], rtol=1e-6)
    np.testing.assert_allclose(feats[~neutral, 16], 0.004, rtol=1e-6)
    tau = truth["decaymode"] >= 0
    np.testing.assert_array_equal(np.asarray(jets.is_tau), tau)
    np.testing.assert_array_equal(np.asarray(jets.origin), tau.astype(int))
    np.testing.assert_array_equal(np.asarray(jets.decay_mode),
                                  [EXPECTED_CLASS[int(d)] if d >= 0 else -1 for d in truth["decaymode"]])
    np.testing.assert_array_equal(np.asarray(jets.charge), tau & (truth["tau_charge"] == 1))
    v = truth["vis"]
    np.testing.assert_allclose(np.asarray(jets.kin_targets)[tau, 0], np.log(v["pt"][tau] / j["pt"][tau]), atol=1e-5)
    np.testing.assert_allclose(np.asarray(jets.kin_targets)[tau, 1], (v["eta"] - j["eta"])[tau], atol=1e-5)
    np.testing.assert_allclose(np.asarray(jets.gen_vis_p4)[tau, 3], v["energy"][tau], rtol=1e-9)
    np.testing.assert_array_equal(np.asarray(jets.gen_vis_p4)[~tau], 0.0)
    np.testing.assert_allclose(np.asarray(jets.cls_weight), np.linspace(0.5, 1.5, len(tau)), rtol=1e-6)
    tensors = to_tensors(jets, warn=False)
    np.testing.assert_array_equal(tensors["mask"].sum(axis=1), np.minimum(n, 20))
    real = tensors["mask"]
    ip = tensors["features"][..., 13:17][real]
    is_neutral = tensors["features"][..., 7][real] == 0
    np.testing.assert_array_equal(ip[is_neutral], 0.0)  # the study's inputs: 0 for no track
    assert (n <= 20).all()  # every candidate reaches the network (sorted by pT there)
    np.testing.assert_allclose(np.sort(ip[~is_neutral, 0]), np.sort(np.tanh(feats[~neutral, 13])), rtol=1e-6)
    # the significance inputs from the ntuple's own columns, computed here directly (arXiv:2307.07747's
    # S = d / max(0.01 |d|, σ), then sign(S) ln(1 + |S|))
    for col, value, error in ((1, _flat(c["dz"]), _flat(c["dz_err"])), (3, _flat(c["dxy"]), _flat(c["dxy_err"]))):
        s = value[~neutral] / np.maximum(0.01 * np.abs(value[~neutral]), error[~neutral])
        np.testing.assert_allclose(np.sort(ip[~is_neutral, col]), np.sort(np.sign(s) * np.log(1.0 + np.abs(s))),
                                   rtol=1e-5, atol=1e-6)


def test_decay_codes_to_six_classes_and_leptonic(truth: dict[str, Any], tmp_path: Path) -> None:
    np.testing.assert_array_equal(reduce_decay_modes(np.arange(16)), [EXPECTED_CLASS[c] for c in range(16)])
    codes = np.resize(np.arange(-1, 17), len(truth["decaymode"])).astype(float)
    charge = np.where(codes >= 0, 1.0, -999.0)
    vis = {k: v * 0.9 for k, v in truth["jet"].items()}
    jets = read_mltau(write_mltau(tmp_path / "all.parquet", {**truth, "decaymode": codes, "tau_charge": charge,
                                                            "vis": vis}))
    origin = np.asarray(jets.origin)
    np.testing.assert_array_equal(origin, np.where(codes == -1, 0, np.where(codes == 16, 2, 1)))
    np.testing.assert_array_equal(np.asarray(jets.is_tau), origin == 1)
    np.testing.assert_array_equal(np.asarray(jets.decay_mode)[origin != 1], -1)  # leptonic τ: no hadronic class
    np.testing.assert_array_equal(np.asarray(jets.charge)[origin != 1], 0)


def test_signal_and_background_files_together(truth: dict[str, Any], tmp_path: Path) -> None:
    sig = random_jets(12, seed=5, tau_fraction=1.0)
    bkg = random_jets(9, seed=6, tau_fraction=0.0)
    extra = {"event_reco_cand_pdgs": [["x"]] * 12}  # columns the reader does not use are not read
    paths = [write_mltau(tmp_path / "z.parquet", sig, replace=extra),
             write_mltau(tmp_path / "qq.parquet", bkg, "vector")]
    sample = read_sample(paths)
    assert len(sample.jets) == 21 and sample.taus is None
    np.testing.assert_array_equal(np.asarray(sample.jets.is_tau), [1] * 12 + [0] * 9)
    unlabelled = read_mltau(write_mltau(tmp_path / "reco.parquet", bkg, drop=("gen_jet_tau_p4", "gen_jet_tau_decaymode",
                                                                              "gen_jet_tau_charge")), labels=False)
    assert len(unlabelled) == 9 and set(np.asarray(unlabelled.decay_mode).tolist()) == {-1}


@pytest.mark.parametrize(("change", "column", "problem"), [
    ({"drop": ("reco_cand_dz",)}, "reco_cand_dz", "is missing"),
    ({"replace": {"reco_cand_pdgs": np.full(25, 211)}}, "reco_cand_pdgs", "must hold a list of numbers per jet"),
    ({"replace": {"gen_jet_tau_charge": ["+"] * 25}}, "gen_jet_tau_charge", "must hold one number per jet"),
    ({"replace": {"reco_jet_p4": ak.zip({"pt": np.ones(25), "eta": np.ones(25), "phi": np.ones(25)})}},
     "reco_jet_p4", "must hold four-vector records"),
    ({"replace": {"reco_cand_p4s": ak.zip({"pt": np.ones(25), "eta": np.ones(25), "phi": np.ones(25),
                                           "energy": np.ones(25)})}}, "reco_cand_p4s", "a list of four-vector records"),
    ({"replace": {"reco_cand_dxy": ak.Array([[0.0]] * 25)}}, "reco_cand_dxy", "entries in jet 0"),
    ({"replace": {"gen_jet_tau_decaymode": np.full(25, 17.0)}}, "gen_jet_tau_decaymode", "HPS codes 0-16"),
    ({"replace": {"gen_jet_tau_charge": np.zeros(25)}}, "gen_jet_tau_charge", "must be \\+1 or -1"),
    ({"replace": {"cls_weight": np.full(25, np.nan)}}, "cls_weight", "NaN/inf"),
    ({"replace": {"gen_jet_tau_decaymode": np.zeros(25), "gen_jet_tau_charge": np.ones(25)}}, "gen_jet_tau_p4",
     "visible pT <= 0"),
])
def test_bad_ntuples_refused_in_one_line(truth: dict[str, Any], tmp_path: Path, change: dict[str, Any], column: str,
                                         problem: str) -> None:
    path = write_mltau(tmp_path / "bad.parquet", truth, **change)
    with pytest.raises(ValueError, match=f"ML-Tau ntuple {path}: column '{column}' .*{problem}") as err:
        read_sample(path)
    assert "\n" not in str(err.value)


def test_the_page_reads_ntuples_by_a_glob_pattern(tmp_path: Path) -> None:
    from hepnb.tau import pipeline
    from tests.tau.test_report import ci_parameters

    write_mltau(tmp_path / "z_test.parquet", random_jets(30, seed=7, tau_fraction=1.0))
    write_mltau(tmp_path / "qq_test.parquet", random_jets(40, seed=8, tau_fraction=0.0), "vector")
    settings = pipeline.Settings.from_parameters({**ci_parameters(), "input_file": str(tmp_path / "*_test.parquet")})
    samples = pipeline.load(settings, None)
    assert samples.sizes["τ jets"] == 30 and samples.sizes["q/g jets"] == 40
    assert sum(samples.checks["dm_fractions"].values()) == pytest.approx(1.0)
    assert sum(len(part["weight"]) for part in (samples.data.train, samples.data.val, samples.data.test)) == 70
