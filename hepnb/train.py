"""The shared JAX training loop.

One epoch is one compiled call: the training set is shuffled on the device, the optimiser steps run in a
:func:`jax.lax.scan`, the whole validation set is evaluated in evaluation mode (batch-norm running averages, no
dropout) once at the end of the epoch or after each of several equal parts of it (``evals_per_epoch``), and the
best model state is kept on the device; the host reads back a few scalars per evaluation. A small network at batch
256 is therefore not bound by Python dispatch or host round trips (a Python-level loop pays tens of µs on every
step), and ``fit`` runs within a few per cent of a bare ``lax.scan`` of the same step (``benchmarks/pid_train.py``).
Early stopping restores the best weights at the end; a :class:`hepnb.plateau.Plateau` cuts the learning rate
where the validation curve stalls.

The model is a Flax NNX module; the optimiser any optax transformation. The step is written in the functional NNX
style (``nnx.split`` outside, ``nnx.merge`` inside the traced function), which avoids the Python graph traversal of
``nnx.jit`` on every call.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
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

from hepnb.convergence import RELATIVE_TOLERANCE, Convergence, relative_convergence
from hepnb.plateau import Plateau, evaluations_at_floor, plateau_step, scale_by_lr_factor
from hepnb.predict import predict

__all__ = ["EVAL_CHUNK_ROWS", "FitConfig", "FitResult", "GradFn", "LossFn", "Plateau", "clipped_adamw", "fit",
           "keep_best", "predict"]

Batch = Mapping[str, jax.Array]
#: ``loss_fn(model, batch) -> (loss, aux)`` with a scalar loss and a dict of scalar diagnostics.
LossFn = Callable[[nnx.Module, Batch], tuple[jax.Array, dict[str, jax.Array]]]
#: ``grad_fn(model, batch) -> (loss, grads, aux)``, for gradient surgery such as PCGrad.
GradFn = Callable[[nnx.Module, Batch], tuple[jax.Array, nnx.State, dict[str, jax.Array]]]

#: Rows per chunk of the validation pass of :func:`fit` (the validation set is evaluated in chunks of this size).
EVAL_CHUNK_ROWS = 8192


@dataclass(frozen=True)
class FitConfig:
    """How :func:`fit` trains.

    Attributes
    ----------
    batch_size, n_epochs
        Mini-batch size (the remainder of each shuffled epoch is dropped) and maximum number of epochs.
    patience
        Stop after this many evaluations without improvement of ``monitor``; ``None`` runs all epochs. With a
        ``plateau``, only once that many evaluations have also trained at its floor rate (nothing is left to try,
        and the floor had its chance).
    seed
        Seed of the shuffling.
    monitor
        ``"val_loss"``, ``"train_loss"`` or ``"val_<aux>"``/``"train_<aux>"``; lower is better.
    checkpoint_dir
        If given, the kept weights are saved there with orbax (:func:`hepnb.checkpoint.save_model`).
    progress
        Show a tqdm bar over epochs.
    restore_best
        Keep the weights of the best epoch (by ``monitor``); ``False`` keeps the last epoch's, e.g. to run a
        learning-rate schedule to its end (``best_epoch`` is still recorded).
    rel_tolerance
        The convergence record's tolerance, relative to the best value of the curve it reads
        (:func:`hepnb.convergence.relative_convergence`): a curve that improved by less over the last fifth of
        its evaluations counts as converged.
    evals_per_epoch
        Validation evaluations per epoch, each after an equal part of its steps (the ``n_batches %
        evals_per_epoch`` batches left over are dropped from every epoch). The convergence rule needs
        :data:`hepnb.convergence.MIN_POINTS` evaluations: several per epoch let a short training reach them.
        ``patience`` counts evaluations.
    stop_when_converged
        Stop once the convergence record, read at the end of every epoch over all evaluations so far, has said
        converged at this many consecutive epoch ends (``n_epochs`` is then a cap; 0 never stops on it). More than
        one guards against a noisy curve whose last fifth happens to start at a high point; with a ``plateau``, a
        stop also needs its rate to have been cut at least once (the curve has stalled by its measure too).
    convergence_metric
        The recorded curve the convergence record reads (lower is better); ``None`` reads ``monitor``.
    loss_to_optimizer
        Pass each step's training loss to the optimiser as ``value`` (for a transformation that reads it, such as
        ``optax.contrib.reduce_on_plateau``).
    plateau
        Cut the learning rate on a plateau of the convergence curve, per evaluation (:class:`Plateau`); the rate's
        factor in effect before each evaluation is recorded as ``lr_factor``. ``None``: the optimiser's own rate.
    """

    batch_size: int
    n_epochs: int
    patience: int | None = None
    seed: int = 0
    monitor: str = "val_loss"
    checkpoint_dir: str | Path | None = None
    progress: bool = True
    restore_best: bool = True
    rel_tolerance: float = RELATIVE_TOLERANCE
    evals_per_epoch: int = 1
    stop_when_converged: int = 0
    convergence_metric: str | None = None
    loss_to_optimizer: bool = False
    plateau: Plateau | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.n_epochs < 1:
            msg = f"batch_size and n_epochs must be >= 1, found {self.batch_size} and {self.n_epochs}"
            raise ValueError(msg)
        if self.stop_when_converged < 0:
            msg = f"stop_when_converged must be >= 0, found {self.stop_when_converged}"
            raise ValueError(msg)
        if self.evals_per_epoch < 1:
            msg = f"evals_per_epoch must be >= 1, found {self.evals_per_epoch}"
            raise ValueError(msg)


def clipped_adamw(learning_rate: float | optax.Schedule, *, weight_decay: float,
                  clip_norm: float = 1.0) -> optax.GradientTransformation:
    """AdamW after clipping the gradients' global norm at ``clip_norm``: the optimiser of the networks trained with
    a learning-rate schedule (the vmapped stacks of :func:`hepnb.tracks.training.fit_heads`).

    Parameters
    ----------
    learning_rate
        A constant or an optax schedule of the optimiser step.
    weight_decay
        AdamW's decoupled weight decay.
    clip_norm
        Largest global norm of the gradients.
    """
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adamw(learning_rate, weight_decay=weight_decay))


def keep_best(improved: jax.Array, new: Any, best: Any) -> Any:
    """The tree ``new`` where ``improved``, else ``best`` (traceable): the kept weights of a training loop.

    ``improved`` is a scalar (one model: :func:`fit`) or one flag per model along the leading axis of every leaf
    (a vmapped stack of models: :func:`hepnb.tracks.training.fit_heads`).
    """
    mask = jnp.asarray(improved)

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.where(mask.reshape(mask.shape + (1,) * (jnp.ndim(a) - mask.ndim)), a, b)

    return jax.tree.map(pick, new, best)


@dataclass
class FitResult:
    """What a training loop returns: :func:`fit`, and the vmapped stacks of
    :func:`hepnb.tracks.training.fit_heads`.

    Attributes
    ----------
    model
        The trained model, holding the weights of the best epoch (the same object that was passed in); for a
        vmapped stack, the list of its models.
    history
        Means at every evaluation (each epoch's end, or each part of it with ``evals_per_epoch`` > 1):
        ``train_loss`` (over the steps since the previous evaluation), ``val_loss`` and ``train_<aux>``/``val_<aux>``
        for each aux key (a stack: one array per curve, a column per model, at every evaluation).
    best_epoch
        Index (0-based) of the epoch whose weights were kept.
    best_eval
        Index (0-based) of the evaluation whose weights were kept (``best_epoch`` with one evaluation per epoch).
    n_epochs_run, n_steps
        Epochs actually run (fewer than requested after early stopping) and optimiser steps taken.
    train_time_s
        Wall-clock time of the epochs (validation included), compilation excluded.
    train_cpu_time_s
        CPU time of this process over the same epochs (all threads): on a machine shared with other work, the
        cost of the epochs themselves.
    compile_time_s
        Time to trace the epoch (training and validation) and compile it, or only to trace it when an earlier
        compilation of the same program is reused.
    compiled_reused, steps_per_s
        Whether the compiled epoch of an earlier fit (same program, same shapes) was reused; ``n_steps / train_time_s``.
    best_step
        For a stack: the optimiser step of the kept weights of each model.
    convergence
        The convergence record of each model (one for :func:`fit`), from its monitored validation curve
        (:func:`hepnb.convergence.relative_convergence`).
    """

    model: nnx.Module | list[nnx.Module]
    history: dict[str, Any] = field(default_factory=dict)
    best_epoch: int = 0
    best_eval: int = 0
    n_epochs_run: int = 0
    n_steps: int = 0
    train_time_s: float = 0.0
    train_cpu_time_s: float = 0.0
    compile_time_s: float = 0.0
    compiled_reused: bool = False
    steps_per_s: float = 0.0
    best_step: list[int] = field(default_factory=list)
    convergence: list[Convergence] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """Whether every model of the fit converged (``False`` without a record)."""
        return bool(self.convergence) and all(c.converged for c in self.convergence)


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


def _shuffled_batches(data: Batch, key: jax.Array, n_batches: int, batch_size: int) -> Batch:
    """The epoch's mini-batches ``[n_batches, batch_size, ...]`` in one gather on the device."""
    n_rows = jax.tree.leaves(data)[0].shape[0]
    order = jax.random.permutation(key, n_rows)[: n_batches * batch_size].reshape(n_batches, batch_size)
    return jax.tree.map(lambda a: a[order], data)


def _val_loss(model: nnx.Module, loss_fn: LossFn, head: Batch | None, tail: Batch | None) -> tuple[Any, Any]:
    """Mean loss and aux over the validation set, given as equal chunks ``head`` ``[n, chunk, ...]`` and a
    smaller ``tail``; each part is weighted by its number of rows."""
    parts = []
    if head is not None:
        losses, auxes = jax.lax.map(lambda batch: loss_fn(model, batch), head)
        parts.append((jax.tree.leaves(head)[0].shape[0] * jax.tree.leaves(head)[0].shape[1],
                      jnp.mean(losses), _mean_tree(auxes)))
    if tail is not None:
        loss, aux = loss_fn(model, tail)
        parts.append((jax.tree.leaves(tail)[0].shape[0], loss, aux))
    total = sum(n for n, _, _ in parts)
    loss = sum(n / total * jnp.asarray(l, jnp.float32) for n, l, _ in parts)
    aux = jax.tree.map(lambda *xs: sum(n / total * jnp.asarray(x, jnp.float32) for (n, _, _), x in
                                      zip(parts, xs, strict=True)), *[a for _, _, a in parts])
    return loss, aux


def _train_and_validate(graphdef: Any, loss_fn: LossFn, grad_fn: GradFn | None, monitor: str, feed_loss: bool,
                        plateau: tuple[Plateau, str] | None, state: Any, best: Any, sched: Any, batches: Batch,
                        val_head: Batch | None, val_tail: Batch | None) -> tuple[Any, Any, Any, dict[str, jax.Array]]:
    """Scan the optimiser steps over ``batches``, validate, keep the best model state and, with a ``plateau``
    (and the curve it reads), update its rate factor ``sched`` (traced)."""
    extra = {"lr_factor": sched[0]} if plateau is not None else {}

    def step(carry: Any, batch: Batch) -> tuple[Any, Any]:
        model, optimizer = nnx.merge(graphdef, carry)
        if grad_fn is None:
            (loss, aux), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, batch)
        else:
            loss, grads, aux = grad_fn(model, batch)
        if feed_loss:
            optimizer.update(model, grads, value=loss, **extra)
        else:
            optimizer.update(model, grads, **extra)
        return nnx.state((model, optimizer)), (loss, aux)

    state, (losses, auxes) = jax.lax.scan(step, state, batches)
    record = {"train_loss": jnp.mean(losses), **{f"train_{k}": v for k, v in _mean_tree(auxes).items()}}
    if val_head is not None or val_tail is not None:
        model, _ = nnx.merge(graphdef, state)
        model.eval()  # static attributes only: the traced evaluation runs without dropout, on running averages
        val_loss, val_aux = _val_loss(model, loss_fn, val_head, val_tail)
        record.update({"val_loss": val_loss, **{f"val_{k}": v for k, v in val_aux.items()}})
    if monitor not in record:
        msg = f"monitor {monitor!r} is not among the recorded quantities {sorted(record)}"
        raise ValueError(msg)
    if plateau is not None:
        if plateau[1] not in record:
            msg = f"the plateau's curve {plateau[1]!r} is not among the recorded quantities {sorted(record)}"
            raise ValueError(msg)
        record["lr_factor"] = sched[0]
        sched = plateau_step(plateau[0], sched, jnp.asarray(record[plateau[1]], jnp.float32))
    record = {k: jnp.asarray(v, jnp.float32) for k, v in record.items()}
    best_value, best_state = best
    improved = record[monitor] < best_value
    best = (jnp.where(improved, record[monitor], best_value),
            keep_best(improved, state[0], best_state))
    return state, best, sched, record


