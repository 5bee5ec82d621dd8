"""Physics constants and detector geometry of the track-extrapolation study (LHCb-like).

Units: mm, GeV, tesla. Sources: ../shared/reference/tracks.md (LHCb magnet pages, LHCb 2024 MC hit
positions, TrackRungeKuttaExtrapolator).
"""

from __future__ import annotations

__all__ = [
           "BEAMSPOT_SIGMA_XY_MM",
           "BEAMSPOT_SIGMA_Z_MM",
           "B_INTEGRAL_T_MM",
           "B_INTEGRAL_UNIFORMITY",
           "B_MAX_ACCEPTANCE_T",
           "DAUGHTER_ANGLE_SIGMA",
           "DECAY_LENGTH_MM",
           "DECAY_Z_MAX_MM",
           "DISPLACED_FRACTION",
           "GRID_SPACING_MM",
           "GRID_X_MM",
           "GRID_Y_MM",
           "GRID_Z_MM",
           "KAPPA_GEV_T_MM",
           "LEGS_MM",
           "MAGNET_HALF_GAP_MM",
           "MAGNET_HALF_WIDTH_MM",
           "MAGNET_POLE_DENSITY_T",
           "MAGNET_POLE_SEGMENTS",
           "MAGNET_POLE_Z_MM",
           "MAGNET_RETURN_OFFSET_MM",
           "MAGNET_RETURN_RATIO",
           "MAGNET_SHIELD_DENSITY_T",
           "MAGNET_SHIELD_SEGMENTS",
           "MAGNET_SHIELD_Z_MM",
           "MAGNET_SHIM_EDGES",
           "MAGNET_SHIM_FACTORS",
           "ORIGINAL_B0_T",
           "ORIGINAL_SIGMA_MM",
           "ORIGINAL_UNITS_BUG_FACTOR",
           "ORIGINAL_ZC_MM",
           "ORIGINAL_Z_END_MM",
           "ORIGINAL_Z_START_MM",
           "P_RANGE_GEV",
           "TX_MAX",
           "TY_MAX",
           "T_HALF_HEIGHT_Y_MM",
           "T_HALF_WIDTH_X_MM",
           "Z_T1_MM",
           "Z_T3_MM",
           "Z_UT_LAST_MM",
           "Z_VELO_END_MM",
]

#: c in GeV/(T·mm): the slope change per mm is KAPPA · (q/p [1/GeV]) · B [T] (× the direction factor).
KAPPA_GEV_T_MM = 2.99792458e-4

# --- the dipole (correct physics) -------------------------------------------------------------
# LHCb's magnet (lhcb-magnet.web.cern.ch): ∫B dl = 4 T·m over 10 m, non-uniformity of ∫B dl within ±5 % over
# the acceptance (±300 mrad horizontal, ±250 mrad vertical), a wedged aperture that opens with z, |B| ≈ 1 T.
#: Integrated field on axis, ∫By dz, in T·mm (LHCb: 4 Tm).
B_INTEGRAL_T_MM = 4000.0
#: Largest |B| allowed inside the acceptance, tesla.
B_MAX_ACCEPTANCE_T = 1.2
#: Allowed deviation of ∫B dl along straight lines from the origin across the acceptance from its on-axis value.
B_INTEGRAL_UNIFORMITY = 0.05

