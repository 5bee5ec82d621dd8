"""The study's field as LHCb's field service holds it: a grid map with trilinear interpolation.

:class:`FieldMap` (a JAX pytree: jitted integrators take it as an argument) is read from an npz file or from
LHCb's four quadrant text files (:mod:`hepnb.tracks.cdf`), or tabulated from a function;
:func:`default_field_map` is :func:`hepnb.tracks.field.analytic_field` tabulated every 100 mm (cached on disk),
:func:`field` evaluates it, and :func:`load_field_map` reads what a user names.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hepnb.io import open_npz
from hepnb.tracks.arrays import Array, FieldFn
from hepnb.tracks.constants import GRID_SPACING_MM, GRID_X_MM, GRID_Y_MM, GRID_Z_MM
from hepnb.tracks.field import analytic_field, check_polarity, pole_sheets

__all__ = [
    "PLAUSIBLE_PEAK_T",
    "FieldMap",
    "check_magnitude",
    "default_field_map",
    "field",
    "load_field_map",
]


def field(x_mm: Array, y_mm: Array, z_mm: Array, *, polarity: int = -1) -> tuple[Array, Array, Array]:
    """The study's field in tesla: :func:`default_field_map` (trilinear, 100 mm) at points in mm.

    This is the field that :func:`hepnb.tracks.propagate.rk4` uses by default; :func:`analytic_field` is the
    smooth field the map tabulates.
    """
    return default_field_map(polarity)(x_mm, y_mm, z_mm)


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True, eq=False)  # identity hash: usable as a static (jit-cached) field function
class FieldMap:
    """A field on a regular 3-D grid, evaluated by trilinear interpolation (as LHCb's field service).

    Attributes
    ----------
    origin_mm
        (x, y, z) of grid point [0, 0, 0].
    spacing_mm
        Grid spacing along x, y, z.
    values_t
        Array (nx, ny, nz, 3) of (Bx, By, Bz) in tesla.

    Notes
    -----
    The lookup reads a second copy of the values laid out as z pairs, row ``i`` holding grid points ``i``
    and ``i + 1`` (the next z), so that the 8 corners of a cell come from 4 gathers instead of 8.
    """

    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]
    values_t: Array
    _pairs: Array = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._pairs is None:
            flat = np.asarray(self.values_t).reshape(-1, 3)
            object.__setattr__(self, "_pairs", np.concatenate([flat, np.roll(flat, -1, axis=0)], axis=1))

    def tree_flatten(self) -> tuple[tuple[Array, Array], tuple[Any, ...]]:
        return (self.values_t, self._pairs), (self.origin_mm, self.spacing_mm)

    @classmethod
    def tree_unflatten(cls, aux: tuple[Any, ...], children: tuple[Array, Array]) -> FieldMap:
        return cls(aux[0], aux[1], children[0], children[1])

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid points along x, y, z."""
        return tuple(int(n) for n in self.values_t.shape[:3])  # type: ignore[return-value]

    @property
    def extent_mm(self) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        """(min, max) covered along x, y, z."""
        return tuple((o, o + s * (n - 1)) for o, s, n in  # type: ignore[return-value]
                     zip(self.origin_mm, self.spacing_mm, self.shape, strict=True))

    @classmethod
    def from_function(cls, fn: FieldFn = analytic_field, *, spacing_mm: float = GRID_SPACING_MM,
                      x_mm: tuple[float, float] = GRID_X_MM, y_mm: tuple[float, float] = GRID_Y_MM,
                      z_mm: tuple[float, float] = GRID_Z_MM) -> FieldMap:
        """Tabulate ``fn(x, y, z) -> (Bx, By, Bz)`` on a grid, in float64, one x plane at a time."""
        axes = [np.arange(lo, hi + 0.5 * spacing_mm, spacing_mm) for lo, hi in (x_mm, y_mm, z_mm)]
        gy, gz = np.meshgrid(axes[1], axes[2], indexing="ij")
        values = np.empty((len(axes[0]), *gy.shape, 3))
        with jax.enable_x64(True):
            plane = jax.jit(lambda x, y, z: jnp.stack(fn(x, y, z), axis=-1))
            for i, x in enumerate(axes[0]):
                values[i] = np.asarray(plane(jnp.full(gy.shape, x), jnp.asarray(gy), jnp.asarray(gz)), np.float64)
        return cls((float(axes[0][0]), float(axes[1][0]), float(axes[2][0])), (float(spacing_mm),) * 3, values)

    def flipped(self) -> FieldMap:
        """The opposite polarity (every component negated): MagUp from MagDown and back."""
        return FieldMap(self.origin_mm, self.spacing_mm, -np.asarray(self.values_t), -np.asarray(self._pairs))

    def digest(self) -> str:
        """A short hash of the grid and its values (keys caches of samples made through this map)."""
        h = hashlib.sha1(np.asarray(self.values_t, np.float64).tobytes())
        h.update(repr((self.origin_mm, self.spacing_mm, self.shape)).encode())
        return h.hexdigest()[:16]

    def astype(self, dtype: Any) -> FieldMap:
        """The same map with values of another dtype (float32 for the fast baselines)."""
        return FieldMap(self.origin_mm, self.spacing_mm, np.asarray(self.values_t, dtype=dtype),
                        np.asarray(self._pairs, dtype=dtype))

    def on_device(self) -> FieldMap:
        """The same map with its arrays as JAX device arrays (passed to jitted code as buffers, not constants)."""
        return FieldMap(self.origin_mm, self.spacing_mm, jnp.asarray(self.values_t), jnp.asarray(self._pairs))

    def __call__(self, x_mm: Array, y_mm: Array, z_mm: Array) -> tuple[Array, Array, Array]:
        """Trilinear interpolation; points outside the grid are clamped to its border (check first)."""
        pairs = jnp.asarray(self._pairs)
        dtype = pairs.dtype
        coords = [jnp.asarray(c, dtype=dtype) for c in (x_mm, y_mm, z_mm)]
        idx, frac = [], []
        for c, o, s, n in zip(coords, self.origin_mm, self.spacing_mm, self.shape, strict=True):
            t = (c - o) / s
            i0 = jnp.clip(jnp.floor(t), 0, n - 2)
            idx.append(i0.astype(jnp.int32))
            frac.append(jnp.clip(t - i0, 0.0, 1.0)[..., None])
        (i, j, k), (fx, fy, fz) = idx, frac
        _, ny, nz = self.shape
        offsets = jnp.asarray([di * ny * nz + dj * nz for di in (0, 1) for dj in (0, 1)], dtype=jnp.int32)
        # indices are clipped into the grid above: promise_in_bounds skips XLA's slow bounds handling
        rows = pairs.at[(i * ny * nz + j * nz + k)[..., None] + offsets].get(mode="promise_in_bounds")  # (..., 4, 6)
        c = rows[..., :3] * (1.0 - fz[..., None]) + rows[..., 3:] * fz[..., None]  # along z: (..., 4, 3) as (di, dj)
        c0 = c[..., 0, :] * (1.0 - fy) + c[..., 1, :] * fy  # along y, di = 0
        c1 = c[..., 2, :] * (1.0 - fy) + c[..., 3, :] * fy  # along y, di = 1
        out = c0 * (1.0 - fx) + c1 * fx
        return out[..., 0], out[..., 1], out[..., 2]

    def check_inside(self, x_mm: Array, y_mm: Array, z_mm: Array, *, what: str = "points") -> None:
        """Raise ``ValueError`` naming how many points lie outside the map, and where."""
        for name, c, (lo, hi) in zip("xyz", (x_mm, y_mm, z_mm), self.extent_mm, strict=True):
            arr = np.asarray(c)
            outside = (arr < lo) | (arr > hi)
            if np.any(outside):
                msg = (f"{int(outside.sum())} {what} have {name} outside the field map's range "
                       f"[{lo:g}, {hi:g}] mm (e.g. {name} = {arr[outside].flat[0]:g} mm)")
                raise ValueError(msg)

    def save_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write the documented npz layout: ``x_mm``, ``y_mm``, ``z_mm`` (axes) and ``B_T`` (nx, ny, nz, 3)."""
        axes = [o + s * np.arange(n) for o, s, n in zip(self.origin_mm, self.spacing_mm, self.shape, strict=True)]
        p = Path(path)
        np.savez_compressed(p, x_mm=axes[0], y_mm=axes[1], z_mm=axes[2], B_T=np.asarray(self.values_t))
        return p

    @classmethod
    def load_npz(cls, path: str | os.PathLike[str]) -> FieldMap:
        """Load a user's map in the npz layout of :meth:`save_npz`, checking axes and shape.

        Raises
        ------
        ValueError
            Missing arrays, non-uniform axes, or ``B_T`` not shaped (len(x), len(y), len(z), 3).
        """
        with open_npz(path, what="field map") as data:
            missing = [k for k in ("x_mm", "y_mm", "z_mm", "B_T") if k not in data]
            if missing:
                msg = f"field map {path} lacks arrays {missing}; expected x_mm, y_mm, z_mm and B_T"
                raise ValueError(msg)
            axes = [np.asarray(data[k], dtype=np.float64) for k in ("x_mm", "y_mm", "z_mm")]
            values = np.asarray(data["B_T"], dtype=np.float64)
        expected = (*(len(a) for a in axes), 3)
        if values.shape != expected:
            msg = f"field map {path}: B_T must have shape {expected} (len x, len y, len z, 3), found {values.shape}"
            raise ValueError(msg)
        spacing = []
        for name, a in zip("xyz", axes, strict=True):
            steps = np.diff(a)
            if a.size < 2 or not np.allclose(steps, steps[0]) or steps[0] <= 0:
                msg = f"field map {path}: axis {name}_mm must be increasing with uniform spacing"
                raise ValueError(msg)
            spacing.append(float(steps[0]))
        if not np.all(np.isfinite(values)):
            msg = f"field map {path}: B_T contains NaN/inf"
            raise ValueError(msg)
        check_magnitude(values, f"field map {path} (B_T in tesla)")
        return cls(tuple(float(a[0]) for a in axes), tuple(spacing), values)  # type: ignore[arg-type]


    @classmethod
    def load_cdf(cls, q1: str | os.PathLike[str], q2: str | os.PathLike[str], q3: str | os.PathLike[str],
                 q4: str | os.PathLike[str]) -> FieldMap:
        """Read LHCb's four quadrant text files (:mod:`hepnb.tracks.cdf`: cm, gauss, sign flips, merged grid).

        Parameters
        ----------
        q1, q2, q3, q4
            The files of the quadrants (+x, +y), (−x, +y), (+x, −y), (−x, −y), e.g.
            ``field.v8r1.c1.down.cdf`` … ``c4``.

        Raises
        ------
        ValueError
            A file that does not follow the format, or quadrants whose grids disagree.
        """
        from hepnb.tracks.cdf import merge_quadrants, read_quadrant

        origin, spacing, values = merge_quadrants([read_quadrant(q) for q in (q1, q2, q3, q4)])
        check_magnitude(values, f"the quadrant files {q1} … (field in gauss)")
        return cls(origin, spacing, values)

    def save_cdf(self, q1: str | os.PathLike[str], q2: str | os.PathLike[str], q3: str | os.PathLike[str],
                 q4: str | os.PathLike[str]) -> list[Path]:
        """Write the map as LHCb's four quadrant files (the grid must be symmetric about x = 0 and y = 0).

        Raises
        ------
        ValueError
            A grid without a node at x = 0 and y = 0 in its middle.
        """
        from hepnb.tracks.cdf import split_quadrants, write_quadrant

        quadrants = split_quadrants(self.origin_mm, self.spacing_mm, np.asarray(self.values_t))
        return [write_quadrant(path, quad, index=i) for i, (path, quad) in enumerate(zip((q1, q2, q3, q4), quadrants,
                                                                                         strict=True), start=1)]


def _cache_file() -> Path:
    """Where the tabulated study map is kept between processes: ``$HEPNB_CACHE`` (default ~/.cache/hepnb),
    named by a hash of the magnet's sheets and the grid, so that a change of either makes a new file."""
    key = hashlib.sha1(pole_sheets().tobytes())
    key.update(repr((GRID_SPACING_MM, GRID_X_MM, GRID_Y_MM, GRID_Z_MM)).encode())
    root = Path(os.environ.get("HEPNB_CACHE", Path.home() / ".cache" / "hepnb"))
    return root / f"tracks-field-{key.hexdigest()[:16]}.npz"


@functools.cache
def _magdown_map() -> FieldMap:
    """The study's MagDown map: read from the cache, or tabulated (seconds) and cached."""
    path = _cache_file()
    if path.is_file():
        try:
            return FieldMap.load_npz(path)
        except (OSError, ValueError, KeyError):  # a damaged cache file is made again
            pass
    fmap = FieldMap.from_function(analytic_field)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        fmap.save_npz(tmp)
        tmp.replace(path)
    except OSError:  # a read-only home: no cache, same map
        pass
    return fmap


@functools.cache
def default_field_map(polarity: int = -1) -> FieldMap:
    """The study's field: :func:`analytic_field` tabulated every 100 mm, built once per process and polarity."""
    down = _magdown_map()
    return down if check_polarity(polarity) == -1 else down.flipped()


#: The largest |B| a tracking detector's field map may reach, tesla: a map that is not zero everywhere must peak
#: between these (LHCb's dipole peaks near 1.1 T); outside, its units are wrong (a map in tesla read as gauss
#: peaks 10⁴ times too low).
PLAUSIBLE_PEAK_T = (0.01, 20.0)


def check_magnitude(values_t: np.ndarray, source: str) -> None:
    """Refuse a map whose largest |B| lies outside :data:`PLAUSIBLE_PEAK_T` (a map of zeros, the field off, passes).

    Raises
    ------
    ValueError
        Naming the source, the peak and the likely unit mistake.
    """
    values = np.asarray(values_t, dtype=np.float64)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    peak = scale * float(np.max(np.linalg.norm(values / scale, axis=-1))) if scale > 0 else 0.0  # no overflow
    lo, hi = PLAUSIBLE_PEAK_T
    if peak == 0.0 or lo <= peak <= hi:
        return
    hint = ("tesla written where gauss is expected (×10⁻⁴)?" if peak < lo else
            "gauss written where tesla is expected (×10⁴)?" if peak < 1e6 else "the values are not a field")
    msg = f"{source}: the largest |B| is {peak:.3g} T, outside the {lo:g}–{hi:g} T of a detector magnet: {hint}"
    raise ValueError(msg)


def load_field_map(spec: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None) -> FieldMap:
    """A field map named by a user: the study's map, an npz file, or LHCb's four quadrant files.

    Parameters
    ----------
    spec
        ``None`` or ``""``: :func:`default_field_map`. A path ending in ``.npz``: :meth:`FieldMap.load_npz`.
        A path with ``{q}`` in it, e.g. ``"maps/field.v8r1.c{q}.down.cdf"``: the four files with q = 1…4.
        A sequence of four paths: LHCb's quadrant files in the order c1…c4.

    Raises
    ------
    ValueError
        Anything else, or a file that cannot be read as the format it claims.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return default_field_map()
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        if "{q}" in text:
            return FieldMap.load_cdf(*(text.format(q=q) for q in (1, 2, 3, 4)))
        if text.endswith(".npz"):
            return FieldMap.load_npz(text)
        msg = (f"field map {text!r}: expected an .npz file or LHCb quadrant files as a pattern with {{q}} "
               "(e.g. field.v8r1.c{q}.down.cdf)")
        raise ValueError(msg)
    paths = list(spec)
    if len(paths) == 1:
        return load_field_map(paths[0])
    if len(paths) != 4:
        msg = f"LHCb field maps come as four quadrant files (c1..c4), found {len(paths)} paths"
        raise ValueError(msg)
    return FieldMap.load_cdf(*paths)
