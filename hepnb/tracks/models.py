"""Learned extrapolators: a network that corrects a cheap physics base, in two families.

Every learned model is ``end = base(s₀) + g(s₀) ⊙ (μ + σ ⊙ NN(ŝ₀))`` for (x, y, tx, ty), with q/p carried
through:

- ``base`` is a cheap extrapolation (:mod:`hepnb.tracks.bases`): the straight line, the single kick, an
  LHCb-style polynomial or RK4 with a few steps through the field map;
- g = (q/p)/(q/p)_rms: the bend is linear in q/p to first order, so the network learns the correction per
  unit of q/p, which varies slowly (for bases that are exact at q/p = 0: the line, the kick and RK4; a
  polynomial base is not, and its head has g = 1);
- μ and σ are the mean and standard deviation of that correction per unit of q/p over the training set (the
  target is standardised by both: with σ alone, the network would have to learn an offset of many σ);
- ŝ₀ is the start state standardised by the training set's mean and standard deviation, and NN a SiLU
  network whose last layer starts at zero (training starts from base + μ).

**MLP** (``family="mlp"``): the formula above; with the straight line as base it is the classic MLP
extrapolator with standardised targets, with another base a residual model.

**RK-PINN** (``family="rkpinn"``, the definition used in this book): the base is RK4 with ``n_coarse`` steps,
and the prediction is a function of the position along the leg ζ = (z − z₀)/L,

    s(ζ) = RK4_n(s₀; z₀ → z₀ + ζL) + ζ · g ⊙ (μ + σ ⊙ NN(ŝ₀, ζ)),

so s(0) = s₀ exactly. Besides the data loss at ζ = 1 it is trained with the residual of the equations of
motion at random ζ, (ds/dζ − L f(z, s)) / (g σ) — normalised per track in the units of the standardised
target, so that low- and high-momentum tracks weigh alike and the residual neither dominates nor vanishes
against the data loss. At inference only ζ = 1 is evaluated: n RK4 steps (4n field look-ups) and one network
pass.

The network and its normalisation are a :class:`Head` (Flax NNX: what is trained and checkpointed); a
:class:`LearnedExtrapolator` joins a head to its base.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hepnb.tracks.arrays import Array
from hepnb.tracks.bases import Base

__all__ = ["FAMILIES", "SIZES", "Head", "LearnedExtrapolator", "build_head", "n_params"]

#: Hidden-layer widths of the sizes (about 0.8 K to 530 K parameters).
SIZES: dict[str, tuple[int, ...]] = {
    "tiny": (24, 24),
    "small": (48, 48),
    "balanced": (64, 64, 64),
    "medium": (128, 128),
    "wide_shallow": (512, 256),
    "wide": (512, 512),
    "large": (256, 256, 256, 256),
    "deep": (128,) * 8,
    "xlarge": (512, 512, 512),
}
FAMILIES = ("mlp", "rkpinn")



class _Net(nnx.Module):
    """SiLU multilayer perceptron; the last layer starts at zero."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, *, rngs: nnx.Rngs) -> None:
        widths = [n_in, *hidden]
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(widths)])
        self.out = nnx.Linear(widths[-1], n_out, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def __call__(self, x: Array) -> Array:
        for layer in self.hidden:
            x = nnx.silu(layer(x))
        return self.out(x)


class Head(nnx.Module):
    """The trained part of a learned extrapolator: the network and the normalisation of its inputs and target.

    Parameters
    ----------
    hidden
        Hidden-layer widths.
    family
        ``"mlp"`` (input ŝ₀) or ``"rkpinn"`` (input ŝ₀ and ζ).
    stats
        ``in_mean``, ``in_std`` (5,), ``out_mean``, ``out_std`` (4,) and ``qop_rms``: see
        :func:`hepnb.tracks.training.target_stats`.
    """

    def __init__(self, hidden: Sequence[int], *, family: str, stats: dict[str, Any], rngs: nnx.Rngs,
                 per_qop: bool = True) -> None:
        if family not in FAMILIES:
            msg = f"unknown model family {family!r}; choose one of {list(FAMILIES)}"
            raise ValueError(msg)
        self.family = family
        # a variable, not a static attribute: heads with and without the scaling are trained in one stack
        self.qop_scaled = nnx.Variable(jnp.asarray(1.0 if per_qop else 0.0, jnp.float32))
        self.hidden_widths = tuple(int(h) for h in hidden)
        self.in_mean = nnx.Variable(jnp.asarray(stats["in_mean"], jnp.float32))
        self.in_std = nnx.Variable(jnp.asarray(stats["in_std"], jnp.float32))
        self.out_mean = nnx.Variable(jnp.asarray(stats["out_mean"], jnp.float32))
        self.out_std = nnx.Variable(jnp.asarray(stats["out_std"], jnp.float32))
        self.qop_rms = nnx.Variable(jnp.asarray(stats["qop_rms"], jnp.float32))
        self.net = _Net(6 if family == "rkpinn" else 5, hidden, 4, rngs=rngs)

    @property
    def per_qop_scaled(self) -> bool:
        """Whether the correction is learned per unit of q/p."""
        return bool(self.qop_scaled[...] > 0.5)

    def features(self, start: Array, zeta: Array | None = None) -> Array:
        """Standardised inputs (N, 5), with ζ appended for the RK-PINN."""
        s_hat = (start.astype(jnp.float32) - self.in_mean[...]) / self.in_std[...]
        if self.family == "mlp":
            return s_hat
        z = jnp.ones((start.shape[0], 1), jnp.float32) if zeta is None else zeta.reshape(-1, 1).astype(jnp.float32)
        return jnp.concatenate([s_hat, z], axis=1)

    def per_qop(self, start: Array) -> Array:
        """g = (q/p)/(q/p)_rms, shaped (N, 1) (ones for a head without the per-q/p scaling)."""
        g = start[:, 4:5].astype(jnp.float32) / self.qop_rms[...]
        return jnp.where(self.qop_scaled[...] > 0.5, g, jnp.ones_like(g))

    def standardised(self, start: Array, zeta: Array | None = None) -> Array:
        """The network's output NN(ŝ₀[, ζ]) (N, 4): the standardised target."""
        return self.net(self.features(start, zeta))

    def correction(self, start: Array, zeta: Array | None = None) -> Array:
        """g ⊙ (μ + σ ⊙ NN) (N, 4), in mm and rad: what is added to the base (times ζ for the RK-PINN)."""
        y = self.standardised(start, zeta)
        return self.per_qop(start) * (self.out_mean[...] + self.out_std[...] * y)


@dataclass(frozen=True, eq=False)
class LearnedExtrapolator:
    """A head on its base; call it on start states (N, 5) to get end states (N, 5) in float32."""

    name: str
    head: Head
    base: Base

    @property
    def family(self) -> str:
        """``"mlp"`` or ``"rkpinn"``."""
        return self.head.family

    def __call__(self, start: Array) -> Array:
        s = start.astype(jnp.float32)
        out = self.base(s)[:, :4] + self.head.correction(s)
        return jnp.concatenate([out, s[:, 4:5]], axis=1)

    def state_at(self, start: Array, zeta: Array) -> Array:
        """(x, y, tx, ty) at ζ ∈ [0, 1] along the leg (``zeta`` shaped (N,)); the RK-PINN only."""
        if self.family != "rkpinn":
            msg = f"state_at is defined for the RK-PINN, not for family {self.family!r}"
            raise ValueError(msg)
        s = start.astype(jnp.float32)
        return self.base.at(s, zeta)[:, :4] + zeta[:, None] * self.head.correction(s, zeta)


def build_head(family: str, size: str, *, stats: dict[str, Any], seed: int = 0, per_qop: bool = True) -> Head:
    """A fresh head of the zoo; an unknown family or size is refused with the valid choices."""
    if size not in SIZES:
        msg = f"unknown model size {size!r}; choose one of {list(SIZES)}"
        raise ValueError(msg)
    return Head(SIZES[size], family=family, stats=stats, rngs=nnx.Rngs(seed), per_qop=per_qop)


def n_params(model: nnx.Module | LearnedExtrapolator) -> int:
    """Number of trainable parameters of a head (or of a learned extrapolator's head)."""
    head = model.head if isinstance(model, LearnedExtrapolator) else model
    return int(sum(np.size(x) for x in jax.tree.leaves(nnx.state(head, nnx.Param))))
