from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from hepnb import train as train_module
from hepnb.checkpoint import load_model, save_model
from hepnb.train import FitConfig, clipped_adamw, fit, keep_best, predict


class Net(nnx.Module):
    def __init__(self, n_in: int = 4, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(n_in, 32, rngs=rngs)
        self.norm = nnx.BatchNorm(32, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.out = nnx.Linear(32, 2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(self.drop(nnx.relu(self.norm(self.hidden(x)))))


def xent(model: Net, batch: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
    logits = model(batch["x"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    return loss, {"acc": jnp.mean(logits.argmax(-1) == batch["y"])}


def _data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return {"x": x, "y": (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32)}


def test_fit_learns_and_keeps_the_best_epoch() -> None:
    model = Net(rngs=nnx.Rngs(0))
    res = fit(model, optax.adam(3e-3), xent, _data(4096), _data(2048, 1),
        config=FitConfig(batch_size=128, n_epochs=6, progress=False))
    assert res.n_epochs_run == 6 and res.n_steps == 6 * 32
    assert res.history["val_acc"][-1] > 0.93
    assert res.best_epoch == int(np.argmin(res.history["val_loss"]))
    val = _data(2048, 1)
    acc = np.mean(np.asarray(predict(model, val["x"], batch_size=500)).argmax(-1) == val["y"])
    assert acc == pytest.approx(res.history["val_acc"][res.best_epoch], abs=1e-6)


def test_same_seed_same_weights() -> None:
    outs = []
    for _ in range(2):
        model = Net(rngs=nnx.Rngs(1))
        fit(model, optax.sgd(0.05), xent, _data(1024),
            config=FitConfig(batch_size=64, n_epochs=2, seed=9, progress=False))
        outs.append(np.asarray(predict(model, _data(64, 3)["x"])))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_scanned_epoch_equals_explicit_steps() -> None:
    """One epoch in lax.scan gives the weights of the same SGD steps taken one by one."""
    data = _data(256)
    key = jax.random.key(4)
    model = nnx.Linear(4, 2, rngs=nnx.Rngs(2))
    ref = nnx.Linear(4, 2, rngs=nnx.Rngs(2))

    def loss(m: nnx.Linear, b: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
        return optax.softmax_cross_entropy_with_integer_labels(m(b["x"]), b["y"]).mean(), {}

    fit(model, optax.sgd(0.1), loss, data, config=FitConfig(batch_size=64, n_epochs=1, seed=4, progress=False))
    _, sub = jax.random.split(key)
    order = np.asarray(jax.random.permutation(sub, 256)).reshape(4, 64)
    for idx in order:
        grads = nnx.grad(lambda m, b: loss(m, b)[0])(ref, {k: v[idx] for k, v in data.items()})
        ref.kernel[...] = ref.kernel[...] - 0.1 * grads.kernel[...]
        ref.bias[...] = ref.bias[...] - 0.1 * grads.bias[...]
    np.testing.assert_allclose(model.kernel[...], ref.kernel[...], rtol=1e-5, atol=1e-6)


def test_early_stopping_and_divergence() -> None:
    def linear_xent(m: nnx.Linear, b: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
        return optax.softmax_cross_entropy_with_integer_labels(m(b["x"]), b["y"]).mean(), {}

    res = fit(nnx.Linear(4, 2, rngs=nnx.Rngs(0)), optax.sgd(0.0), linear_xent, _data(512), _data(256, 1),
        config=FitConfig(batch_size=64, n_epochs=20, patience=2, progress=False))
    assert res.n_epochs_run == 3  # lr 0: the validation loss never improves after the first epoch
    with pytest.raises(FloatingPointError, match="diverged"):
        fit(Net(rngs=nnx.Rngs(0)), optax.sgd(1e30), xent, _data(512),
            config=FitConfig(batch_size=64, n_epochs=5, progress=False))


def test_custom_grad_fn_is_used() -> None:
    def zero_grads(model: Net, batch: dict[str, jax.Array]) -> tuple[jax.Array, nnx.State, dict[str, jax.Array]]:
        (value, aux), grads = nnx.value_and_grad(xent, has_aux=True)(model, batch)
        return value, jax.tree.map(jnp.zeros_like, grads), aux

    model = Net(rngs=nnx.Rngs(0))
    before = np.asarray(model.hidden.kernel[...]).copy()
    fit(model, optax.sgd(0.5), xent, _data(256),
        config=FitConfig(batch_size=64, n_epochs=1, progress=False), grad_fn=zero_grads)
    np.testing.assert_array_equal(model.hidden.kernel[...], before)


def test_input_checks() -> None:
    model = Net(rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="same number of rows"):
        fit(model, optax.sgd(0.1), xent, {"x": np.zeros((10, 4)), "y": np.zeros(9)},
            config=FitConfig(batch_size=2, n_epochs=1))
    with pytest.raises(ValueError, match="fewer than the 64 needed"):
        fit(model, optax.sgd(0.1), xent, _data(10), config=FitConfig(batch_size=64, n_epochs=1))
    with pytest.raises(ValueError, match="monitor 'val_auc'"):
        fit(model, optax.sgd(0.1), xent, _data(128), _data(64),
            config=FitConfig(batch_size=64, n_epochs=1, monitor="val_auc", progress=False))


def test_checkpoint_roundtrip_and_wrong_architecture(tmp_path: Path) -> None:
    model = Net(rngs=nnx.Rngs(0))
    fit(model, optax.adam(1e-2), xent, _data(512),
        config=FitConfig(batch_size=64, n_epochs=1, progress=False, checkpoint_dir=tmp_path / "ckpt"))
    restored = load_model(lambda: Net(rngs=nnx.Rngs(5)), tmp_path / "ckpt")
    x = _data(100, 2)["x"]
    np.testing.assert_array_equal(predict(restored, x), predict(model, x))
    with pytest.raises(ValueError, match="does not match the model architecture"):
        load_model(lambda: Net(6, rngs=nnx.Rngs(0)), tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match="no hepnb model checkpoint"):
        load_model(lambda: Net(rngs=nnx.Rngs(0)), tmp_path / "nothing")
    save_model(restored, tmp_path / "ckpt")  # overwriting an existing checkpoint works


def test_validation_in_chunks_is_the_whole_set_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal chunks plus a smaller remainder, weighted by rows: the mean over the whole validation set."""
    monkeypatch.setattr(train_module, "EVAL_CHUNK_ROWS", 96)
    val = _data(250, 1)  # two chunks of 96 and a remainder of 58
    model = Net(rngs=nnx.Rngs(0))
    res = fit(model, optax.sgd(0.0), xent, _data(256), val, config=FitConfig(batch_size=64, n_epochs=1, progress=False))
    model.eval()
    loss, aux = xent(model, {k: jnp.asarray(v) for k, v in val.items()})
    assert res.history["val_loss"][0] == pytest.approx(float(loss), rel=1e-5)
    assert res.history["val_acc"][0] == pytest.approx(float(aux["acc"]), rel=1e-6)


def test_second_fit_reuses_the_compiled_epoch_and_leaves_arrays_valid() -> None:
    model = Net(rngs=nnx.Rngs(0))
    kernel = model.hidden.kernel[...]  # the epoch call donates its state: the model's own arrays must survive
    fit(model, optax.adam(1e-3), xent, _data(512), _data(128, 1),
        config=FitConfig(batch_size=64, n_epochs=1, progress=False))
    np.testing.assert_array_equal(np.asarray(kernel), np.asarray(kernel))  # not deleted
    again = fit(Net(rngs=nnx.Rngs(3)), optax.adam(1e-3), xent, _data(512, 2), _data(128, 3),
        config=FitConfig(batch_size=64, n_epochs=1, progress=False))
    assert again.compiled_reused  # same program (a new but equal optax chain): no recompilation
    other = fit(Net(rngs=nnx.Rngs(3)), optax.adam(1e-3), xent, _data(512, 2), _data(128, 3),
        config=FitConfig(batch_size=32, n_epochs=1, progress=False))
    assert not other.compiled_reused  # another batch size is another program


def test_fit_config_refuses_empty_training() -> None:
    with pytest.raises(ValueError, match="batch_size and n_epochs must be >= 1"):
        FitConfig(batch_size=0, n_epochs=1)
    with pytest.raises(ValueError, match="batch_size and n_epochs must be >= 1"):
        FitConfig(batch_size=8, n_epochs=0)


def test_keep_best_one_model_and_a_stack() -> None:
    new = {"w": jnp.ones((3, 2)), "b": jnp.ones(3)}
    old = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(3)}
    one = keep_best(jnp.asarray(True), new, old)
    np.testing.assert_array_equal(one["w"], new["w"])
    assert one["w"].shape == (3, 2) and one["b"].shape == (3,)
    stack = keep_best(np.array([True, False, True]), new, old)
    np.testing.assert_array_equal(stack["w"], [[1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(stack["b"], [1, 0, 1])


def test_clipped_adamw_is_adamw_after_global_norm_clipping() -> None:
    tx = clipped_adamw(1e-2, weight_decay=0.1, clip_norm=0.5)
    reference = optax.chain(optax.clip_by_global_norm(0.5), optax.adamw(1e-2, weight_decay=0.1))
    params = {"w": jnp.arange(4.0)}
    state, ref_state = tx.init(params), reference.init(params)
    for grads in ({"w": jnp.full(4, 30.0)}, {"w": jnp.array([0.01, -0.02, 0.0, 0.03])}, {"w": jnp.full(4, -7.0)}):
        updates, state = tx.update(grads, state, params)
        expected, ref_state = reference.update(grads, ref_state, params)
        np.testing.assert_array_equal(updates["w"], expected["w"])
        params = optax.apply_updates(params, updates)


def test_fit_records_convergence_from_the_monitored_curve() -> None:
    """A network trained to its plateau is recorded as converged, the same network stopped after two epochs is not
    (too few points), and one trained on too small a learning rate, still falling over its last fifth, is not
    either; the record is the one :func:`hepnb.convergence.relative_convergence` gives for the curve."""
    from hepnb.convergence import relative_convergence

    long = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, _data(4096), _data(2048, 1),
               config=FitConfig(batch_size=128, n_epochs=30, progress=False, rel_tolerance=0.05))
    assert long.converged and long.convergence[0].n_points == 30
    assert long.convergence[0] == relative_convergence(long.history["val_loss"], rel_tolerance=0.05)
    short = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, _data(4096), _data(2048, 1),
                config=FitConfig(batch_size=128, n_epochs=2, progress=False))
    assert not short.converged and "too few" in short.convergence[0].reason
    slow = fit(Net(rngs=nnx.Rngs(0)), optax.sgd(1e-3), xent, _data(4096), _data(2048, 1),
               config=FitConfig(batch_size=128, n_epochs=10, progress=False))
    assert not slow.converged and slow.convergence[0].improvement > slow.convergence[0].tolerance


def test_several_evaluations_per_epoch_take_the_same_steps() -> None:
    """Evaluating after each half of an epoch changes no step: the same weights as one evaluation per epoch (the
    epoch's 32 batches split 16 + 16), twice the validation points, and the end-of-epoch points are the same."""
    once, twice = Net(rngs=nnx.Rngs(5)), Net(rngs=nnx.Rngs(5))
    runs = [fit(m, optax.adam(3e-3), xent, _data(4096), _data(1024, 1),
                config=FitConfig(batch_size=128, n_epochs=3, seed=2, progress=False, restore_best=False,
                                 evals_per_epoch=k)) for m, k in ((once, 1), (twice, 2))]
    np.testing.assert_allclose(np.asarray(twice.hidden.kernel[...]), np.asarray(once.hidden.kernel[...]),
                               rtol=1e-5, atol=1e-6)
    assert runs[0].n_steps == runs[1].n_steps == 3 * 32
    assert len(runs[0].history["val_loss"]) == 3 and len(runs[1].history["val_loss"]) == 6
    np.testing.assert_allclose(runs[1].history["val_loss"][1::2], runs[0].history["val_loss"], rtol=1e-5)
    three = fit(Net(rngs=nnx.Rngs(5)), optax.adam(3e-3), xent, _data(4096), _data(1024, 1),
                config=FitConfig(batch_size=128, n_epochs=2, progress=False, evals_per_epoch=3))
    assert three.n_steps == 2 * 3 * 10  # 32 batches: three parts of 10, two batches left out of each epoch
    assert len(three.history["val_acc"]) == 6
    assert three.best_eval == int(np.argmin(three.history["val_loss"])) and three.best_epoch == three.best_eval // 3


def _noisy(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """:func:`_data` with 20 % of the labels flipped: the loss has a floor (accuracy at most 80 %), reached in a few
    epochs, instead of falling on as the classes are pulled apart."""
    data = _data(n, seed)
    flip = np.random.default_rng(seed + 100).random(n) < 0.2
    return {"x": data["x"], "y": np.where(flip, 1 - data["y"], data["y"]).astype(np.int32)}


def test_evaluations_per_epoch_let_a_short_training_reach_a_verdict() -> None:
    """Four epochs give four points at one evaluation per epoch (never a verdict: at least MIN_POINTS = 10 are
    needed), but 32 at eight per epoch: an easy problem trained to its plateau then converges; stopped after its
    first evaluation it does not; on a learning rate too small it is still improving over the last fifth."""
    from hepnb.convergence import MIN_POINTS

    train, val = _noisy(4096), _noisy(2048, 1)
    assert MIN_POINTS == 10
    once = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, train, val,
               config=FitConfig(batch_size=128, n_epochs=4, progress=False))
    assert not once.converged and once.convergence[0].n_points == 4
    often = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, train, val,
                config=FitConfig(batch_size=128, n_epochs=4, progress=False, evals_per_epoch=8))
    assert often.convergence[0].n_points == 32 and often.history["val_acc"][-1] > 0.75
    assert often.converged, often.convergence[0].reason
    early = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, train, val,
                config=FitConfig(batch_size=128, n_epochs=1, progress=False, evals_per_epoch=8))
    assert not early.converged and early.convergence[0].n_points == 8
    slow = fit(Net(rngs=nnx.Rngs(0)), optax.sgd(1e-3), xent, train, val,
               config=FitConfig(batch_size=128, n_epochs=4, progress=False, evals_per_epoch=8))
    assert slow.convergence[0].n_points == 32 and not slow.converged
    assert slow.convergence[0].improvement > slow.convergence[0].tolerance


def test_training_stops_once_converged() -> None:
    """With ``stop_when_converged`` a learnable toy stops well before its cap of 100 epochs, converged by the record
    of its whole curve, with the best weights kept; without the rule it runs all its epochs; asked for two
    consecutive converged epoch ends, it stops one epoch later or more, converged at both."""
    from hepnb.convergence import relative_convergence

    train, val = _noisy(4096), _noisy(2048, 1)
    model = Net(rngs=nnx.Rngs(0))
    res = fit(model, optax.adam(3e-3), xent, train, val,
              config=FitConfig(batch_size=128, n_epochs=100, progress=False, evals_per_epoch=4,
                               stop_when_converged=1))
    assert res.converged and res.n_epochs_run < 100 and res.n_steps == res.n_epochs_run * 32
    assert len(res.history["val_loss"]) == 4 * res.n_epochs_run
    assert res.convergence[0] == relative_convergence(res.history["val_loss"])
    # the rule did not already hold one epoch earlier: it stopped at the first epoch end where it held
    assert not relative_convergence(res.history["val_loss"][:-4]).converged
    acc = np.mean(np.asarray(predict(model, val["x"])).argmax(-1) == val["y"])
    assert acc == pytest.approx(res.history["val_acc"][res.best_eval], abs=1e-6) and acc > 0.75
    capped = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, train, val,
                 config=FitConfig(batch_size=128, n_epochs=res.n_epochs_run + 2, progress=False, evals_per_epoch=4))
    assert capped.n_epochs_run == res.n_epochs_run + 2
    twice = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, train, val,
                config=FitConfig(batch_size=128, n_epochs=100, progress=False, evals_per_epoch=4,
                                 stop_when_converged=2))
    assert twice.n_epochs_run > res.n_epochs_run and twice.converged
    assert relative_convergence(twice.history["val_loss"][:-4]).converged


def test_convergence_read_from_another_curve_and_bad_cadence() -> None:
    """Early stopping on one curve while the record reads another; a clear error for a curve that is not recorded
    and for more evaluations than batches."""
    from hepnb.convergence import relative_convergence

    res = fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, _data(4096), _data(2048, 1),
              config=FitConfig(batch_size=128, n_epochs=3, progress=False, evals_per_epoch=4, monitor="train_loss",
                               convergence_metric="val_loss"))
    assert res.convergence[0] == relative_convergence(res.history["val_loss"])
    assert res.best_eval == int(np.argmin(res.history["train_loss"]))
    with pytest.raises(ValueError, match="convergence metric 'val_auc' is not among"):
        fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, _data(512), _data(256, 1),
            config=FitConfig(batch_size=128, n_epochs=1, progress=False, convergence_metric="val_auc"))
    with pytest.raises(ValueError, match=r"evals_per_epoch \(8\) exceeds the 4 batches"):
        fit(Net(rngs=nnx.Rngs(0)), optax.adam(3e-3), xent, _data(512), _data(256, 1),
            config=FitConfig(batch_size=128, n_epochs=1, progress=False, evals_per_epoch=8))
    with pytest.raises(ValueError, match="evals_per_epoch must be >= 1, found 0"):
        FitConfig(batch_size=8, n_epochs=1, evals_per_epoch=0)
