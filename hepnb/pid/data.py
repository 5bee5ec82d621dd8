"""The study's track tables: Pb–Pb-like simulation, and reading and writing (ROOT TTree or Parquet).

:func:`simulate_tracks` makes π, K, p, e with TPC, TOF, Bayes, DCA and cluster information as a table with the
column names of the seed's O2 feature-extractor (reference/pid.md §5); missing TOF values are −999 as there. A
``data_like`` variant shifts the detector response (TPC gain and resolution drift, heavier tails, worse TOF
resolution and matching) to stand in for real data.

Users' files go through the same schema: one file, a list of files or a glob pattern (``"runs/*.root"``).
:func:`read_tracks` reads them into memory; :func:`read_selected` applies a track selection and builds the 22
features on a Dask cluster with ``uproot.dask`` (dask-awkward), so that only the selected tracks come back.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import special

from hepnb.io import check_columns, read_table, resolve_inputs, write_table
from hepnb.pid.bayes import seed_bayes_probabilities
from hepnb.pid.constants import (
    BW_BETA_T,
    BW_N,
    BW_T_KIN_GEV,
    C_CM_PER_PS,
    CTAU_CM,
    MASS_GEV,
    MISSING,
    PDG,
    SPECIES,
    SPECIES_FRACTIONS,
    TOF_MATCH_PLATEAU,
    TOF_MISMATCH_FRACTION,
    TOF_RESOLUTION_PS,
    TOF_TAIL_FRACTION,
    TOF_TAIL_SLOPE_SIGMA,
    TPC_N_PADROWS,
)
from hepnb.pid.detector import (
    expected_dedx,
    expected_time_ps,
    tof_beta,
    tof_expected_sigma_ps,
    tof_match_efficiency,
    tof_track_length_cm,
    tpc_relative_resolution,
)
from hepnb.pid.selection import FEATURES, feature_columns, features, select, selected, stack_features

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = [
    "COLUMNS",
    "TREE",
    "Response",
    "Selected",
    "blast_wave_pt_pdf",
    "input_files",
    "make_chunk",
    "read_selected",
    "read_tracks",
    "simulate_chunked",
    "simulate_tracks",
    "write_tracks",
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
#: The feature-extractor table's TTree in ROOT files.
TREE = "O2pidtracks"


@dataclass(frozen=True)
class Response:
    """Detector-response parameters; :meth:`data_like` returns the shifted "real data" stand-in."""

    tpc_gain: float = 1.0
    tpc_resolution_scale: float = 1.0
    tpc_tail_fraction: float = 0.04
    tof_resolution_ps: float = TOF_RESOLUTION_PS
    tof_match_plateau: float = TOF_MATCH_PLATEAU
    tof_mismatch_fraction: float = TOF_MISMATCH_FRACTION
    tof_tail_fraction: float = TOF_TAIL_FRACTION

    def data_like(self) -> Response:
        """TPC gain +3 %, resolution +15 %, tails ×2; TOF 95 ps, matching 0.42, mismatches 4 %."""
        return replace(self, tpc_gain=1.03, tpc_resolution_scale=1.15, tpc_tail_fraction=0.08,
                       tof_resolution_ps=95.0, tof_match_plateau=0.42, tof_mismatch_fraction=0.04,
                       tof_tail_fraction=0.2)


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
def _pt_inverse_cdf(species: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    grid = np.linspace(0.1, 8.0, 3000)
    if species == "el":
        pdf = grid * np.exp(-grid / 0.22)  # conversions and Dalitz: steeply falling
    else:
        pdf = blast_wave_pt_pdf(grid, MASS_GEV[species])
        if species == "pi":  # soft component (resonance decays) the blast wave misses below 0.5 GeV/c
            soft = grid * np.exp(-np.sqrt(grid**2 + MASS_GEV["pi"] ** 2) / 0.16)
            pdf = pdf / pdf.sum() + 0.35 * soft / soft.sum()
    cdf = np.cumsum(pdf)
    return grid, cdf / cdf[-1]


def _sample_pt(rng: np.random.Generator, species: str, n: int) -> NDArray[np.float64]:
    grid, cdf = _pt_inverse_cdf(species)
    return np.interp(rng.uniform(0, 1, n), cdf, grid)


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
    names = list(SPECIES)
    fractions = np.array([SPECIES_FRACTIONS[s] for s in names])
    cls = rng.choice(len(names), n_tracks, p=fractions / fractions.sum())
    pt = np.empty(n_tracks)
    for i, s in enumerate(names):
        sel = cls == i
        pt[sel] = _sample_pt(rng, s, int(sel.sum()))
    mass = np.array([MASS_GEV[s] for s in names])[cls]
    charge = rng.choice([-1, 1], n_tracks)
    eta = rng.uniform(-0.9, 0.9, n_tracks)
    phi = rng.uniform(0.0, 2 * np.pi, n_tracks)
    p = pt * np.cosh(eta)

    # TPC: truncated-mean dE/dx with Gaussian core and a small upper (Landau-like) tail
    ncl = np.clip(np.round(rng.normal(130, 14, n_tracks)), 40, TPC_N_PADROWS)
    rel = tpc_relative_resolution(ncl) * resp.tpc_resolution_scale
    true_dedx = expected_dedx(p, mass)  # type: ignore[arg-type]  # per-track masses broadcast
    signal = resp.tpc_gain * true_dedx * (1.0 + rel * rng.normal(size=n_tracks))
    tail = rng.uniform(size=n_tracks) < resp.tpc_tail_fraction
    signal[tail] *= 1.0 + rng.exponential(2.0 * rel[tail])
    expected = {s: expected_dedx(p, MASS_GEV[s]) for s in names}
    nsig_tpc = np.stack([(signal - expected[s]) / (expected[s] * tpc_relative_resolution(ncl)) for s in names], axis=1)

    # TOF: reach, matching, decays in flight, resolution with tail, mismatches
    length = tof_track_length_cm(eta)
    survive = np.ones(n_tracks)
    for s in ("pi", "ka"):
        sel = cls == names.index(s)
        survive[sel] = np.exp(-length[sel] * MASS_GEV[s] / (p[sel] * CTAU_CM[s]))
    has_tof = rng.uniform(size=n_tracks) < tof_match_efficiency(pt, resp.tof_match_plateau) * survive
    sigma_tev = max(80.0 / np.sqrt(0.3 * tracks_per_event), 15.0)
    t_true = expected_time_ps(p, mass, length)  # type: ignore[arg-type]
    sigma_t = tof_expected_sigma_ps(p, 0.13957, length, resp.tof_resolution_ps, sigma_tev)
    t_meas = t_true + sigma_t * rng.normal(size=n_tracks)
    tof_tail = rng.uniform(size=n_tracks) < resp.tof_tail_fraction
    t_meas[tof_tail] += rng.exponential(TOF_TAIL_SLOPE_SIGMA * sigma_t[tof_tail])
    mismatch = rng.uniform(size=n_tracks) < resp.tof_mismatch_fraction
    t_meas[mismatch] = length[mismatch] / (C_CM_PER_PS * rng.uniform(0.3, 1.0, int(mismatch.sum())))
    nsig_tof = np.stack([(t_meas - expected_time_ps(p, MASS_GEV[s], length))
                         / tof_expected_sigma_ps(p, MASS_GEV[s], length, TOF_RESOLUTION_PS, sigma_tev)
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

    bayes = seed_bayes_probabilities(nsig_tpc, np.where(has_tof[:, None], nsig_tof, MISSING), has_tof)
    table: dict[str, NDArray] = {
        "event_id": (np.arange(n_tracks) // tracks_per_event).astype(np.int64),
        "track_id": np.arange(n_tracks, dtype=np.int64),
        "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "pt": pt, "p": p,
        "eta": eta, "phi": phi, "charge": charge.astype(np.int32), "tpc_signal": signal,
        "tpc_nclusters": ncl.astype(np.int32), "its_nclusters": its.astype(np.int32),
        "tof_beta": np.where(has_tof, beta, MISSING),
        "has_tpc": np.ones(n_tracks, dtype=np.int32), "has_tof": has_tof.astype(np.int32),
        "dca_xy": dca_xy, "dca_z": dca_z,
        "mc_pdg": (charge * np.array([PDG[s] for s in names])[cls] * np.where(cls == 3, -1, 1)).astype(np.int32),
    }
    for i, s in enumerate(names):
        table[f"tpc_nsigma_{s}"] = nsig_tpc[:, i]
        table[f"tof_nsigma_{s}"] = np.where(has_tof, nsig_tof[:, i], MISSING)
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


# Reading and writing

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


class Selected(NamedTuple):
    """What :func:`read_selected` returns."""

    #: The selected tracks, column by column (as :func:`hepnb.pid.selection.selected` gives).
    tracks: dict[str, NDArray]
    #: Their 22 raw features (N, 22), as :func:`hepnb.pid.selection.features` gives.
    features: NDArray[np.float32]
    #: Tracks read before the selection.
    n_read: int


def input_files(paths: Paths) -> list[Path]:
    """The files named by ``paths``: one path, a glob pattern (sorted matches) or a list of either; a path that
    exists is used as given even if its name holds ``[`` or ``*`` (:func:`hepnb.io.resolve_inputs`).

    Raises
    ------
    FileNotFoundError
        If a path does not exist and, as a pattern, matches no file (the error names it).
    ValueError
        If the list is empty.
    """
    return resolve_inputs(paths)


def _columns(path: Path) -> tuple[str, list[str]]:
    """The format of a track file and the names of its columns (the TTree's branches for ROOT)."""
    from hepnb.io import file_format

    kind = file_format(path)
    if kind == "root":
        import uproot

        with uproot.open(path) as f:
            names = list(f[TREE].keys()) if TREE in [k.split(";")[0] for k in f] else []
        if not names:
            msg = f"{path} has no TTree named {TREE!r} (the feature-extractor table)"
            raise ValueError(msg)
        return kind, names
    import pyarrow.parquet as pq

    return kind, list(pq.read_schema(path).names)


def _check_files(files: Sequence[Path], require_labels: bool) -> tuple[set[str], list[str]]:
    """Check every file's schema before reading any; return the formats seen and the columns to read."""
    schemas = {p: _columns(p) for p in files}
    with_labels = require_labels or all("mc_pdg" in names for _, names in schemas.values())
    wanted = list(COLUMNS) + (["mc_pdg"] if with_labels else [])
    for p, (_, names) in schemas.items():
        check_columns(names, wanted, source=str(p))
    return {kind for kind, _ in schemas.values()}, wanted


def read_tracks(paths: Paths, *, require_labels: bool = True) -> dict[str, NDArray]:
    """Read a user's (or a simulated) track table, from one or many files, checking every schema first.

    Parameters
    ----------
    paths
        A ROOT (TTree ``O2pidtracks``) or Parquet file, a glob pattern, or a list of them; the files'
        tables are concatenated in order (a pattern's matches sorted by name).
    require_labels
        Require the ``mc_pdg`` column (simulation); without it ``mc_pdg`` is read only if every file has it.

    Raises
    ------
    FileNotFoundError
        A missing file, or a pattern that matches none.
    ValueError
        Not ROOT/Parquet, missing columns (all named, with the file), NaN/inf values, or no tracks at all.
    """
    files = input_files(paths)
    _, wanted = _check_files(files, require_labels)
    return _read_checked(files, wanted)


def _read_checked(files: Sequence[Path], wanted: Sequence[str]) -> dict[str, NDArray]:
    """The ``wanted`` columns of files whose schemas :func:`_check_files` has checked, concatenated."""
    parts = [read_table(p, list(wanted), tree=TREE) for p in files]
    table = parts[0] if len(parts) == 1 else {k: np.concatenate([t[k] for t in parts]) for k in wanted}
    if len(table["pt"]) == 0:
        msg = f"{files[0] if len(files) == 1 else f'{len(files)} files ({[str(f) for f in files]})'} holds no tracks"
        raise ValueError(msg)
    return table


def read_selected(paths: Paths, *, selection: str = "o2", client: Any = None,
                  require_labels: bool = True) -> Selected:
    """The tracks passing ``selection`` and their 22 features, computed on a Dask cluster for ROOT inputs.

    With a client and ROOT files, the files are opened lazily with ``uproot.dask`` (one partition per
    file), and the selection (:func:`hepnb.pid.selection.select`) and the features
    (:func:`hepnb.pid.selection.feature_columns`) are dask-awkward expressions computed on the cluster:
    only the selected tracks travel back. Parquet files, or no client, are read in this process. Either
    way the result equals ``select`` and ``features`` applied to :func:`read_tracks`.

    Parameters
    ----------
    paths
        As for :func:`read_tracks` (local paths); a pattern is resolved here, and the workers open the
        files under the same absolute paths, so on a remote cluster they must lie on a shared file system.
    selection
        ``"o2"`` or ``"seed"`` (:data:`hepnb.pid.selection.SELECTIONS`).
    client
        A :class:`dask.distributed.Client`, or ``None``.
    require_labels
        As for :func:`read_tracks`.

    Raises
    ------
    FileNotFoundError, ValueError
        As for :func:`read_tracks`; every file's schema is checked before the cluster does any work.
    """
    files = input_files(paths)
    kinds, wanted = _check_files(files, require_labels)
    if client is None or kinds != {"root"}:
        table = _read_checked(files, wanted)  # the schemas were checked just above
        tracks = selected(table, selection)
        return Selected(tracks, features(tracks), len(table["pt"]))
    return _read_selected_dask(files, wanted, selection, client)


def _read_selected_dask(files: Sequence[Path], wanted: Sequence[str], selection: str, client: Any) -> Selected:
    import awkward as ak
    import dask
    import uproot

    # dask-awkward's column optimisation does not yet work with the expression graphs of recent dask; the
    # columns are chosen explicitly with filter_name instead. open_files=False: tasks open their file
    # themselves, so the graph holds only paths and can be shipped to any worker.
    with dask.config.set({"awkward.optimization.enabled": False}):
        events = uproot.dask({str(p.absolute()): TREE for p in files}, filter_name=list(wanted), open_files=False)
        cols = {k: events[k] for k in wanted}
        keep = select(cols, selection)
        tracks = {k: v[keep] for k, v in cols.items()}
        feats = feature_columns(tracks)
        n_read = ak.num(cols["pt"], axis=0)
        n_bad = {k: ak.sum(~np.isfinite(v), axis=0) for k, v in cols.items()}  # as read_table checks
        out_tracks, out_feats, n, bad = dask.compute(tracks, feats, n_read, n_bad, scheduler=client)
    bad = {k: int(v) for k, v in bad.items() if v}
    if bad:
        msg = f"{len(files)} ROOT file(s) have NaN/inf values (column: count): {bad}; all values must be finite"
        raise ValueError(msg)
    table = {k: ak.to_numpy(v) for k, v in out_tracks.items()}
    return Selected(table, stack_features({k: ak.to_numpy(out_feats[k]) for k in FEATURES}), int(n))


def write_tracks(path: str | os.PathLike[str], table: Mapping[str, NDArray]) -> Path:
    """Write the table as ``.root`` (TTree ``O2pidtracks``) or ``.parquet``."""
    check_columns(table.keys(), COLUMNS, source="track table")
    return write_table(path, {k: np.asarray(v) for k, v in table.items()}, tree=TREE)
