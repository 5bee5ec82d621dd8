"""How the tau networks train (hepnb.tau.training): the optimiser warms up over one epoch to a constant rate; the
rate is halved on a plateau of the validation loss down to a sixteenth (hepnb.plateau, the PID study's rule); the
validation cadence follows ``eval_steps``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hepnb.plateau import plateau_step
from hepnb.tau import training


def test_warm_up_over_one_epoch_then_a_constant_rate() -> None:
    """Adam's step with a constant gradient is the learning rate itself: it rises linearly from lr/10 over the
    first epoch (4 steps), then stays at lr (the optimiser itself never lowers it: the plateau does)."""
    lr = 1e-2
    tx = training._optimizer(lr, steps_per_epoch=4, weight_decay=0.0)
    params = {"w": jnp.zeros(())}
    state = tx.init(params)
    update = jax.jit(lambda s: tx.update({"w": jnp.ones(())}, s, params))
    sizes = []
    for _ in range(40):
        updates, state = update(state)
        sizes.append(abs(float(updates["w"])))
    np.testing.assert_allclose(sizes[:4], lr * np.array([0.1, 0.325, 0.55, 0.775]), rtol=1e-3)  # linear, lr/10 → lr
    np.testing.assert_allclose(sizes[4:], lr, rtol=1e-3)


def test_the_plateau_halves_on_a_flat_validation_loss_down_to_a_sixteenth() -> None:
    """Two evaluations per epoch: a validation loss that never beats its first value by 1 % halves the rate every
    two evaluations, 1 → ½ → ¼ → ⅛ → 1/16, and no lower; one falling by 5 % per evaluation is never cut."""
    plateau = training.network_plateau(2)
    sched = (jnp.float32(1.0), jnp.float32(jnp.inf), jnp.int32(0))
    factors = []
    for value in [1.0] + [0.995] * 11:
        sched = plateau_step(plateau, sched, jnp.float32(value))
        factors.append(float(sched[0]))
    assert factors == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625, 0.0625, 0.0625, 0.0625]
    sched = (jnp.float32(1.0), jnp.float32(jnp.inf), jnp.int32(0))
    for i in range(12):
        sched = plateau_step(plateau, sched, jnp.float32(0.95**i))
    assert float(sched[0]) == 1.0


def test_evaluations_per_epoch_follow_eval_steps() -> None:
    cfg = training.TrainingConfig(10, 128, eval_steps=5)
    assert cfg.evals_per_epoch(21) == 4 and cfg.evals_per_epoch(9) == 1 and cfg.evals_per_epoch(3) == 1
    with pytest.raises(ValueError, match="eval_steps"):
        training.TrainingConfig(10, 128, eval_steps=0)