def _epoch(graphdef: Any, loss_fn: LossFn, grad_fn: GradFn | None, n_batches: int, batch_size: int,
           monitor: str, n_evals: int, feed_loss: bool, plateau: tuple[Plateau, str] | None, state: Any, best: Any,
           sched: Any, data: Batch, val_head: Batch | None, val_tail: Batch | None, key: jax.Array
           ) -> tuple[Any, Any, Any, dict[str, jax.Array]]:
    """One epoch on the device: shuffle, then scan the steps, validate and keep the best model state, once or
    for each of ``n_evals`` equal parts of the epoch.

    ``best`` is ``(value, model_state)``; it is replaced where ``monitor`` improved. ``sched`` is the plateau's
    ``(rate factor, best value, evaluations since an improvement)`` (:func:`hepnb.plateau.plateau_step`). Returns
    the new training state, ``best``, ``sched`` and the epoch's record (``train_loss``, ``train_<aux>``,
    ``val_...``): scalars for one evaluation, arrays ``[n_evals]`` for several.
    """
    batches = _shuffled_batches(data, key, n_batches, batch_size)
    if n_evals == 1:
        return _train_and_validate(graphdef, loss_fn, grad_fn, monitor, feed_loss, plateau, state, best, sched,
                                   batches, val_head, val_tail)
    per_part = n_batches // n_evals
    parts = jax.tree.map(lambda a: a[: n_evals * per_part].reshape(n_evals, per_part, *a.shape[1:]), batches)

    def part(carry: Any, part_batches: Batch) -> tuple[Any, dict[str, jax.Array]]:
        state, best, sched, record = _train_and_validate(graphdef, loss_fn, grad_fn, monitor, feed_loss, plateau,
                                                         *carry, part_batches, val_head, val_tail)
        return (state, best, sched), record

    (state, best, sched), records = jax.lax.scan(part, (state, best, sched), parts)
    return state, best, sched, records


