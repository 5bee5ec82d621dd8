"""Training to convergence: the per-head reduce-on-plateau and the stop of the vmapped stack."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.tracks import training
from hepnb.tracks.models import build_head
from hepnb.tracks.plateau import PlateauController, PlateauSettings, plateau_optimizer, set_learning_rates


def test_a_head_that_stopped_improving_has_its_rate_lowered_and_an_improving_one_not() -> None:
    settings = PlateauSettings(patience=3, factor=0.3, threshold=0.01, stop_when_converged=0)
    ctl = PlateauController.start(2, 1e-3, settings)
    improving = 100.0 * 0.9 ** np.arange(8)  # 10 % better at every evaluation
    flat = np.array([50.0, 49.9, 50.2, 49.8, 50.1, 49.7, 50.0, 49.9])  # never 1 % below its best
    lrs = [ctl.update(np.array([a, b])) for a, b in zip(improving, flat, strict=True)]
    assert [lr[0] for lr in lrs] == [1e-3] * 8
    # the best (50.0) is set at the first evaluation; three more without a 1 % gain lower the rate, and the
    # counter restarts: three more lower it again
    assert [lr[1] for lr in lrs] == pytest.approx([1e-3, 1e-3, 1e-3, 3e-4, 3e-4, 3e-4, 9e-5, 9e-5])
    assert ctl.reductions.tolist() == [0, 2]


def test_the_rate_never_falls_below_its_floor_and_not_during_the_warm_up() -> None:
    ctl = PlateauController.start(1, 1e-3, PlateauSettings(patience=1, factor=0.1, min_lr_ratio=1e-2,
                                                           stop_when_converged=0))
    assert ctl.update(np.array([5.0]), may_lower=False)[0] == 1e-3
    assert ctl.update(np.array([5.0]), may_lower=False)[0] == 1e-3
    out = [ctl.update(np.array([5.0]))[0] for _ in range(4)]
    assert out == pytest.approx([1e-4, 1e-5, 1e-5, 1e-5])


def test_heads_are_done_after_two_converged_readings_and_a_falling_curve_never() -> None:
    settings = PlateauSettings(patience=2, factor=0.5, stop_when_converged=2, min_reductions=1)
    ctl = PlateauController.start(2, 1e-3, settings)
    done_at = None
    for i in range(30):
        flat = 10.0 if i >= 3 else 20.0 - i  # flat from the fourth evaluation on
        falling = 100.0 * 0.97 ** i  # 3 % per evaluation: ~12 % over any last fifth of ≥ 10 points
        ctl.update(np.array([flat, falling]))
        if ctl.done[0] and done_at is None:
            done_at = i
    # converged from the tenth evaluation (MIN_POINTS) on, the second such reading is the eleventh
    assert done_at == 10
    assert ctl.done.tolist() == [True, False] and not ctl.all_done
    with pytest.raises(ValueError, match="one value per head"):
        ctl.update(np.array([1.0]))


def test_the_optimizer_reads_each_heads_rate_from_its_state() -> None:
    import jax
    import jax.numpy as jnp

    tx = plateau_optimizer(1e-2, warmup_steps=1, weight_decay=0.0)
    params = {"w": jnp.ones((3, 2))}  # three heads of two weights
    state = set_learning_rates(jax.vmap(tx.init)(params), np.array([1e-2, 0.0, 1e-3]))
    grads = {"w": jnp.ones((3, 2))}
    updates, _ = jax.vmap(tx.update)(grads, state, params)
    # Adam's first step moves each weight by its learning rate (m/√v = 1), against the gradient
    np.testing.assert_allclose(np.asarray(updates["w"]), -np.array([[1e-2] * 2, [0.0] * 2, [1e-3] * 2]), rtol=1e-3)


def _heads_and_data(learnable: bool, n: int = 2048) -> tuple[list, dict, dict]:
    rng = np.random.default_rng(0)
    start = np.column_stack([rng.uniform(-500, 500, n), rng.uniform(-400, 400, n), rng.uniform(-0.2, 0.2, n),
                             rng.uniform(-0.2, 0.2, n), rng.choice([-1, 1], n) / rng.uniform(2, 100, n)])
    base = start[:, :4] + 10.0
    # a correction the head must learn (bending ∝ q/p, linear in the slopes), or none at all
    end = base + (np.column_stack([4000 * start[:, 4] * start[:, 2], 2000 * start[:, 4] * start[:, 3],
                                   0.3 * start[:, 4], 0.01 * start[:, 4]]) if learnable else 0.0)
    heads = [build_head("mlp", "tiny", stats=training.target_stats(start, end, base), seed=s) for s in (0, 1)]
    part = {"start": start, "end": end, "base_end": [base, base]}
    return heads, part, {"start": start[:512], "end": end[:512], "base_end": [base[:512], base[:512]]}


def test_the_stack_stops_once_every_head_converged() -> None:
    heads, train, val = _heads_and_data(learnable=False)
    schedule = training.Schedule(steps=2000, batch_size=64, eval_every=10, warmup_frac=0.0)
    result = training.fit_heads(heads, train, val, schedule=schedule)
    # the base is exact: the curve is flat, its rate is lowered after 2 evaluations, and it reads converged at
    # the 10th and 11th evaluations: the stack stops at step 110 of its cap of 2000
    assert result.n_steps == 110
    assert all(c.converged for c in result.convergence)
    assert result.history["lr"].shape == (11, 2)


def test_a_stack_with_a_head_still_learning_runs_to_its_cap() -> None:
    heads, train, val = _heads_and_data(learnable=True)
    schedule = training.Schedule(steps=300, batch_size=256, eval_every=20)
    result = training.fit_heads(heads, train, val, schedule=schedule)
    curve = result.history["val_median_um"]
    # the second head (its own initial weights) still improves by > 1 % over the last fifth: the stack goes on
    assert result.n_steps == 300 and len(curve) == 15
    assert not all(c.converged for c in result.convergence)
    assert np.all(curve[-1] < 0.6 * curve[0])
