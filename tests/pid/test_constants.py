"""Every physics constant and response formula of the PID study, pinned to the number of its source written here
(O2 / O2Physics / AliRoot code, ALICE papers, PDG), never read back from the module; and the simulated table's
nσ, β and mass columns recomputed from the tracks with those numbers."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.pid import constants as k
from hepnb.pid.detector import (
    bethe_bloch_aleph,
    event_time_resolution_ps,
    expected_dedx,
    expected_time_ps,
    tof_beta,
    tof_expected_sigma_ps,
    tof_mass_gev,
    tof_match_efficiency,
    tof_track_length_cm,
    tpc_expected_sigma,
    tpc_relative_resolution,
)

# O2 DataFormats/Detectors/TPC/include/DataFormatsTPC/PIDResponse.h, "BBAleph average fit" (Run 3)
O2_BB = (0.19310481, 4.26696118, 0.00522579, 2.38124907, 0.98055396)
# O2Physics Common/Core/PID/TPCPIDResponse.h, mBetheBlochParams default
O2PHYSICS_BB = (0.0320981, 19.9768, 2.52666e-16, 2.72123, 6.08092)
# O2Physics TPCPIDResponse.h: mMIP = 50, mChargeFactor = 2.3; Run 3 GEM TPC: 152 pad rows (nClNorm = 152)
MIP, CHARGE_FACTOR, N_PADROWS = 50.0, 2.3, 152
# c = 299 792 458 m/s (SI, exact) in cm/ps
C_CM_PER_PS = 0.0299792458
# PDG 2024 (Review of Particle Physics): masses in GeV/c²
PDG_MASS_GEV = {"pi": 0.13957039, "ka": 0.493677, "pr": 0.93827208943, "el": 0.51099895069e-3}
# PDG 2024 cτ in cm: π± 7.8045 m, K± 3.711 m
PDG_CTAU_CM = {"pi": 780.45, "ka": 371.1}
# O2Physics Common/Core/PID/PIDTOF.h (as AliRoot AliTOFPIDResponse::GetExpectedSigma): dpp = 0.008 + 0.008 p + 0.002 m/p
TOF_DPP = (0.008, 0.008, 0.002)
# O2Physics pidTOF Beta class mExpectedResolution = 80 ps; Run 3 pp 2022 measured 72.8–77.9 ps (arXiv:2511.10311)
TOF_RESOLUTION_PS = 80.0


def _aleph(bg: np.ndarray, kp: tuple[float, ...]) -> np.ndarray:
    """AliExternalTrackParam::BetheBlochAleph / O2 BetheBlochAleph: (kp2 − β^kp4 − ln(kp3 + (1/βγ)^kp5)) kp1 / β^kp4."""
    beta = bg / np.sqrt(1.0 + bg**2)
    return (kp[1] - beta ** kp[3] - np.log(kp[2] + (1.0 / bg) ** kp[4])) * kp[0] / beta ** kp[3]


# TPC


def test_bethe_bloch_parameter_sets() -> None:
    assert k.BB_ALEPH_O2 == O2_BB
    assert k.BB_ALEPH_O2PHYSICS == O2PHYSICS_BB
    assert (k.TPC_MIP, k.TPC_CHARGE_EXPONENT, k.TPC_N_PADROWS) == (MIP, CHARGE_FACTOR, N_PADROWS)


@pytest.mark.parametrize("params", [O2_BB, O2PHYSICS_BB])
def test_aleph_formula(params: tuple[float, ...]) -> None:
    bg = np.geomspace(0.2, 500.0, 60)
    np.testing.assert_allclose(bethe_bloch_aleph(bg, params), _aleph(bg, params), rtol=1e-12)


def test_aleph_minimum_and_expected_signal() -> None:
    """reference/pid.md §1: with O2's set the minimum is f = 0.968 at βγ ≈ 3.5, a MIP pion gives ≈ 48.4."""
    bg = np.linspace(2.0, 6.0, 4001)
    f = _aleph(bg, O2_BB)
    assert bg[f.argmin()] == pytest.approx(3.5, abs=0.3) and f.min() == pytest.approx(0.968, abs=0.001)
    p = np.array([0.3, 1.0, 2.5])
    np.testing.assert_allclose(expected_dedx(p, PDG_MASS_GEV["ka"]), MIP * _aleph(p / PDG_MASS_GEV["ka"], O2_BB),
                               rtol=1e-12)
    np.testing.assert_allclose(expected_dedx(p, PDG_MASS_GEV["ka"], charge=2),
                               MIP * _aleph(p / PDG_MASS_GEV["ka"], O2_BB) * 2.0**CHARGE_FACTOR, rtol=1e-12)


