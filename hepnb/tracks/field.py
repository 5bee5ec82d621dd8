"""The LHCb-like dipole field: an analytic, Maxwell-consistent form and the 3-D grid map used in the study.

The analytic field derives from a magnetic scalar potential, B = −∇Φ, with

    Φ = −b y + b'' y³/6 − b'''' y⁵/120 − c b (x² y − y³/3) + c b'' (x⁴ y/12 − y⁵/60)

where b(z) = B₀ exp(−½((z − z_c)/σ)²) is the on-axis By profile and c sets the transverse
non-uniformity (By ∝ 1 + c (x² − y²)). Being a gradient, the field is curl-free exactly; the terms kept
make ∇²Φ vanish up to fifth order in the transverse coordinates, so it is divergence-free to that order.
σ is chosen so that ∫By dz on axis is 4 T·m with a 1.03 T peak.

As LHCb does, the study then evaluates the field from a grid map (100 mm spacing) with trilinear
interpolation; :class:`FieldMap` builds one from the analytic form or loads a user's map.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hepnb.io import open_npz
from hepnb.tracks.constants import (
    B_INTEGRAL_T_MM,
    B_PEAK_T,
    C_X2_PER_MM2,
    GRID_SPACING_MM,
    GRID_X_MM,
    GRID_Y_MM,
    GRID_Z_MM,
    SEED_B0_T,
    SEED_SIGMA_MM,
    SEED_ZC_MM,
    Z_CENTRE_MM,
)

__all__ = [
    "FieldMap",
    "default_field_map",
    "field",
    "field_sigma_mm",
    "seed_field",
]

Array = Any


def field_sigma_mm(b_peak_t: float = B_PEAK_T, integral_t_mm: float = B_INTEGRAL_T_MM) -> float:
    """Width σ of the Gaussian on-axis profile giving ``integral_t_mm`` with peak ``b_peak_t``."""
    return integral_t_mm / (b_peak_t * math.sqrt(2.0 * math.pi))


def _profile_derivatives(z_mm: Array, b0_t: float, zc_mm: float, sigma_mm: float) -> list[Array]:
    """b, b', …, b⁽⁵⁾ of the Gaussian profile (probabilists' Hermite polynomials)."""
    u = (z_mm - zc_mm) / sigma_mm
    g = b0_t * jnp.exp(-0.5 * u * u)
    hermite = [1.0, u, u**2 - 1.0, u**3 - 3.0 * u, u**4 - 6.0 * u**2 + 3.0, u**5 - 10.0 * u**3 + 15.0 * u]
    return [((-1.0) ** n) * h * g / sigma_mm**n for n, h in enumerate(hermite)]


def field(
    x_mm: Array,
    y_mm: Array,
    z_mm: Array,
    *,
    polarity: int = -1,
    c_per_mm2: float = C_X2_PER_MM2,
) -> tuple[Array, Array, Array]:
    """The analytic dipole field in tesla at points given in mm (arrays broadcast together).

    Parameters
    ----------
    x_mm, y_mm, z_mm
        Coordinates (LHCb frame: z along the beam, y vertical).
    polarity
        ``-1`` (MagDown, By < 0 on axis) or ``+1`` (MagUp); the two are exact negatives.
    c_per_mm2
        Transverse non-uniformity coefficient.

    Returns
    -------
    (Bx, By, Bz)
        Arrays in tesla.
    """
    if polarity not in (-1, 1):
        msg = f"polarity must be -1 (MagDown) or +1 (MagUp), found {polarity!r}"
        raise ValueError(msg)
    x, y, z = jnp.asarray(x_mm), jnp.asarray(y_mm), jnp.asarray(z_mm)
    b, b1, b2, b3, b4, b5 = _profile_derivatives(z, polarity * B_PEAK_T, Z_CENTRE_MM, field_sigma_mm())
    c = c_per_mm2
    x2, y2 = x * x, y * y
    bx = c * b * 2.0 * x * y - c * b2 * x2 * x * y / 3.0
    by = (b - b2 * y2 / 2.0 + b4 * y2 * y2 / 24.0
          + c * b * (x2 - y2) - c * b2 * (x2 * x2 - y2 * y2) / 12.0)
    bz = (b1 * y - b3 * y2 * y / 6.0 + b5 * y2 * y2 * y / 120.0
          + c * b1 * (x2 * y - y2 * y / 3.0) - c * b3 * (x2 * x2 * y / 12.0 - y2 * y2 * y / 60.0))
    return bx, by, bz


def seed_field(x_mm: Array, y_mm: Array, z_mm: Array) -> tuple[Array, Array, Array]:
    """The seed's field, reproduced for ``physics=seed``: a Gaussian By(z) with an ad-hoc "fringe"
    (By·[1 − 1e-4 (r⊥/1 m)²], Bx = −0.01·By·x/1 m, Bz = 0). It is not Maxwell-consistent."""
    x, y, z = jnp.asarray(x_mm), jnp.asarray(y_mm), jnp.asarray(z_mm)
    by0 = SEED_B0_T * jnp.exp(-0.5 * ((z - SEED_ZC_MM) / SEED_SIGMA_MM) ** 2)
    r2_m2 = (x * x + y * y) * 1e-6
    by = by0 * (1.0 - 1e-4 * r2_m2)
    return -0.01 * by * x * 1e-3, by, jnp.zeros_like(by)


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
    """

    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]
    values_t: Array

    def tree_flatten(self) -> tuple[tuple[Array], tuple[Any, ...]]:
        return (self.values_t,), (self.origin_mm, self.spacing_mm)

    @classmethod
    def tree_unflatten(cls, aux: tuple[Any, ...], children: tuple[Array]) -> FieldMap:
        return cls(aux[0], aux[1], children[0])

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
    def from_function(cls, fn: Any = field, *, spacing_mm: float = GRID_SPACING_MM,
                      x_mm: tuple[float, float] = GRID_X_MM, y_mm: tuple[float, float] = GRID_Y_MM,
                      z_mm: tuple[float, float] = GRID_Z_MM) -> FieldMap:
        """Tabulate ``fn(x, y, z) -> (Bx, By, Bz)`` on a grid (float64)."""
        axes = [np.arange(lo, hi + 0.5 * spacing_mm, spacing_mm) for lo, hi in (x_mm, y_mm, z_mm)]
        gx, gy, gz = np.meshgrid(*axes, indexing="ij")
        with jax.enable_x64(True):
            bx, by, bz = (np.asarray(b, dtype=np.float64) for b in fn(gx, gy, gz))
        values = np.stack([bx, by, bz], axis=-1)
        return cls((axes[0][0], axes[1][0], axes[2][0]), (spacing_mm,) * 3, values)

    def astype(self, dtype: Any) -> FieldMap:
        """The same map with values of another dtype (float32 for the fast baselines)."""
        return FieldMap(self.origin_mm, self.spacing_mm, np.asarray(self.values_t, dtype=dtype))

    def __call__(self, x_mm: Array, y_mm: Array, z_mm: Array) -> tuple[Array, Array, Array]:
        """Trilinear interpolation; points outside the grid are clamped to its border (check first)."""
        values = jnp.asarray(self.values_t)
        dtype = values.dtype
        coords = [jnp.asarray(c, dtype=dtype) for c in (x_mm, y_mm, z_mm)]
        idx, frac = [], []
        for c, o, s, n in zip(coords, self.origin_mm, self.spacing_mm, self.shape, strict=True):
            t = (c - o) / s
            i0 = jnp.clip(jnp.floor(t), 0, n - 2)
            idx.append(i0.astype(jnp.int32))
            frac.append(jnp.clip(t - i0, 0.0, 1.0))
        (i, j, k), (fx, fy, fz) = idx, frac
        nx, ny, nz = self.shape
        flat = values.reshape(nx * ny * nz, 3)
        # one gather of the 8 corners: offsets of (di, dj, dk) in the flattened grid
        offsets = jnp.asarray([di * ny * nz + dj * nz + dk for di in (0, 1) for dj in (0, 1) for dk in (0, 1)])
        corners = flat[(i * ny * nz + j * nz + k)[..., None] + offsets]  # (..., 8, 3)
        wx = jnp.stack([1.0 - fx, fx], axis=-1)
        wy = jnp.stack([1.0 - fy, fy], axis=-1)
        wz = jnp.stack([1.0 - fz, fz], axis=-1)
        weights = (wx[..., :, None, None] * wy[..., None, :, None] * wz[..., None, None, :]).reshape(*fx.shape, 8)
        out = jnp.sum(weights[..., None] * corners, axis=-2)
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
        return cls(tuple(float(a[0]) for a in axes), tuple(spacing), values)  # type: ignore[arg-type]


@functools.cache
def default_field_map() -> FieldMap:
    """The study's field: the analytic dipole tabulated at 100 mm (MagDown), built once per process."""
    return FieldMap.from_function()
