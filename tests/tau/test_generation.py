"""Tau generation: decay-mode labels, PDG fractions, the detector, reproducibility, jets and their labels."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepnb import kinematics
from hepnb.tau import constants, evaluate, events
from hepnb.tau.events import decay_mode_class, pythia_events
from hepnb.tau.jets import generate_jets


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
    dm = np.concatenate([gen.taus["dm"] for gen in pythia_events("ztautau", 1500, seed=3)])
    assert len(dm) == 3000
    assert np.mean(dm < 0) == pytest.approx(0.352, abs=0.03)  # leptonic branching fraction
    hadronic = dm[dm >= 0]
    for cls, expected in constants.PDG_HADRONIC_DM_FRACTIONS.items():
        assert np.mean(hadronic == cls) == pytest.approx(expected, abs=0.02), cls


@pytest.fixture(scope="module")
def jets() -> ak.Array:
    return ak.concatenate([generate_jets("ztautau", 60, seed=4)[0], generate_jets("zqq", 20, seed=4)[0]])


def test_generation_is_reproducible() -> None:
    a, b = generate_jets("zqq", 5, seed=9)[0], generate_jets("zqq", 5, seed=9)[0]
    assert ak.to_list(a.cand_features) == ak.to_list(b.cand_features)
    assert ak.to_list(generate_jets("zqq", 5, seed=10)[0].jet_p4) != ak.to_list(a.jet_p4)


def test_jets_have_labels_and_17_features(jets: ak.Array) -> None:
    tau = np.asarray(jets.is_tau) == 1
    assert 0 < tau.sum() < len(jets)
    assert set(np.asarray(jets.decay_mode)[tau]) <= set(range(6))
    assert np.all(np.asarray(jets.decay_mode)[~tau] == -1)
    assert set(np.asarray(ak.flatten(ak.num(jets.cand_features, axis=2)))) == {17}
    # the detector leaves something to correct: the reco jet's pT differs from the visible τ's by a few per cent
    log_ratio = np.asarray(jets.kin_targets)[tau, 0]
    assert 0.003 < np.median(np.abs(log_ratio)) < 0.1
    assert set(np.asarray(jets.origin)[tau].tolist()) == {1}


def test_kinematic_targets_decode_to_the_visible_tau(jets: ak.Array) -> None:
    tau = np.asarray(jets.is_tau) == 1
    vis, targets = np.asarray(jets.gen_vis_p4)[tau], np.asarray(jets.kin_targets)[tau]
    reco = evaluate.decode_kinematics(targets, np.asarray(jets.jet_p4)[tau])
    # the targets are stored in float32
    np.testing.assert_allclose(reco["pt"], kinematics.pt_gev(vis), rtol=1e-6)
    np.testing.assert_allclose(reco["eta"], kinematics.eta(vis), atol=1e-6)
    np.testing.assert_allclose(kinematics.delta_phi_rad(reco["phi"], kinematics.phi_rad(vis)), 0.0, atol=1e-6)
    massive = (kinematics.mass_gev(vis) > 1e-3) & (np.abs(targets[:, 4]) < 5)
    np.testing.assert_allclose(reco["m"][massive], kinematics.mass_gev(vis)[massive], rtol=1e-5)


def test_candidate_features_are_consistent(jets: ak.Array) -> None:
    f = np.asarray(ak.flatten(jets.cand_features, axis=1))
    np.testing.assert_allclose(f[:, 6], np.hypot(f[:, 0], f[:, 1]), rtol=1e-5, atol=1e-6)  # ΔR from |Δη|, |Δφ|
    assert np.all(f[:, 8:13].sum(axis=1) == 1)  # one category each
    assert np.all((f[:, 7] != 0) == (f[:, 13] > constants.IP_MISSING))  # tracks, and only tracks, have dz
    tracks = f[:, 7] != 0
    assert np.mean(f[tracks, 15] > 0) > 0.5  # lifetime-signed d0: τ daughters lean downstream


def test_matching_is_one_to_one_and_nearest() -> None:
    """Two taus near one jet: the closer one takes it, the other stays unmatched; a tau takes its nearest jet."""
    from hepnb.tau.jets import match_taus

    jets = np.array([[10.0, 0.0, 0.0, 10.0], [10.0, 1.0, 0.0, 10.05], [0.0, 10.0, 0.0, 10.0]])
    taus = np.array([[10.0, 0.5, 0.0, 10.02], [10.0, 0.05, 0.0, 10.0], [0.0, 10.0, 5.0, 11.2]])
    out = match_taus(np.zeros(3, int), taus, np.zeros(3, int), jets)
    assert out.tolist() == [1, 0, -1]  # the third is at Δη ≈ 0.48 > 0.4 from its nearest jet
    # taus of another event never match
    assert match_taus(np.array([1]), taus[:1], np.zeros(3, int), jets).tolist() == [-1]


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown process 'zgg'"):
        generate_jets("zgg", 1, seed=0)
    with pytest.raises(ValueError, match="n_events must be >= 1"):
        generate_jets("zqq", 0, seed=0)


def _settings_at(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "Index.xml").write_text("<chapter/>")
    return folder


def test_pythia_settings_are_found_for_target_installs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pythia8mc looks for its settings three folders above its module; ``pip install --target DIR`` (the GPU
    machine's way) puts them in DIR/share, beside the module, where it does not look."""
    import pythia8mc

    monkeypatch.delenv("PYTHIA8DATA", raising=False)
    assert (Path(events.pythia_xml_dir()) / "Index.xml").is_file()  # this environment's own installation

    venv = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    venv_settings = _settings_at(tmp_path / "venv" / "share" / "Pythia8" / "xmldoc")
    target_settings = _settings_at(tmp_path / "site" / "share" / "Pythia8" / "xmldoc")
    assert events.xml_dir_candidates(venv / "pythia8mc.so")[0] == venv_settings
    assert target_settings in events.xml_dir_candidates(tmp_path / "site" / "pythia8mc.so")

    monkeypatch.setattr(pythia8mc, "__file__", str(tmp_path / "site" / "pythia8mc.so"))
    assert events.pythia_xml_dir() == str(target_settings)
    monkeypatch.setattr(pythia8mc, "__file__", str(tmp_path / "elsewhere" / "pythia8mc.so"))
    with pytest.raises(FileNotFoundError, match="PYTHIA8DATA"):
        events.pythia_xml_dir()
    monkeypatch.setenv("PYTHIA8DATA", str(venv_settings))  # the variable wins, as it does in Pythia itself
    assert events.pythia_xml_dir() == str(venv_settings)
    monkeypatch.setenv("PYTHIA8DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="missing"):
        events.pythia_xml_dir()


def test_pythia_initialises_from_a_target_install(tmp_path: Path) -> None:
    """End to end: pythia8mc imported from a ``pip install --target`` layout (its module and share/ side by side,
    linked from this environment) with $PYTHIA8DATA unset initialises through the generators' own code."""
    import os
    import subprocess
    import sys

    import pythia8mc

    module = Path(pythia8mc.__file__)
    settings = events.xml_dir_candidates(module)[0]
    site = tmp_path / "site"
    (site / "share" / "Pythia8").mkdir(parents=True)
    (site / module.name).symlink_to(module)
    (site / "share" / "Pythia8" / "xmldoc").symlink_to(settings)
    env = {k: v for k, v in os.environ.items() if k != "PYTHIA8DATA"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(Path(__file__).resolve().parents[2])])
    code = ("import pythia8mc; from hepnb.tau import events; "
            f"assert pythia8mc.__file__.startswith({str(site)!r}), pythia8mc.__file__; "
            "py = events.pythia_generator('zee', 1); assert py.next(); print('ok', py.event.size())")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0 and run.stdout.startswith("ok"), run.stdout[-2000:] + run.stderr[-2000:]
