"""The learning rate cut on a plateau of the validation curve (hepnb.plateau) and how hepnb.train.fit uses it."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from hepnb.convergence import relative_convergence
from hepnb.plateau import Plateau, plateau_step, scale_by_lr_factor
from hepnb.train import FitConfig, fit
from tests.test_train import Net, _noisy, xent


class Lin(nnx.Module):
    """A linear classifier: no batch-norm statistics, so at rate 0 its validation loss is exactly flat."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.out = nnx.Linear(4, 2, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return self.out(x)


def _reference(values: list[float], factor: float, patience: int, threshold: float, min_scale: float) -> list[float]:
    """The rate factor in effect before each evaluation, by the rule of torch's ReduceLROnPlateau (mode "min",
    threshold_mode "rel", cooldown 0) written out in Python: a value below best × (1 − threshold) is an
    improvement; ``patience`` evaluations without one cut the factor."""
    scale, best, bad, out = 1.0, float("inf"), 0, []
    for v in values:
        out.append(scale)
        if v < best * (1 - threshold):
            best, bad = v, 0
        else:
            bad += 1
        if bad >= patience:
            scale, bad = max(scale * factor, min_scale), 0
    return out


def _run(plateau: Plateau, values: list[float]) -> list[float]:
    sched = (jnp.asarray(1.0, jnp.float32), jnp.asarray(jnp.inf, jnp.float32), jnp.asarray(0, jnp.int32))
    out = []
    for v in values:
        out.append(float(sched[0]))
        sched = plateau_step(plateau, sched, jnp.asarray(v, jnp.float32))
    return out


def test_a_falling_curve_is_never_cut_and_a_flat_one_is_cut_to_the_floor() -> None:
    """A validation loss falling by 5 % at every evaluation keeps the full rate (the first evaluation, against no
    best yet, counts as an improvement); a flat one is halved every 3 evaluations down to 1/8."""
    plateau = Plateau(factor=0.5, patience=3, threshold=0.01, min_scale=1 / 8)
    falling = [float(v) for v in 0.3 * 0.95 ** np.arange(20)]
    assert _run(plateau, falling) == [1.0] * 20
    flat = [0.3] * 14
    assert _run(plateau, flat) == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125, 0.125]


@pytest.mark.parametrize("threshold", [0.0, 0.01, 0.05])
def test_plateau_follows_the_reference_rule_on_a_noisy_curve(threshold: float) -> None:
    """On a noisy, slowly falling curve the factors match the rule written out independently (improvements
    smaller than the threshold do not count)."""
    rng = np.random.default_rng(7)
    curve = 0.2 * (1 + 2 * 0.99 ** np.arange(60)) * (1 + 0.03 * rng.standard_normal(60))
    values = [float(v) for v in curve.astype(np.float32)]
    expected = _reference(values, 0.5, 4, threshold, 1 / 16)
    assert _run(Plateau(0.5, 4, threshold, 1 / 16), values) == pytest.approx(expected, rel=1e-6)
    assert min(expected) < 1  # the curve does stall somewhere: the comparison is not trivial


def test_scaled_updates_are_a_scaled_learning_rate() -> None:
    """Adam chained with the factor 0.25 takes the steps of Adam at a quarter of the rate."""
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    grads = [{"w": jnp.array([0.3, -0.1, 2.0])}, {"w": jnp.array([-0.2, 0.4, 1.0])}]
    scaled, plain = optax.chain(optax.adam(0.1), scale_by_lr_factor()), optax.adam(0.025)
    s_state, p_state = scaled.init(params), plain.init(params)
    for g in grads:
        s_up, s_state = scaled.update(g, s_state, params, lr_factor=jnp.asarray(0.25))
        p_up, p_state = plain.update(g, p_state, params)
        np.testing.assert_allclose(s_up["w"], p_up["w"], rtol=1e-6)


def test_bad_plateau_is_refused() -> None:
    with pytest.raises(ValueError, match="0 < factor < 1"):
        Plateau(factor=1.5)
    with pytest.raises(ValueError, match="min_scale 0"):
        Plateau(min_scale=0.0)


