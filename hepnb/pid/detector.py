"""Detector-response kernels: TPC dE/dx (ALEPH Bethe–Bloch), TOF time of flight, resolutions, nσ."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepnb.pid.constants import (
    BB_ALEPH_O2,
    C_CM_PER_PS,
    TOF_MATCH_PLATEAU,
    TOF_MATCH_SCALE_GEV,
    TOF_PT_MIN_GEV,
    TOF_RADIUS_CM,
    TOF_RESOLUTION_PS,
    TPC_CHARGE_EXPONENT,
    TPC_MIP,
    TPC_N_PADROWS,
    TPC_REL_RESOLUTION,
)

__all__ = [
    "bethe_bloch_aleph",
    "event_time_resolution_ps",
    "expected_dedx",
    "expected_time_ps",
    "tof_beta",
    "tof_expected_sigma_ps",
    "tof_mass_gev",
    "tof_match_efficiency",
    "tof_track_length_cm",
    "tpc_expected_sigma",
    "tpc_relative_resolution",
]

F = NDArray[np.float64]


def bethe_bloch_aleph(bg: ArrayLike, params: tuple[float, ...] = BB_ALEPH_O2) -> F:
    """ALEPH parametrisation f(βγ) (O2 ``BetheBlochAleph``): (kp2 − β^kp4 − ln(kp3 + (1/βγ)^kp5)) kp1 / β^kp4."""
    kp1, kp2, kp3, kp4, kp5 = params
    bg = np.asarray(bg, dtype=np.float64)
    beta = bg / np.sqrt(1.0 + bg * bg)
    aa = beta**kp4
    bb = np.log(kp3 + (1.0 / bg) ** kp5)
    return (kp2 - aa - bb) * kp1 / aa


def expected_dedx(p_gev: ArrayLike, mass_gev: ArrayLike, charge: int = 1,
                  params: tuple[float, ...] = BB_ALEPH_O2) -> F:
    """Expected TPC signal (a.u., MIP = 50) for momentum ``p_gev`` at the TPC inner wall.

    ``mass_gev`` is one mass or one per track; ``params`` the Bethe–Bloch parameter set (O2's by default).
    """
    bg = np.asarray(p_gev, dtype=np.float64) / np.asarray(mass_gev, dtype=np.float64)
    return TPC_MIP * bethe_bloch_aleph(bg, params) * abs(charge) ** TPC_CHARGE_EXPONENT


def tpc_relative_resolution(n_clusters: ArrayLike) -> F:
    """Relative dE/dx resolution ≈ 6 % × √(152 / N_cl)."""
    return TPC_REL_RESOLUTION * np.sqrt(TPC_N_PADROWS / np.asarray(n_clusters, dtype=np.float64))


def tpc_expected_sigma(p_gev: ArrayLike, mass_gev: ArrayLike, n_clusters: ArrayLike) -> F:
    """Expected dE/dx resolution (a.u.) of a mass hypothesis: expected signal × relative resolution."""
    return expected_dedx(p_gev, mass_gev) * tpc_relative_resolution(n_clusters)


def tof_track_length_cm(eta: ArrayLike) -> F:
    """Straight-line path to the TOF cylinder, 370 cm × cosh η (helix curvature neglected)."""
    return TOF_RADIUS_CM * np.cosh(np.asarray(eta, dtype=np.float64))


def expected_time_ps(p_gev: ArrayLike, mass_gev: ArrayLike, length_cm: ArrayLike) -> F:
    """t_exp = L √(m² + p²) / (c p)."""
    p = np.asarray(p_gev, dtype=np.float64)
    m = np.asarray(mass_gev, dtype=np.float64)
    return np.asarray(length_cm) * np.sqrt(m * m + p * p) / (C_CM_PER_PS * p)


def tof_beta(length_cm: ArrayLike, time_ps: ArrayLike) -> F:
    """β = L / (c t)."""
    return np.asarray(length_cm, dtype=np.float64) / (C_CM_PER_PS * np.asarray(time_ps, dtype=np.float64))


def tof_expected_sigma_ps(p_gev: ArrayLike, mass_gev: ArrayLike, length_cm: ArrayLike,
                          resolution_ps: float = TOF_RESOLUTION_PS, event_time_ps: ArrayLike = 20.0) -> F:
    """σ² = σ_TOF² + σ_tev² + σ_trk², σ_trk = dpp · t / (1 + p²/m²) with dpp = 0.008 + 0.008 p + 0.002 m/p
    (O2Physics ``PIDTOF``); ``mass_gev`` is the hypothesis' mass, one or one per track."""
    p = np.asarray(p_gev, dtype=np.float64)
    m = np.asarray(mass_gev, dtype=np.float64)
    t = expected_time_ps(p, m, length_cm)
    dpp = 0.008 + 0.008 * p + 0.002 * m / p
    sigma_trk = dpp * t / (1.0 + p * p / (m * m))
    return np.sqrt(resolution_ps**2 + np.asarray(event_time_ps) ** 2 + sigma_trk**2)


def tof_mass_gev(p_gev: ArrayLike, beta: ArrayLike) -> F:
    """TOF mass p/β · √|1 − β²| (O2Physics ``pidTOFmass``)."""
    b = np.asarray(beta, dtype=np.float64)
    return np.asarray(p_gev, dtype=np.float64) / b * np.sqrt(np.abs(1.0 - b * b))


def event_time_resolution_ps(n_tof_tracks: float) -> float:
    """Event-time resolution of the TOF-combinatorial method, 80 ps / √N_TOF, floored at 15 ps (T0/FT0-like)."""
    return max(80.0 / np.sqrt(max(n_tof_tracks, 1.0)), 15.0)


def tof_match_efficiency(pt_gev: ArrayLike, plateau: float = TOF_MATCH_PLATEAU) -> F:
    """ε(pT) = ε_max (1 − exp(−(pT − 0.28)/0.25)) above 0.28 GeV/c, else 0."""
    pt = np.asarray(pt_gev, dtype=np.float64)
    return np.where(pt > TOF_PT_MIN_GEV,
                    plateau * (1.0 - np.exp(-(pt - TOF_PT_MIN_GEV) / TOF_MATCH_SCALE_GEV)), 0.0)
