"""Track samples with their float64 RK4 reference, and the track tables they are read from and written to.

``physics="correct"``: tracks start near the interaction point with slopes inside the magnet acceptance
(|tx| ≤ 0.3, |ty| ≤ 0.25) and p log-uniform in a range (default 2–100 GeV), both charges; they are
propagated through the grid map to the start plane of the leg and kept when the reference lands inside
the T-station acceptance. ``physics="seed"`` reproduces the seed's sample knowingly: its Gaussian field
with the ad-hoc fringe, x ∈ ±300 mm, y ∈ ±250 mm, |tx|, |ty| ≤ 0.15, p 3–100 GeV, z 4000 → 12000 mm and
κ 1000× too small (q/p in 1/MeV with the 1/GeV constant).

Track tables on disk (ROOT TTree ``tracks`` or Parquet) use the documented column names: start states
``x_mm, y_mm, tx, ty, qop_per_gev`` (q/p in 1/GeV); propagated states add the same names with the suffix
``_end`` (``x_mm_end``, …, ``ty_end``). Generated samples also carry ``p_gev`` and the planes ``z0_mm``
and ``z1_mm`` (constant columns).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hepnb.io import read_table, write_table
from hepnb.tracks.constants import (
    KAPPA_GEV_T_MM,
    LEGS_MM,
    SEED_UNITS_BUG_FACTOR,
    SEED_Z_END_MM,
    SEED_Z_START_MM,
    T_HALF_HEIGHT_Y_MM,
    T_HALF_WIDTH_X_MM,
    TX_MAX,
    TY_MAX,
)
from hepnb.tracks.field import default_field_map, seed_field
from hepnb.tracks.propagate import rk4

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = ["END_COLUMNS", "PHYSICS", "STATE_COLUMNS", "Setting", "generate_tracks", "generate_tracks_chunked",
           "read_states", "setting", "states_table", "write_states"]

PHYSICS = ("correct", "seed")
REFERENCE_STEP_MM = 5.0
#: Bumped when the chunks change for the same parameters (it keys the chunk cache).
CHUNK_VERSION = 1
#: Columns of a state, in the order of the (N, 5) arrays.
STATE_COLUMNS: tuple[str, ...] = ("x_mm", "y_mm", "tx", "ty", "qop_per_gev")
#: Columns of a propagated state (q/p is conserved and not repeated).
END_COLUMNS: tuple[str, ...] = ("x_mm_end", "y_mm_end", "tx_end", "ty_end")


@dataclass(frozen=True)
class Setting:
    """Everything that differs between the correct physics and the seed-faithful setting."""

    physics: str
    leg: str
    z0_mm: float
    z1_mm: float
    kappa: float
    field: Any

    @property
    def dz_mm(self) -> float:
        """Length of the leg along z."""
        return self.z1_mm - self.z0_mm

    def reference_steps(self, z_from: float, z_to: float) -> int:
        """RK4 steps of at most 5 mm between two planes."""
        return max(1, math.ceil(abs(z_to - z_from) / REFERENCE_STEP_MM))


def setting(physics: str = "correct", leg: str = "ut_t") -> Setting:
    """The field, κ and planes of a physics setting and leg (the seed has one leg of its own)."""
    if physics not in PHYSICS:
        msg = f"unknown physics {physics!r}; choose one of {list(PHYSICS)}"
        raise ValueError(msg)
    if physics == "seed":
        return Setting("seed", "seed", SEED_Z_START_MM, SEED_Z_END_MM, KAPPA_GEV_T_MM * SEED_UNITS_BUG_FACTOR,
                       seed_field)
    if leg not in LEGS_MM:
        msg = f"unknown leg {leg!r}; choose one of {sorted(LEGS_MM)}"
        raise ValueError(msg)
    z0, z1 = LEGS_MM[leg]
    return Setting("correct", leg, z0, z1, KAPPA_GEV_T_MM, default_field_map())


def _check_p_range(p_range_gev: tuple[float, float]) -> tuple[float, float]:
    """``(low, high)`` in GeV, refused unless 0 < low < high."""
    lo, hi = p_range_gev
    if not 0 < lo < hi:
        msg = f"p_range_gev must be (low, high) with 0 < low < high, found {p_range_gev}"
        raise ValueError(msg)
    return lo, hi


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def _origin_states(rng: np.random.Generator, n: int, p_range_gev: tuple[float, float]) -> np.ndarray:
    p = _log_uniform(rng, *p_range_gev, n)
    q = rng.choice([-1.0, 1.0], n)
    return np.stack([rng.normal(0.0, 0.05, n), rng.normal(0.0, 0.05, n),
                     rng.uniform(-TX_MAX, TX_MAX, n), rng.uniform(-TY_MAX, TY_MAX, n), q / p], axis=1)


def generate_tracks(
    n_tracks: int,
    *,
    leg: str = "ut_t",
    physics: str = "correct",
    seed: int = 0,
    p_range_gev: tuple[float, float] = (2.0, 100.0),
) -> dict[str, Any]:
    """Start states on the leg's first plane and their float64 RK4 reference on the last.

    Returns
    -------
    dict
        ``start`` and ``end`` (N, 5) float64 states (x, y, tx, ty, q/p), ``p_gev`` (N,), and the
        ``setting`` (:class:`Setting`).
    """
    if n_tracks < 1:
        msg = f"n_tracks must be >= 1, found {n_tracks}"
        raise ValueError(msg)
    _check_p_range(p_range_gev)
    st = setting(physics, leg)
    rng = np.random.default_rng(seed)
    starts, ends = [], []
    have = 0
    while have < n_tracks:
        n = int(1.3 * (n_tracks - have)) + 64
        if physics == "seed":
            p = _log_uniform(rng, 3.0, 100.0, n)
            start = np.stack([rng.uniform(-300, 300, n), rng.uniform(-250, 250, n), rng.uniform(-0.15, 0.15, n),
                              rng.uniform(-0.15, 0.15, n), rng.choice([-1.0, 1.0], n) / p], axis=1)
            end = rk4(start, st.z0_mm, st.z1_mm, st.reference_steps(st.z0_mm, st.z1_mm), field=st.field,
                      kappa=st.kappa)
            keep = np.ones(n, dtype=bool)
        else:
            origin = _origin_states(rng, n, p_range_gev)
            start = rk4(origin, 0.0, st.z0_mm, st.reference_steps(0.0, st.z0_mm), field=st.field)
            end = rk4(start, st.z0_mm, st.z1_mm, st.reference_steps(st.z0_mm, st.z1_mm), field=st.field)
            keep = (np.abs(end[:, 0]) < T_HALF_WIDTH_X_MM) & (np.abs(end[:, 1]) < T_HALF_HEIGHT_Y_MM)
        starts.append(start[keep])
        ends.append(end[keep])
        have += int(keep.sum())
    start_all, end_all = np.concatenate(starts)[:n_tracks], np.concatenate(ends)[:n_tracks]
    return {"start": start_all, "end": end_all, "p_gev": 1.0 / np.abs(start_all[:, 4]), "setting": st}


def make_chunk(seed: int, index: int, *, n_rows: int, leg: str = "ut_t", physics: str = "correct",
               p_range_gev: tuple[float, float] = (2.0, 100.0)) -> dict[str, np.ndarray]:
    """Chunk ``index`` of a chunked sample: :func:`generate_tracks` of ``n_rows`` tracks with ``seed``, as the
    track table of ``hepnb tracks generate`` (:func:`states_table`: start and end states, ``p_gev``,
    ``z0_mm``, ``z1_mm``)."""
    del index
    data = generate_tracks(n_rows, leg=leg, physics=physics, seed=seed, p_range_gev=tuple(p_range_gev))
    st = data["setting"]
    return states_table(data["start"], data["end"], p_gev=data["p_gev"], z0_mm=st.z0_mm, z1_mm=st.z1_mm)


def generate_tracks_chunked(
    n_tracks: int,
    *,
    leg: str = "ut_t",
    physics: str = "correct",
    seed: int = 0,
    p_range_gev: tuple[float, float] = (2.0, 100.0),
    tracks_per_chunk: int = 20_000,
    cache_dir: str | os.PathLike[str] | None = None,
    client: Client | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """:func:`generate_tracks` with its RK4 reference in seeded chunks, one task each, as a track table.

    The table has the columns of :func:`states_table` (``x_mm … qop_per_gev``, ``x_mm_end …
    ty_end``, ``p_gev``, ``z0_mm``, ``z1_mm``) and depends only on the physics, leg, momentum range,
    ``seed`` and ``tracks_per_chunk``, not on the number of workers; chunk ``i`` uses the seed
    :func:`hepnb.compute.chunks.chunk_seed` ``(seed, i)``, so it differs from :func:`generate_tracks` with ``seed``.

    Parameters
    ----------
    n_tracks
        Tracks inside the T acceptance (whole chunks are made and the table cut to ``n_tracks``).
    leg, physics, seed, p_range_gev
        As :func:`generate_tracks`.
    tracks_per_chunk
        Tracks per chunk (one chunk: one task, one file).
    cache_dir
        Root of the chunk cache (default: a temporary folder, removed afterwards); on a remote cluster, a
        folder the workers share.
    client, workers, progress
        As :func:`hepnb.compute.chunks.generate_chunks`.
    """
    from hepnb.compute.chunks import generate_table

    setting(physics, leg)  # an unknown leg or physics fails before any work
    lo, hi = _check_p_range(p_range_gev)
    params = {"leg": leg, "physics": physics, "p_range_gev": (float(lo), float(hi))}
    return generate_table(make_chunk, n_tracks, rows_per_chunk=tracks_per_chunk, name=f"tracks-{physics}-{leg}",
                          params=params, seed=seed, cache_dir=cache_dir, client=client, workers=workers,
                          progress=progress, version=CHUNK_VERSION)


def states_table(start: np.ndarray, end: np.ndarray | None = None, **extra: Any) -> dict[str, np.ndarray]:
    """Columns of start states (N, 5), optionally their end states (N, 5), plus extra (N,) columns."""
    table = {name: np.asarray(start[:, i], np.float64) for i, name in enumerate(STATE_COLUMNS)}
    if end is not None:
        table.update({name: np.asarray(end[:, i], np.float64) for i, name in enumerate(END_COLUMNS)})
    for name, value in extra.items():
        table[name] = np.broadcast_to(np.asarray(value, np.float64), (len(start),)).copy()
    return table


def read_states(path: str | os.PathLike[str]) -> np.ndarray:
    """Read start states (N, 5) from a ROOT or Parquet track table; missing columns and NaN/inf are refused."""
    table = read_table(Path(path), STATE_COLUMNS)
    return np.stack([np.asarray(table[c], np.float64) for c in STATE_COLUMNS], axis=1)


def write_states(path: str | os.PathLike[str], start: np.ndarray, end: np.ndarray | None = None,
                 **extra: Any) -> Path:
    """Write a track table (atomic; ``.root`` or ``.parquet``)."""
    return write_table(Path(path), states_table(start, end, **extra))
