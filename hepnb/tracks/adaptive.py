"""Adaptive Runge–Kutta: the embedded Cash–Karp RK4(5) of LHCb's ``TrackRungeKuttaExtrapolator``, batched in JAX.

Each track carries its own z, step and state; a batch advances together in one ``while_loop`` (every track
attempts a step per iteration, a finished track stands still), so the batch runs as many iterations as its
slowest track needs. A step is accepted when the embedded error estimate (5th − 4th order solution) of x and y
is within ``tol_mm`` and that of tx and ty within ``tol_mm / |z1 − z0| + |Δtx| · REL_TOLERANCE_SLOPE`` (LHCb's
``Tolerance`` and ``RelToleranceTx``); the step then grows or shrinks as Numerical Recipes' ``rkqs`` (exponent
−1/5 on acceptance, −1/4 on rejection, safety 0.9, a factor 1/8 … 4) between :data:`MIN_STEP_MM` and
:data:`MAX_STEP_MM`.
A step of :data:`MIN_STEP_MM` is accepted whatever its error (as LHCb's), and the state carried forward is the
5th-order one (local extrapolation). A track that has not reached ``z1`` after ``max_steps`` attempted steps
comes back as NaN (:func:`cash_karp` raises instead).

Defaults (LHCb Rec, ``TrackRungeKuttaExtrapolator``): tolerance 0.001 mm, first step 1 m, steps 10 mm … 1 m,
at most 1000 steps.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hepnb.tracks.arrays import Array, FieldFn
from hepnb.tracks.constants import KAPPA_GEV_T_MM
from hepnb.tracks.fieldmap import FieldMap, default_field_map
from hepnb.tracks.propagate import check_states, derivatives

__all__ = [
    "CASH_KARP_A",
    "CASH_KARP_B4",
    "CASH_KARP_B5",
    "CASH_KARP_C",
    "MAX_STEP_MM",
    "MIN_STEP_MM",
    "REL_TOLERANCE_SLOPE",
    "CashKarp",
    "cash_karp",
    "cash_karp_batch",
]

#: Cash & Karp (1990) tableau: nodes c, coupling a (row i holds a_i1 … a_i,i−1), weights of the 5th and 4th order.
CASH_KARP_C: tuple[float, ...] = (0.0, 1 / 5, 3 / 10, 3 / 5, 1.0, 7 / 8)
CASH_KARP_A: tuple[tuple[float, ...], ...] = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (3 / 10, -9 / 10, 6 / 5),
    (-11 / 54, 5 / 2, -70 / 27, 35 / 27),
    (1631 / 55296, 175 / 512, 575 / 13824, 44275 / 110592, 253 / 4096),
)
CASH_KARP_B5: tuple[float, ...] = (37 / 378, 0.0, 250 / 621, 125 / 594, 0.0, 512 / 1771)
CASH_KARP_B4: tuple[float, ...] = (2825 / 27648, 0.0, 18575 / 48384, 13525 / 55296, 277 / 14336, 1 / 4)

#: LHCb's step limits (mm) and first step.
MIN_STEP_MM = 10.0
MAX_STEP_MM = 1000.0
INITIAL_STEP_MM = 1000.0
#: LHCb's ``RelToleranceTx``: the slope tolerance grows with the slope change of the step.
REL_TOLERANCE_SLOPE = 5e-5
#: Step-size factor limits per step (LHCb's ``MinStepScale`` and ``MaxStepScale``) and the safety factor: 0.9 as
#: Numerical Recipes' ``rkqs`` (LHCb uses 1.0 but accepts errors up to σ = 5.5 tolerances; with 1.0 and σ = 1 a
#: step rejected at an error just above the tolerance shrinks by almost nothing and is rejected again, hundreds of
#: times).
_MIN_SCALE, _MAX_SCALE, _SAFETY = 0.125, 4.0, 0.9
#: LHCb's ``MaxNumSteps``.
MAX_STEPS = 1000


def _cash_karp_step(z: Array, s: Array, h: Array, field_fn: FieldFn, kappa: float) -> tuple[Array, Array]:
    """One Cash–Karp step of length ``h`` (per track) from ``z``: the 5th-order state and its error estimate."""
    hb = h[..., None]
    ks: list[Array] = []
    for c, row in zip(CASH_KARP_C, CASH_KARP_A, strict=True):
        si = s + hb * sum((a * k for a, k in zip(row, ks, strict=False)), jnp.zeros_like(s))
        ks.append(derivatives(z + c * h, si, field_fn, kappa))
    high = s + hb * sum((b * k for b, k in zip(CASH_KARP_B5, ks, strict=True) if b), jnp.zeros_like(s))
    err = hb * sum(((b5 - b4) * k for b5, b4, k in zip(CASH_KARP_B5, CASH_KARP_B4, ks, strict=True) if b5 != b4),
                   jnp.zeros_like(s))
    return high, err


def cash_karp_batch(states: Array, z0_mm: float, z1_mm: float, tol_mm: float, field_fn: FieldFn,
                    kappa: float = KAPPA_GEV_T_MM, max_steps: int = MAX_STEPS) -> tuple[Array, Array, Array]:
    """Adaptive Cash–Karp from ``z0_mm`` to ``z1_mm`` for states (N, 5), traceable (jit, grad through the values).

    Returns
    -------
    end, attempts, finished
        End states (N, 5) (NaN for a track that did not finish), attempted steps per track (N,) and whether
        each track reached ``z1_mm`` within ``max_steps`` attempts.
    """
    dtype = states.dtype
    n = states.shape[0]
    dz = float(z1_mm) - float(z0_mm)
    sign = 1.0 if dz >= 0 else -1.0
    tol_slope = tol_mm / max(abs(dz), MIN_STEP_MM)
    z_end = jnp.asarray(z1_mm, dtype)

    def cond(carry: tuple[Array, ...]) -> Array:
        it, _, _, _, done, _ = carry
        return (it < max_steps) & ~jnp.all(done)

    def body(carry: tuple[Array, ...]) -> tuple[Array, ...]:
        it, z, s, h, done, attempts = carry
        remaining = jnp.abs(z_end - z)
        last = h >= remaining
        h_try = jnp.where(done, 0.0, jnp.minimum(h, remaining)).astype(dtype)
        high, err = _cash_karp_step(z, s, sign * h_try, field_fn, kappa)
        slope_tol = tol_slope + REL_TOLERANCE_SLOPE * jnp.abs(high[:, 2] - s[:, 2])
        ratio = jnp.maximum(jnp.maximum(jnp.abs(err[:, 0]), jnp.abs(err[:, 1])) / tol_mm,
                            jnp.maximum(jnp.abs(err[:, 2]), jnp.abs(err[:, 3])) / slope_tol)
        accept = ~done & ((ratio <= 1.0) | (h_try <= MIN_STEP_MM * (1 + 1e-6)))
        safe = jnp.maximum(ratio, 1e-30)
        scale = jnp.where(ratio > 1.0, jnp.maximum(_MIN_SCALE, _SAFETY * safe ** -0.25),
                          jnp.minimum(_MAX_SCALE, _SAFETY * safe ** -0.2))
        h_new = jnp.clip(jnp.maximum(h_try, MIN_STEP_MM) * scale, MIN_STEP_MM, MAX_STEP_MM).astype(dtype)
        finished = accept & last
        z_new = jnp.where(finished, z_end, jnp.where(accept, z + sign * h_try, z))
        s_new = jnp.where(accept[:, None], high, s)
        return (it + 1, z_new, s_new, jnp.where(done, h, h_new), done | finished, attempts + (~done).astype(jnp.int32))

    init = (jnp.asarray(0, jnp.int32), jnp.full((n,), z0_mm, dtype), states,
            jnp.full((n,), min(INITIAL_STEP_MM, MAX_STEP_MM), dtype), jnp.zeros((n,), bool),
            jnp.zeros((n,), jnp.int32))
    if dz == 0:
        return states, init[5], jnp.ones((n,), bool)
    _, _, s, _, done, attempts = jax.lax.while_loop(cond, body, init)
    return jnp.where(done[:, None], s, jnp.nan), attempts, done


@dataclass(frozen=True, eq=False)
class CashKarp:
    """The adaptive Cash–Karp extrapolator from ``z0_mm`` to ``z1_mm`` at tolerance ``tol_mm`` (a leaderboard
    predictor: ``end = CashKarp(...)(start)``, jit-able; a track that needs more than ``max_steps`` steps is NaN)."""

    z0_mm: float
    z1_mm: float
    tol_mm: float
    field_fn: FieldFn
    kappa: float = KAPPA_GEV_T_MM
    max_steps: int = MAX_STEPS

    def __post_init__(self) -> None:
        if not self.tol_mm > 0:
            msg = f"tol_mm must be > 0, found {self.tol_mm}"
            raise ValueError(msg)
        if self.max_steps < 1:
            msg = f"max_steps must be >= 1, found {self.max_steps}"
            raise ValueError(msg)

    def __call__(self, start: Array) -> Array:
        return cash_karp_batch(start, self.z0_mm, self.z1_mm, self.tol_mm, self.field_fn, self.kappa,
                               self.max_steps)[0]


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 5, 6, 7))
def _cash_karp_jit(states: Array, z0: float, z1: float, tol: float, fmap: Any, kappa: float, max_steps: int,
                   fn: FieldFn | None) -> tuple[Array, Array, Array]:
    return cash_karp_batch(states, z0, z1, tol, fmap if fn is None else fn, kappa, max_steps)


def cash_karp(states: Array, z0_mm: float, z1_mm: float, tol_mm: float = 1e-3, *, field: Any | None = None,
              kappa: float = KAPPA_GEV_T_MM, float64: bool = True, max_steps: int = MAX_STEPS
              ) -> tuple[np.ndarray, np.ndarray]:
    """Propagate states (N, 5) with the adaptive Cash–Karp RK4(5).

    Parameters
    ----------
    states
        (x [mm], y [mm], tx, ty, q/p [1/GeV]) per row.
    z0_mm, z1_mm
        Start and end planes (one for all states).
    tol_mm
        Tolerance on x and y per step (the slopes' follows, see the module).
    field
        As :func:`hepnb.tracks.propagate.rk4` (default: the study's map).
    kappa
        κ in GeV/(T·mm).
    float64
        Double (default) or single precision.
    max_steps
        Most attempted steps per track.

    Returns
    -------
    end, attempts
        End states (N, 5) and attempted steps per track.

    Raises
    ------
    ValueError
        Bad states or planes (:func:`~hepnb.tracks.propagate.check_states`), a tolerance ≤ 0, or tracks that did
        not reach ``z1_mm`` within ``max_steps`` steps.
    """
    if not tol_mm > 0:
        msg = f"tol_mm must be > 0, found {tol_mm}"
        raise ValueError(msg)
    fmap = default_field_map() if field is None else field
    is_map = isinstance(fmap, FieldMap)
    arr = check_states(states, field_map=fmap if is_map else None, z0_mm=z0_mm, z1_mm=z1_mm)
    dtype = np.float64 if float64 else np.float32
    with jax.enable_x64(float64):
        end, attempts, done = _cash_karp_jit(jnp.asarray(arr, dtype), float(z0_mm), float(z1_mm), float(tol_mm),
                                             fmap.astype(dtype) if is_map else None, kappa, int(max_steps),
                                             None if is_map else fmap)
        end, attempts, done = np.asarray(end), np.asarray(attempts), np.asarray(done)
    if not done.all():
        msg = (f"{int((~done).sum())} of {len(done)} tracks did not reach z1_mm = {z1_mm:g} mm within "
               f"max_steps = {max_steps} steps (first rows: {np.nonzero(~done)[0][:5].tolist()})")
        raise ValueError(msg)
    return end, attempts
