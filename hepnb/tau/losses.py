"""Task losses of the tau study (reference/tau.md §2, MultiParTau_module.py).

* tau ID: cross-entropy with label smoothing 0.1;
* charge: binary cross-entropy with logits (multi-task head) or 2-class cross-entropy (single-task), τ jets only;
* decay mode: 6-class cross-entropy, τ jets only;
* kinematics, τ jets only: Huber (δ = 1) on log pT, Δη and log m plus the "φ chord"
  √((Δ sin)² + (Δ cos)² + 1e-8), combined as (L_pT + L_η + L_chord + 0.2 L_m) / 3.2. With a ``kin_scale``
  (the spread σ of each target on the training τ jets, :func:`hepnb.tau.models.kinematic_scale`) the residuals
  are in units of σ (the chord's in units of σ(sin Δφ)): the Huber loss is then quadratic within 1σ and linear
  beyond, so the few jets with a lost neutral hadron or photon, tens of σ off, do not set the fit, and the core
  of the response, where the resolution (q75 − q25)/median is measured, does. Without it (the tau code's
  loss, ``kin_scale=None``) δ = 1 is about 80σ of log pT: a mean-squared error that the tails dominate.

Per-task weighting as the tau code's ``_compute_per_task_losses``: every per-jet loss is multiplied by the jet's
(p, θ) weight; the tau-ID loss is the mean over all jets of the batch, each signal-only loss the mean over its τ
jets (zero when it has none). The task weights (1, 1, 1, 2) then multiply the task losses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax.numpy as jnp
import optax
from flax import nnx
from jax import Array

from hepnb.tau.models import TASKS

__all__ = ["TASK_WEIGHTS", "MultiTaskLoss", "SingleTaskLoss", "task_loss"]

#: Task weights of the tau code: tau ID 1, decay mode 1, charge 1, kinematics 2.
TASK_WEIGHTS: dict[str, float] = {"tau_id": 1.0, "decay_mode": 1.0, "charge": 1.0, "kinematics": 2.0}
_LABEL_SMOOTHING = 0.1

Batch = Mapping[str, Array]


def _masked_mean(values: Array, mask: Array) -> Array:
    mask = mask.astype(jnp.float32)
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def _signal_mean(per_jet: Array, batch: Batch) -> Array:
    """Mean of the (p, θ)-weighted per-jet losses over the batch's τ jets."""
    return _masked_mean(per_jet * batch["weight"], batch["is_tau"])


def _tau_id(logits: Array, batch: Batch) -> Array:
    target = optax.smooth_labels(jnp.eye(2)[batch["is_tau"]], _LABEL_SMOOTHING)
    return jnp.mean(optax.softmax_cross_entropy(logits, target) * batch["weight"])


def _charge(logits: Array, batch: Batch) -> Array:
    if logits.shape[-1] == 1:
        per_jet = optax.sigmoid_binary_cross_entropy(logits[:, 0], batch["charge"].astype(jnp.float32))
    else:
        per_jet = optax.softmax_cross_entropy_with_integer_labels(logits, batch["charge"])
    return _signal_mean(per_jet, batch)


def _decay_mode(logits: Array, batch: Batch) -> Array:
    per_jet = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.maximum(batch["decay_mode"], 0))
    return _signal_mean(per_jet, batch)


def _kinematics(pred: Array, batch: Batch, scale: tuple[float, ...] | None = None) -> Array:
    target = batch["kin_targets"]
    sigma = jnp.ones(pred.shape[-1], jnp.float32) if scale is None else jnp.asarray(scale, jnp.float32)
    residual = (pred - target) / sigma
    huber = optax.huber_loss(residual, jnp.zeros_like(residual), delta=1.0)
    chord = jnp.sqrt(residual[:, 2] ** 2 + ((pred[:, 3] - target[:, 3]) / sigma[2]) ** 2 + 1e-8)
    per_jet = (huber[:, 0] + huber[:, 1] + chord + 0.2 * huber[:, 4]) / 3.2
    return _signal_mean(per_jet, batch)


_LOSSES = {"tau_id": _tau_id, "charge": _charge, "decay_mode": _decay_mode, "kinematics": _kinematics}


def task_loss(task: str, outputs: Array, batch: Batch, *, kin_scale: tuple[float, ...] | None = None) -> Array:
    """The loss of one task on a batch.

    Parameters
    ----------
    task
        One of :data:`hepnb.tau.models.TASKS`.
    outputs
        The task's network outputs ``[B, n_out]`` (float32).
    batch
        ``is_tau``, ``charge``, ``decay_mode`` (−1 for background), ``kin_targets`` [B, 5] and ``weight``.
    kin_scale
        The kinematic residuals' units (5 values); ``None``: the tau code's unscaled loss.
    """
    if task not in _LOSSES:
        msg = f"unknown task {task!r}; expected one of {list(TASKS)}"
        raise ValueError(msg)
    if task == "kinematics":
        return _kinematics(outputs.astype(jnp.float32), batch, kin_scale)
    return _LOSSES[task](outputs.astype(jnp.float32), batch)


def _apply(model: nnx.Module, batch: Batch) -> Array | dict[str, Array]:
    return model(batch["features"], batch["p4"], batch["mask"])  # type: ignore[operator]


@dataclass(frozen=True)
class MultiTaskLoss:
    """Weighted sum of the task losses of a :class:`~hepnb.tau.models.MultiParTau` (a hashable loss_fn).

    Attributes
    ----------
    tasks
        Task names, in the model's order.
    weights
        One weight per task.
    kin_scale
        Units of the kinematic residuals (:func:`task_loss`); ``None``: the tau code's unscaled loss.
    """

    tasks: tuple[str, ...] = TASKS
    weights: tuple[float, ...] = tuple(TASK_WEIGHTS[t] for t in TASKS)
    kin_scale: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in _LOSSES]
        if unknown or len(self.weights) != len(self.tasks):
            msg = (f"tasks must be a subset of {list(TASKS)} with one weight each; found tasks {list(self.tasks)} "
                   f"and {len(self.weights)} weights")
            raise ValueError(msg)

    def weighted_losses(self, model: nnx.Module, batch: Batch) -> tuple[Array, dict[str, Array]]:
        """The vector of weighted task losses ``[T]`` and the unweighted ones by name."""
        outputs = _apply(model, batch)
        losses = jnp.stack([task_loss(t, outputs[t], batch, kin_scale=self.kin_scale)  # type: ignore[index]
                            for t in self.tasks])
        return losses * jnp.asarray(self.weights), {t: losses[i] for i, t in enumerate(self.tasks)}

    def __call__(self, model: nnx.Module, batch: Batch) -> tuple[Array, dict[str, Array]]:
        losses, aux = self.weighted_losses(model, batch)
        return jnp.sum(losses), aux


@dataclass(frozen=True)
class SingleTaskLoss:
    """The loss of a single-output model for one task (a hashable loss_fn); ``kin_scale`` as
    :class:`MultiTaskLoss`'s."""

    task: str
    kin_scale: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.task not in _LOSSES:
            msg = f"unknown task {self.task!r}; expected one of {list(TASKS)}"
            raise ValueError(msg)

    def __call__(self, model: nnx.Module, batch: Batch) -> tuple[Array, dict[str, Array]]:
        loss = task_loss(self.task, _apply(model, batch), batch, kin_scale=self.kin_scale)  # type: ignore[arg-type]
        return loss, {}
