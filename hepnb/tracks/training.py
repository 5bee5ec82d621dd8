"""Training of the learned extrapolators: several heads of one shape at once, with ``vmap``.

Heads of the same shape that differ only in their base, their target statistics or a loss weight (the
ablations of this study) are stacked along a new leading axis and trained together: one ``jax.vmap`` over
the stack inside one jitted ``lax.scan`` over optimiser steps. Each head keeps its own optimiser state
(AdamW after a linear warm-up, gradient clipping per head) and its own learning rate, sees the same
mini-batches, and is judged every ``eval_every`` steps on the validation split by its median position error;
the weights of its best evaluation are kept (a choice made on the validation split, never on the test split).
Training runs to convergence (:mod:`hepnb.tracks.plateau`): a head whose validation median stops improving has
its learning rate halved, a head whose convergence record has said converged at two consecutive evaluations
is frozen, and the stack stops when every head is, or at its step cap.

Losses (per head, on the standardised target y = ((end − base)/g − μ)/σ of :mod:`hepnb.tracks.models`):

- ``"mlp"``: mean of y_pred − y over the four components, squared;
- ``"rkpinn"``: the same at ζ = 1 plus ``pde_weight`` × the mean squared ODE residual at ``n_colloc``
  random ζ ∈ (0, 1] per track, (ds/dζ − L f(z, s)) / (g σ), with ds/dζ by forward-mode differentiation
  through the RK4 base and the network; the weight is annealed linearly to zero over the first
  ``pde_anneal_frac`` of the steps.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from hepnb.convergence import relative_convergence
from hepnb.tracks.arrays import Array
from hepnb.tracks.baselines import MLP_BASES, learned_bases
from hepnb.tracks.bases import RK4Base
from hepnb.tracks.data import Setting, field_function
from hepnb.tracks.evaluate import predict_batched
from hepnb.tracks.models import Head, LearnedExtrapolator, build_head, n_params
from hepnb.tracks.plateau import PlateauController, PlateauSettings, plateau_optimizer, set_learning_rates
from hepnb.tracks.polynomial import PolynomialExtrapolator
from hepnb.tracks.propagate import derivatives
from hepnb.train import FitResult, keep_best

__all__ = [
    "Schedule",
    "ZooConfig",
    "fit_heads",
    "run_zoo",
    "run_zoo_tasks",
    "target_stats",
    "train_configured_member",
    "train_stack_member",
]


@dataclass(frozen=True)
class Schedule:
    """Optimiser settings shared by a stack of heads.

    Attributes
    ----------
    steps
        The cap on optimiser steps (the stack stops earlier once every head has converged).
    batch_size
        Tracks per step (drawn with replacement).
    lr
        Peak learning rate, reached after a linear warm-up over ``warmup_frac`` of ``steps``; each head's is
        then lowered on its own plateaus (``plateau``).
    eval_every
        Steps between validation evaluations (the learning curves' resolution, and how often the plateau
        controller and the convergence rule read them).
    pde_anneal_frac
        The RK-PINN's residual weight falls linearly from its value to zero over this fraction of ``steps``
        (1 keeps it on to the end), so that the residual shapes the early training and the data decide the end;
        no learning rate is lowered and the stack is not stopped before the anneal has ended (the loss still
        changes).
    n_colloc
        Collocation points per track of the RK-PINN's residual.
    plateau
        When a head's learning rate is lowered and when it is done (:class:`hepnb.tracks.plateau.PlateauSettings`).
    """

    steps: int
    batch_size: int
    lr: float = 3e-3
    warmup_frac: float = 0.03
    weight_decay: float = 1e-6
    clip_norm: float = 1.0
    eval_every: int = 500
    pde_anneal_frac: float = 0.25
    n_colloc: int = 2
    plateau: PlateauSettings = field(default_factory=PlateauSettings)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1 or not self.lr > 0:
            msg = (f"steps, batch_size, eval_every must be >= 1 and lr > 0, found {self.steps}, {self.batch_size}, "
                   f"{self.eval_every}, {self.lr}")
            raise ValueError(msg)

    @property
    def warmup_steps(self) -> int:
        """Steps of the linear warm-up."""
        return max(1, int(self.warmup_frac * self.steps))

    def optimizer(self) -> optax.GradientTransformation:
        """AdamW with a per-head learning rate in its state, after warm-up and gradient clipping
        (:func:`hepnb.tracks.plateau.plateau_optimizer`)."""
        return plateau_optimizer(self.lr, warmup_steps=self.warmup_steps, weight_decay=self.weight_decay,
                                 clip_norm=self.clip_norm)


def target_stats(start: np.ndarray, end: np.ndarray, base_end: np.ndarray, *, per_qop: bool = True) -> dict[str, Any]:
    """Normalisation of a head from the training set: inputs by mean and std, the correction (end − base)/g by
    mean and std (g = (q/p)/(q/p)_rms, or 1 without ``per_qop``), and (q/p)_rms."""
    s = np.asarray(start, np.float64)
    qop_rms = float(np.sqrt(np.mean(s[:, 4] ** 2)))
    g = s[:, 4:5] / qop_rms if per_qop else 1.0
    corr = (np.asarray(end, np.float64)[:, :4] - np.asarray(base_end, np.float64)[:, :4]) / g
    return {"in_mean": s.mean(0), "in_std": s.std(0) + 1e-12, "out_mean": corr.mean(0),
            "out_std": corr.std(0) + 1e-12, "qop_rms": qop_rms}


def _standardise(head: Head, start: Array, end: Array, base_end: Array) -> Array:
    """y = ((end − base)/g − μ)/σ for one head."""
    g = head.per_qop(start)
    return ((end[:, :4] - base_end[:, :4]) / g - head.out_mean[...]) / head.out_std[...]


def _pde_residual(head: Head, base: RK4Base, start: Array, zeta: Array) -> Array:
    """(ds/dζ − L f(z, s)) / (g σ) at ζ for each track, dimensionless (N, 4)."""
    length = base.z1_mm - base.z0_mm

    def state(z: Array) -> Array:
        return base.at(start, z)[:, :4] + z[:, None] * head.correction(start, z)

    value, ds_dzeta = jax.jvp(state, (zeta,), (jnp.ones_like(zeta),))
    full = jnp.concatenate([value, start[:, 4:5]], axis=1)
    f = derivatives(base.z0_mm + zeta * length, full, base.field_fn, base.kappa)[:, :4]
    return (ds_dzeta - length * f) / (head.per_qop(start) * head.out_std[...])


def _loss(graphdef: Any, params: Any, rest: Any, batch: dict[str, Array], target: Array, pde_weight: Array,
          zeta: Array | None, base: RK4Base | None, anneal: Array) -> tuple[Array, dict[str, Array]]:
    head = nnx.merge(graphdef, params, rest)
    err = head.standardised(batch["start"]) - target
    data = jnp.mean(err * err)
    if base is None:
        return data, {"data": data, "pde": jnp.zeros_like(data)}
    n, k = zeta.shape
    starts = jnp.repeat(batch["start"], k, axis=0)
    r = _pde_residual(head, base, starts, zeta.reshape(n * k))
    pde = jnp.mean(r * r)
    return data + anneal * pde_weight * pde, {"data": data, "pde": pde}


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 5))
def _train_chunk(graphdef: Any, tx: optax.GradientTransformation, n_steps: int, batch_size: int, n_colloc: int,
                 base: RK4Base | None, params: Any, rest: Any, opt_state: Any, data: dict[str, Array],
                 targets: Array, pde_weights: Array, key: Array, first_step: Array,
                 anneal_steps: Array) -> tuple[Any, Any, Array, Array]:
    n_rows = data["start"].shape[0]
    grad_fn = jax.vmap(jax.value_and_grad(functools.partial(_loss, graphdef), has_aux=True),
                       in_axes=(0, 0, None, 0, 0, None, None, None))

    def step(carry: tuple[Any, Any], xs: tuple[Array, Array]) -> tuple[tuple[Any, Any], tuple[Array, Array]]:
        step_key, i = xs
        params, opt_state = carry
        anneal = jnp.clip(1.0 - (first_step + i) / anneal_steps, 0.0, 1.0)
        k_idx, k_zeta = jax.random.split(step_key)
        idx = jax.random.randint(k_idx, (batch_size,), 0, n_rows)
        batch = {"start": data["start"][idx]}
        zeta = None
        if base is not None:
            zeta = jax.random.uniform(k_zeta, (batch_size, n_colloc), minval=0.02, maxval=1.0)
        (loss, aux), grads = grad_fn(params, rest, batch, targets[:, idx], pde_weights, zeta, base, anneal)
        updates, opt_state = jax.vmap(tx.update)(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, aux["pde"])

    xs = (jax.random.split(key, n_steps), jnp.arange(n_steps, dtype=jnp.float32))
    (params, opt_state), (losses, pdes) = jax.lax.scan(step, (params, opt_state), xs)
    return params, opt_state, losses.mean(0), pdes.mean(0)


@functools.partial(jax.jit, static_argnums=(0,))
def _val_median_um(graphdef: Any, params: Any, rest: Any, start: Array, end: Array, base_end: Array) -> Array:
    def one(p: Any, r: Any, b: Array) -> Array:
        head = nnx.merge(graphdef, p, r)
        pred = b[:, :4] + head.correction(start)
        return jnp.median(1e3 * jnp.hypot(pred[:, 0] - end[:, 0], pred[:, 1] - end[:, 1]))

    return jax.vmap(one)(params, rest, base_end)


def fit_heads(heads: Sequence[Head], train: dict[str, Any], val: dict[str, Any], *,
              schedule: Schedule, rkpinn_base: RK4Base | None = None, pde_weights: Sequence[float] | None = None,
              seed: int = 0, progress: bool = False) -> FitResult:
    """Train heads of one shape together (vmap over the stack), in place.

    Parameters
    ----------
    heads
        K heads with the same architecture (their statistics, base and loss weight may differ).
    train, val
        ``start`` (N, 5) and ``end`` (N, ≥ 4) states (the validation ``end`` is the float64 reference), and
        ``base_end``: each head's base prediction (N, ≥ 4) on those starts, one array per head.
    schedule
        Steps, batch size, learning rate, evaluation interval and the residual's collocation points.
    rkpinn_base
        The RK4 base of RK-PINN heads (adds the ODE residual to the loss); ``None`` for MLP heads.
    pde_weights
        The residual's weight per head (RK-PINN only; 0 switches it off).

    Returns
    -------
    FitResult
        Learning curves (``history``: ``step``, ``train_loss``, ``train_pde``, ``val_median_um`` and the ``lr``
        each head trained at before the evaluation, a column per head), kept steps and timings; ``n_steps`` is
        below the cap when every head converged first.
    """
    k = len(heads)
    base_end_train, base_end_val, n_colloc = train["base_end"], val["base_end"], schedule.n_colloc
    if k == 0 or len(base_end_train) != k or len(base_end_val) != k:
        msg = f"need one base prediction per head for train and val, found {len(base_end_train)}, {len(base_end_val)} for {k} heads"
        raise ValueError(msg)
    shapes = {(*h.hidden_widths, h.family) for h in heads}
    if len(shapes) != 1:
        msg = f"heads trained together must share one architecture, found {sorted(shapes)}"
        raise ValueError(msg)
    if (rkpinn_base is None) != (heads[0].family == "mlp"):
        msg = "RK-PINN heads need their rkpinn_base (and MLP heads none)"
        raise ValueError(msg)
    weights = np.zeros(k) if pde_weights is None else np.asarray(pde_weights, np.float64)
    if weights.shape != (k,):
        msg = f"pde_weights must have one value per head ({k}), found {weights.shape}"
        raise ValueError(msg)

    start = jnp.asarray(train["start"], jnp.float32)
    end = jnp.asarray(train["end"], jnp.float32)
    targets = jnp.stack([_standardise(h, start, end, jnp.asarray(b, jnp.float32))
                         for h, b in zip(heads, base_end_train, strict=True)])
    split = [nnx.split(h, nnx.Param, ...) for h in heads]
    graphdef = split[0][0]
    params = jax.tree.map(lambda *a: jnp.stack(a), *[s[1] for s in split])
    rest = jax.tree.map(lambda *a: jnp.stack(a), *[s[2] for s in split])
    tx = schedule.optimizer()
    opt_state = jax.vmap(tx.init)(params)
    v_start = jnp.asarray(val["start"], jnp.float32)
    v_end = jnp.asarray(np.asarray(val["end"])[:, :4], jnp.float32)
    v_base = jnp.stack([jnp.asarray(np.asarray(b)[:, :4], jnp.float32) for b in base_end_val])
    data = {"start": start}
    pde_w = jnp.asarray(weights, jnp.float32)

    n_chunks = -(-schedule.steps // schedule.eval_every)
    key = jax.random.key(seed)
    history: dict[str, list[Any]] = {"step": [], "train_loss": [], "val_median_um": [], "train_pde": [], "lr": []}
    best = np.full(k, np.inf)
    best_params = params
    best_step = [0] * k
    result = FitResult(model=list(heads))
    t0 = time.perf_counter()
    anneal_steps = jnp.asarray(max(1.0, schedule.pde_anneal_frac * schedule.steps), jnp.float32)
    settle = max(schedule.warmup_steps, int(anneal_steps) if rkpinn_base is not None and weights.any() else 0)
    chunk = _train_chunk.lower(graphdef, tx, schedule.eval_every, schedule.batch_size, n_colloc, rkpinn_base, params,
                               rest, opt_state, data, targets, pde_w, key, jnp.float32(0), anneal_steps).compile()
    result.compile_time_s = time.perf_counter() - t0
    controller = PlateauController.start(k, schedule.lr, schedule.plateau)
    lrs = controller.lr.copy()
    done, train_time = 0, 0.0
    bar = tqdm(range(n_chunks), desc="steps", disable=not progress, leave=False)
    for _ in bar:
        key, sub = jax.random.split(key)
        t0 = time.perf_counter()
        params, opt_state, loss, pde = chunk(params, rest, opt_state, data, targets, pde_w, sub, jnp.float32(done),
                                             anneal_steps)
        loss = np.asarray(loss)
        train_time += time.perf_counter() - t0
        done += schedule.eval_every
        if not np.all(np.isfinite(loss)):
            msg = f"training diverged at step {done}: losses {loss.tolist()}"
            raise FloatingPointError(msg)
        med = np.asarray(_val_median_um(graphdef, params, rest, v_start, v_end, v_base))
        better = med < best
        if better.any():
            best = np.where(better, med, best)
            best_params = keep_best(better, params, best_params)
            best_step = [done if b else s for b, s in zip(better, best_step, strict=True)]
        history["step"].append(done)
        history["train_loss"].append(loss)
        history["train_pde"].append(np.asarray(pde))
        history["val_median_um"].append(med)
        history["lr"].append(lrs)
        lrs = controller.update(med, may_stop=done >= settle, may_lower=done >= settle)
        opt_state = set_learning_rates(opt_state, lrs)
        bar.set_postfix(val_um=f"{med.min():.3g}")
        if controller.all_done:
            break
    bar.close()
    for i, head in enumerate(heads):
        nnx.update(head, jax.tree.map(lambda a, i=i: a[i], best_params))
    result.history = {name: np.asarray(v) for name, v in history.items()}
    result.best_step, result.train_time_s, result.n_steps = best_step, train_time, done
    result.steps_per_s = done / train_time if train_time > 0 else float("nan")
    result.convergence = [relative_convergence(result.history["val_median_um"][:, i], metric="val_median_um",
                                               rel_tolerance=schedule.plateau.rel_tolerance) for i in range(k)]
    return result


def _per_qop(base: Any) -> bool:
    """Heads on bases that are exact at q/p = 0 learn the correction per unit of q/p."""
    return not isinstance(base, PolynomialExtrapolator)


@dataclass(frozen=True)
class ZooConfig:
    """How the stacks of the model zoo are trained (:func:`run_zoo`, :func:`train_stack_member`).

    Attributes
    ----------
    steps
        Optimiser steps; ``None``: ``epochs`` of the training split.
    epochs
        Epochs of the training split when ``steps`` is ``None`` (default one).
    batch_size, lr, seed
        Tracks per step, peak learning rate, seed of the weights and batches.
    n_coarse
        RK4 steps of an RK-PINN's base.
    pde_weight
        The RK-PINN's physics-loss weight; its heads are ``pde_weights`` (default ``(0, pde_weight)``: the ablation).
    pde_weights
        The physics-loss weights of an RK-PINN stack, one head each.
    bases
        The bases of an MLP stack, one head each.
    n_colloc
        Collocation points per track of the physics loss.
    eval_every
        Steps between validation evaluations.
    plateau
        The per-head reduce-on-plateau and the stop at convergence (:class:`hepnb.tracks.plateau.PlateauSettings`).
    """

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 1024
    lr: float = 3e-3
    seed: int = 0
    n_coarse: int = 2
    pde_weight: float = 0.1
    pde_weights: tuple[float, ...] | None = None
    bases: tuple[str, ...] = MLP_BASES
    n_colloc: int = 2
    eval_every: int = 500
    plateau: PlateauSettings = field(default_factory=PlateauSettings)


def train_stack_member(member: tuple[str, str], dataset: dict[str, Any], config: ZooConfig = ZooConfig()
                       ) -> dict[str, Any]:
    """One zoo member as a task: the stack of heads of one (family, size), trained together with vmap.

    An MLP member trains one head per base of ``config.bases``; an RK-PINN member one head per weight of
    ``config.pde_weights`` (default ``(0, pde_weight)``: the ablation) on RK4 with ``n_coarse`` steps.
    ``steps`` (or ``epochs`` of the training split) caps the optimiser steps (:class:`ZooConfig`); the stack
    stops earlier once every head has converged.

    Returns
    -------
    dict
        ``variants`` (names), ``states`` (numpy weights per head, :func:`hepnb.compute.sweep.state_to_numpy`),
        ``history``, ``best_step``, ``train_time_s`` (training plus compilation), ``steps_per_s``,
        ``convergence`` (each head's record as a dict, :meth:`hepnb.convergence.Convergence.as_dict`), ``step_cap``.
    """
    from hepnb.compute.sweep import state_to_numpy

    family, size = member
    steps, epochs, batch_size, lr, seed = config.steps, config.epochs, config.batch_size, config.lr, config.seed
    n_coarse, bases, pde_weights = config.n_coarse, config.bases, config.pde_weights
    pde_weight, n_colloc, eval_every = config.pde_weight, config.n_colloc, config.eval_every
    n_train = len(dataset["train"]["start"])
    if steps is None:
        steps = max(1, (epochs or 1) * n_train // batch_size)
    schedule = Schedule(steps=int(steps), batch_size=batch_size, lr=lr, eval_every=min(eval_every, int(steps)),
                        n_colloc=n_colloc, plateau=config.plateau)
    heads, variants, result = _train_stack(family, size, dataset, schedule=schedule, seed=seed, n_coarse=n_coarse,
                                           bases=bases, pde_weights=pde_weights if pde_weights is not None
                                           else (0.0, pde_weight))
    return {"variants": variants, "states": [state_to_numpy(h) for h in heads], "history": result.history,
            "best_step": result.best_step, "train_time_s": result.train_time_s + result.compile_time_s,
            "steps_per_s": result.steps_per_s, "convergence": [c.as_dict() for c in result.convergence],
            "step_cap": schedule.steps}


def _member_bases(family: str, dataset: dict[str, Any], *, bases: Sequence[str], n_coarse: int) -> dict[str, Any]:
    st: Setting = dataset["setting"]
    if family == "rkpinn":
        return {f"rk4_{n_coarse}": RK4Base(n_coarse, st.z0_mm, st.z1_mm, field_function(st), st.kappa)}
    available = learned_bases(dataset, dataset.get("poly5"))
    unknown = [b for b in bases if b not in available]
    if unknown:
        msg = f"unknown bases {unknown}; choose from {list(available)}"
        raise ValueError(msg)
    return {b: available[b] for b in bases}


def _train_stack(family: str, size: str, dataset: dict[str, Any], *, schedule: Schedule, seed: int, n_coarse: int,
                 bases: Sequence[str], pde_weights: Sequence[float]) -> tuple[list[Any], list[str], FitResult]:
    train, val = dataset["train"], dataset["val"]
    member_bases = _member_bases(family, dataset, bases=bases, n_coarse=n_coarse)
    if family == "rkpinn":
        (base,) = member_bases.values()
        variants = [f"pde{w:g}" for w in pde_weights]
        base_list = [base] * len(variants)
    else:
        variants, base_list = list(member_bases), list(member_bases.values())
    heads, btr, bva = [], [], []
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for b in base_list:
        if id(b) not in cache:
            cache[id(b)] = (predict_batched(b, train["start"]), predict_batched(b, val["start"]))
        tr, va = cache[id(b)]
        heads.append(build_head(family, size, stats=target_stats(train["start64"], train["end"], tr, per_qop=_per_qop(b)),
                                seed=seed, per_qop=_per_qop(b)))
        btr.append(tr)
        bva.append(va)
    result = fit_heads(heads, {"start": train["start"], "end": train["end"], "base_end": btr},
                       {"start": val["start"], "end": val["end"], "base_end": bva}, schedule=schedule,
                       rkpinn_base=base_list[0] if family == "rkpinn" else None,
                       pde_weights=list(pde_weights) if family == "rkpinn" else None, seed=seed)
    return heads, variants, result


def train_configured_member(task: tuple[tuple[str, str], ZooConfig], dataset: dict[str, Any]) -> dict[str, Any]:
    """:func:`train_stack_member` of a ``(member, config)`` task: each task carries its own configuration (its
    seed, its step cap), so that stacks of different families and seeds run as one batch of tasks."""
    member, config = task
    return train_stack_member(member, dataset, config)


def run_zoo_tasks(dataset: dict[str, Any], tasks: Sequence[tuple[tuple[str, str], ZooConfig]], *,
                  client: Any = None, desc: str = "model zoo"
                  ) -> list[tuple[dict[str, LearnedExtrapolator], dict[str, dict[str, Any]]]]:
    """Train one stack per ``(member, config)`` task (:func:`run_zoo`'s work, with a configuration per task) and
    return, per task, its learned extrapolators by name and their training records.

    All tasks go to ``client`` (a Dask client) at once, so that the stacks of every family and seed share its
    workers; without one they run in this process, in order.
    """
    from hepnb.compute.sweep import load_state, map_tasks

    tasks = list(tasks)
    slim = {k: dataset[k] for k in ("train", "val", "stats", "setting") if k in dataset}
    slim["poly5"] = dataset.get("poly5")
    trained = map_tasks(train_configured_member, tasks, slim, client=client, desc=desc)
    train = dataset["train"]
    out = []
    for ((family, size), config), result in zip(tasks, trained, strict=True):
        member_bases = _member_bases(family, slim, bases=config.bases, n_coarse=config.n_coarse)
        models: dict[str, LearnedExtrapolator] = {}
        records: dict[str, dict[str, Any]] = {}
        for i, (variant, state) in enumerate(zip(result["variants"], result["states"], strict=True)):
            base = next(iter(member_bases.values())) if family == "rkpinn" else member_bases[variant]
            base_train = predict_batched(base, train["start"])
            head = build_head(family, size, seed=config.seed, per_qop=_per_qop(base),
                              stats=target_stats(train["start64"], train["end"], base_train, per_qop=_per_qop(base)))
            load_state(head, state)
            name = f"{family}_{size}_{variant}"
            models[name] = LearnedExtrapolator(name, head, base)
            records[name] = {"family": family, "size": size, "variant": variant, "params": n_params(head),
                             "steps": int(result["history"]["step"][-1]), "best_step": int(result["best_step"][i]),
                             "step_cap": int(result["step_cap"]),
                             "train_time_s": float(result["train_time_s"]), "steps_per_s": float(result["steps_per_s"]),
                             "converged": result["convergence"][i]["converged"], "convergence": result["convergence"][i],
                             "learning_curve": {"step": result["history"]["step"].tolist(),
                                                "train_loss": result["history"]["train_loss"][:, i].tolist(),
                                                "train_pde": result["history"]["train_pde"][:, i].tolist(),
                                                "val_median_um": result["history"]["val_median_um"][:, i].tolist(),
                                                "lr": result["history"]["lr"][:, i].tolist()}}
        out.append((models, records))
    return out


def run_zoo(dataset: dict[str, Any], members: Sequence[tuple[str, str]], config: ZooConfig = ZooConfig(), *,
            client: Any = None) -> tuple[dict[str, LearnedExtrapolator], dict[str, dict[str, Any]]]:
    """Train every (family, size) stack; return the learned extrapolators by name and their training records.

    Names are ``<family>_<size>_<variant>`` (variant: the base of an MLP head, ``pde<weight>`` of an RK-PINN
    head). Each (family, size) of ``members`` is one :func:`train_stack_member` task on ``client`` (a Dask
    client) or, without one, in this process (:func:`run_zoo_tasks`); the weights come back as numpy and the
    heads are rebuilt here on the same bases.
    """
    models: dict[str, LearnedExtrapolator] = {}
    records: dict[str, dict[str, Any]] = {}
    for m, r in run_zoo_tasks(dataset, [(member, config) for member in members], client=client):
        models.update(m)
        records.update(r)
    return models, records


