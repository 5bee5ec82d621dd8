"""Learned extrapolators: a plain MLP and an RK-PINN, each in eight sizes.

**MLP**: the network maps the normalised start state to the correction of the straight line,
``s₁ = line(s₀) + (q/p)/(q/p)_rms · σ ⊙ NN(ŝ₀)``. The factor q/p puts the leading physics in by hand: the
bend is linear in q/p, so the network learns the correction per unit of q/p, which varies slowly.

**RK-PINN** (the definition used in this book): a coarse Runge–Kutta integration through the field
map whose result a network corrects, as a function of the position along the leg ζ = (z − z₀)/L:

    s(ζ) = RK4_n(s₀; z₀ → z₀ + ζL) + ζ · (q/p)/(q/p)_rms · σ ⊙ NN(ŝ₀, ζ)

so s(0) = s₀ exactly. It is trained with the data loss at ζ = 1 plus the residual of the equations of
motion, ‖ds/dz − f(z, s)‖², at random collocation points ζ ∈ (0, 1], where ds/dz is obtained by
forward-mode automatic differentiation in z through both the RK integration and the network. At
inference only ζ = 1 is evaluated: n RK4 steps (4n field look-ups) plus one network pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hepnb.tracks.propagate import derivatives, rk4_fixed

__all__ = ["FAMILIES", "SIZES", "MLPExtrapolator", "RKPINNExtrapolator", "build_model", "n_params"]

#: Hidden-layer widths of the eight sizes (about 3 K to 530 K parameters).
SIZES: dict[str, tuple[int, ...]] = {
    "tiny": (48, 48),
    "small": (64, 64, 64),
    "balanced": (128, 128, 128),
    "wide_shallow": (512, 256),
    "wide": (512, 512),
    "large": (256, 256, 256, 256),
    "deep": (128,) * 8,
    "xlarge": (512, 512, 512),
}
FAMILIES = ("mlp", "rkpinn")

Array = Any


class _Net(nnx.Module):
    """SiLU multilayer perceptron; the last layer starts at zero so training starts from the baseline."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, *, rngs: nnx.Rngs) -> None:
        widths = [n_in, *hidden]
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(widths)])
        self.out = nnx.Linear(widths[-1], n_out, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def __call__(self, x: Array) -> Array:
        for layer in self.hidden:
            x = nnx.silu(layer(x))
        return self.out(x)


class _Extrapolator(nnx.Module):
    """Shared parts: input normalisation and output scale, stored with the weights."""

    def __init__(self, in_mean: Array, in_std: Array, out_scale: Array, qop_rms: float, z0_mm: float,
                 z1_mm: float) -> None:
        self.qop_rms = nnx.Variable(jnp.asarray(qop_rms, jnp.float32))
        self.in_mean = nnx.Variable(jnp.asarray(in_mean, jnp.float32))
        self.in_std = nnx.Variable(jnp.asarray(in_std, jnp.float32))
        self.out_scale = nnx.Variable(jnp.asarray(out_scale, jnp.float32))
        self.z0_mm = float(z0_mm)
        self.z1_mm = float(z1_mm)

    @property
    def dz_mm(self) -> float:
        return self.z1_mm - self.z0_mm

    def normalise(self, start: Array) -> Array:
        return (start - self.in_mean[...]) / self.in_std[...]

    def correction_scale(self, start: Array) -> Array:
        """Per-track scale of the learned correction, (q/p)/(q/p)_rms ⊙ σ, shaped (N, 4)."""
        return (start[:, 4:5] / self.qop_rms[...]) * self.out_scale[...]


class MLPExtrapolator(_Extrapolator):
    """Straight line plus a learned correction."""

    family = "mlp"

    def __init__(self, hidden: Sequence[int], *, in_mean: Array, in_std: Array, out_scale: Array, qop_rms: float,
                 z0_mm: float, z1_mm: float, rngs: nnx.Rngs) -> None:
        super().__init__(in_mean, in_std, out_scale, qop_rms, z0_mm, z1_mm)
        self.net = _Net(5, hidden, 4, rngs=rngs)

    def base(self, start: Array) -> Array:
        """The straight line to the end plane (positions and slopes)."""
        return jnp.concatenate([start[:, :2] + start[:, 2:4] * self.dz_mm, start[:, 2:4]], axis=1)

    def __call__(self, start: Array) -> Array:
        out = self.base(start) + self.net(self.normalise(start)) * self.correction_scale(start)
        return jnp.concatenate([out, start[:, 4:5]], axis=1)


class RKPINNExtrapolator(_Extrapolator):
    """Coarse RK4 through the field map corrected by a network, as a function of ζ along the leg."""

    family = "rkpinn"

    def __init__(self, hidden: Sequence[int], *, in_mean: Array, in_std: Array, out_scale: Array, qop_rms: float,
                 z0_mm: float, z1_mm: float, field_fn: Any, kappa: float, n_coarse: int = 2,
                 pde_weight: float = 1e-2, rngs: nnx.Rngs) -> None:
        super().__init__(in_mean, in_std, out_scale, qop_rms, z0_mm, z1_mm)
        self.net = _Net(6, hidden, 4, rngs=rngs)
        self.field_fn = field_fn
        self.kappa = float(kappa)
        self.n_coarse = int(n_coarse)
        self.pde_weight = float(pde_weight)

    def base(self, start: Array, zeta: Array | None = None) -> Array:
        """The coarse RK4 integration to ζ (default 1), positions and slopes."""
        z_end = self.z1_mm if zeta is None else self.z0_mm + zeta * self.dz_mm
        return rk4_fixed(start, self.z0_mm, z_end, self.n_coarse, self.field_fn, self.kappa)[:, :4]

    def state_at(self, start: Array, zeta: Array) -> Array:
        """The predicted (x, y, tx, ty) at ζ ∈ [0, 1] for each track (``zeta`` shaped (N,))."""
        features = jnp.concatenate([self.normalise(start), zeta[:, None]], axis=1)
        return self.base(start, zeta) + zeta[:, None] * self.net(features) * self.correction_scale(start)

    def __call__(self, start: Array) -> Array:
        out = self.state_at(start, jnp.ones(start.shape[0], start.dtype))
        return jnp.concatenate([out, start[:, 4:5]], axis=1)

    def ode_residual(self, start: Array, zeta: Array) -> Array:
        """(ds/dz − f(z, s)) · L / σ at ζ, by forward-mode differentiation in z (dimensionless)."""
        value, ds_dzeta = jax.jvp(lambda t: self.state_at(start, t), (zeta,), (jnp.ones_like(zeta),))
        state = jnp.concatenate([value, start[:, 4:5]], axis=1)
        f = derivatives(self.z0_mm + zeta * self.dz_mm, state, self.field_fn, self.kappa)[:, :4]
        return (ds_dzeta / self.dz_mm - f) * self.dz_mm / self.out_scale[...]  # σ: global scale, not per track


def build_model(family: str, size: str, *, stats: dict[str, np.ndarray], z0_mm: float, z1_mm: float,
                field_fn: Any = None, kappa: float | None = None, seed: int = 0, n_coarse: int = 2,
                pde_weight: float = 1e-2) -> MLPExtrapolator | RKPINNExtrapolator:
    """Build one model of the zoo; an unknown family or size is refused with the valid choices."""
    if family not in FAMILIES:
        msg = f"unknown model family {family!r}; choose one of {list(FAMILIES)}"
        raise ValueError(msg)
    if size not in SIZES:
        msg = f"unknown model size {size!r}; choose one of {list(SIZES)}"
        raise ValueError(msg)
    rngs = nnx.Rngs(seed)
    common = {"in_mean": stats["in_mean"], "in_std": stats["in_std"], "qop_rms": float(stats["qop_rms"]),
              "z0_mm": z0_mm, "z1_mm": z1_mm, "rngs": rngs}
    if family == "mlp":
        return MLPExtrapolator(SIZES[size], out_scale=stats["mlp_scale"], **common)
    return RKPINNExtrapolator(SIZES[size], out_scale=stats["rkpinn_scale"], field_fn=field_fn, kappa=kappa,
                              n_coarse=n_coarse, pde_weight=pde_weight, **common)


def n_params(model: nnx.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(np.size(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))))
