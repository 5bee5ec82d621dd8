"""Tau generation: decay-mode labels, PDG fractions, reproducibility, jets and tensors, bad inputs."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hepnb.tau import constants as C
from hepnb.tau.generate import decay_mode_class, generate_jets, tau_decay_modes
from hepnb.tau.tensors import to_tensors


@pytest.mark.parametrize(("ids", "charges", "dm"), [
    ([-211, 16], [-1, 0], 0),
    ([-211, 111, 16], [-1, 0, 0], 1),
    ([-211, 111, 111, 16], [-1, 0, 0, 0], 2),
    ([-211, 211, -211, 16], [-1, 1, -1, 0], 10),
    ([-211, 211, -211, 111, 16], [-1, 1, -1, 0, 0], 11),
    ([-211, 22, 16], [-1, 0, 0], 15),
    ([11, -12, 16], [-1, 0, 0], -1),
    ([-211, 211, 16], [-1, 1, 0], 10),  # 2-prong modes merge into the 3-prong classes
])
def test_decay_mode_classes(ids: list[int], charges: list[float], dm: int) -> None:
    assert decay_mode_class(ids, charges) == dm


def test_decay_mode_fractions_match_pdg() -> None:
    dm = tau_decay_modes(1500, seed=3)
    assert len(dm) == 3000
    assert np.mean(dm < 0) == pytest.approx(0.352, abs=0.03)  # leptonic branching fraction
    hadronic = dm[dm >= 0]
    for cls, expected in C.PDG_HADRONIC_DM_FRACTIONS.items():
        assert np.mean(hadronic == cls) == pytest.approx(expected, abs=0.02), cls


@pytest.fixture(scope="module")
def jets() -> ak.Array:
    return ak.concatenate([generate_jets("ztautau", 60, seed=4), generate_jets("zqq", 20, seed=4)])


def test_generation_is_reproducible() -> None:
    a, b = generate_jets("zqq", 5, seed=9), generate_jets("zqq", 5, seed=9)
    assert ak.to_list(a.cand_features) == ak.to_list(b.cand_features)
    assert ak.to_list(generate_jets("zqq", 5, seed=10).jet_p4) != ak.to_list(a.jet_p4)


def test_jets_have_labels_and_17_features(jets: ak.Array) -> None:
    tau = np.asarray(jets.is_tau) == 1
    assert 0 < tau.sum() < len(jets)
    assert set(np.asarray(jets.decay_mode)[tau]) <= set(range(6))
    assert np.all(np.asarray(jets.decay_mode)[~tau] == -1)
    assert set(np.asarray(ak.flatten(ak.num(jets.cand_features, axis=2)))) == {17}
    # visible tau pT close to the jet pT: log ratio small for most signal jets
    assert np.median(np.abs(np.asarray(jets.kin_targets)[tau, 0])) < 0.1
    cos_dphi = np.asarray(jets.kin_targets)[tau, 3]
    assert np.all(cos_dphi > 0.9)


def test_tensors_pad_and_truncate(jets: ak.Array) -> None:
    with pytest.warns(UserWarning, match="highest-pT 3 are kept"):
        t = to_tensors(jets, max_candidates=3)
    assert t["features"].shape == (len(jets), 3, 17)
    counts = np.asarray(ak.num(jets.cand_features, axis=1))
    np.testing.assert_array_equal(t["mask"].sum(axis=1), np.minimum(counts, 3))
    assert np.all(t["features"][~t["mask"]] == 0)


def test_bad_inputs(jets: ak.Array) -> None:
    with pytest.raises(ValueError, match="unknown process 'zee'"):
        generate_jets("zee", 1, seed=0)
    with pytest.raises(ValueError, match=r"lack the fields \['decay_mode'\]"):
        to_tensors(ak.zip({f: jets[f] for f in ak.fields(jets) if f != "decay_mode"}, depth_limit=1))
    short = ak.Array([{**ak.to_list(jets[0]), "cand_features": [[0.0] * 16]}])
    with pytest.raises(ValueError, match="needs 17 features, found \\[16\\]"):
        to_tensors(short)
    nan = ak.to_list(jets[:1])
    nan[0]["cand_features"][0][2] = float("nan")
    with pytest.raises(ValueError, match="NaN/inf"):
        to_tensors(ak.Array(nan))
