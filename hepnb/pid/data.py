"""The study's track tables: a Pb–Pb-like simulation written as the original's feature-extractor table.

:func:`simulate_tracks` makes π, K, p, e with TPC, TOF, Bayes, DCA and cluster information, with the columns,
types and −999 sentinels of the original's O2 feature extractor (``PIDFeatureExtractor``, TTree ``pid_features``;
reference/pid.md §5) plus ``its_nclusters``. Every mass-dependent term uses the track's own mass.

The detector response is a :class:`Response`; :data:`SYSTEMATICS` names the variations the book evaluates
(another Bethe–Bloch parameter set for the truth while the nσ expectations keep O2's, TPC and TOF resolution
±10 %, TOF matching ±10 %, twice the TOF mismatches), and :meth:`Response.data_like` the shifted response that
stands in for real data. All random numbers are drawn in a fixed order and at full length whatever the
response, so a sample simulated with the same seed under another response holds the same tracks (same species,
momenta, clusters, DCAs) with only the detector response changed: a systematic shift is a paired difference.

Users' files are read by :mod:`hepnb.pid.reader`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from hepnb.io import check_columns, write_table
from hepnb.pid.bayes import extractor_bayes_probabilities
from hepnb.pid.constants import (
    BB_ALEPH_O2,
    BB_ALEPH_O2PHYSICS,
    CHARGE_OF_PDG,
    CTAU_CM,
    MASS_GEV,
    MISSING,
    PDG,
    SECONDARY_FRACTION,
    SPECIES,
    TOF_MATCH_PLATEAU,
    TOF_MISMATCH_FRACTION,
    TOF_PT_MIN_GEV,
    TOF_RESOLUTION_PS,
    TOF_TAIL_FRACTION,
    TOF_TAIL_SLOPE_SIGMA,
    TPC_N_PADROWS,
    TPC_TAIL_FRACTION,
)
from hepnb.pid.detector import (
    event_time_resolution_ps,
    expected_dedx,
    expected_time_ps,
    tof_beta,
    tof_expected_sigma_ps,
    tof_mass_gev,
    tof_match_efficiency,
    tof_track_length_cm,
    tpc_relative_resolution,
)
from hepnb.pid.spectra import (
    DCA_SECONDARY_XY_CM,
    DCA_SECONDARY_Z_CM,
    ETA_MAX_GENERATED,
    inverse_cdf,
    species_probabilities,
)

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = [
    "COLUMNS",
    "EXTRACTOR_COLUMNS",
    "LABEL_COLUMNS",
    "SYSTEMATICS",
    "TREE",
    "ChunkedRun",
    "Response",
    "make_chunk",
    "mismatch_partners",
    "simulate_chunked",
    "simulate_tracks",
    "systematic_response",
    "write_tracks",
]

#: Bumped when the chunks change for the same parameters (it keys the chunk cache).
CHUNK_VERSION = 3

#: The original extractor's TTree (``PIDFeatureExtractor``): its columns in order, as it writes them.
EXTRACTOR_COLUMNS: tuple[str, ...] = (
    "event_id", "track_id", "px", "py", "pz", "pt", "p", "eta", "phi", "theta", "charge", "track_type",
    "tpc_signal", "tpc_nsigma_pi", "tpc_nsigma_ka", "tpc_nsigma_pr", "tpc_nsigma_el", "tpc_nclusters", "tpc_chi2",
    "tof_beta", "tof_mass", "tof_nsigma_pi", "tof_nsigma_ka", "tof_nsigma_pr", "tof_nsigma_el",
    "bayes_prob_pi", "bayes_prob_ka", "bayes_prob_pr", "bayes_prob_el",
    "mc_pdg", "mc_px", "mc_py", "mc_pz", "has_tpc", "has_tof", "dca_xy", "dca_z",
)
#: The extractor's Monte Carlo truth columns (absent from real data).
LABEL_COLUMNS: tuple[str, ...] = ("mc_pdg", "mc_px", "mc_py", "mc_pz")
#: What :func:`simulate_tracks` writes without labels: the extractor's other columns and ``its_nclusters``.
COLUMNS: tuple[str, ...] = (*(c for c in EXTRACTOR_COLUMNS if c not in LABEL_COLUMNS), "its_nclusters")
#: The extractor's TTree name.
TREE = "pid_features"

_FLOAT_COLUMNS = frozenset(EXTRACTOR_COLUMNS) - {"event_id", "track_id", "charge", "track_type", "tpc_nclusters",
                                                 "mc_pdg", "has_tpc", "has_tof"}


@dataclass(frozen=True)
class Response:
    """Detector-response parameters of the simulated truth; the nσ expectations always use the nominal ones.

    Attributes
    ----------
    bethe_bloch
        ALEPH parameters of the true dE/dx (the expectations use :data:`hepnb.pid.constants.BB_ALEPH_O2`).
    tpc_gain, tpc_resolution_scale, tpc_tail_fraction
        Gain and relative-resolution scale of the true dE/dx, fraction of tracks with an upper tail.
    tof_resolution_ps, tof_resolution_scale
        Intrinsic TOF resolution, and a scale on the total time smearing.
    tof_match_plateau, tof_mismatch_fraction, tof_tail_fraction
        Matching-efficiency plateau, fraction of matched tracks given the hit of another track of their event
        (:func:`mismatch_partners`), fraction with a late tail.
    """

    bethe_bloch: tuple[float, float, float, float, float] = BB_ALEPH_O2
    tpc_gain: float = 1.0
    tpc_resolution_scale: float = 1.0
    tpc_tail_fraction: float = TPC_TAIL_FRACTION
    tof_resolution_ps: float = TOF_RESOLUTION_PS
    tof_resolution_scale: float = 1.0
    tof_match_plateau: float = TOF_MATCH_PLATEAU
    tof_mismatch_fraction: float = TOF_MISMATCH_FRACTION
    tof_tail_fraction: float = TOF_TAIL_FRACTION

    def data_like(self) -> Response:
        """TPC gain +3 %, resolution +15 %, tails ×2; TOF 95 ps, matching 0.42, mismatches 4 %."""
        return replace(self, tpc_gain=1.03, tpc_resolution_scale=1.15, tpc_tail_fraction=0.08,
                       tof_resolution_ps=95.0, tof_match_plateau=0.42, tof_mismatch_fraction=0.04,
                       tof_tail_fraction=0.2)


#: Named systematic variations of the true response (the nσ expectations keep the nominal O2 response).
SYSTEMATICS: dict[str, Response] = {
    "bethe_bloch_o2physics": Response(bethe_bloch=BB_ALEPH_O2PHYSICS),
    "tpc_resolution_up": Response(tpc_resolution_scale=1.1),
    "tpc_resolution_down": Response(tpc_resolution_scale=0.9),
    "tof_resolution_up": Response(tof_resolution_scale=1.1),
    "tof_resolution_down": Response(tof_resolution_scale=0.9),
    "tof_matching_up": Response(tof_match_plateau=1.1 * TOF_MATCH_PLATEAU),
    "tof_matching_down": Response(tof_match_plateau=0.9 * TOF_MATCH_PLATEAU),
    "tof_mismatch_x2": Response(tof_mismatch_fraction=2 * TOF_MISMATCH_FRACTION),
}


def systematic_response(name: str) -> Response:
    """The :class:`Response` of a named variation (``"nominal"`` or a key of :data:`SYSTEMATICS`)."""
    if name == "nominal":
        return Response()
    if name not in SYSTEMATICS:
        msg = f"unknown systematic variation {name!r}; choose one of {['nominal', *SYSTEMATICS]}"
        raise ValueError(msg)
    return SYSTEMATICS[name]


class _Draws:
    """Every random number of a sample, drawn in one fixed order at full length."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.species, self.momentum = rng.uniform(size=n), rng.uniform(size=n)
        self.charge = rng.integers(0, 2, n) * 2 - 1
        self.eta, self.phi = rng.uniform(-ETA_MAX_GENERATED, ETA_MAX_GENERATED, n), rng.uniform(0.0, 2 * np.pi, n)
        self.ncl = rng.normal(130, 14, n)
        self.tpc, self.tpc_tail_u, self.tpc_tail = rng.normal(size=n), rng.uniform(size=n), rng.exponential(size=n)
        self.match, self.tof = rng.uniform(size=n), rng.normal(size=n)
        self.tof_tail_u, self.tof_tail = rng.uniform(size=n), rng.exponential(size=n)
        self.mismatch_u, self.mismatch_partner = rng.uniform(size=n), rng.uniform(size=n)
        self.secondary, self.dca_xy, self.dca_z = rng.uniform(size=n), rng.normal(size=n), rng.normal(size=n)
        self.sec_xy, self.sec_z = rng.laplace(size=n), rng.laplace(size=n)
        self.its = rng.choice([2, 3, 4, 5, 6, 7], n, p=[0.03, 0.05, 0.12, 0.2, 0.3, 0.3])
        self.chi2 = rng.gamma(8.0, 0.15, n)


