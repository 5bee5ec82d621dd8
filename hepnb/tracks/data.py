"""Track samples with their float64 RK4 reference, and the track tables they are read from and written to.

``physics="correct"``: each track comes from a primary vertex in LHCb's luminous region (σ 40 µm across,
45 mm along the beam) or, for a fraction ``displaced_fraction`` of them, from the decay vertex of a
long-lived mother (flight distance exponential with mean 100 mm, up to z = 500 mm: transverse
displacements of mm to cm, as K⁰S, Λ, charm and beauty decays in LHCb's long-lived samples; the daughter
leaves at an angle of about 50 mrad to its mother). Slopes lie inside the magnet's acceptance
(|tx| ≤ 0.3, |ty| ≤ 0.25), p is log-uniform (default 2–500 GeV), both charges. Tracks are propagated
through the field map from the vertex to the leg's first plane (RK4, 50 mm steps: this only sets where the
sample starts) and from there to the last plane with the reference (RK4 in float64, steps ≤ 10 mm that end
on the map's z planes: :func:`hepnb.tracks.propagate.reference`), and
are kept when they land inside the T stations. All samples are MagDown; MagUp follows from the symmetry
(:func:`hepnb.tracks.propagate.flip_polarity`).

``physics="original"`` reproduces the original study's sample knowingly: its Gaussian field with the ad-hoc fringe,
x ∈ ±300 mm, y ∈ ±250 mm, |tx|, |ty| ≤ 0.15, p 3–100 GeV, z 4000 → 12000 mm and κ 1000× too small (q/p in
1/MeV with the 1/GeV constant).

Track tables on disk (ROOT TTree ``tracks`` or Parquet) use the documented column names: start states
``x_mm, y_mm, tx, ty, qop_per_gev`` (q/p in 1/GeV); propagated states add the same names with the suffix
``_end`` (``x_mm_end``, …, ``ty_end``). Generated samples also carry ``p_gev``, ``displaced`` (1 for a
track from a displaced vertex), the vertex ``vx_mm, vy_mm, vz_mm`` and the planes ``z0_mm`` and ``z1_mm``
(constant columns).
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.compute.chunks import ChunkRun
from hepnb.io import read_table, write_table
from hepnb.tracks.constants import (
    BEAMSPOT_SIGMA_XY_MM,
    BEAMSPOT_SIGMA_Z_MM,
    DAUGHTER_ANGLE_SIGMA,
    DECAY_LENGTH_MM,
    DECAY_Z_MAX_MM,
    DISPLACED_FRACTION,
    KAPPA_GEV_T_MM,
    LEGS_MM,
    ORIGINAL_UNITS_BUG_FACTOR,
    ORIGINAL_Z_END_MM,
    ORIGINAL_Z_START_MM,
    P_RANGE_GEV,
    T_HALF_HEIGHT_Y_MM,
    T_HALF_WIDTH_X_MM,
    TX_MAX,
    TY_MAX,
)
from hepnb.tracks.field import original_field
from hepnb.tracks.fieldmap import FieldMap, load_field_map
from hepnb.tracks.propagate import reference, rk4

__all__ = [
    "APPROACH_STEP_MM",
    "CHUNK_VERSION",
    "END_COLUMNS",
    "PHYSICS",
    "REFERENCE_STEP_MM",
    "STATE_COLUMNS",
    "Setting",
    "TrackSample",
    "field_function",
    "generate_tracks",
    "generate_tracks_chunked",
    "make_chunk",
    "make_dataset",
    "read_states",
    "setting",
    "states_table",
    "write_states",
]

PHYSICS = ("correct", "original")
#: Largest RK4 step of the float64 reference (steps end on the map's z planes), mm.
REFERENCE_STEP_MM = 10.0
#: RK4 step from the vertex to the leg's first plane, mm (it only sets where the sample starts).
APPROACH_STEP_MM = 50.0
#: Bumped when the chunks change for the same parameters (it keys the chunk cache).
CHUNK_VERSION = 2
#: Columns of a state, in the order of the (N, 5) arrays.
STATE_COLUMNS: tuple[str, ...] = ("x_mm", "y_mm", "tx", "ty", "qop_per_gev")
#: Columns of a propagated state (q/p is conserved and not repeated).
END_COLUMNS: tuple[str, ...] = ("x_mm_end", "y_mm_end", "tx_end", "ty_end")


@dataclass(frozen=True)
class Setting:
    """Everything that differs between the correct physics and the original-faithful setting."""

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
        """Equal RK4 steps of at most 5 mm between two planes (for fields that are functions, not maps)."""
        return max(1, math.ceil(abs(z_to - z_from) / 5.0))

    def reference(self, start: np.ndarray, z_from: float | None = None, z_to: float | None = None) -> np.ndarray:
        """The float64 reference end states of ``start`` (default: over the leg), as the sample's ``end``."""
        z0 = self.z0_mm if z_from is None else z_from
        z1 = self.z1_mm if z_to is None else z_to
        if isinstance(self.field, FieldMap):
            return reference(start, z0, z1, field=self.field, step_mm=REFERENCE_STEP_MM, kappa=self.kappa)
        return rk4(start, z0, z1, self.reference_steps(z0, z1), field=self.field, kappa=self.kappa)


