"""Constants of the tau study (FCC-ee, CLD-like detector); sources in reference/tau.md."""

from __future__ import annotations

from particle.pdgid import literals as pdgid

__all__ = ["CANDIDATE_CATEGORIES", "CHARGED_HADRON", "CHARGED_LEPTONS", "COS_THETA_MAX", "D0_CONST_MM",
           "D0_MS_MM_GEV", "DM_CLASSES", "DM_NAMES", "DM_REDUCTION", "ELECTRON", "IP_MISSING", "JET_P", "JET_R",
           "MATCH_DR", "MAX_CANDIDATES", "MUON", "NEUTRAL_HADRON", "NEUTRAL_HADRON_E_MIN_GEV", "NEUTRINOS",
           "N_FEATURES", "PDG_HADRONIC_DM_FRACTIONS", "PHOTON", "PHOTON_E_MIN_GEV", "SQRT_S_GEV", "TAU",
           "TRACK_MS_TERM", "TRACK_PT_MIN_GEV", "TRACK_SAGITTA_PER_GEV", "VERTEX_SIGMA_MM"]

# PDG particle ids (the particle package), unsigned
TAU = int(pdgid.tau_minus)
NEUTRINOS: tuple[int, ...] = (int(pdgid.nu_e), int(pdgid.nu_mu), int(pdgid.nu_tau))
ELECTRON = int(pdgid.e_minus)
MUON = int(pdgid.mu_minus)
CHARGED_LEPTONS: tuple[int, ...] = (ELECTRON, MUON)
PHOTON = int(pdgid.photon)
#: A reconstructed candidate's category is the id of the species it stands for: e, μ, γ, π± for any charged
#: hadron, K⁰_L for any neutral hadron (perfect particle identification).
CHARGED_HADRON = int(pdgid.pi_plus)
NEUTRAL_HADRON = int(pdgid.K_L_0)
CANDIDATE_CATEGORIES: tuple[int, ...] = (ELECTRON, MUON, PHOTON, CHARGED_HADRON, NEUTRAL_HADRON)

SQRT_S_GEV = 91.188
#: FCC-ee Z-pole vertex spread (HEP-FCC FCC-config card), mm.
VERTEX_SIGMA_MM: tuple[float, float, float] = (5.96e-3, 23.8e-6, 0.397)

# CLD-like detector (reference/tau.md §5)
COS_THETA_MAX = 0.99
TRACK_PT_MIN_GEV = 0.1
TRACK_SAGITTA_PER_GEV = 4e-5  # σ(pT)/pT² in 1/GeV
TRACK_MS_TERM = 2.5e-3
PHOTON_E_MIN_GEV = 0.5
NEUTRAL_HADRON_E_MIN_GEV = 1.0
D0_CONST_MM = 2e-3
D0_MS_MM_GEV = 12e-3
IP_MISSING = -1000.0  # neutrals have no impact parameter, as in the ntuples

# jets and matching
JET_R = 0.4
JET_P = -1.0
MATCH_DR = 0.4
MAX_CANDIDATES = 20
N_FEATURES = 17

# decay modes: HPS-like 5·(prongs−1) + neutrals reduced to six classes
DM_REDUCTION: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 2, 4: 2, 5: 10, 6: 11, 7: 11, 8: 11, 9: 11, 10: 10, 11: 11,
                                12: 11, 13: 11, 14: 11}
DM_CLASSES: tuple[int, ...] = (0, 1, 2, 10, 11, 15)
DM_NAMES: tuple[str, ...] = ("1p0pi0", "1p1pi0", "1p>=2pi0", "3p0pi0", "3p>=1pi0", "rare")
#: Fractions of the hadronic decay-mode classes from PDG branching ratios (hadronic total 64.8 %), with the
#: direct-daughter convention (K⁰ and ω count as neutral hadrons): π/K ν 11.5 %; π π⁰, K π⁰, π K⁰, K K⁰ 26.9 %;
#: π 2π⁰, π 3π⁰ and K 2π⁰ 10.4 %; 3 prongs 9.7 %; 3 prongs + π⁰(s) 5.1 %.
PDG_HADRONIC_DM_FRACTIONS: dict[int, float] = {0: 0.178, 1: 0.415, 2: 0.160, 10: 0.150, 11: 0.079}
