"""Pb–Pb-like tracks of π, K, p, e with TPC, TOF, Bayes, DCA and cluster information.

The output is a table with the column names of the seed's O2 feature-extractor (reference/pid.md §5);
missing TOF values are −999 as there. A ``data_like`` variant shifts the detector response (TPC gain and
resolution drift, heavier tails, worse TOF resolution and matching) to stand in for real data.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import special

from hepnb.pid import constants as C
from hepnb.pid.detector import (
    expected_dedx,
    expected_time_ps,
    tof_beta,
    tof_expected_sigma_ps,
    tof_match_efficiency,
    tof_track_length_cm,
    tpc_relative_resolution,
)

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = [
    "COLUMNS",
    "Response",
    "blast_wave_pt_pdf",
    "make_chunk",
    "seed_bayes_probabilities",
    "simulate_chunked",
    "simulate_tracks",
]

#: Bumped when the chunks change for the same parameters (it keys the chunk cache).
CHUNK_VERSION = 1

#: The feature-extractor table's columns (``mc_pdg`` only when labels exist).
COLUMNS: tuple[str, ...] = (
    "event_id", "track_id", "px", "py", "pz", "pt", "p", "eta", "phi", "charge", "tpc_signal",
    "tpc_nsigma_pi", "tpc_nsigma_ka", "tpc_nsigma_pr", "tpc_nsigma_el", "tpc_nclusters", "its_nclusters",
    "tof_beta", "tof_nsigma_pi", "tof_nsigma_ka", "tof_nsigma_pr", "tof_nsigma_el",
    "bayes_prob_pi", "bayes_prob_ka", "bayes_prob_pr", "bayes_prob_el", "has_tpc", "has_tof", "dca_xy", "dca_z",
)


@dataclass(frozen=True)
class Response:
    """Detector-response parameters; :meth:`data_like` returns the shifted "real data" stand-in."""

    tpc_gain: float = 1.0
    tpc_resolution_scale: float = 1.0
    tpc_tail_fraction: float = 0.04
    tof_resolution_ps: float = C.TOF_RESOLUTION_PS
    tof_match_plateau: float = C.TOF_MATCH_PLATEAU
    tof_mismatch_fraction: float = C.TOF_MISMATCH_FRACTION
    tof_tail_fraction: float = C.TOF_TAIL_FRACTION

    def data_like(self) -> Response:
        """TPC gain +3 %, resolution +15 %, tails ×2; TOF 95 ps, matching 0.42, mismatches 4 %."""
        return replace(self, tpc_gain=1.03, tpc_resolution_scale=1.15, tpc_tail_fraction=0.08,
                       tof_resolution_ps=95.0, tof_match_plateau=0.42, tof_mismatch_fraction=0.04,
                       tof_tail_fraction=0.2)


def blast_wave_pt_pdf(pt_gev: NDArray[np.float64], mass_gev: float, beta_t: float = C.BW_BETA_T,
                      t_kin_gev: float = C.BW_T_KIN_GEV, n: float = C.BW_N) -> NDArray[np.float64]:
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
def _pt_inverse_cdf(species: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    grid = np.linspace(0.1, 8.0, 3000)
    if species == "el":
        pdf = grid * np.exp(-grid / 0.22)  # conversions and Dalitz: steeply falling
    else:
        pdf = blast_wave_pt_pdf(grid, C.MASS_GEV[species])
        if species == "pi":  # soft component (resonance decays) the blast wave misses below 0.5 GeV/c
            soft = grid * np.exp(-np.sqrt(grid**2 + C.MASS_GEV["pi"] ** 2) / 0.16)
            pdf = pdf / pdf.sum() + 0.35 * soft / soft.sum()
    cdf = np.cumsum(pdf)
    return grid, cdf / cdf[-1]


def _sample_pt(rng: np.random.Generator, species: str, n: int) -> NDArray[np.float64]:
    grid, cdf = _pt_inverse_cdf(species)
    return np.interp(rng.uniform(0, 1, n), cdf, grid)


def seed_bayes_probabilities(nsigma_tpc: NDArray[np.float64], nsigma_tof: NDArray[np.float64],
                             has_tof: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The seed extractor's "Bayesian" probabilities: prior × exp(−½(nσ_TPC² + nσ_TOF²)), priors
    1 : 0.2 : 0.1 : 0.05, normalised; all four are 0 without TOF (its −999 sentinels underflow)."""
    priors = np.asarray(C.SEED_BAYES_PRIORS)
    chi2 = nsigma_tpc**2 + nsigma_tof**2
    like = priors * np.exp(-0.5 * (chi2 - chi2.min(axis=1, keepdims=True)))
    prob = like / like.sum(axis=1, keepdims=True)
    return np.where(has_tof[:, None], prob, 0.0)


