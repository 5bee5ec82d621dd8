"""Physics constants and detector parameters of the ALICE-style PID study (sources in reference/pid.md)."""

from __future__ import annotations

from particle import Particle

#: Species in class order and their PDG codes.
SPECIES: tuple[str, ...] = ("pi", "ka", "pr", "el")
PDG: dict[str, int] = {"pi": 211, "ka": 321, "pr": 2212, "el": 11}
#: Masses in GeV. π and K from the ``particle`` package's PDG table; p and e keep the PDG 2022 values typed here:
#: particle's (CODATA 2022: −6e-10 and +1.4e-9 relative) shift the scaled features in their last float32 bit
#: and with them the networks' ci metrics (DNN macro AUC by 1e-4 relative), a change left to a later issue.
MASS_GEV: dict[str, float] = {"pi": Particle.from_pdgid(PDG["pi"]).mass / 1000.0,
                              "ka": Particle.from_pdgid(PDG["ka"]).mass / 1000.0,
                              "pr": 0.93827209, "el": 0.00051099895}
#: cτ in cm of the species that decay before the TOF (π, K).
CTAU_CM: dict[str, float] = {"pi": 780.45, "ka": 371.2}

# TPC: ALEPH Bethe–Bloch, O2 DataFormatsTPC default ("BBAleph average fit", Run 3)
BB_ALEPH_O2: tuple[float, float, float, float, float] = (0.19310481, 4.26696118, 0.00522579, 2.38124907, 0.98055396)
TPC_MIP = 50.0
TPC_CHARGE_EXPONENT = 2.3
TPC_REL_RESOLUTION = 0.06  # at 152 clusters; scales as sqrt(152 / N_cl)
TPC_N_PADROWS = 152

# TOF
C_CM_PER_PS = 0.0299792458
TOF_RADIUS_CM = 370.0
TOF_RESOLUTION_PS = 80.0
TOF_PT_MIN_GEV = 0.28  # a track needs pT > 0.278 GeV/c to reach r = 370 cm at B = 0.5 T
TOF_MATCH_PLATEAU = 0.5  # Run 3-like
TOF_MATCH_SCALE_GEV = 0.25
TOF_MISMATCH_FRACTION = 0.02
TOF_TAIL_FRACTION = 0.12
TOF_TAIL_SLOPE_SIGMA = 0.9

# Seed extractor's Bayes priors π : K : p : e
SEED_BAYES_PRIORS: tuple[float, float, float, float] = (1.0, 0.2, 0.1, 0.05)
MISSING = -999.0

# species fractions before cuts and blast-wave parameters (Pb–Pb 5.02 TeV, 0–5 %)
SPECIES_FRACTIONS: dict[str, float] = {"pi": 0.855, "ka": 0.086, "pr": 0.040, "el": 0.019}
BW_BETA_T = 0.663
BW_T_KIN_GEV = 0.090
BW_N = 0.735
