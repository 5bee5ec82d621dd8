"""Training to convergence for a vmapped stack of heads: a per-head reduce-on-plateau of the learning rate, read
on the host between compiled chunks of steps, and the stop once every head has converged.

Each head of a stack (:func:`hepnb.tracks.training.fit_heads`) has its own learning rate, a state entry of its
optimiser (:func:`plateau_optimizer`: ``optax.inject_hyperparams``, so the host can lower it between chunks
without recompiling). After every validation evaluation, :meth:`PlateauController.update` reads each head's
validation median: a head whose best value has not improved by more than ``threshold`` (relative) for
``patience`` evaluations has its learning rate multiplied by ``factor`` (never below ``min_lr_ratio`` of the peak), and a head
whose convergence record (:func:`hepnb.convergence.relative_convergence`) has said converged at
``stop_when_converged`` consecutive evaluations, after at least ``min_reductions`` reductions, is *done*
(with ``freeze_done`` its learning rate is then set to 0 while the others continue). The loop stops when
every head is done at the same evaluation (or at its step cap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optax

from hepnb.convergence import RELATIVE_TOLERANCE, relative_convergence

__all__ = ["PlateauController", "PlateauSettings", "plateau_optimizer", "set_learning_rates"]


@dataclass(frozen=True)
class PlateauSettings:
    """When a head's learning rate is lowered and when it is done.

    Attributes
    ----------
    patience
        Evaluations without an improvement of the best validation value after which the learning rate is lowered.
    factor
        The factor applied to the learning rate at each plateau (0 < factor < 1).
    threshold
        An evaluation improves the best value only when it is below ``best × (1 − threshold)``.
    min_lr_ratio
        The learning rate is never lowered below this fraction of the peak. Small: a head on the straight line
        predicts a correction whose spread is tens of millimetres, so that at 10⁻³ of the peak rate its
        validation median still moved by 2 % between evaluations.
    stop_when_converged
        Consecutive evaluations at which a head's convergence record must say converged for it to be done
        (0: never done, the loop runs to its cap). The name and meaning of :class:`hepnb.train.FitConfig`'s.
    rel_tolerance
        The convergence record's relative tolerance (:func:`hepnb.convergence.relative_convergence`).
    min_reductions
        Learning-rate reductions a head must have had before it can be done: a curve flat at the peak learning
        rate is often flat because of that rate's noise (a head on the degree-five polynomial base sat at
        118 µm from step 2,500 at the peak rate and went on to ~100 µm at lower rates).
    freeze_done
        Set a done head's learning rate to 0 for the rest of the training. Off by default: the heads of a vmapped
        stack cost the same frozen or not, and a head frozen at its first converged reading lost accuracy it would
        have gained at the lower rates the others still reach (11.3 µm frozen at step 5,250 against ~10 µm).
    """

    patience: int = 2
    factor: float = 0.3
    threshold: float = 0.01
    min_lr_ratio: float = 1e-4
    stop_when_converged: int = 2
    rel_tolerance: float = RELATIVE_TOLERANCE
    min_reductions: int = 1
    freeze_done: bool = False

    def __post_init__(self) -> None:
        if self.patience < 1 or not 0 < self.factor < 1 or self.threshold < 0 or not 0 < self.min_lr_ratio <= 1:
            msg = (f"need patience >= 1, 0 < factor < 1, threshold >= 0 and 0 < min_lr_ratio <= 1, found {self.patience}, "
                   f"{self.factor}, {self.threshold}, {self.min_lr_ratio}")
            raise ValueError(msg)
        if self.stop_when_converged < 0 or self.min_reductions < 0:
            msg = (f"stop_when_converged and min_reductions must be >= 0, found {self.stop_when_converged} and "
                   f"{self.min_reductions}")
            raise ValueError(msg)


@dataclass
class PlateauController:
    """The host-side state of the reduce-on-plateau of K heads (one learning rate each).

    Build it with :meth:`start`; call :meth:`update` after every evaluation with the heads' validation values
    (lower is better) and apply the returned learning rates with :func:`set_learning_rates`.
    """

    settings: PlateauSettings
    lr: np.ndarray
    min_lr: float
    best: np.ndarray
    since_best: np.ndarray
    converged_streak: np.ndarray
    done: np.ndarray
    reductions: np.ndarray
    frozen: np.ndarray
    curves: list[list[float]] = field(default_factory=list)

    @classmethod
    def start(cls, n_heads: int, lr: float, settings: PlateauSettings = PlateauSettings()) -> PlateauController:
        """K heads at learning rate ``lr``, none done."""
        if n_heads < 1 or not lr > 0:
            msg = f"need at least one head and lr > 0, found {n_heads} heads and lr {lr}"
            raise ValueError(msg)
        return cls(settings, np.full(n_heads, float(lr)), float(lr) * settings.min_lr_ratio, np.full(n_heads, np.inf), np.zeros(n_heads, int),
                   np.zeros(n_heads, int), np.zeros(n_heads, bool), np.zeros(n_heads, int), np.zeros(n_heads, bool),
                   [[] for _ in range(n_heads)])

    @property
    def all_done(self) -> bool:
        """Whether every head is done, or frozen (the loop may stop)."""
        return bool((self.done | self.frozen).all())

    def update(self, values: np.ndarray, *, may_stop: bool = True, may_lower: bool = True) -> np.ndarray:
        """Read one evaluation of every head; return the learning rates for the next steps (0 for a done head).

        Parameters
        ----------
        values
            The validation value of each head (K,), lower is better.
        may_stop
            Whether a head may be called done now (``False`` while the loss itself still changes, e.g. during
            the RK-PINN's residual anneal): its convergence streak is then not counted.
        may_lower
            Whether a plateau may lower a learning rate now (``False`` during the warm-up).
        """
        values = np.asarray(values, np.float64).ravel()
        if values.shape != self.lr.shape:
            msg = f"need one value per head ({self.lr.size}), found {values.size}"
            raise ValueError(msg)
        s = self.settings
        for i, v in enumerate(values):
            self.curves[i].append(float(v))
        improved = values < self.best * (1.0 - s.threshold)
        self.best = np.minimum(self.best, values)
        self.since_best = np.where(improved, 0, self.since_best + 1)
        plateau = (self.since_best >= s.patience) & ~self.frozen & may_lower
        self.reductions = self.reductions + plateau
        self.lr = np.where(plateau, np.maximum(self.lr * s.factor, self.min_lr), self.lr)
        self.since_best = np.where(plateau, 0, self.since_best)
        if s.stop_when_converged and may_stop:
            conv = np.array([relative_convergence(c, rel_tolerance=s.rel_tolerance).converged for c in self.curves])
            self.converged_streak = np.where(conv, self.converged_streak + 1, 0)
            self.done = (self.converged_streak >= s.stop_when_converged) & (self.reductions >= s.min_reductions)
            if s.freeze_done:
                self.frozen |= self.done
        return np.where(self.frozen, 0.0, self.lr)


def plateau_optimizer(lr: float, *, warmup_steps: int, weight_decay: float,
                      clip_norm: float = 1.0) -> optax.GradientTransformation:
    """AdamW after gradient clipping, with its learning rate a state entry (``inject_hyperparams``) that
    :func:`set_learning_rates` overwrites, times a linear warm-up over ``warmup_steps`` steps."""
    warmup = max(int(warmup_steps), 1)

    def ramp(count: Any) -> Any:
        return optax.linear_schedule(1.0 / warmup, 1.0, warmup)(count)

    return optax.chain(optax.clip_by_global_norm(clip_norm),
                       optax.inject_hyperparams(optax.adamw)(learning_rate=lr, weight_decay=weight_decay),
                       optax.scale_by_schedule(ramp))


def set_learning_rates(opt_state: Any, lr: np.ndarray) -> Any:
    """The stacked state of :func:`plateau_optimizer` with each head's learning rate set to ``lr`` (K,)."""
    import jax.numpy as jnp

    clip, adamw, ramp = opt_state
    current = adamw.hyperparams["learning_rate"]
    hyper = {**adamw.hyperparams, "learning_rate": jnp.asarray(lr, current.dtype).reshape(current.shape)}
    return (clip, adamw._replace(hyperparams=hyper), ramp)