def test_tpc_resolution() -> None:
    """6 % at 152 clusters (the Run 3 parametrisation gives 5.5–6.5 % for π/K/p), scaling as √(152/N_cl)."""
    assert k.TPC_REL_RESOLUTION == 0.06
    ncl = np.array([152.0, 130.0, 76.0, 40.0])
    np.testing.assert_allclose(tpc_relative_resolution(ncl), 0.06 * np.sqrt(152.0 / ncl), rtol=1e-12)
    np.testing.assert_allclose(tpc_expected_sigma(1.0, PDG_MASS_GEV["pr"], 130.0),
                               MIP * _aleph(1.0 / PDG_MASS_GEV["pr"], O2_BB) * 0.06 * np.sqrt(152 / 130), rtol=1e-12)
    assert k.TPC_TAIL_FRACTION == 0.04  # model choice: a small Landau-like upper tail (reference/pid.md §1)


# TOF


def test_tof_constants() -> None:
    assert k.C_CM_PER_PS == C_CM_PER_PS
    assert k.TOF_RESOLUTION_PS == TOF_RESOLUTION_PS
    assert k.TOF_RADIUS_CM == 370.0  # TOF inner radius 370 cm
    # a track reaches r = 3.70 m at B = 0.5 T when its diameter 2 pT / (0.3 B) exceeds it: pT > 0.2775 GeV/c
    assert abs(k.TOF_PT_MIN_GEV - 0.3 * 0.5 * 3.70 / 2) < 0.003
    assert k.TOF_MATCH_PLATEAU == 0.5 and k.TOF_MATCH_SCALE_GEV == 0.25  # Run 3 MC-like plateau (0.45–0.55)
    assert k.TOF_MISMATCH_FRACTION == 0.02
    assert k.TOF_TAIL_FRACTION == 0.085
    assert k.TOF_TAIL_SLOPE_SIGMA == 0.9  # O2Physics pidBayes.cxx fTOFtail = 0.9
    # the tail's mean shift 0.085 × 0.9σ is pidBayes' meanCorrFactor 0.07 / fTOFtail
    assert abs(0.085 * 0.9 / (0.07 / 0.9) - 1) < 0.02
    assert k.O2_TOF_P_MIN_GEV == 0.5  # O2Physics Tools/PIDML pidOnnxModel.h defaultModelPLimits {0.0, 0.5, 0.8}


def test_tof_formulas() -> None:
    p = np.array([0.4, 1.0, 2.0, 4.0])
    eta = np.array([0.0, 0.3, -0.6, 0.85])
    length = 370.0 * np.cosh(eta)
    np.testing.assert_allclose(tof_track_length_cm(eta), length, rtol=1e-12)
    for s, m in PDG_MASS_GEV.items():
        t = length * np.sqrt(m * m + p * p) / (C_CM_PER_PS * p)
        np.testing.assert_allclose(expected_time_ps(p, m, length), t, rtol=1e-12, err_msg=s)
        dpp = TOF_DPP[0] + TOF_DPP[1] * p + TOF_DPP[2] * m / p
        sigma = np.sqrt(TOF_RESOLUTION_PS**2 + 20.0**2 + (dpp * t / (1 + p * p / (m * m))) ** 2)
        np.testing.assert_allclose(tof_expected_sigma_ps(p, m, length), sigma, rtol=1e-12, err_msg=s)
    beta = length / (C_CM_PER_PS * np.array([12500.0, 13000.0, 20000.0, 16000.0]))
    np.testing.assert_allclose(tof_beta(length, [12500.0, 13000.0, 20000.0, 16000.0]), beta, rtol=1e-12)
    np.testing.assert_allclose(tof_mass_gev(p, beta), p / beta * np.sqrt(np.abs(1 - beta**2)), rtol=1e-12)
    # reference/pid.md §2: Δt(π−e) at 1 GeV/c and 370 cm is only ≈ 120 ps
    dt = 370.0 * (np.sqrt(PDG_MASS_GEV["pi"] ** 2 + 1) - np.sqrt(PDG_MASS_GEV["el"] ** 2 + 1)) / C_CM_PER_PS
    assert float(expected_time_ps(1.0, PDG_MASS_GEV["pi"], 370.0) - expected_time_ps(1.0, PDG_MASS_GEV["el"], 370.0)
                 ) == pytest.approx(dt, rel=1e-12) and dt == pytest.approx(120, abs=2)


