"""Physics constants and detector geometry of the track-extrapolation study (LHCb-like).

Units: mm, GeV, tesla. Sources: ../shared/reference/tracks.md (LHCb magnet pages, LHCb 2024 MC hit
positions, TrackRungeKuttaExtrapolator).
"""

from __future__ import annotations

__all__ = ["B_INTEGRAL_T_MM", "B_PEAK_T", "C_X2_PER_MM2", "GRID_SPACING_MM", "GRID_X_MM", "GRID_Y_MM", "GRID_Z_MM",
           "KAPPA_GEV_T_MM", "LEGS_MM", "SEED_B0_T", "SEED_SIGMA_MM", "SEED_UNITS_BUG_FACTOR", "SEED_ZC_MM",
           "SEED_Z_END_MM", "SEED_Z_START_MM", "TX_MAX", "TY_MAX", "T_HALF_HEIGHT_Y_MM", "T_HALF_WIDTH_X_MM",
           "Z_CENTRE_MM", "Z_T1_MM", "Z_UT_LAST_MM", "Z_VELO_END_MM"]

#: c in GeV/(T·mm): the slope change per mm is KAPPA · (q/p [1/GeV]) · B [T] (× the direction factor).
KAPPA_GEV_T_MM = 2.99792458e-4

# --- the dipole (correct physics) -------------------------------------------------------------
#: Peak |By| on axis in tesla (LHCb twodip map: 1.03 T near z = 5 m).
B_PEAK_T = 1.03
#: Integrated field on axis, ∫By dz, in T·mm (LHCb: 4 Tm).
B_INTEGRAL_T_MM = 4000.0
#: Centre of the Gaussian-like on-axis profile, mm.
Z_CENTRE_MM = 5000.0
#: Transverse non-uniformity: By ∝ 1 + C_X2 (x² − y²) (harmonic), in 1/mm²; −4.5e-8 gives −10 % at |x| = 1.5 m.
C_X2_PER_MM2 = -4.5e-8

# --- field grid (as LHCb's field map: 100 mm spacing) ---------------------------------------
GRID_SPACING_MM = 100.0
GRID_X_MM = (-4000.0, 4000.0)
GRID_Y_MM = (-3000.0, 3000.0)
GRID_Z_MM = (-500.0, 14000.0)

# --- detector planes and legs ---------------------------------------------------------------
Z_VELO_END_MM = 751.0
Z_UT_LAST_MM = 2648.2
Z_T1_MM = 7826.0
#: Extrapolation legs: name -> (z_start, z_end) in mm.
LEGS_MM: dict[str, tuple[float, float]] = {
    "ut_t": (Z_UT_LAST_MM, Z_T1_MM),
    "velo_t": (Z_VELO_END_MM, Z_T1_MM),
}
#: Magnet acceptance on the slopes at the origin (LHCb: ±300 mrad horizontal, ±250 mrad vertical).
TX_MAX = 0.3
TY_MAX = 0.25
#: SciFi (T station) acceptance at z = 7826 mm, mm.
T_HALF_WIDTH_X_MM = 3150.0
T_HALF_HEIGHT_Y_MM = 2500.0

# --- the seed's settings ("physics=seed"), reproduced knowingly ------------------------------
#: The seed used q/p in 1/MeV with the 1/GeV constant: bending 1000x too weak.
SEED_UNITS_BUG_FACTOR = 1e-3
SEED_B0_T = -1.0182
SEED_ZC_MM = 5007.0
SEED_SIGMA_MM = 1744.0
SEED_Z_START_MM = 4000.0
SEED_Z_END_MM = 12000.0