# The analytic dipole (hepnb.tracks.field.analytic_field) is the field of sheets of magnetic charge: pole
# faces y = ±h(z), |x| ≤ w(z), z in MAGNET_POLE_Z_MM, cut into MAGNET_POLE_SEGMENTS slabs along z whose
# density σ (tesla: an infinite sheet gives ±σ/2) rises linearly from the first to the last slab; return
# sheets of density −MAGNET_RETURN_RATIO·σ at ±(h(z) + MAGNET_RETURN_OFFSET_MM) (the flux that the yoke
# carries back); and a shield, sheets of density −MAGNET_SHIELD_DENSITY_T on the same wedge over
# MAGNET_SHIELD_Z_MM (as LHCb's RICH1 shielding keeps the field low between VELO and UT). The numbers were
# fitted (Nelder–Mead on the closed form) to: ∫By dz = −4 T·m on axis, ∫B dl within ±5 % across the
# acceptance, |B| ≤ 1.2 T over it, the pole faces outside it (|y| ≥ 0.25 z + 129 mm, |x| ≥ 0.42 z + 300 mm,
# room for the bend), the peak near z = 4.6–5 m and a weak field at the VELO. Unshimmed, ∫B dl reached +9 % at
# the rectangle's corners; the pole faces are shimmed across x (MAGNET_SHIM_*: strips of graded density), which
# brings the whole rectangle, corners included, to +0.2 … +4.6 %. hepnb.tracks.field.dipole_checks measures those
# properties and tests/tracks/test_physics.py asserts them.
#: z range of the pole faces, mm.
MAGNET_POLE_Z_MM = (3453.0, 6286.0)
#: Slabs along z of the pole faces.
MAGNET_POLE_SEGMENTS = 10
#: Pole half-gap h(z) = a + b·z (mm): the wedged aperture.
MAGNET_HALF_GAP_MM = (129.0, 0.3197)
#: Pole half-width w(z) = a + b·z (mm).
MAGNET_HALF_WIDTH_MM = (6106.0, -0.2731)
#: Sheet density σ of the first and last pole slab, tesla (linear in between).
MAGNET_POLE_DENSITY_T = (2.353, 3.235)
#: Return sheets: offset beyond the pole face (mm) and density ratio.
MAGNET_RETURN_OFFSET_MM = 1204.0
MAGNET_RETURN_RATIO = 0.3386
#: Shield: z range (mm), slabs and density (tesla).
MAGNET_SHIELD_Z_MM = (938.0, 2013.0)
MAGNET_SHIELD_SEGMENTS = 3
MAGNET_SHIELD_DENSITY_T = 0.2548
#: Pole shim across x: strip edges |x| = c·z on the pole faces (c dimensionless, the last strip out to w(z)).
MAGNET_SHIM_EDGES = (0.2, 0.4, 0.6)
#: Density factor of each strip, centre outwards: fitted by hepnb.tracks.field.fit_pole_shim (Nelder–Mead,
#: minimax of ∫B dl over 7 × 6 lines of the acceptance quadrant, corners included, at ∫By dz = 4 T·m, |B| ≤ 1.16 T).
MAGNET_SHIM_FACTORS = (0.9733, 0.8862, 0.6014, 1.7789)

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
#: Last SciFi plane (T3), mm: the field checks cover straight lines from the origin up to here.
Z_T3_MM = 9403.0

# --- the track sample -------------------------------------------------------------------------
#: Momentum range (log-uniform), GeV.
P_RANGE_GEV = (2.0, 500.0)
#: Luminous region (Gaussian σ), mm: LHCb Run 3, about 40 µm transverse and 45 mm along the beam.
BEAMSPOT_SIGMA_XY_MM = 0.04
BEAMSPOT_SIGMA_Z_MM = 45.0
#: Fraction of tracks from displaced decay vertices (as LHCb's long-lived samples: K⁰S, Λ, b and c decays).
DISPLACED_FRACTION = 0.2
#: Mean flight distance of the decaying mother (exponential, cut at DECAY_Z_MAX_MM so that the daughter still
#: crosses the VELO): transverse displacements of several mm to cm.
DECAY_LENGTH_MM = 100.0
DECAY_Z_MAX_MM = 500.0
#: Opening angle of a daughter with respect to its mother (Gaussian σ per slope), rad.
DAUGHTER_ANGLE_SIGMA = 0.05

# --- the original study's settings ("physics=original"), reproduced knowingly ------------------------------
#: The original study used q/p in 1/MeV with the 1/GeV constant: bending 1000x too weak.
ORIGINAL_UNITS_BUG_FACTOR = 1e-3
ORIGINAL_B0_T = -1.0182
ORIGINAL_ZC_MM = 5007.0
ORIGINAL_SIGMA_MM = 1744.0
ORIGINAL_Z_START_MM = 4000.0
ORIGINAL_Z_END_MM = 12000.0
