"""Cutting the learning rate on a plateau of the validation curve, per evaluation of :func:`hepnb.train.fit`.

:func:`hepnb.train.fit` keeps the plateau's state on the device beside the model's: after each evaluation
:func:`plateau_step` compares the curve the Book's convergence rule reads (:mod:`hepnb.convergence`) with its best
value so far and, after enough evaluations without an improvement, multiplies the rate factor; the optimiser's
updates are multiplied by that factor (:func:`scale_by_lr_factor`, chained after the optimiser), which for Adam or
AdamW is the same as multiplying its learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

from hepnb.convergence import RELATIVE_TOLERANCE

__all__ = ["Plateau", "evaluations_at_floor", "plateau_step", "scale_by_lr_factor"]


@dataclass(frozen=True)
class Plateau:
    """A learning rate cut on a plateau of the validation curve, decided at every evaluation of :func:`hepnb.train.fit`.

    After each evaluation the curve the convergence record reads (``FitConfig.convergence_metric``, lower is
    better) is compared with its best value so far: a value lower by more than ``threshold`` × |best| is an
    improvement; after ``patience`` evaluations without one, the learning rate is multiplied by ``factor``, never
    below ``min_scale`` × the optimiser's own rate. Unlike a schedule read on the training loss, it cuts the rate
    where the validation curve stops improving, so that the curve the Book's rule reads flattens.

    Attributes
    ----------
    factor
        Multiplies the rate at each cut (0 < factor < 1).
    patience
        Evaluations without an improvement before a cut (≥ 1).
    threshold
        The smallest relative improvement that counts (≥ 0).
    min_scale
        The floor of the rate, relative to the optimiser's (0 < min_scale ≤ 1).
    """

    factor: float = 0.5
    patience: int = 4
    threshold: float = RELATIVE_TOLERANCE
    min_scale: float = 1.0 / 64

    def __post_init__(self) -> None:
        if not (0 < self.factor < 1 and self.patience >= 1 and self.threshold >= 0 and 0 < self.min_scale <= 1):
            msg = (f"a plateau needs 0 < factor < 1, patience >= 1, threshold >= 0 and 0 < min_scale <= 1, found "
                   f"factor {self.factor}, patience {self.patience}, threshold {self.threshold}, "
                   f"min_scale {self.min_scale}")
            raise ValueError(msg)


def scale_by_lr_factor() -> optax.GradientTransformationExtraArgs:
    """Multiply the updates by the ``lr_factor`` passed to the optimiser's update (the rate of a :class:`Plateau`)."""

    def init(params: Any) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update(updates: Any, state: optax.EmptyState, params: Any = None, *, lr_factor: jax.Array,
               **extra: Any) -> tuple[Any, optax.EmptyState]:
        del params, extra
        return jax.tree.map(lambda u: u * lr_factor.astype(u.dtype), updates), state

    return optax.GradientTransformationExtraArgs(init, update)


def plateau_step(plateau: Plateau, sched: tuple[jax.Array, jax.Array, jax.Array], value: jax.Array
                 ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The plateau's ``(factor, best, evaluations since an improvement)`` after an evaluation of ``value`` (traced)."""
    factor, best, since = sched
    bar = jnp.where(jnp.isfinite(best), best - plateau.threshold * jnp.abs(best), jnp.inf)  # no 0 × inf before a best
    better = value < bar
    best = jnp.where(better, value, best)
    since = jnp.where(better, 0, since + 1)
    cut = since >= plateau.patience
    factor = jnp.where(cut, jnp.maximum(factor * plateau.factor, plateau.min_scale), factor)
    return factor, best, jnp.where(cut, 0, since)


def evaluations_at_floor(factors: Sequence[float], floor: float) -> int:
    """How many of the last evaluations trained at the floor rate, from the rate factor of each evaluation's steps.

    Examples
    --------
    >>> evaluations_at_floor([1.0, 0.5, 0.25, 0.25], 0.25), evaluations_at_floor([1.0, 0.5], 0.25)
    (2, 0)
    """
    n = 0
    for factor in reversed(factors):
        if factor > floor:
            break
        n += 1
    return n