_epoch_jit = jax.jit(_epoch, static_argnums=(0, 1, 2, 3, 4, 5, 6, 7, 8), donate_argnums=(9, 10))
#: Compiled epochs by the text of their lowered program and the layout of their arguments: a later fit of the same
#: model on data of the same shapes reuses the executable, even with a new (equal) optax chain or loss object,
#: which would defeat a cache keyed on the static arguments. Tracing is repeated (seconds), compiling is not.
_COMPILED: OrderedDict[Any, Any] = OrderedDict()
_COMPILED_MAX = 16


def _signature(tree: Any) -> Any:
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(x), str(x.dtype), getattr(x, "weak_type", False)) for x in leaves)


def _compiled_epoch(static: tuple[Any, ...], *args: Any) -> tuple[Any, float, bool]:
    """The compiled epoch for these static arguments and arrays, the seconds spent tracing and compiling, and
    whether an earlier compilation was reused."""
    t0 = time.perf_counter()
    lowered = _epoch_jit.lower(*static, *args)
    cache_key = (hashlib.sha256(lowered.as_text().encode()).hexdigest(), _signature(args))
    reused = cache_key in _COMPILED
    if reused:
        _COMPILED.move_to_end(cache_key)
    else:
        _COMPILED[cache_key] = lowered.compile()
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return _COMPILED[cache_key], time.perf_counter() - t0, reused


