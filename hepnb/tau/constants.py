"""Constants of the tau study (FCC-ee, CLD-like detector); sources in reference/tau.md.

Every detector value is either from the reference (§5: the CLD geometry, the CLICdet Delphes card, the CLD
precursor talk) or an assumption, marked *assumed* with a one-line reason; ``tests/tau/test_detector.py``
checks that the simulated detector realises each stated value.
"""

from __future__ import annotations

from particle import Particle
from particle.pdgid import literals as pdgid

__all__ = [
           "BEAM_SPOT_SIGMA_MM",
           "B_FIELD_T",
           "CALO_ECAL_R_MM",
           "CALO_ECAL_Z_MM",
           "CALO_HCAL_R_MM",
           "CALO_HCAL_Z_MM",
           "CANDIDATE_CATEGORIES",
           "CHARGED_HADRON",
           "CHARGED_LEPTONS",
           "CONFUSION_DISTANCE_MM",
           "CONFUSION_SIGMAS",
           "CONVERSION_R_MAX_MM",
           "COS_THETA_MAX",
           "D0_CONST_MM",
           "D0_MS_MM_GEV",
           "DM_CLASSES",
           "DM_NAMES",
           "DM_REDUCTION",
           "DUPLICATE_TRACK_RATE",
           "DZ_OVER_D0",
           "ECAL_CONST",
           "ECAL_STOCHASTIC",
           "ELECTRON",
           "FAKE_TRACK_RATE",
           "FRAGMENT_FRACTION",
           "FRAGMENT_P_MIN_GEV",
           "FRAGMENT_RATE",
           "HCAL_CONST",
           "HCAL_NOISE_GEV",
           "HCAL_STOCHASTIC",
           "IP_MISSING",
           "JET_P",
           "JET_R",
           "LIMIT_CYLINDER_XY_MM",
           "LIMIT_CYLINDER_Z_MM",
           "MATCH_DR",
           "MAX_CANDIDATES",
           "MERGE_DISTANCE_MM",
           "MUON",
           "NEUTRAL_HADRON",
           "NEUTRAL_HADRON_E_MIN_GEV",
           "NEUTRINOS",
           "N_FEATURES",
           "PDG_HADRONIC_DM_FRACTIONS",
           "PHOTON",
           "PHOTON_E_MIN_GEV",
           "PV_TRACK_PT_MIN_GEV",
           "SQRT_S_GEV",
           "TAU",
           "TRACKER_X0",
           "TRACK_EFF_LOW",
           "TRACK_EFF_PLATEAU",
           "TRACK_EFF_SCALE_GEV",
           "TRACK_MASS_HYPOTHESIS_GEV",
           "TRACK_MS_TERM",
           "TRACK_PT_MIN_GEV",
           "TRACK_R_MAX_MM",
           "TRACK_SAGITTA_PER_GEV",
           "VERTEX_SIGMA_MM",
]

# PDG particle ids (the particle package), unsigned
TAU = int(pdgid.tau_minus)
NEUTRINOS: tuple[int, ...] = (int(pdgid.nu_e), int(pdgid.nu_mu), int(pdgid.nu_tau))
ELECTRON = int(pdgid.e_minus)
MUON = int(pdgid.mu_minus)
CHARGED_LEPTONS: tuple[int, ...] = (ELECTRON, MUON)
PHOTON = int(pdgid.photon)
#: A reconstructed candidate's category is the id of the species it stands for: e, μ, γ, π± for any charged
#: hadron, K⁰_L for any neutral hadron (particle identification is perfect for the particles that are
#: reconstructed; the detector effects below change *which* candidates exist).
CHARGED_HADRON = int(pdgid.pi_plus)
NEUTRAL_HADRON = int(pdgid.K_L_0)
CANDIDATE_CATEGORIES: tuple[int, ...] = (ELECTRON, MUON, PHOTON, CHARGED_HADRON, NEUTRAL_HADRON)

SQRT_S_GEV = 91.188
#: FCC-ee Z-pole vertex spread σ(x, y, z) (HEP-FCC FCC-config card), mm: the luminous region.
VERTEX_SIGMA_MM: tuple[float, float, float] = (5.96e-3, 23.8e-6, 0.397)
#: The beam spot the reconstruction knows: centred at the origin with the luminous region's size, mm.
BEAM_SPOT_SIGMA_MM: tuple[float, float, float] = VERTEX_SIGMA_MM
#: Pythia decays only inside this cylinder (the tracker), as the public Z → qq̄ card (reference/tau.md §1), mm.
LIMIT_CYLINDER_XY_MM = 2250.0
LIMIT_CYLINDER_Z_MM = 2500.0

