"""How the tau networks train (hepnb.tau.training): the optimiser warms up over one epoch, then halves its rate
on a plateau of the training loss down to a sixteenth; the validation cadence follows ``eval_steps``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hepnb.tau import training


def _update_sizes(values: list[float], *, lr: float, steps_per_epoch: int, evals_per_epoch: int) -> np.ndarray:
    """|update| of one parameter with a constant gradient, the training loss fed at each step as ``values``."""
    tx = training._optimizer(lr, steps_per_epoch=steps_per_epoch, evals_per_epoch=evals_per_epoch, weight_decay=0.0)
    params = {"w": jnp.zeros(())}
    state = tx.init(params)
    update = jax.jit(lambda s, v: tx.update({"w": jnp.ones(())}, s, params, value=v))
    sizes = []
    for value in values:
        updates, state = update(state, jnp.asarray(value, jnp.float32))
        sizes.append(abs(float(updates["w"])))
    return np.asarray(sizes)


def test_warm_up_then_halvings_on_a_plateau_down_to_a_sixteenth() -> None:
    """Adam's step with a constant gradient is the learning rate itself: it rises linearly from lr/10 over the
    first epoch (4 steps), then, with a training loss that never improves, is halved (after one epoch of
    patience and one of cooldown) until it reaches lr/16, where it stays."""
    lr = 1e-2
    flat = _update_sizes([1.0] * 100, lr=lr, steps_per_epoch=4, evals_per_epoch=2)
    np.testing.assert_allclose(flat[:4], lr * np.array([0.1, 0.325, 0.55, 0.775]), rtol=1e-3)  # linear, lr/10 → lr
    assert flat[4] == pytest.approx(lr, rel=1e-3)
    levels = sorted({round(x / lr, 4) for x in flat[4:]}, reverse=True)
    assert levels == [1.0, 0.5, 0.25, 0.125, 0.0625]  # each halving, and no lower than 1/16
    assert flat[-1] == pytest.approx(lr / 16, rel=1e-3)
    # a training loss that keeps falling is never a plateau: the rate stays at its peak
    falling = _update_sizes([1.0 / (1 + i) for i in range(60)], lr=lr, steps_per_epoch=4, evals_per_epoch=2)
    np.testing.assert_allclose(falling[4:], lr, rtol=1e-3)


def test_evaluations_per_epoch_follow_eval_steps() -> None:
    cfg = training.TrainingConfig(10, 128, eval_steps=5)
    assert cfg.evals_per_epoch(21) == 4 and cfg.evals_per_epoch(9) == 1 and cfg.evals_per_epoch(3) == 1
    with pytest.raises(ValueError, match="eval_steps"):
        training.TrainingConfig(10, 128, eval_steps=0)