def _val_chunks(val: Batch, n_rows: int) -> tuple[Batch | None, Batch | None]:
    """``val`` as equal chunks of at most :data:`EVAL_CHUNK_ROWS` rows plus the remainder (made once per fit)."""
    chunk = min(EVAL_CHUNK_ROWS, n_rows)
    n_full = n_rows // chunk
    head = jax.tree.map(lambda a: a[: n_full * chunk].reshape(n_full, chunk, *a.shape[1:]), val)
    tail = jax.tree.map(lambda a: a[n_full * chunk:], val) if n_rows > n_full * chunk else None
    return head, tail


def _evaluations(record_dev: dict[str, jax.Array], n_evals: int) -> list[dict[str, float]]:
    """An epoch's record as one dict of floats per evaluation."""
    record = jax.device_get(record_dev)
    if n_evals == 1:
        return [{k: float(v) for k, v in record.items()}]
    return [{k: float(v[i]) for k, v in record.items()} for i in range(n_evals)]


def _converged(history: Mapping[str, list[float]], curve: str, rel_tolerance: float) -> Convergence:
    """The convergence record of the recorded curve ``curve``; a clear error if it was not recorded."""
    if curve not in history:
        msg = f"the convergence metric {curve!r} is not among the recorded quantities {sorted(history)}"
        raise ValueError(msg)
    return relative_convergence(history[curve], rel_tolerance=rel_tolerance, metric=curve)