def mismatch_partners(event_id: NDArray[np.int64], reaches_tof: NDArray[np.bool_], u: NDArray[np.float64]
                      ) -> NDArray[np.int64]:
    """The track whose TOF hit a mismatched track takes: another track of the same event that reaches the TOF.

    A TOF mismatch is a track matched to the hit a neighbour left, so its time is that neighbour's arrival time
    (ALICE's mismatch template is the measured distribution of hit times, ``AliTOFPIDResponse::
    GetMismatchRandomValue``). The partner is chosen uniformly among the other tracks of the event with
    ``reaches_tof``, by ``u``.

    Parameters
    ----------
    event_id
        Event of every track (N,), non-decreasing.
    reaches_tof
        Whether each track reaches the TOF and can leave a hit there (N,).
    u
        Uniform numbers in [0, 1) (N,) that choose the partner.

    Returns
    -------
    numpy.ndarray
        Index of the partner of every track (N,); −1 where its event has no other track that reaches the TOF.
    """
    event_id = np.asarray(event_id, dtype=np.int64)
    if np.any(np.diff(event_id) < 0):
        msg = "event_id must be non-decreasing (tracks grouped by event)"
        raise ValueError(msg)
    hits = np.flatnonzero(reaches_tof)
    counts = np.bincount(event_id[hits], minlength=int(event_id.max(initial=0)) + 1)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])[event_id]
    own = np.asarray(reaches_tof, dtype=bool)
    others = counts[event_id] - own
    k = np.minimum(np.floor(u * others), np.maximum(others - 1, 0)).astype(np.int64)
    rank = np.searchsorted(hits, np.arange(len(event_id))) - first  # the track's own rank among its event's hits
    k = k + (own & (k >= rank))  # skip the track itself
    return np.where(others > 0, hits[np.minimum(first + k, max(len(hits) - 1, 0))] if len(hits) else -1, -1)


