"""Track propagation through the dipole: equations of motion, Runge–Kutta 4 and cheap baselines.

State s = (x [mm], y [mm], tx, ty, q/p [1/GeV]) with z [mm] as the independent variable. The equations
of motion are those of LHCb's TrackRungeKuttaExtrapolator:

    dx/dz = tx,   dy/dz = ty,   d(q/p)/dz = 0
    dtx/dz = κ (q/p) N [ ty (tx Bx + Bz) − (1 + tx²) By ]
    dty/dz = κ (q/p) N [ −tx (ty By + Bz) + (1 + ty²) Bx ]

with N = √(1 + tx² + ty²) and κ = 2.99792458e-4 GeV/(T·mm).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hepnb.tracks.constants import KAPPA_GEV_T_MM
from hepnb.tracks.field import FieldMap, default_field_map

__all__ = [
    "FieldFn",
    "check_states",
    "derivatives",
    "rk4",
    "rk4_fixed",
    "single_kick",
    "straight_line",
]

Array = Any
#: ``field(x_mm, y_mm, z_mm) -> (Bx, By, Bz)`` in tesla.
FieldFn = Callable[[Array, Array, Array], tuple[Array, Array, Array]]


def derivatives(z_mm: Array, state: Array, field_fn: FieldFn, kappa: float = KAPPA_GEV_T_MM) -> Array:
    """ds/dz for states shaped (..., 5)."""
    x, y, tx, ty, qop = (state[..., i] for i in range(5))
    bx, by, bz = field_fn(x, y, z_mm)
    k = kappa * qop * jnp.sqrt(1.0 + tx * tx + ty * ty)
    dtx = k * (ty * (tx * bx + bz) - (1.0 + tx * tx) * by)
    dty = k * (-tx * (ty * by + bz) + (1.0 + ty * ty) * bx)
    return jnp.stack([tx, ty, dtx, dty, jnp.zeros_like(qop)], axis=-1)


def rk4_fixed(state: Array, z0_mm: Array, z1_mm: Array, n_steps: int, field_fn: FieldFn,
              kappa: float = KAPPA_GEV_T_MM) -> Array:
    """Classic RK4 with ``n_steps`` equal steps from ``z0_mm`` to ``z1_mm`` (pure, differentiable in z).

    ``state`` may be one state (5,) or a batch (..., 5); ``z0_mm``/``z1_mm`` broadcast against the batch.
    """
    z0 = jnp.asarray(z0_mm, dtype=state.dtype)
    h = (jnp.asarray(z1_mm, dtype=state.dtype) - z0) / n_steps
    hb = h[..., None] if jnp.ndim(h) else h

    def step(i: int, s: Array) -> Array:
        z = z0 + i * h
        k1 = derivatives(z, s, field_fn, kappa)
        k2 = derivatives(z + 0.5 * h, s + 0.5 * hb * k1, field_fn, kappa)
        k3 = derivatives(z + 0.5 * h, s + 0.5 * hb * k2, field_fn, kappa)
        k4 = derivatives(z + h, s + hb * k3, field_fn, kappa)
        return s + hb / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    if n_steps == 1:
        return step(0, state)
    return jax.lax.fori_loop(0, n_steps, step, state)


def check_states(states: Array, *, field_map: Any | None = None, z0_mm: float | None = None,
                 z1_mm: float | None = None) -> np.ndarray:
    """Validate states shaped (N, 5): finite, q/p non-zero, and (with a map) a straight path inside it.

    Returns
    -------
    numpy.ndarray
        The states as an array.

    Raises
    ------
    ValueError
        Wrong shape, NaN/inf, q/p = 0, z outside the map, or slopes that leave the map.
    """
    arr = np.asarray(states)
    if arr.ndim != 2 or arr.shape[1] != 5:
        msg = f"states must be shaped (N, 5) as (x, y, tx, ty, q/p), found {arr.shape}"
        raise ValueError(msg)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        msg = f"{rows.size} states contain NaN/inf (first rows: {rows[:5].tolist()})"
        raise ValueError(msg)
    if np.any(arr[:, 4] == 0):
        msg = "q/p must be non-zero (a neutral or infinite-momentum track cannot be bent)"
        raise ValueError(msg)
    if field_map is not None and z0_mm is not None and z1_mm is not None:
        (zlo, zhi) = field_map.extent_mm[2]
        for name, z in (("z0_mm", z0_mm), ("z1_mm", z1_mm)):
            if not zlo <= z <= zhi:
                msg = f"{name} = {z:g} mm lies outside the field map's z range [{zlo:g}, {zhi:g}] mm"
                raise ValueError(msg)
        dz = z1_mm - z0_mm
        end_x, end_y = arr[:, 0] + arr[:, 2] * dz, arr[:, 1] + arr[:, 3] * dz
        try:
            field_map.check_inside(arr[:, 0], arr[:, 1], np.full(len(arr), z0_mm), what="states")
            field_map.check_inside(end_x, end_y, np.full(len(arr), z1_mm), what="straight-line paths (slopes too large)")
        except ValueError as err:
            raise ValueError(str(err)) from None
    return arr


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _rk4_batch(states: Array, z0: Array, z1: Array, fmap: Any, n_steps: int, kappa: float,
               fn: FieldFn | None) -> Array:
    """The field is either a grid map (a pytree, traced) or a static function."""
    one = functools.partial(rk4_fixed, n_steps=n_steps, field_fn=fmap if fn is None else fn, kappa=kappa)
    return jax.vmap(lambda s: one(s, z0, z1))(states)


def rk4(states: Array, z0_mm: float, z1_mm: float, n_steps: int, *, field: Any | None = None,
        kappa: float = KAPPA_GEV_T_MM, float64: bool = True) -> np.ndarray:
    """Propagate states (N, 5) from ``z0_mm`` to ``z1_mm`` with fixed-step RK4, jitted and vmapped.

    Parameters
    ----------
    states
        (x [mm], y [mm], tx, ty, q/p [1/GeV]) per row.
    z0_mm, z1_mm
        Start and end planes.
    n_steps
        Number of equal steps (≤ 5 mm steps give a reference good to ≪ 1 µm on the grid map).
    field
        A :class:`~hepnb.tracks.field.FieldMap` (its range is checked) or any field function;
        default: the study's grid map of the analytic dipole.
    kappa
        κ in GeV/(T·mm) (the seed-faithful setting passes the 1000× too small value).
    float64
        Integrate in double precision (the reference) or in float32 (the fast baselines).
    """
    if n_steps < 1:
        msg = f"n_steps must be >= 1, found {n_steps}"
        raise ValueError(msg)
    fmap = default_field_map() if field is None else field
    arr = check_states(states, field_map=fmap if isinstance(fmap, FieldMap) else None, z0_mm=z0_mm, z1_mm=z1_mm)
    dtype = np.float64 if float64 else np.float32
    is_map = isinstance(fmap, FieldMap)
    with jax.enable_x64(float64):
        out = _rk4_batch(jnp.asarray(arr, dtype=dtype), jnp.asarray(z0_mm, dtype), jnp.asarray(z1_mm, dtype),
                         fmap.astype(dtype) if is_map else None, n_steps, kappa, None if is_map else fmap)
        return np.asarray(out)


def straight_line(states: Array, dz_mm: float) -> Array:
    """Field-free extrapolation by ``dz_mm``."""
    x, y, tx, ty, qop = (states[..., i] for i in range(5))
    return jnp.stack([x + tx * dz_mm, y + ty * dz_mm, tx, ty, qop], axis=-1)


def single_kick(states: Array, z0_mm: float, z1_mm: float, z_kick_mm: float, by_integral_t_mm: float,
                kappa: float = KAPPA_GEV_T_MM) -> Array:
    """One slope kick at ``z_kick_mm`` from the on-axis ∫By dz, straight lines before and after."""
    x, y, tx, ty, qop = (states[..., i] for i in range(5))
    n = jnp.sqrt(1.0 + tx * tx + ty * ty)
    tx1 = tx - kappa * qop * n * (1.0 + tx * tx) * by_integral_t_mm
    x1 = x + tx * (z_kick_mm - z0_mm) + tx1 * (z1_mm - z_kick_mm)
    return jnp.stack([x1, y + ty * (z1_mm - z0_mm), tx1, ty, qop], axis=-1)