def test_fit_cuts_the_rate_where_the_validation_loss_stalls_and_stops_converged() -> None:
    """A toy whose loss has a floor (20 % flipped labels), trained at a rate too high to settle: with the plateau it
    stops before its cap of 60 epochs, converged by the Book's rule over its whole curve, its rate cut, and the
    recorded factors those of the rule replayed on its validation loss (measured: 5 epochs). Without the plateau,
    the curve at the full rate is not converged after the same number of epochs."""
    train, val = _noisy(4096), _noisy(2048, 1)
    plateau = Plateau(factor=0.5, patience=4, threshold=0.01, min_scale=1 / 64)
    res = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-2), xent, train, val,
              config=FitConfig(batch_size=128, n_epochs=60, progress=False, evals_per_epoch=4, stop_when_converged=2,
                               plateau=plateau))
    h = res.history
    assert res.converged and res.n_epochs_run < 60, res.convergence[0].reason
    assert res.convergence[0] == relative_convergence(h["val_loss"])
    assert len(h["lr_factor"]) == len(h["val_loss"]) == 4 * res.n_epochs_run
    assert h["lr_factor"] == pytest.approx(_reference(h["val_loss"], 0.5, 4, 0.01, 1 / 64), rel=1e-6)
    assert min(h["lr_factor"]) < 1
    constant = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-2), xent, train, val,
                   config=FitConfig(batch_size=128, n_epochs=res.n_epochs_run, progress=False, evals_per_epoch=4))
    assert "lr_factor" not in constant.history and not constant.converged  # measured: 0.018 against 0.0057
    assert constant.history["val_loss"][:4] == pytest.approx(h["val_loss"][:4], rel=1e-5)  # same until the first cut


def test_a_still_improving_curve_is_neither_cut_nor_converged() -> None:
    """Plain SGD at a small rate: the validation loss still falls at every evaluation, so the plateau never cuts and
    the record says not converged; the cap ends training."""
    train, val = _noisy(4096), _noisy(2048, 1)
    res = fit(Net(rngs=nnx.Rngs(0)), optax.sgd(1e-3), xent, train, val,
              config=FitConfig(batch_size=128, n_epochs=4, progress=False, evals_per_epoch=8, stop_when_converged=1,
                               plateau=Plateau(0.5, 8, 0.0, 1 / 64)))
    assert res.n_epochs_run == 4 and not res.converged
    assert res.convergence[0].improvement > res.convergence[0].tolerance
    assert res.history["lr_factor"] == [1.0] * 32


def test_with_a_plateau_patience_waits_for_the_floor_and_a_stop_for_a_cut() -> None:
    """A network that does not learn (rate 0: a flat validation loss). Patience 2 stops it after 3 epochs alone, but
    with a plateau (patience 2, floor 1/4) only once two evaluations have trained at the floor rate, after 7 (the
    cut to the floor comes at the 5th, long after the best, which must not count as time spent at the floor). Asked to stop once
    converged, it stops after its first epoch alone (ten equal points), but with a plateau of patience 20 only
    after the first cut, at the 21st evaluation (third epoch)."""
    train, val = _noisy(4096), _noisy(2048, 1)

    def run(**kw: object) -> object:
        return fit(Lin(rngs=nnx.Rngs(0)), optax.sgd(0.0), xent, train, val,
                   config=FitConfig(batch_size=128, n_epochs=30, progress=False, **kw))

    assert run(patience=2).n_epochs_run == 3
    floor = run(patience=2, plateau=Plateau(0.5, 2, 0.0, 0.25))
    assert floor.n_epochs_run == 7 and floor.history["lr_factor"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert run(evals_per_epoch=10, stop_when_converged=1).n_epochs_run == 1
    cut = run(evals_per_epoch=10, stop_when_converged=1, plateau=Plateau(0.5, 20, 0.0, 0.25))
    assert cut.n_epochs_run == 3 and cut.converged
