"""Cheap extrapolations: the baselines of the leaderboard and the bases that learned models correct.

Each is a callable ``base(start) -> end`` on float32 start states (N, 5) (x, y, tx, ty, q/p) giving end states
(N, 5) on the leg's last plane:

- :class:`LineBase`, the straight line (no field);
- :class:`KickBase`, one slope kick at the field-weighted centre of the leg from the on-axis ∫By dz, straight
  lines before and after (as the kick approximations of LHCb's pattern recognition);
- :class:`RK4Base`, fixed-step RK4 with ``n_steps`` equal steps through the field map (``at`` integrates to a
  fraction ζ of the leg, as the RK-PINN needs);
- the LHCb-style polynomial, :class:`hepnb.tracks.polynomial.PolynomialExtrapolator`, is one too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hepnb.tracks.arrays import Array, FieldFn
from hepnb.tracks.constants import KAPPA_GEV_T_MM
from hepnb.tracks.propagate import rk4_fixed, single_kick, straight_line

__all__ = ["Base", "KickBase", "LineBase", "RK4Base", "describe", "kick_base"]

#: ``base(start) -> end``, both (N, 5).
Base = Callable[[Array], Array]


@dataclass(frozen=True, eq=False)
class LineBase:
    """The straight line over ``dz_mm``."""

    dz_mm: float

    def __call__(self, start: Array) -> Array:
        return straight_line(start, jnp.asarray(self.dz_mm, start.dtype))


@dataclass(frozen=True, eq=False)
class KickBase:
    """One kick at ``z_kick_mm`` from the on-axis ∫By dz over the leg (:func:`kick_base` measures both)."""

    z0_mm: float
    z1_mm: float
    z_kick_mm: float
    by_integral_t_mm: float
    kappa: float = KAPPA_GEV_T_MM

    def __call__(self, start: Array) -> Array:
        return single_kick(start, self.z0_mm, self.z1_mm, self.z_kick_mm, self.by_integral_t_mm, self.kappa)


@dataclass(frozen=True, eq=False)
class RK4Base:
    """RK4 with ``n_steps`` equal steps from ``z0_mm`` to ``z1_mm`` through ``field_fn`` (steps unrolled)."""

    n_steps: int
    z0_mm: float
    z1_mm: float
    field_fn: FieldFn
    kappa: float = KAPPA_GEV_T_MM

    def __call__(self, start: Array) -> Array:
        return rk4_fixed(start, self.z0_mm, self.z1_mm, self.n_steps, self.field_fn, self.kappa,
                         unroll=self.n_steps <= 4)

    def at(self, start: Array, zeta: Array) -> Array:
        """RK4 with ``n_steps`` steps to z₀ + ζ (z₁ − z₀), per track (``zeta`` shaped (N,))."""
        z_end = self.z0_mm + zeta.astype(start.dtype) * (self.z1_mm - self.z0_mm)
        return rk4_fixed(start, self.z0_mm, z_end, self.n_steps, self.field_fn, self.kappa, unroll=True)


def kick_base(field_fn: FieldFn, z0_mm: float, z1_mm: float, kappa: float = KAPPA_GEV_T_MM) -> KickBase:
    """The single kick of a leg: ∫By dz on axis from ``z0_mm`` to ``z1_mm`` and its By-weighted centre."""
    z = np.linspace(z0_mm, z1_mm, 4001)
    with jax.enable_x64(True):
        by = np.asarray(field_fn(np.zeros_like(z), np.zeros_like(z), z)[1], dtype=np.float64)
    integral = float(np.trapezoid(by, z))
    z_kick = float(np.trapezoid(by * z, z) / integral) if integral != 0 else float(np.mean(z))
    return KickBase(float(z0_mm), float(z1_mm), z_kick, integral, float(kappa))


def describe(base: Any) -> dict[str, Any]:
    """A JSON-able description of a base (what a checkpoint's config records)."""
    from hepnb.tracks.polynomial import PolynomialExtrapolator

    if isinstance(base, LineBase):
        return {"kind": "line", "dz_mm": base.dz_mm}
    if isinstance(base, KickBase):
        return {"kind": "kick", "z0_mm": base.z0_mm, "z1_mm": base.z1_mm, "z_kick_mm": base.z_kick_mm,
                "by_integral_t_mm": base.by_integral_t_mm, "kappa": base.kappa}
    if isinstance(base, RK4Base):
        return {"kind": "rk4", "n_steps": base.n_steps, "z0_mm": base.z0_mm, "z1_mm": base.z1_mm,
                "kappa": base.kappa}
    if isinstance(base, PolynomialExtrapolator):
        return {"kind": "poly", "degree": base.degree, "basis": base.basis, "dz_mm": base.dz_mm,
                "centre": base.centre.tolist(), "half_range": base.half_range.tolist(), "coef": base.coef.tolist(),
                "rotation": None if base.rotation is None else base.rotation.tolist()}
    msg = f"cannot describe a base of type {type(base).__name__}"
    raise TypeError(msg)