def _species_and_momentum(draws: _Draws, n: int, species: str | None, p_range_gev: tuple[float, float] | None
                          ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Class index, pT and p of every track."""
    names = list(SPECIES)
    if species is None:
        probs = np.array([species_probabilities()[s] for s in names])
        cls = np.minimum(np.searchsorted(np.cumsum(probs) / probs.sum(), draws.species, side="right"), len(names) - 1)
    elif species in names:
        cls = np.full(n, names.index(species))
    else:
        msg = f"unknown species {species!r}; choose one of {names}"
        raise ValueError(msg)
    cosh = np.cosh(draws.eta)
    if p_range_gev is not None:
        lo, hi = p_range_gev
        if not 0 < lo < hi:
            msg = f"p_range_gev must be (lo, hi) with 0 < lo < hi, found {p_range_gev}"
            raise ValueError(msg)
        p = lo + (hi - lo) * draws.momentum
        return cls, p / cosh, p
    pt = np.empty(n)
    for i, s in enumerate(names):
        sel = cls == i
        cdf, grid = inverse_cdf(s)
        pt[sel] = np.interp(draws.momentum[sel], cdf, grid)
    return cls, pt, pt * cosh


def simulate_tracks(n_tracks: int, *, seed: int = 0, data_like: bool = False, response: Response | None = None,
                    tracks_per_event: int = 1000, species: str | None = None,
                    p_range_gev: tuple[float, float] | None = None, first_track_id: int = 0) -> dict[str, NDArray]:
    """Simulate ``n_tracks`` tracks (before selections) as the feature-extractor table, with its MC columns.

    Parameters
    ----------
    n_tracks
        Tracks to generate.
    seed
        Random seed. The same seed under another ``response`` gives the same tracks with another response.
    data_like
        Use the shifted response (:meth:`Response.data_like`) that stands in for real data.
    response
        Explicit response of the truth (overrides ``data_like``); e.g. ``SYSTEMATICS["tof_mismatch_x2"]``.
    tracks_per_event
        Tracks per event, for ``event_id`` and the TOF event-time resolution.
    species
        Force every track to one species (``"pi"``, ``"ka"``, ``"pr"``, ``"el"``), e.g. for response tests.
    p_range_gev
        Draw the total momentum uniformly in ``(lo, hi)`` instead of from the spectra.
    first_track_id
        ``track_id`` of the first track (a chunk continuing others): events are blocks of ``tracks_per_event``
        consecutive track ids, and a mismatch takes the hit of a track of the same event.

    Returns
    -------
    dict
        :data:`EXTRACTOR_COLUMNS` plus ``its_nclusters``; missing TOF values are −999 as the extractor writes.
    """
    if n_tracks < 1:
        msg = f"n_tracks must be >= 1, found {n_tracks}"
        raise ValueError(msg)
    resp = response or (Response().data_like() if data_like else Response())
    draws = _Draws(np.random.default_rng(seed), n_tracks)
    cls, pt, p = _species_and_momentum(draws, n_tracks, species, p_range_gev)
    names = list(SPECIES)
    mass = np.array([MASS_GEV[s] for s in names])[cls]
    eta, phi, charge = draws.eta, draws.phi, draws.charge

    # TPC: truncated-mean dE/dx with a Gaussian core and a small upper (Landau-like) tail
    ncl = np.clip(np.round(draws.ncl), 40, TPC_N_PADROWS)
    rel = tpc_relative_resolution(ncl)
    true_rel = rel * resp.tpc_resolution_scale
    signal = resp.tpc_gain * expected_dedx(p, mass, params=resp.bethe_bloch) * (1.0 + true_rel * draws.tpc)
    tail = draws.tpc_tail_u < resp.tpc_tail_fraction
    signal = np.where(tail, signal * (1.0 + 2.0 * true_rel * draws.tpc_tail), signal)
    expected = {s: expected_dedx(p, MASS_GEV[s]) for s in names}
    nsig_tpc = np.stack([(signal - expected[s]) / (expected[s] * rel) for s in names], axis=1)

    # TOF: reach, matching, decays in flight, resolution of the track's own mass with a tail, mismatches
    length = tof_track_length_cm(eta)
    survive = np.ones(n_tracks)
    for s in ("pi", "ka"):
        sel = cls == names.index(s)
        survive[sel] = np.exp(-length[sel] * MASS_GEV[s] / (p[sel] * CTAU_CM[s]))
    has_tof = draws.match < tof_match_efficiency(pt, resp.tof_match_plateau) * survive
    sigma_tev = event_time_resolution_ps(0.3 * tracks_per_event)
    sigma_t = resp.tof_resolution_scale * tof_expected_sigma_ps(p, mass, length, resp.tof_resolution_ps, sigma_tev)
    t_meas = expected_time_ps(p, mass, length) + sigma_t * draws.tof
    t_meas = np.where(draws.tof_tail_u < resp.tof_tail_fraction,
                      t_meas + TOF_TAIL_SLOPE_SIGMA * sigma_t * draws.tof_tail, t_meas)
    track_id = first_track_id + np.arange(n_tracks, dtype=np.int64)
    event_id = track_id // tracks_per_event
    partner = mismatch_partners(event_id, pt > TOF_PT_MIN_GEV, draws.mismatch_partner)
    mismatch = (draws.mismatch_u < resp.tof_mismatch_fraction) & (partner >= 0)
    # a wrong hit: the partner's time of flight per unit length (its 1/β, smearing and tail) over this track's path
    t_meas = np.where(mismatch, t_meas[np.maximum(partner, 0)] * length / length[np.maximum(partner, 0)], t_meas)
    nsig_tof = np.stack([(t_meas - expected_time_ps(p, MASS_GEV[s], length))
                         / tof_expected_sigma_ps(p, MASS_GEV[s], length, TOF_RESOLUTION_PS, sigma_tev)
                         for s in names], axis=1)
    beta = tof_beta(length, t_meas)

    # DCA: Run 3 ITS resolution for primaries, a wide (Laplace) component for secondaries
    sigma_xy_cm = (5.7 + 18.6 / pt) * 1e-4
    secondary = draws.secondary < np.array([SECONDARY_FRACTION[s] for s in names])[cls]
    dca_xy = np.where(secondary, DCA_SECONDARY_XY_CM * draws.sec_xy, sigma_xy_cm * draws.dca_xy)
    dca_z = np.where(secondary, DCA_SECONDARY_Z_CM * draws.sec_z, 1.3 * sigma_xy_cm * draws.dca_z)

    nsig_tof = np.where(has_tof[:, None], nsig_tof, MISSING)
    bayes = extractor_bayes_probabilities(nsig_tpc, nsig_tof)
    sign = charge * np.array([CHARGE_OF_PDG[s] for s in names])[cls]  # e⁻ is +11: the sign is −charge
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    table: dict[str, NDArray] = {
        "event_id": event_id, "track_id": track_id,
        "px": px, "py": py, "pz": pz, "pt": pt, "p": p, "eta": eta, "phi": phi,
        "theta": 2.0 * np.arctan(np.exp(-eta)), "charge": charge, "track_type": np.zeros(n_tracks),
        "tpc_signal": signal, "tpc_nclusters": ncl, "tpc_chi2": draws.chi2,
        "tof_beta": np.where(has_tof, beta, MISSING), "tof_mass": np.where(has_tof, tof_mass_gev(p, beta), MISSING),
        "mc_pdg": sign * np.array([PDG[s] for s in names])[cls], "mc_px": px, "mc_py": py, "mc_pz": pz,
        "has_tpc": np.ones(n_tracks, dtype=bool), "has_tof": has_tof, "dca_xy": dca_xy, "dca_z": dca_z,
        "its_nclusters": draws.its,
    }
    for i, s in enumerate(names):
        table[f"tpc_nsigma_{s}"] = nsig_tpc[:, i]
        table[f"tof_nsigma_{s}"] = nsig_tof[:, i]
        table[f"bayes_prob_{s}"] = bayes[:, i]
    return {k: _as_written(k, table[k]) for k in (*EXTRACTOR_COLUMNS, "its_nclusters")}


def _as_written(name: str, values: NDArray) -> NDArray:
    """The column in the extractor's type: float32 floats, int32 integers, bool flags."""
    if name in ("has_tpc", "has_tof"):
        return np.asarray(values, dtype=bool)
    if name in _FLOAT_COLUMNS:
        return np.asarray(values, dtype=np.float32)
    return np.asarray(values, dtype=np.int32)


def make_chunk(seed: int, index: int, *, n_rows: int, data_like: bool = False,
               tracks_per_event: int = 1000) -> dict[str, NDArray]:
    """Chunk ``index`` of a chunked sample: :func:`simulate_tracks` of ``n_rows`` tracks with ``seed``,
    ``track_id`` and ``event_id`` continuing those of the chunks before it."""
    return simulate_tracks(n_rows, seed=seed, data_like=data_like, tracks_per_event=tracks_per_event,
                           first_track_id=index * n_rows)


@dataclass(frozen=True)
class ChunkedRun:
    """Where and how the chunks of :func:`simulate_chunked` run; none of it changes the table.

    Attributes
    ----------
    cache_dir
        Root of the chunk cache (``None``: a temporary folder, removed afterwards); on a remote cluster, a
        folder the workers share.
    workers, progress
        As :func:`hepnb.compute.chunks.generate_chunks`.
    """

    cache_dir: str | os.PathLike[str] | None = None
    workers: int = 1
    progress: bool = True


def simulate_chunked(
    n_tracks: int,
    *,
    seed: int = 0,
    data_like: bool = False,
    tracks_per_chunk: int = 100_000,
    tracks_per_event: int = 1000,
    run: ChunkedRun = ChunkedRun(),
    client: Client | None = None,
) -> dict[str, NDArray]:
    """:func:`simulate_tracks` in seeded chunks, one task each (Dask when ``client`` or ``workers > 1``).

    The table (with the MC columns) depends only on ``seed``, ``data_like``, ``tracks_per_chunk`` and
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
    run
        The chunk cache, local workers and progress bar (:class:`ChunkedRun`).
    client
        As :func:`hepnb.compute.chunks.generate_chunks`.
    """
    from hepnb.compute.chunks import ChunkRun, TableChunks, generate_table

    params = {"data_like": data_like, "tracks_per_event": tracks_per_event}
    chunks = TableChunks("pid-tracks", tracks_per_chunk, version=CHUNK_VERSION, cache_dir=run.cache_dir)
    return generate_table(make_chunk, n_tracks, seed=seed, params=params, chunks=chunks,
                          run=ChunkRun(client=client, workers=run.workers, progress=run.progress))


def write_tracks(path: str | os.PathLike[str], table: Mapping[str, NDArray]) -> Path:
    """Write the table as ``.root`` (TTree ``pid_features``, as the extractor) or ``.parquet``."""
    check_columns(table.keys(), [c for c in COLUMNS if c != "its_nclusters"], source="track table")
    return write_table(path, {k: np.asarray(v) for k, v in table.items()}, tree=TREE)
