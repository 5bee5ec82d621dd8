"""The shared JAX training loop.

One epoch is one jitted :func:`jax.lax.scan` over shuffled mini-batches, so a small network at batch
256 is not bound by Python dispatch: a Python-level loop pays the dispatch overhead (tens of µs) on every
step, the scanned epoch pays it once. Validation runs once per epoch in evaluation mode (batch-norm
running averages, no dropout); early stopping keeps the best weights and restores them at the end.

The model is a Flax NNX module; the optimiser any optax transformation. The step is written in the
functional NNX style (``nnx.split`` outside, ``nnx.merge`` inside the traced function), which avoids the
Python graph traversal of ``nnx.jit`` on every call.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

__all__ = ["FitResult", "GradFn", "LossFn", "fit", "predict"]

Batch = Mapping[str, jax.Array]
#: ``loss_fn(model, batch) -> (loss, aux)`` with a scalar loss and a dict of scalar diagnostics.
LossFn = Callable[[nnx.Module, Batch], tuple[jax.Array, dict[str, jax.Array]]]
#: ``grad_fn(model, batch) -> (loss, grads, aux)``, for gradient surgery such as PCGrad.
GradFn = Callable[[nnx.Module, Batch], tuple[jax.Array, nnx.State, dict[str, jax.Array]]]

_EVAL_CHUNK = 8192


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model
        The trained model, holding the weights of the best epoch (the same object that was passed in).
    history
        Per-epoch means: ``train_loss``, ``val_loss`` and ``train_<aux>``/``val_<aux>`` for each aux key.
    best_epoch
        Index (0-based) of the epoch whose weights were kept.
    n_epochs_run
        Epochs actually run (fewer than requested after early stopping).
    n_steps
        Optimiser steps taken.
    train_time_s
        Wall-clock time of the epochs, compilation excluded.
    compile_time_s
        Time to trace and compile the epoch and evaluation functions.
    steps_per_s
        ``n_steps / train_time_s``.
    """

    model: nnx.Module
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    n_epochs_run: int = 0
    n_steps: int = 0
    train_time_s: float = 0.0
    compile_time_s: float = 0.0
    steps_per_s: float = 0.0


def _check_data(name: str, data: Mapping[str, Any], min_rows: int) -> int:
    if not isinstance(data, Mapping) or not data:
        msg = f"{name} must be a non-empty dict of arrays, found {type(data).__name__}"
        raise TypeError(msg)
    lengths = {key: int(np.shape(value)[0]) for key, value in data.items()}
    if len(set(lengths.values())) != 1:
        msg = f"all arrays in {name} must have the same number of rows, found {lengths}"
        raise ValueError(msg)
    n_rows = next(iter(lengths.values()))
    if n_rows < min_rows:
        msg = f"{name} has {n_rows} rows, fewer than the {min_rows} needed (batch size)"
        raise ValueError(msg)
    return n_rows


def _mean_tree(tree: Any) -> Any:
    return jax.tree.map(jnp.mean, tree)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _train_epoch(graphdef: Any, loss_fn: LossFn, grad_fn: GradFn | None, n_batches: int,
                 batch_size: int, state: Any, data: Batch, key: jax.Array) -> tuple[Any, Any, Any]:
    n_rows = jax.tree.leaves(data)[0].shape[0]
    order = jax.random.permutation(key, n_rows)[: n_batches * batch_size]
    order = order.reshape(n_batches, batch_size)

    def step(carry: Any, idx: jax.Array) -> tuple[Any, Any]:
        model, optimizer = nnx.merge(graphdef, carry)
        batch = jax.tree.map(lambda a: a[idx], data)
        if grad_fn is None:
            (loss, aux), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, batch)
        else:
            loss, grads, aux = grad_fn(model, batch)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), (loss, aux)

    state, (losses, auxes) = jax.lax.scan(step, state, order)
    return state, jnp.mean(losses), _mean_tree(auxes)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _eval_chunks(graphdef: Any, loss_fn: LossFn, state: Any, chunks: Batch) -> tuple[Any, Any]:
    model = nnx.merge(graphdef, state)

    def one(batch: Batch) -> tuple[jax.Array, Any]:
        return loss_fn(model, batch)

    losses, auxes = jax.lax.map(one, chunks)
    return jnp.mean(losses), _mean_tree(auxes)