# --- CLD-like detector (reference/tau.md §5) ---------------------------------------------------------------
B_FIELD_T = 2.0  # CLD solenoid (k4geo CLD_o2_v07)
COS_THETA_MAX = 0.99  # reconstructable tracks |cos θ| < 0.99 (Viazlo 2018)
TRACK_PT_MIN_GEV = 0.1  # reconstructable tracks pT ≥ 0.1 GeV (Viazlo 2018)
TRACK_SAGITTA_PER_GEV = 4e-5  # σ(pT)/pT² in 1/GeV at 100 GeV (Viazlo 2018)
TRACK_MS_TERM = 2.5e-3  # multiple-scattering term, CLICdet's scaled by B·R (reference §5, derived)
#: σ(d0) = a ⊕ b/(p sin^{3/2}θ): a = 5.9 µm, b = 10.4 µm·GeV give ≈ 6 µm at 10 GeV and ≈ 12 µm at 1 GeV (§5).
D0_CONST_MM = 5.9e-3
D0_MS_MM_GEV = 10.4e-3
#: σ(z0)/σ(d0) — *assumed*: the reference gives σ(z0) "similar or slightly larger" than σ(d0).
DZ_OVER_D0 = 1.2
#: Tracks with pT above this enter the fit of the primary-vertex z — *assumed*: soft tracks scatter most.
PV_TRACK_PT_MIN_GEV = 0.5
#: Tracking efficiency ε(pT) = ε∞ − (ε∞ − ε_low)·exp(−(pT − 0.1 GeV)/s) — *assumed* shape: CLD conformal
#: tracking is ≈ 99.5 % efficient above a few GeV and ≈ 90 % at its 0.1 GeV threshold (arXiv:1911.12230).
TRACK_EFF_PLATEAU = 0.995
TRACK_EFF_LOW = 0.90
TRACK_EFF_SCALE_GEV = 0.3
#: Charged particles made beyond this radius have too few hits for a track — *assumed*: the inner tracker
#: ends near 600 mm (k4geo: 61–696 mm) and a track needs its hits; their energy reaches the calorimeters.
TRACK_R_MAX_MM = 600.0
#: Fake tracks per reconstructed track — *assumed*: CLD quotes fake rates at the per-mille to per-cent level;
#: they appear near a real track (hit combinatorics in dense jets).
FAKE_TRACK_RATE = 0.005
#: Duplicated tracks per reconstructed track — *assumed*: loopers and split tracks at the per-mille level.
DUPLICATE_TRACK_RATE = 0.003
#: Material in front of the ECAL at normal incidence, in radiation lengths — *assumed*: ≈ 0.2 % X0 per VTX
#: layer (Viazlo 2018) plus the silicon trackers and supports, of order 10 % X0 (CLD note).
TRACKER_X0 = 0.10
#: Conversions beyond this radius are absorbed into the photon's ECAL cluster — *assumed*: their e⁺e⁻ have
#: too few hits to be tracked (as TRACK_R_MAX_MM), and particle flow recovers the photon.
CONVERSION_R_MAX_MM = TRACK_R_MAX_MM
# calorimeters (k4geo CLD_o2_v07 front faces)
CALO_ECAL_R_MM = 2150.0
CALO_ECAL_Z_MM = 2307.0
CALO_HCAL_R_MM = 2400.0
CALO_HCAL_Z_MM = 2539.0
ECAL_STOCHASTIC = 0.15  # photons σE/E = 15 %/√E ⊕ 1 % (reference §5, derived from Viazlo 2018 and CLICdet)
ECAL_CONST = 0.01
PHOTON_E_MIN_GEV = 0.5  # CLICdet Delphes card ECAL threshold
HCAL_STOCHASTIC = 0.35  # neutral hadrons 35 %/√E ⊕ 5 % ⊕ 1 GeV noise (reference §5, derived)
HCAL_CONST = 0.05
HCAL_NOISE_GEV = 1.0
NEUTRAL_HADRON_E_MIN_GEV = 1.0  # CLICdet Delphes card HCAL threshold
#: Two photons closer than this on the ECAL front face make one cluster — *assumed*: about three 5 mm cells,
#: the distance at which particle flow separates two electromagnetic showers.
MERGE_DISTANCE_MM = 15.0
#: A neutral hadron within this distance of a charged hadron's HCAL impact is a candidate for confusion —
#: *assumed*: about three 30 mm HCAL cells, the lateral size of a hadron shower's core.
CONFUSION_DISTANCE_MM = 100.0
#: …and is absorbed into the track's cluster when its energy is below this many σ_HCAL(p_track) — *assumed*:
#: particle flow's E/p compatibility test cannot see an excess smaller than the calorimeter resolution.
CONFUSION_SIGMAS = 1.5
#: Charged hadrons above FRAGMENT_P_MIN_GEV leave a fake neutral fragment with this probability, carrying this
#: fraction of their momentum (double counted) — *assumed*: the per-cent-level fragment rate of particle flow.
FRAGMENT_RATE = 0.05
FRAGMENT_FRACTION = 0.15
FRAGMENT_P_MIN_GEV = 2.0
IP_MISSING = -1000.0  # neutrals have no impact parameter, as in the ntuples
#: A track's energy is √(p² + m²) with the mass of its identified species: electrons and muons as identified,
#: every other track the charged pion (as particle flow does; a kaon's or proton's true mass would leak its
#: species through E − p). PDG masses in GeV (the particle package).
TRACK_MASS_HYPOTHESIS_GEV: dict[int, float] = {
    ELECTRON: float(Particle.from_pdgid(pdgid.e_minus).mass) / 1000.0,
    MUON: float(Particle.from_pdgid(pdgid.mu_minus).mass) / 1000.0,
    CHARGED_HADRON: float(Particle.from_pdgid(pdgid.pi_plus).mass) / 1000.0}

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