def simulate_tracks(n_tracks: int, *, seed: int = 0, data_like: bool = False,
                    response: Response | None = None, tracks_per_event: int = 1000) -> dict[str, NDArray]:
    """Simulate ``n_tracks`` tracks (before selections) as the feature-extractor table, with ``mc_pdg``.

    Parameters
    ----------
    n_tracks
        Tracks to generate.
    seed
        Random seed.
    data_like
        Use the shifted response (:meth:`Response.data_like`) that stands in for real data.
    response
        Explicit response parameters (overrides ``data_like``).
    tracks_per_event
        Tracks per event, for ``event_id`` and the TOF event-time resolution.
    """
    if n_tracks < 1:
        msg = f"n_tracks must be >= 1, found {n_tracks}"
        raise ValueError(msg)
    resp = response or (Response().data_like() if data_like else Response())
    rng = np.random.default_rng(seed)
    names = list(C.SPECIES)
    fractions = np.array([C.SPECIES_FRACTIONS[s] for s in names])
    cls = rng.choice(len(names), n_tracks, p=fractions / fractions.sum())
    pt = np.empty(n_tracks)
    for i, s in enumerate(names):
        sel = cls == i
        pt[sel] = _sample_pt(rng, s, int(sel.sum()))
    mass = np.array([C.MASS_GEV[s] for s in names])[cls]
    charge = rng.choice([-1, 1], n_tracks)
    eta = rng.uniform(-0.9, 0.9, n_tracks)
    phi = rng.uniform(0.0, 2 * np.pi, n_tracks)
    p = pt * np.cosh(eta)

    # TPC: truncated-mean dE/dx with Gaussian core and a small upper (Landau-like) tail
    ncl = np.clip(np.round(rng.normal(130, 14, n_tracks)), 40, C.TPC_N_PADROWS)
    rel = tpc_relative_resolution(ncl) * resp.tpc_resolution_scale
    true_dedx = expected_dedx(p, mass)  # type: ignore[arg-type]  # per-track masses broadcast
    signal = resp.tpc_gain * true_dedx * (1.0 + rel * rng.normal(size=n_tracks))
    tail = rng.uniform(size=n_tracks) < resp.tpc_tail_fraction
    signal[tail] *= 1.0 + rng.exponential(2.0 * rel[tail])
    expected = {s: expected_dedx(p, C.MASS_GEV[s]) for s in names}
    nsig_tpc = np.stack([(signal - expected[s]) / (expected[s] * tpc_relative_resolution(ncl)) for s in names], axis=1)

    # TOF: reach, matching, decays in flight, resolution with tail, mismatches
    length = tof_track_length_cm(eta)
    survive = np.ones(n_tracks)
    for s in ("pi", "ka"):
        sel = cls == names.index(s)
        survive[sel] = np.exp(-length[sel] * C.MASS_GEV[s] / (p[sel] * C.CTAU_CM[s]))
    has_tof = rng.uniform(size=n_tracks) < tof_match_efficiency(pt, resp.tof_match_plateau) * survive
    sigma_tev = max(80.0 / np.sqrt(0.3 * tracks_per_event), 15.0)
    t_true = expected_time_ps(p, mass, length)  # type: ignore[arg-type]
    sigma_t = tof_expected_sigma_ps(p, 0.13957, length, resp.tof_resolution_ps, sigma_tev)
    t_meas = t_true + sigma_t * rng.normal(size=n_tracks)
    tof_tail = rng.uniform(size=n_tracks) < resp.tof_tail_fraction
    t_meas[tof_tail] += rng.exponential(C.TOF_TAIL_SLOPE_SIGMA * sigma_t[tof_tail])
    mismatch = rng.uniform(size=n_tracks) < resp.tof_mismatch_fraction
    t_meas[mismatch] = length[mismatch] / (C.C_CM_PER_PS * rng.uniform(0.3, 1.0, int(mismatch.sum())))
    nsig_tof = np.stack([(t_meas - expected_time_ps(p, C.MASS_GEV[s], length))
                         / tof_expected_sigma_ps(p, C.MASS_GEV[s], length, C.TOF_RESOLUTION_PS, sigma_tev)
                         for s in names], axis=1)
    beta = tof_beta(length, t_meas)

    # DCA: Run 3 ITS resolution for primaries, a wide secondary component (mostly p and π)
    sigma_xy_cm = (5.7 + 18.6 / pt) * 1e-4
    secondary = rng.uniform(size=n_tracks) < np.where(cls == names.index("pr"), 0.12,
                                                       np.where(cls == names.index("pi"), 0.06, 0.03))
    dca_xy = rng.normal(0.0, sigma_xy_cm)
    dca_z = rng.normal(0.0, 1.3 * sigma_xy_cm)
    dca_xy[secondary] = rng.laplace(0.0, 0.15, int(secondary.sum()))
    dca_z[secondary] = rng.laplace(0.0, 0.3, int(secondary.sum()))
    its = rng.choice([2, 3, 4, 5, 6, 7], n_tracks, p=[0.03, 0.05, 0.12, 0.2, 0.3, 0.3])

    bayes = seed_bayes_probabilities(nsig_tpc, np.where(has_tof[:, None], nsig_tof, C.MISSING), has_tof)
    table: dict[str, NDArray] = {
        "event_id": (np.arange(n_tracks) // tracks_per_event).astype(np.int64),
        "track_id": np.arange(n_tracks, dtype=np.int64),
        "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "pt": pt, "p": p,
        "eta": eta, "phi": phi, "charge": charge.astype(np.int32), "tpc_signal": signal,
        "tpc_nclusters": ncl.astype(np.int32), "its_nclusters": its.astype(np.int32),
        "tof_beta": np.where(has_tof, beta, C.MISSING),
        "has_tpc": np.ones(n_tracks, dtype=np.int32), "has_tof": has_tof.astype(np.int32),
        "dca_xy": dca_xy, "dca_z": dca_z,
        "mc_pdg": (charge * np.array([C.PDG[s] for s in names])[cls] * np.where(cls == 3, -1, 1)).astype(np.int32),
    }
    for i, s in enumerate(names):
        table[f"tpc_nsigma_{s}"] = nsig_tpc[:, i]
        table[f"tof_nsigma_{s}"] = np.where(has_tof, nsig_tof[:, i], C.MISSING)
        table[f"bayes_prob_{s}"] = bayes[:, i]
    return {k: table[k] for k in (*COLUMNS, "mc_pdg")}


def make_chunk(seed: int, index: int, *, n_rows: int, data_like: bool = False,
               tracks_per_event: int = 1000) -> dict[str, NDArray]:
    """Chunk ``index`` of a chunked sample: :func:`simulate_tracks` of ``n_rows`` tracks with ``seed``,
    ``track_id`` and ``event_id`` continuing those of the chunks before it."""
    table = simulate_tracks(n_rows, seed=seed, data_like=data_like, tracks_per_event=tracks_per_event)
    track_id = index * n_rows + np.arange(n_rows, dtype=np.int64)
    table["track_id"] = track_id
    table["event_id"] = track_id // tracks_per_event
    return table


def simulate_chunked(
    n_tracks: int,
    *,
    seed: int = 0,
    data_like: bool = False,
    tracks_per_chunk: int = 100_000,
    tracks_per_event: int = 1000,
    cache_dir: str | os.PathLike[str] | None = None,
    client: Client | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, NDArray]:
    """:func:`simulate_tracks` in seeded chunks, one task each (Dask when ``client`` or ``workers > 1``).

    The table (with ``mc_pdg``) depends only on ``seed``, ``data_like``, ``tracks_per_chunk`` and
    ``tracks_per_event``, not on the number of workers; chunk ``i`` uses the seed
    :func:`hepnb.compute.chunks.chunk_seed` ``(seed, i)``, so it differs from :func:`simulate_tracks` with ``seed``.

    Parameters
    ----------
    n_tracks
        Tracks to generate (whole chunks are made and the table cut to ``n_tracks``).
    seed
        Base seed.
    data_like
        Use the shifted response that stands in for real data.
    tracks_per_chunk
        Tracks per chunk (one chunk: one task, one file).
    tracks_per_event
        Tracks per event, for ``event_id`` and the TOF event-time resolution.
    cache_dir
        Root of the chunk cache (default: a temporary folder, removed afterwards); on a remote cluster, a
        folder the workers share.
    client, workers, progress
        As :func:`hepnb.compute.chunks.generate_chunks`.
    """
    from hepnb.compute.chunks import generate_table

    params = {"data_like": data_like, "tracks_per_event": tracks_per_event}
    return generate_table(make_chunk, n_tracks, rows_per_chunk=tracks_per_chunk, name="pid-tracks",
                          params=params, seed=seed, cache_dir=cache_dir, client=client, workers=workers,
                          progress=progress, version=CHUNK_VERSION)