def test_event_time_and_matching() -> None:
    """σ_tev = 80 ps/√N_TOF floored at 15 ps; ε(pT) = 0.5 (1 − exp(−(pT − 0.28)/0.25)) above 0.28 GeV/c."""
    assert event_time_resolution_ps(4.0) == pytest.approx(40.0)
    assert event_time_resolution_ps(300.0) == 15.0
    pt = np.array([0.1, 0.3, 0.6, 1.0, 5.0])
    want = np.where(pt > 0.28, 0.5 * (1 - np.exp(-(pt - 0.28) / 0.25)), 0.0)
    np.testing.assert_allclose(tof_match_efficiency(pt), want, rtol=1e-12)


# Particles and samples


def test_pdg_masses_and_lifetimes() -> None:
    for s, m in PDG_MASS_GEV.items():
        assert k.MASS_GEV[s] == pytest.approx(m, rel=1e-8), s
    for s, ctau in PDG_CTAU_CM.items():
        assert k.CTAU_CM[s] == pytest.approx(ctau, abs=0.1), s
    assert k.PDG == {"pi": 211, "ka": 321, "pr": 2212, "el": 11}
    assert k.CHARGE_OF_PDG == {"pi": 1, "ka": 1, "pr": 1, "el": -1}  # PDG code 11 is the electron, e⁻


def test_bayes_and_extractor_constants() -> None:
    assert k.ORIGINAL_BAYES_PRIORS == (1.0, 0.2, 0.1, 0.05)  # forynski/O2Physics PIDFeatureExtractor priors
    assert k.O2_BAYES_N_SPECIES == 9  # O2 PID::NIDs: e, μ, π, K, p, d, t, ³He, α
    assert k.MISSING == -999.0  # O2 defaultReturnValue, PIDML kTOFMissingSignal


def test_sample_constants() -> None:
    # ALICE PRC 101 (2020) 044907, Pb–Pb 5.02 TeV 0–5 %: ⟨βT⟩ = 0.663, T_kin = 0.090 GeV, n = 0.735
    assert (k.BW_BETA_T, k.BW_T_KIN_GEV, k.BW_N) == (0.663, 0.090, 0.735)
    # the original's README (LHC25f6 after its cuts) and its 0–1 XGBoost supports 457 263 / 26 034 / 11 640 / 10 522
    total = 457263 + 26034 + 11640 + 10522
    want = {"0-1": {"pi": 457263 / total, "ka": 26034 / total, "pr": 11640 / total, "el": 10522 / total},
            "1-3": {"pi": 0.741, "ka": 0.156, "pr": 0.099, "el": 0.0036},
            "full": {"pi": 0.855, "ka": 0.086, "pr": 0.040, "el": 0.019}}
    assert set(k.ORIGINAL_MC_FRACTIONS_AFTER_CUTS) == set(want)
    for r, fractions in want.items():
        np.testing.assert_allclose([k.ORIGINAL_MC_FRACTIONS_AFTER_CUTS[r][s] for s in fractions],
                                   list(fractions.values()), rtol=1e-12, err_msg=r)
    # model choice within reference/pid.md §6 ("a wide secondary component, mostly p and π, ~5–20 %")
    assert k.SECONDARY_FRACTION == {"pi": 0.06, "ka": 0.03, "pr": 0.12, "el": 0.03}


def test_simulated_columns_follow_the_formulas() -> None:
    """The table's TPC and TOF nσ, β and mass, recomputed from its tracks with the numbers above (O2's Bethe–Bloch,
    6 % × √(152/N_cl), L = 370 cosh η, 80 ps, σ_tev = 15 ps for 1000 tracks per event)."""
    from hepnb.pid.data import simulate_tracks

    t = simulate_tracks(4000, seed=12)
    p, ncl = t["p"].astype(np.float64), t["tpc_nclusters"].astype(np.float64)
    signal = t["tpc_signal"].astype(np.float64)
    length = 370.0 * np.cosh(t["eta"].astype(np.float64))
    tof = t["has_tof"]
    time = length / (C_CM_PER_PS * t["tof_beta"].astype(np.float64))
    for s, m in PDG_MASS_GEV.items():
        expected = MIP * _aleph(p / m, O2_BB)
        np.testing.assert_allclose(t[f"tpc_nsigma_{s}"], (signal - expected) / (expected * 0.06 * np.sqrt(152 / ncl)),
                                   rtol=1e-4, atol=2e-3, err_msg=s)
        t_exp = length * np.sqrt(m * m + p * p) / (C_CM_PER_PS * p)
        dpp = TOF_DPP[0] + TOF_DPP[1] * p + TOF_DPP[2] * m / p
        sigma = np.sqrt(TOF_RESOLUTION_PS**2 + 15.0**2 + (dpp * t_exp / (1 + p * p / (m * m))) ** 2)
        np.testing.assert_allclose(t[f"tof_nsigma_{s}"][tof], ((time - t_exp) / sigma)[tof], rtol=1e-4, atol=0.02,
                                   err_msg=s)
        assert np.all(t[f"tof_nsigma_{s}"][~tof] == -999.0)
    beta = t["tof_beta"][tof].astype(np.float64)
    np.testing.assert_allclose(t["tof_mass"][tof], p[tof] / beta * np.sqrt(np.abs(1 - beta**2)), rtol=1e-4, atol=1e-4)


