"""Transverse-momentum spectra of the simulated species, tuned to the original's species mix after cuts.

Each species' shape is a Boltzmann–Gibbs blast wave with ALICE's central Pb–Pb parameters (a soft component
added to the pions, a steeply falling spectrum for the electrons from conversions and Dalitz decays). The shapes
alone do not give the mix of the original's Run 3 MC, so each non-pion species' spectrum is tilted by a power law,
``a_s · pT^b_s``: the two numbers are solved (deterministically, by quadrature and root finding) so that after
the O2 global-track selection the ratio of that species to pions in 0–1 and in 1–3 GeV/c (total momentum)
equals the original's (:data:`hepnb.pid.constants.ORIGINAL_MC_FRACTIONS_AFTER_CUTS`). The full-range mix then follows
from the spectra; the book shows it beside the original's.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from hepnb.pid.constants import (
    BW_BETA_T,
    BW_N,
    BW_T_KIN_GEV,
    MASS_GEV,
    ORIGINAL_MC_FRACTIONS_AFTER_CUTS,
    SECONDARY_FRACTION,
    SPECIES,
)

__all__ = [
    "DCA_SECONDARY_XY_CM",
    "DCA_SECONDARY_Z_CM",
    "ETA_MAX_GENERATED",
    "PT_GRID_GEV",
    "blast_wave_pt_pdf",
    "inverse_cdf",
    "o2_dca_xy_cut_cm",
    "selection_efficiency",
    "shape",
    "species_probabilities",
    "tilts",
]

#: Generated pT grid (GeV/c): the spectra are tabulated on it and sampled by inverse CDF.
PT_GRID_GEV = np.linspace(0.1, 8.0, 3000)
#: Generated |η| range.
ETA_MAX_GENERATED = 0.9
#: Laplace scales (cm) of the DCA of secondaries in xy and z.
DCA_SECONDARY_XY_CM = 0.15
DCA_SECONDARY_Z_CM = 0.3
_ETA_MAX_SELECTED = 0.8
_RANGES = {"0-1": (0.0, 1.0), "1-3": (1.0, 3.0)}


def blast_wave_pt_pdf(pt_gev: NDArray[np.float64], mass_gev: float, beta_t: float = BW_BETA_T,
                      t_kin_gev: float = BW_T_KIN_GEV, n: float = BW_N) -> NDArray[np.float64]:
    """dN/dpT of the Boltzmann–Gibbs blast wave (unnormalised), with ⟨βT⟩, T_kin and n as ALICE fits.

    dN/dpT ∝ pT ∫₀¹ r dr mT I₀(pT sinh ρ / T) K₁(mT cosh ρ / T), ρ = atanh(β_s rⁿ), β_s = ⟨βT⟩ (2 + n)/2.
    """
    beta_s = beta_t * (2.0 + n) / 2.0
    r = np.linspace(0.0, 1.0, 201)[1:]
    rho = np.arctanh(np.clip(beta_s * r**n, 0.0, 0.999))
    pt = np.asarray(pt_gev)[:, None]
    mt = np.sqrt(mass_gev**2 + pt * pt)
    a, b = pt * np.sinh(rho) / t_kin_gev, mt * np.cosh(rho) / t_kin_gev
    # I0(a) K1(b) = i0e(a) k1e(b) exp(a − b): scaled Bessel functions avoid overflow
    integrand = r * mt * special.i0e(a) * special.k1e(b) * np.exp(a - b)
    return pt[:, 0] * np.trapezoid(integrand, r, axis=1)


@functools.cache
def shape(species: str) -> NDArray[np.float64]:
    """The untilted spectrum of ``species`` on :data:`PT_GRID_GEV`, normalised to unit sum."""
    grid = PT_GRID_GEV
    if species == "el":
        pdf = grid * np.exp(-grid / 0.22)  # conversions and Dalitz: steeply falling
    else:
        pdf = blast_wave_pt_pdf(grid, MASS_GEV[species])
        if species == "pi":  # soft component (resonance decays) the blast wave misses below 0.5 GeV/c
            soft = grid * np.exp(-np.sqrt(grid**2 + MASS_GEV["pi"] ** 2) / 0.16)
            pdf = pdf / pdf.sum() + 0.35 * soft / soft.sum()
    return pdf / pdf.sum()


def o2_dca_xy_cut_cm(pt_gev: NDArray[np.float64]) -> NDArray[np.float64]:
    """The O2 global-track DCAxy cut, 0.0105 + 0.035 / pT^1.1 cm ("7σ")."""
    return 0.0105 + 0.035 / np.asarray(pt_gev) ** 1.1


def selection_efficiency(species: str, pt_gev: NDArray[np.float64]) -> NDArray[np.float64]:
    """The species-dependent part of the O2 selection efficiency: the secondaries lost to the DCA cuts.

    Primaries pass (their DCA resolution is far inside the cuts); a secondary passes with the probability that
    its Laplace-distributed DCAxy and DCAz fall inside the cuts. Factors common to all species (η, clusters)
    are left out: they cancel in fractions.
    """
    sec = SECONDARY_FRACTION[species]
    pass_xy = 1.0 - np.exp(-o2_dca_xy_cut_cm(pt_gev) / DCA_SECONDARY_XY_CM)
    pass_z = 1.0 - np.exp(-2.0 / DCA_SECONDARY_Z_CM)
    return (1.0 - sec) + sec * pass_xy * pass_z


@functools.cache
def _range_acceptance() -> dict[str, NDArray[np.float64]]:
    """Per pT grid point, the fraction of the selected |η| < 0.8 (uniform η) whose p = pT cosh η lies in a range."""
    eta = np.linspace(0.0, _ETA_MAX_SELECTED, 81)
    p = PT_GRID_GEV[:, None] * np.cosh(eta)[None, :]
    return {r: np.mean((p >= lo) & (p < hi), axis=1) for r, (lo, hi) in _RANGES.items()}


def _after_cuts(species: str, tilt: float) -> dict[str, float]:
    weight = shape(species) * PT_GRID_GEV**tilt * selection_efficiency(species, PT_GRID_GEV)
    return {r: float(np.sum(weight * acc)) for r, acc in _range_acceptance().items()}


@functools.cache
def tilts() -> dict[str, tuple[float, float]]:
    """``(a_s, b_s)`` per species: the spectrum ``shape(s) · a_s · pT^b_s`` (pions: (1, 0)).

    Solved so that, after the O2 selection, N_s / N_π in 0–1 and in 1–3 GeV/c equal the original MC's.
    """
    target = ORIGINAL_MC_FRACTIONS_AFTER_CUTS
    pions = _after_cuts("pi", 0.0)
    out = {"pi": (1.0, 0.0)}
    for s in SPECIES[1:]:
        ratio = {r: target[r][s] / target[r]["pi"] * pions[r] for r in _RANGES}  # wanted N_s per range

        def mismatch(b: float, s: str = s, ratio: dict[str, float] = ratio) -> float:
            n = _after_cuts(s, b)
            return float(np.log(n["1-3"] / n["0-1"]) - np.log(ratio["1-3"] / ratio["0-1"]))

        b = optimize.brentq(mismatch, -6.0, 8.0, xtol=1e-10)
        out[s] = (ratio["0-1"] / _after_cuts(s, b)["0-1"], b)
    return out


@functools.cache
def species_probabilities() -> dict[str, float]:
    """Probability of each species among generated tracks (before cuts), from the tilted spectra."""
    yields = {s: a * float(np.sum(shape(s) * PT_GRID_GEV**b)) for s, (a, b) in tilts().items()}
    total = sum(yields.values())
    return {s: yields[s] / total for s in SPECIES}


@functools.cache
def inverse_cdf(species: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(cdf, pt)`` of the tilted spectrum of ``species``, for sampling by interpolation."""
    _, b = tilts()[species]
    cdf = np.cumsum(shape(species) * PT_GRID_GEV**b)
    return cdf / cdf[-1], PT_GRID_GEV