def _evaluate(model: nnx.Module, loss_fn: LossFn, data: Batch, n_rows: int) -> tuple[float, dict[str, float]]:
    """Mean loss over ``data`` in evaluation mode, in chunks weighted by their size."""
    graphdef, state = nnx.split(model)
    chunk = min(_EVAL_CHUNK, n_rows)
    n_full = n_rows // chunk
    parts: list[tuple[int, Any, Any]] = []
    head = jax.tree.map(lambda a: a[: n_full * chunk].reshape(n_full, chunk, *a.shape[1:]), data)
    parts.append((n_full * chunk, *_eval_chunks(graphdef, loss_fn, state, head)))
    if n_rows > n_full * chunk:
        tail = jax.tree.map(lambda a: a[n_full * chunk:][None], data)
        parts.append((n_rows - n_full * chunk, *_eval_chunks(graphdef, loss_fn, state, tail)))
    total = sum(n for n, _, _ in parts)
    loss = sum(n * float(l) for n, l, _ in parts) / total
    keys = parts[0][2].keys()
    aux = {k: sum(n * float(a[k]) for n, _, a in parts) / total for k in keys}
    return loss, aux


def fit(
    model: nnx.Module,
    tx: optax.GradientTransformation,
    loss_fn: LossFn,
    train: Mapping[str, Any],
    val: Mapping[str, Any] | None = None,
    *,
    batch_size: int,
    n_epochs: int,
    patience: int | None = None,
    seed: int = 0,
    grad_fn: GradFn | None = None,
    monitor: str = "val_loss",
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    restore_best: bool = True,
) -> FitResult:
    """Train ``model`` in place with epochs fused into one ``lax.scan`` each.

    Parameters
    ----------
    model
        Flax NNX module; trained in place and left in evaluation mode with the best weights.
    tx
        Optax transformation (learning-rate schedules count optimiser steps).
    loss_fn
        ``loss_fn(model, batch) -> (loss, aux)``; ``batch`` holds one row slice of every array in
        ``train``. Must be a hashable function defined once (not a fresh lambda per call) so that
        compiled epochs are reused across fits.
    train, val
        Dicts of arrays with a common leading dimension. ``val`` drives early stopping and the choice
        of the kept epoch; without it the training loss is monitored.
    batch_size, n_epochs
        Mini-batch size (the remainder of each shuffled epoch is dropped) and maximum number of epochs.
    patience
        Stop after this many epochs without improvement of ``monitor``; ``None`` runs all epochs.
    seed
        Seed of the shuffling.
    grad_fn
        Optional replacement of the gradient computation, ``grad_fn(model, batch) -> (loss, grads,
        aux)``, e.g. PCGrad over several task losses.
    monitor
        ``"val_loss"``, ``"train_loss"`` or ``"val_<aux>"``/``"train_<aux>"``; lower is better.
    checkpoint_dir
        If given, the kept weights are saved there with orbax (:func:`hepnb.checkpoint.save_model`).
    progress
        Show a tqdm bar over epochs.
    restore_best
        Keep the weights of the best epoch (by ``monitor``); ``False`` keeps the last epoch's, e.g. to run a
        learning-rate schedule to its end (``best_epoch`` is still recorded).

    Returns
    -------
    FitResult
        Training history, timings and the (in-place trained) model.
    """
    if batch_size < 1 or n_epochs < 1:
        msg = f"batch_size and n_epochs must be >= 1, found {batch_size} and {n_epochs}"
        raise ValueError(msg)
    n_train = _check_data("train", train, batch_size)
    n_val = _check_data("val", val, 1) if val is not None else 0
    if val is None and monitor.startswith("val_"):
        monitor = "train" + monitor[3:]
    n_batches = n_train // batch_size
    train_data = jax.tree.map(jnp.asarray, dict(train))
    val_data = jax.tree.map(jnp.asarray, dict(val)) if val is not None else None

    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    model.train()
    graphdef, state = nnx.split((model, optimizer))
    key = jax.random.key(seed)

    t0 = time.perf_counter()
    epoch_fn = _train_epoch.lower(graphdef, loss_fn, grad_fn, n_batches, batch_size, state,
                                  train_data, key).compile()
    compile_time = time.perf_counter() - t0

    result = FitResult(model=model, compile_time_s=compile_time)
    history: dict[str, list[float]] = {}
    best_value, best_state, since_best = math.inf, None, 0
    train_time = 0.0
    bar = tqdm(range(n_epochs), desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        key, sub = jax.random.split(key)
        t0 = time.perf_counter()
        state, loss, aux = epoch_fn(state, train_data, sub)
        loss = float(loss)
        train_time += time.perf_counter() - t0
        record = {"train_loss": loss, **{f"train_{k}": float(v) for k, v in aux.items()}}
        nnx.update((model, optimizer), state)
        if val_data is not None:
            model.eval()
            t0 = time.perf_counter()
            val_loss, val_aux = _evaluate(model, loss_fn, val_data, n_val)
            if epoch == 0:
                result.compile_time_s += time.perf_counter() - t0
            model.train()
            record.update({"val_loss": val_loss, **{f"val_{k}": v for k, v in val_aux.items()}})
        for name, value in record.items():
            history.setdefault(name, []).append(value)
        if monitor not in record:
            msg = f"monitor {monitor!r} is not among the recorded quantities {sorted(record)}"
            raise ValueError(msg)
        current = record[monitor]
        if not math.isfinite(current):
            msg = f"{monitor} became {current} at epoch {epoch}: training diverged"
            raise FloatingPointError(msg)
        if current < best_value:
            best_value, since_best, result.best_epoch = current, 0, epoch
            best_state = jax.tree.map(jnp.copy, nnx.state(model))
        else:
            since_best += 1
        bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k.endswith("loss")})
        result.n_epochs_run = epoch + 1
        if patience is not None and since_best >= patience:
            break
    bar.close()

    if best_state is not None and restore_best:
        nnx.update(model, best_state)
    model.eval()
    result.history = history
    result.n_steps = result.n_epochs_run * n_batches
    result.train_time_s = train_time
    result.steps_per_s = result.n_steps / train_time if train_time > 0 else float("nan")
    if checkpoint_dir is not None:
        from hepnb.checkpoint import save_model

        save_model(model, checkpoint_dir)
    return result