def fit(
    model: nnx.Module,
    tx: optax.GradientTransformation,
    loss_fn: LossFn,
    train: Mapping[str, Any],
    val: Mapping[str, Any] | None = None,
    *,
    config: FitConfig,
    grad_fn: GradFn | None = None,
) -> FitResult:
    """Train ``model`` in place with epochs fused into one ``lax.scan`` each.

    Parameters
    ----------
    model
        Flax NNX module; trained in place and left in evaluation mode with the best weights.
    tx
        Optax transformation (learning-rate schedules count optimiser steps).
    loss_fn
        ``loss_fn(model, batch) -> (loss, aux)``; ``batch`` holds one row slice of every array in ``train``. Must be
        a hashable function defined once (not a fresh lambda per call) so that compiled epochs are reused.
    train, val
        Dicts of arrays with a common leading dimension. ``val`` drives early stopping and the choice of the kept
        epoch; without it the training loss is monitored.
    config
        How to train (:class:`FitConfig`): batch size, epochs, stopping, the monitored quantity, the plateau.
    grad_fn
        Optional replacement of the gradient computation, ``grad_fn(model, batch) -> (loss, grads, aux)``, e.g.
        PCGrad over several task losses.

    Returns
    -------
    FitResult
        Training history, timings and the (in-place trained) model.

    Notes
    -----
    Each epoch is one call of one compiled function (see the module's description); the training state is donated
    to it (updated in place), and the compiled epoch is reused by later fits of the same model on data of the same
    shapes. ``train_time_s`` counts the whole epoch loop, validation included, so ``steps_per_s`` is what a user of
    ``fit`` gets.
    """
    batch_size, n_epochs, patience, seed = config.batch_size, config.n_epochs, config.patience, config.seed
    monitor, checkpoint_dir, progress, restore_best = (config.monitor, config.checkpoint_dir, config.progress,
                                                       config.restore_best)
    n_train = _check_data("train", train, batch_size)
    n_val = _check_data("val", val, 1) if val is not None else 0
    if val is None and monitor.startswith("val_"):
        monitor = "train" + monitor[3:]
    n_batches, n_evals = n_train // batch_size, config.evals_per_epoch
    if n_batches < n_evals:
        msg = f"evals_per_epoch ({n_evals}) exceeds the {n_batches} batches of an epoch"
        raise ValueError(msg)
    steps_per_epoch = n_evals * (n_batches // n_evals)
    curve = config.convergence_metric or monitor
    train_data = jax.tree.map(jnp.asarray, dict(train))
    val_head, val_tail = _val_chunks(jax.tree.map(jnp.asarray, dict(val)), n_val) if val is not None else (None, None)

    plateau = (config.plateau, curve) if config.plateau is not None else None
    if plateau is not None:
        tx = optax.chain(tx, scale_by_lr_factor())
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    model.train()
    graphdef, state = nnx.split((model, optimizer))
    # the epoch call donates (overwrites) its state: start from a copy, so that the model's own arrays stay valid
    state = jax.tree.map(jnp.copy, state)
    best = (jnp.asarray(jnp.inf, jnp.float32), jax.tree.map(jnp.copy, state[0]))
    sched = (jnp.asarray(1.0, jnp.float32), jnp.asarray(jnp.inf, jnp.float32), jnp.asarray(0, jnp.int32))
    key = jax.random.key(seed)
    static = (graphdef, loss_fn, grad_fn, n_batches, batch_size, monitor, n_evals, config.loss_to_optimizer, plateau)
    epoch_fn, compile_time, reused = _compiled_epoch(static, state, best, sched, train_data, val_head, val_tail, key)

    result = FitResult(model=model, compile_time_s=compile_time, compiled_reused=reused)
    history: dict[str, list[float]] = {}
    best_value, since_best, converged_ends = math.inf, 0, 0
    bar = tqdm(range(n_epochs), desc="epochs", disable=not progress, leave=False)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in bar:
        key, sub = jax.random.split(key)
        state, best, sched, record_dev = epoch_fn(state, best, sched, train_data, val_head, val_tail, sub)
        result.n_epochs_run = epoch + 1
        for record in _evaluations(record_dev, n_evals):
            for name, value in record.items():
                history.setdefault(name, []).append(value)
            current = record[monitor]
            if not math.isfinite(current):
                nnx.update((model, optimizer), state)
                msg = f"{monitor} became {current} at epoch {epoch}: training diverged"
                raise FloatingPointError(msg)
            if current < best_value:
                best_value, since_best = current, 0
                result.best_eval, result.best_epoch = len(history[monitor]) - 1, epoch
            else:
                since_best += 1
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k.endswith("loss")})
        rate = float(sched[0]) if plateau is not None else 1.0
        if patience is not None and since_best >= patience and (
                plateau is None or evaluations_at_floor(history["lr_factor"], plateau[0].min_scale) >= patience):
            break
        if config.stop_when_converged:
            converged_ends = converged_ends + 1 if _converged(history, curve, config.rel_tolerance).converged else 0
            if converged_ends >= config.stop_when_converged and (plateau is None or rate < 1.0):
                break
    train_time, result.train_cpu_time_s = time.perf_counter() - t_start, time.process_time() - cpu_start
    bar.close()

    nnx.update((model, optimizer), state)
    if restore_best:
        nnx.update(model, best[1])
    model.eval()
    result.history = history
    result.n_steps = result.n_epochs_run * steps_per_epoch
    result.train_time_s = train_time
    result.steps_per_s = result.n_steps / train_time if train_time > 0 else float("nan")
    result.convergence = [_converged(history, curve, config.rel_tolerance)]
    if checkpoint_dir is not None:
        from hepnb.checkpoint import save_model

        save_model(model, checkpoint_dir)
    return result