# Track selection and DCA


def _tracks(**columns: list[float]) -> dict[str, np.ndarray]:
    base = {"pt": 1.0, "eta": 0.0, "dca_xy": 0.0, "dca_z": 0.0, "tpc_nclusters": 130, "its_nclusters": 7,
            "tpc_chi2": 1.0}
    n = len(next(iter(columns.values())))
    return {k: np.asarray(columns.get(k, [v] * n), dtype=np.float64) for k, v in base.items()}


def test_o2_global_track_selection_cuts() -> None:
    """O2Physics TrackSelectionDefaults.cxx getGlobalTrackSelection: pT > 0.1 GeV/c, |η| < 0.8, TPC crossed rows
    ≥ 70, DCAxy ≤ 0.0105 + 0.0350/pT^1.1 cm, DCAz ≤ 2 cm (and ≥ 3 ITS clusters here, reference/pid.md §6)."""
    from hepnb.pid.selection import select

    cut_at_1 = 0.0105 + 0.0350  # DCAxy cut at pT = 1 GeV/c
    cut_at_05 = 0.0105 + 0.0350 / 0.5**1.1
    cases = _tracks(pt=[0.09, 0.11, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0],
                    eta=[0, 0, 0.79, 0.81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    tpc_nclusters=[130, 130, 130, 130, 70, 69, 130, 130, 130, 130, 130, 130, 130, 130],
                    its_nclusters=[7, 7, 7, 7, 7, 7, 3, 2, 7, 7, 7, 7, 7, 7],
                    dca_xy=[0, 0, 0, 0, 0, 0, 0, 0, 0.99 * cut_at_1, 1.01 * cut_at_1, 0.99 * cut_at_05,
                            1.01 * cut_at_05, 0, 0],
                    dca_z=[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.99, 2.01])
    np.testing.assert_array_equal(select(cases, "o2"),
                                  [False, True, True, False, True, False, True, False, True, False, True, False,
                                   True, False])


def test_original_selection_cuts() -> None:
    """The original's extractor cuts (forynski/jax-pid-nn): TPC χ²/cluster > 0, |η| ≤ 0.8, |DCAxy| ≤ 0.105 cm,
    |DCAz| ≤ 0.12 cm, TPC clusters ≥ 70."""
    from hepnb.pid.selection import select

    cases = _tracks(tpc_chi2=[0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], eta=[0, 0.8, 0.81, 0, 0, 0, 0, 0],
                    dca_xy=[0, 0, 0, 0.105, 0.106, 0, 0, 0], dca_z=[0, 0, 0, 0, 0, 0.12, 0.121, 0],
                    tpc_nclusters=[130, 130, 130, 130, 130, 130, 130, 69])
    np.testing.assert_array_equal(select(cases, "original"), [False, True, False, True, False, True, False, False])


def test_primary_dca_resolution_is_run3_its() -> None:
    """σ_DCAxy = 5.7 µm + 18.6 µm/pT: the pp pass-3 cut 0.004 + 0.013/pT cm is "7σ" (reference/pid.md §6); DCAz
    1.3 × that. Secondaries (6 % of pions, a wide Laplace) widen the robust width by a few per cent only."""
    from hepnb.pid.data import simulate_tracks

    t = simulate_tracks(40000, seed=13, species="pi", p_range_gev=(0.5, 3.0))
    sigma_cm = (0.004 + 0.013 / t["pt"].astype(np.float64)) / 7.0
    for column, scale in (("dca_xy", 1.0), ("dca_z", 1.3)):
        pulls = t[column] / (scale * sigma_cm)
        width = 1.4826 * np.median(np.abs(pulls - np.median(pulls)))
        assert 0.97 < width < 1.12, (column, width)