def _default_apply(model: nnx.Module, inputs: Any) -> jax.Array:
    return model(inputs)  # type: ignore[operator]


@functools.partial(jax.jit, static_argnums=(0, 1))
def _predict_chunks(graphdef: Any, fn: Callable[..., Any], state: Any, chunks: Any) -> Any:
    model = nnx.merge(graphdef, state)
    return jax.lax.map(lambda x: fn(model, x), chunks)


def predict(
    model: nnx.Module,
    inputs: Any,
    fn: Callable[[nnx.Module, Any], Any] | None = None,
    *,
    batch_size: int = 4096,
) -> Any:
    """Apply ``model`` in evaluation mode to ``inputs`` in jitted fixed-size chunks.

    Parameters
    ----------
    model
        Flax NNX module; it is switched to evaluation mode.
    inputs
        An array or a dict of arrays with a common leading dimension.
    fn
        ``fn(model, chunk) -> outputs``; default ``model(chunk)``. Use a function defined once so the
        compiled code is reused.
    batch_size
        Chunk size; the last chunk is zero-padded and the padding is cut from the output.

    Returns
    -------
    Array or pytree of arrays with the leading dimension of ``inputs``.
    """
    fn = fn or _default_apply
    model.eval()
    leaves = jax.tree.leaves(inputs)
    if not leaves:
        msg = "predict needs at least one input array"
        raise ValueError(msg)
    n_rows = int(np.shape(leaves[0])[0])
    if n_rows == 0:
        msg = "predict got zero rows"
        raise ValueError(msg)
    size = min(batch_size, n_rows)
    n_chunks = -(-n_rows // size)
    pad = n_chunks * size - n_rows

    def to_chunks(a: Any) -> jax.Array:
        a = jnp.asarray(a)
        a = jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1))
        return a.reshape(n_chunks, size, *a.shape[1:])

    graphdef, state = nnx.split(model)
    out = _predict_chunks(graphdef, fn, state, jax.tree.map(to_chunks, inputs))
    return jax.tree.map(lambda a: a.reshape(n_chunks * size, *a.shape[2:])[:n_rows], out)