def setting(physics: str = "correct", leg: str = "ut_t", field_map: FieldMap | str | None = None) -> Setting:
    """The field, κ and planes of a physics setting and leg (the original study has one leg of its own).

    ``field_map``: a :class:`~hepnb.tracks.fieldmap.FieldMap`, or what :func:`~hepnb.tracks.fieldmap.load_field_map`
    accepts (``None``: the study's map); it is ignored for ``physics="original"``.
    """
    if physics not in PHYSICS:
        msg = f"unknown physics {physics!r}; choose one of {list(PHYSICS)}"
        raise ValueError(msg)
    if physics == "original":
        return Setting("original", "original", ORIGINAL_Z_START_MM, ORIGINAL_Z_END_MM, KAPPA_GEV_T_MM * ORIGINAL_UNITS_BUG_FACTOR,
                       original_field)
    if leg not in LEGS_MM:
        msg = f"unknown leg {leg!r}; choose one of {sorted(LEGS_MM)}"
        raise ValueError(msg)
    z0, z1 = LEGS_MM[leg]
    fmap = field_map if isinstance(field_map, FieldMap) else load_field_map(field_map)
    return Setting("correct", leg, z0, z1, KAPPA_GEV_T_MM, fmap)


def _check_p_range(p_range_gev: tuple[float, float]) -> tuple[float, float]:
    """``(low, high)`` in GeV, refused unless 0 < low < high."""
    lo, hi = p_range_gev
    if not 0 < lo < hi:
        msg = f"p_range_gev must be (low, high) with 0 < low < high, found {p_range_gev}"
        raise ValueError(msg)
    return float(lo), float(hi)


