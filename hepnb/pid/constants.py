"""Physics constants and detector parameters of the ALICE-style PID study (sources in reference/pid.md).

PDG masses, identifiers and cτ come from the ``particle`` package's PDG table; everything typed here is a
detector or sample parameter, labelled with where it comes from and, for species fractions, whether it holds
before or after track selections.
"""

from __future__ import annotations

from particle import Particle

__all__ = [
    "BB_ALEPH_O2",
    "BB_ALEPH_O2PHYSICS",
    "BW_BETA_T",
    "BW_N",
    "BW_T_KIN_GEV",
    "CHARGE_OF_PDG",
    "CTAU_CM",
    "C_CM_PER_PS",
    "MASS_GEV",
    "MISSING",
    "O2_BAYES_N_SPECIES",
    "O2_TOF_P_MIN_GEV",
    "ORIGINAL_BAYES_PRIORS",
    "ORIGINAL_MC_FRACTIONS_AFTER_CUTS",
    "PDG",
    "SECONDARY_FRACTION",
    "SPECIES",
    "SPECIES_SYMBOLS",
    "TOF_MATCH_PLATEAU",
    "TOF_MATCH_SCALE_GEV",
    "TOF_MISMATCH_FRACTION",
    "TOF_PT_MIN_GEV",
    "TOF_RADIUS_CM",
    "TOF_RESOLUTION_PS",
    "TOF_TAIL_FRACTION",
    "TOF_TAIL_SLOPE_SIGMA",
    "TPC_CHARGE_EXPONENT",
    "TPC_MIP",
    "TPC_N_PADROWS",
    "TPC_REL_RESOLUTION",
    "TPC_TAIL_FRACTION",
]

#: Species in class order and their PDG codes (the particle with positive code).
SPECIES: tuple[str, ...] = ("pi", "ka", "pr", "el")
#: How the pages write each species.
SPECIES_SYMBOLS: dict[str, str] = {"pi": "π", "ka": "K", "pr": "p", "el": "e"}
PDG: dict[str, int] = {"pi": 211, "ka": 321, "pr": 2212, "el": 11}
_PARTICLES = {s: Particle.from_pdgid(code) for s, code in PDG.items()}
#: Masses in GeV/c², from the PDG table of ``particle``.
MASS_GEV: dict[str, float] = {s: float(p.mass) / 1000.0 for s, p in _PARTICLES.items()}  # type: ignore[arg-type]
#: Charge (in e) of the particle with the positive PDG code: −1 for the electron (11 is e⁻).
CHARGE_OF_PDG: dict[str, int] = {s: int(p.charge) for s, p in _PARTICLES.items()}  # type: ignore[arg-type]
#: cτ in cm of the species that decay before the TOF (π, K), from ``particle`` (mm there).
CTAU_CM: dict[str, float] = {s: float(_PARTICLES[s].ctau) / 10.0 for s in ("pi", "ka")}  # type: ignore[arg-type]

# TPC: ALEPH Bethe–Bloch parameters kp1..kp5
#: O2 ``DataFormatsTPC/PIDResponse.h`` default ("BBAleph average fit", Run 3): the nσ expectations use it.
BB_ALEPH_O2: tuple[float, float, float, float, float] = (0.19310481, 4.26696118, 0.00522579, 2.38124907, 0.98055396)
#: O2Physics ``Common/Core/PID/TPCPIDResponse.h`` default (``mBetheBlochParams``): the Bethe–Bloch systematic.
BB_ALEPH_O2PHYSICS: tuple[float, float, float, float, float] = (0.0320981, 19.9768, 2.52666e-16, 2.72123, 6.08092)
TPC_MIP = 50.0  # O2Physics TPC response mMIP (a.u.)
TPC_CHARGE_EXPONENT = 2.3  # O2Physics TPC response mChargeFactor
TPC_REL_RESOLUTION = 0.06  # at 152 clusters (Run 3 parametrisation gives 5.5–6.5 %); scales as sqrt(152 / N_cl)
TPC_N_PADROWS = 152  # Run 3 GEM TPC pad rows (O2 nClNorm)
TPC_TAIL_FRACTION = 0.04  # tracks with a Landau-like upper tail of the truncated mean

# TOF
C_CM_PER_PS = 0.0299792458
TOF_RADIUS_CM = 370.0
TOF_RESOLUTION_PS = 80.0  # Run 3 pp 2022: 72.8–77.9 ps; the O2 Beta class uses 80 ps
TOF_PT_MIN_GEV = 0.28  # a track needs pT > 0.278 GeV/c to reach r = 370 cm at B = 0.5 T
TOF_MATCH_PLATEAU = 0.5  # Run 3 MC-like plateau of the matching efficiency
TOF_MATCH_SCALE_GEV = 0.25
TOF_MISMATCH_FRACTION = 0.02  # matched tracks given another track's hit (reference/pid.md §2: ~1–5 %)
TOF_TAIL_FRACTION = 0.085  # Exp(0.9σ) tail: a mean shift of 0.077σ, as O2 pidBayes' meanCorrFactor 0.07/0.9
TOF_TAIL_SLOPE_SIGMA = 0.9  # exponential tail slope in σ; O2 pidBayes' fTOFtail = 0.9
#: O2Physics PIDML ``defaultModelPLimits``: TOF inputs are NaN below this momentum.
O2_TOF_P_MIN_GEV = 0.5

# Bayesian PID
#: The original extractor's priors π : K : p : e (forynski/O2Physics PIDFeatureExtractor).
ORIGINAL_BAYES_PRIORS: tuple[float, float, float, float] = (1.0, 0.2, 0.1, 0.05)
#: O2 pidBayes' flat TPC likelihood beyond 5σ is 1 / PID::NIDs, the number of O2 species (e, μ, π, K, p, d, t, ³He, α).
O2_BAYES_N_SPECIES = 9
#: The extractor's (and O2's) code for a missing TOF value.
MISSING = -999.0

#: Species fractions per momentum range (p, GeV/c) in the original's Run 3 Pb–Pb MC (LHC25f6) **after its track
#: cuts**; the simulation is tuned to them after the O2 global-track selection. 1–3 and full: the original's README's
#: tables; 0–1: its XGBoost per-class supports (457 263 π, 26 034 K, 11 640 p, 10 522 e).
ORIGINAL_MC_FRACTIONS_AFTER_CUTS: dict[str, dict[str, float]] = {
    "0-1": {"pi": 457263 / 505459, "ka": 26034 / 505459, "pr": 11640 / 505459, "el": 10522 / 505459},
    "1-3": {"pi": 0.741, "ka": 0.156, "pr": 0.099, "el": 0.0036},
    "full": {"pi": 0.855, "ka": 0.086, "pr": 0.040, "el": 0.019},
}
#: Fraction of non-primary tracks (weak decays, material) **before cuts**, with a wide DCA distribution.
SECONDARY_FRACTION: dict[str, float] = {"pi": 0.06, "ka": 0.03, "pr": 0.12, "el": 0.03}

# Blast-wave spectra shapes (Pb–Pb 5.02 TeV, 0–5 %, ALICE PRC 101 (2020) 044907)
BW_BETA_T = 0.663
BW_T_KIN_GEV = 0.090
BW_N = 0.735