def _check_fraction(displaced_fraction: float) -> float:
    if not 0.0 <= displaced_fraction <= 1.0:
        msg = f"displaced_fraction must lie in [0, 1], found {displaced_fraction}"
        raise ValueError(msg)
    return float(displaced_fraction)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def _vertices_and_slopes(rng: np.random.Generator, n: int,
                         displaced_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (n, 3) in mm, slopes (n, 2) and the displaced flag of n candidate tracks."""
    pv = np.stack([rng.normal(0.0, BEAMSPOT_SIGMA_XY_MM, n), rng.normal(0.0, BEAMSPOT_SIGMA_XY_MM, n),
                   rng.normal(0.0, BEAMSPOT_SIGMA_Z_MM, n)], axis=1)
    slopes = np.stack([rng.uniform(-TX_MAX, TX_MAX, n), rng.uniform(-TY_MAX, TY_MAX, n)], axis=1)
    displaced = rng.uniform(size=n) < displaced_fraction
    # the mother flies along `slopes` for a truncated exponential distance, the daughter leaves at an angle
    norm = np.sqrt(1.0 + (slopes**2).sum(1))
    reach = np.maximum(DECAY_Z_MAX_MM - pv[:, 2], 1.0) * norm  # flight distance that reaches z = DECAY_Z_MAX_MM
    flight = -DECAY_LENGTH_MM * np.log1p(-rng.uniform(size=n) * -np.expm1(-reach / DECAY_LENGTH_MM))
    vertex = pv + np.where(displaced, flight / norm, 0.0)[:, None] * np.concatenate([slopes, np.ones((n, 1))], 1)
    kick = rng.normal(0.0, DAUGHTER_ANGLE_SIGMA, (n, 2))
    daughter = slopes + np.where(displaced[:, None], kick, 0.0)
    return vertex, daughter, displaced


def generate_tracks(
    n_tracks: int,
    *,
    leg: str = "ut_t",
    physics: str = "correct",
    seed: int = 0,
    p_range_gev: tuple[float, float] = P_RANGE_GEV,
    displaced_fraction: float = DISPLACED_FRACTION,
    field_map: FieldMap | str | None = None,
) -> dict[str, Any]:
    """Start states on the leg's first plane and their float64 RK4 reference on the last.

    Parameters
    ----------
    n_tracks
        Tracks to return (all inside the T-station acceptance).
    leg
        ``"ut_t"`` (2648.2 → 7826 mm) or ``"velo_t"`` (751 → 7826 mm).
    physics
        ``"correct"``, or ``"original"`` (the original study's field, ranges and units bug).
    seed
        Seed of the random numbers.
    p_range_gev
        Momentum range (log-uniform).
    displaced_fraction
        Fraction of tracks from displaced decay vertices.
    field_map
        The field (default: the study's map); see :func:`setting`.

    Returns
    -------
    dict
        ``start`` and ``end`` (N, 5) float64 states (x, y, tx, ty, q/p), ``p_gev`` (N,), ``displaced`` (N,)
        bool, ``vertex_mm`` (N, 3), and the ``setting`` (:class:`Setting`).
    """
    if n_tracks < 1:
        msg = f"n_tracks must be >= 1, found {n_tracks}"
        raise ValueError(msg)
    lo, hi = _check_p_range(p_range_gev)
    frac = _check_fraction(displaced_fraction)
    st = setting(physics, leg, field_map)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"start": [], "end": [], "displaced": [], "vertex": []}
    have = 0
    while have < n_tracks:
        n = int(1.3 * (n_tracks - have)) + 64
        if physics == "original":
            p = _log_uniform(rng, 3.0, 100.0, n)
            start = np.stack([rng.uniform(-300, 300, n), rng.uniform(-250, 250, n), rng.uniform(-0.15, 0.15, n),
                              rng.uniform(-0.15, 0.15, n), rng.choice([-1.0, 1.0], n) / p], axis=1)
            end = st.reference(start)
            keep = np.ones(n, dtype=bool)
            displaced, vertex = np.zeros(n, dtype=bool), np.zeros((n, 3))
        else:
            vertex, slopes, displaced = _vertices_and_slopes(rng, n, frac)
            q = rng.choice([-1.0, 1.0], n)
            origin = np.concatenate([vertex[:, :2], slopes, (q / _log_uniform(rng, lo, hi, n))[:, None]], axis=1)
            inside = (np.abs(slopes[:, 0]) <= TX_MAX) & (np.abs(slopes[:, 1]) <= TY_MAX)
            origin, vertex, displaced = origin[inside], vertex[inside], displaced[inside]
            n_approach = max(1, math.ceil((st.z0_mm - DECAY_Z_MAX_MM) / APPROACH_STEP_MM))
            start = rk4(origin, vertex[:, 2], st.z0_mm, n_approach, field=st.field)
            end = st.reference(start)
            keep = (np.abs(end[:, 0]) < T_HALF_WIDTH_X_MM) & (np.abs(end[:, 1]) < T_HALF_HEIGHT_Y_MM)
        for key, value in (("start", start), ("end", end), ("displaced", displaced), ("vertex", vertex)):
            parts[key].append(value[keep])
        have += int(keep.sum())
    out = {key: np.concatenate(value)[:n_tracks] for key, value in parts.items()}
    return {"start": out["start"], "end": out["end"], "p_gev": 1.0 / np.abs(out["start"][:, 4]),
            "displaced": out["displaced"], "vertex_mm": out["vertex"], "setting": st}


@dataclass(frozen=True)
class TrackSample:
    """What a simulated sample is, apart from its size and seed (:func:`generate_tracks`).

    Attributes
    ----------
    leg
        ``"ut_t"`` (2648.2 → 7826 mm) or ``"velo_t"`` (751 → 7826 mm).
    physics
        ``"correct"``, or ``"original"`` (the original study's field, ranges and units bug).
    p_range_gev
        Momentum range (log-uniform), GeV.
    displaced_fraction
        Fraction of tracks from displaced decay vertices.
    field_map
        The field: a :class:`~hepnb.tracks.fieldmap.FieldMap`, a spec for
        :func:`~hepnb.tracks.fieldmap.load_field_map`, or ``None``/``""`` for the study's map.
    """

    leg: str = "ut_t"
    physics: str = "correct"
    p_range_gev: tuple[float, float] = P_RANGE_GEV
    displaced_fraction: float = DISPLACED_FRACTION
    field_map: FieldMap | str | None = None

    def generate(self, n_tracks: int, seed: int) -> dict[str, Any]:
        """:func:`generate_tracks` of this sample with ``seed``."""
        return generate_tracks(n_tracks, leg=self.leg, physics=self.physics, seed=seed,
                               p_range_gev=tuple(self.p_range_gev), displaced_fraction=self.displaced_fraction,
                               field_map=None if isinstance(self.field_map, str) and not self.field_map
                               else self.field_map)


def make_chunk(seed: int, index: int, *, n_rows: int, sample: TrackSample = TrackSample(),
               field_digest: str = "") -> dict[str, np.ndarray]:
    """Chunk ``index`` of a chunked sample: :func:`generate_tracks` of ``n_rows`` tracks of ``sample`` with
    ``seed``, as the track table of ``hepnb tracks generate`` (:func:`states_table`: start and end states,
    ``p_gev``, ``displaced``, the vertex, ``z0_mm``, ``z1_mm``). The sample's ``field_map`` is a spec for
    :func:`~hepnb.tracks.fieldmap.load_field_map` (read on the worker); ``field_digest`` only keys the cache."""
    del index, field_digest
    data = sample.generate(n_rows, seed)
    st = data["setting"]
    vertex = data["vertex_mm"]
    return states_table(data["start"], data["end"], p_gev=data["p_gev"], displaced=data["displaced"],
                        vx_mm=vertex[:, 0], vy_mm=vertex[:, 1], vz_mm=vertex[:, 2], z0_mm=st.z0_mm, z1_mm=st.z1_mm)


def generate_tracks_chunked(
    n_tracks: int,
    *,
    sample: TrackSample = TrackSample(),
    seed: int = 0,
    tracks_per_chunk: int = 20_000,
    cache_dir: str | os.PathLike[str] | None = None,
    run: ChunkRun | None = None,
) -> dict[str, np.ndarray]:
    """:func:`generate_tracks` with its RK4 reference in seeded chunks, one task each, as a track table.

    The table has the columns of :func:`states_table` (``x_mm … qop_per_gev``, ``x_mm_end …
    ty_end``, ``p_gev``, ``displaced``, ``vx_mm, vy_mm, vz_mm``, ``z0_mm``, ``z1_mm``) and depends only on
    the sample (physics, leg, momentum range, displaced fraction, field map), ``seed`` and ``tracks_per_chunk``,
    not on the number of workers; chunk ``i`` uses the seed :func:`hepnb.compute.chunks.chunk_seed`
    ``(seed, i)``, so it differs from :func:`generate_tracks` with ``seed``.

    Parameters
    ----------
    n_tracks
        Tracks inside the T acceptance (whole chunks are made and the table cut to ``n_tracks``).
    sample
        The sample (:class:`TrackSample`); its ``field_map`` is a spec for
        :func:`~hepnb.tracks.fieldmap.load_field_map` (``""``: the study's map) whose files the workers can read.
        It is read here first, so a bad file fails before any work.
    seed
        Seed of the sample.
    tracks_per_chunk
        Tracks per chunk (one chunk: one task, one file).
    cache_dir
        Root of the chunk cache (default: a temporary folder, removed afterwards); on a remote cluster, a
        folder the workers share.
    run
        Where and how the chunks run (client, workers, progress: :class:`hepnb.compute.chunks.ChunkRun`;
        default: in this process, with a progress bar).
    """
    from hepnb.compute.chunks import TableChunks, generate_table

    if sample.field_map is not None and not isinstance(sample.field_map, str | os.PathLike):
        msg = "a chunked sample's field_map is a spec the workers read (a path), not a FieldMap"
        raise TypeError(msg)
    spec = os.path.abspath(sample.field_map) if sample.field_map else ""  # workers may run elsewhere: a full path
    st = setting(sample.physics, sample.leg, spec or None)  # an unknown leg, physics or a bad map fails first
    lo, hi = _check_p_range(sample.p_range_gev)
    frac = _check_fraction(sample.displaced_fraction)
    digest = st.field.digest() if isinstance(st.field, FieldMap) else ""
    checked = TrackSample(leg=sample.leg, physics=sample.physics, p_range_gev=(lo, hi), displaced_fraction=frac,
                          field_map=spec)
    params = {"sample": checked, "field_digest": digest}
    chunks = TableChunks(f"tracks-{sample.physics}-{sample.leg}", tracks_per_chunk, version=CHUNK_VERSION,
                         cache_dir=cache_dir)
    return generate_table(make_chunk, n_tracks, seed=seed, params=params, chunks=chunks, run=run or ChunkRun())


def make_dataset(n_train: int, n_val: int, n_test: int, *, sample: TrackSample = TrackSample(),
                 seed: int = 0) -> dict[str, Any]:
    """Simulate tracks of ``sample`` with ``seed`` and split them into train, validation and test.

    Returns
    -------
    dict
        ``train``, ``val``, ``test``: each ``start`` (N, 5) float32 (what models see), ``start64`` and ``end``
        (N, 5) float64 (the reference), ``p_gev`` and ``displaced``; ``stats`` (input mean and std, (q/p)_rms of
        the training set); ``setting``; ``sizes`` and ``simulate_s``.
    """
    total = n_train + n_val + n_test
    if min(n_train, n_val, n_test) < 1:
        msg = f"n_train, n_val and n_test must be >= 1, found {n_train}, {n_val}, {n_test}"
        raise ValueError(msg)
    t0 = time.perf_counter()
    data = sample.generate(total, seed)
    simulate_s = time.perf_counter() - t0
    parts = np.split(np.arange(total), [n_train, n_train + n_val])

    def split(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"start": data["start"][idx].astype(np.float32), "start64": data["start"][idx],
                "end": data["end"][idx], "p_gev": data["p_gev"][idx], "displaced": data["displaced"][idx]}

    train = split(parts[0])
    s = train["start64"]
    stats = {"in_mean": s.mean(0), "in_std": s.std(0) + 1e-12, "qop_rms": float(np.sqrt(np.mean(s[:, 4] ** 2)))}
    return {"train": train, "val": split(parts[1]), "test": split(parts[2]), "stats": stats, "setting": data["setting"],
            "sizes": {"train": n_train, "val": n_val, "test": n_test}, "simulate_s": simulate_s}


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


def field_function(st: Setting, dtype: Any = np.float32) -> Any:
    """The setting's field for jitted float32 code: the map with device arrays (passed as buffers, not
    constants), or the setting's function for the original study's field."""
    return _device_map(st.field, np.dtype(dtype).name) if isinstance(st.field, FieldMap) else st.field


@functools.cache
def _device_map(fmap: FieldMap, dtype: str) -> FieldMap:
    return fmap.astype(np.dtype(dtype)).on_device()
