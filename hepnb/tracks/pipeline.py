"""The leaderboard pipeline, what the notebook calls: dataset, zoo training, baselines, accuracy, timing,
Pareto front, momentum dependence, RK4 convergence, Jacobians and reduced precision."""

from __future__ import annotations

import functools
import itertools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from hepnb.tracks.data import Setting, generate_tracks, setting
from hepnb.tracks.field import FieldMap
from hepnb.tracks.models import MLPExtrapolator, RKPINNExtrapolator, build_model, n_params
from hepnb.tracks.propagate import rk4, rk4_fixed, single_kick, straight_line
from hepnb.train import FitResult, fit

__all__ = [
    "RK4_STEPS",
    "accuracy",
    "baseline_predictors",
    "baseline_rows",
    "compare_with_rk4",
    "ensemble",
    "error_vs_momentum",
    "evaluate_predictor",
    "field_function",
    "jacobian_comparison",
    "make_dataset",
    "mlp_loss",
    "ns_per_track",
    "pareto_front",
    "precision_study",
    "rk4_convergence",
    "rkpinn_loss",
    "run_zoo",
    "train_extrapolator",
    "train_member",
]

#: The RK4-N baselines (float32, through the same grid map).
RK4_STEPS: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 50)


@functools.cache
def _field_fn(setting_key: tuple[str, str], dtype: str) -> Callable[..., Any]:
    """One field function object per (physics, leg, dtype), so jitted code is compiled once."""
    field = setting(*setting_key).field
    if isinstance(field, FieldMap):
        cast = field.astype(np.dtype(dtype))
        fmap = FieldMap(cast.origin_mm, cast.spacing_mm, jnp.asarray(cast.values_t))  # a device array, not an HLO literal
        return lambda x, y, z: fmap(x, y, z)
    return field


def field_function(st: Setting, dtype: str = "float32") -> Callable[..., Any]:
    """The field of a setting as a (cached) function for float32 models and baselines."""
    return _field_fn((st.physics, st.leg if st.physics == "correct" else "ut_t"), dtype)


def make_dataset(n_train: int, n_val: int, n_test: int, *, leg: str, physics: str, seed: int,
                 p_range_gev: tuple[float, float], n_coarse: int, n_colloc: int) -> dict[str, Any]:
    """Simulate tracks, split them, and compute the normalisation statistics of the models."""
    total = n_train + n_val + n_test
    data = generate_tracks(total, leg=leg, physics=physics, seed=seed, p_range_gev=p_range_gev)
    st: Setting = data["setting"]
    start, end = data["start"].astype(np.float32), data["end"].astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    parts = np.split(np.arange(total), [n_train, n_train + n_val])
    field32 = field_function(st)
    line = np.asarray(straight_line(jnp.asarray(start[parts[0]]), st.dz_mm))[:, :4]
    coarse = np.asarray(jax.jit(lambda s: rk4_fixed(s, st.z0_mm, st.z1_mm, n_coarse, field32, st.kappa))(
        jnp.asarray(start[parts[0]])))[:, :4]
    target = end[parts[0], :4]
    qop_rms = float(np.sqrt(np.mean(start[parts[0], 4] ** 2)))
    per_qop = (start[parts[0], 4:5] / qop_rms)  # corrections are learned per unit of q/p
    stats = {"in_mean": start[parts[0]].mean(0), "in_std": start[parts[0]].std(0) + 1e-12, "qop_rms": qop_rms,
             "mlp_scale": ((target - line) / per_qop).std(0) + 1e-9,
             "rkpinn_scale": ((target - coarse) / per_qop).std(0) + 1e-9}

    def split(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"start": start[idx], "end": end[idx],
                "zeta": rng.uniform(0.02, 1.0, (idx.size, n_colloc)).astype(np.float32)}

    return {"train": split(parts[0]), "val": split(parts[1]), "test": split(parts[2]),
            "test_p_gev": data["p_gev"][parts[2]], "test_end64": data["end"][parts[2]],
            "test_start64": data["start"][parts[2]], "stats": stats, "setting": st}


def mlp_loss(model: MLPExtrapolator, batch: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean squared normalised error of (x, y, tx, ty) at the end plane."""
    pred = model(batch["start"])
    r = (pred[:, :4] - batch["end"][:, :4]) / model.out_scale[...]
    pos_um = 1e3 * jnp.hypot(pred[:, 0] - batch["end"][:, 0], pred[:, 1] - batch["end"][:, 1])
    return jnp.mean(r * r), {"pos_um": jnp.mean(pos_um)}


def rkpinn_loss(model: RKPINNExtrapolator, batch: dict[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Data loss at the end plane plus the weighted ODE residual at the collocation points."""
    data_loss, aux = mlp_loss(model, batch)  # type: ignore[arg-type]
    n, k = batch["zeta"].shape
    starts = jnp.repeat(batch["start"], k, axis=0)
    residual = model.ode_residual(starts, batch["zeta"].reshape(n * k))
    pde = jnp.mean(residual * residual)
    return data_loss + model.pde_weight * pde, {**aux, "data": data_loss, "pde": pde}


def train_extrapolator(family: str, size: str, dataset: dict[str, Any], *, epochs: int, batch_size: int,
                       lr: float, seed: int, n_coarse: int, pde_weight: float,
                       checkpoint_dir: str | None = None) -> tuple[nnx.Module, FitResult]:
    """Train one zoo member with the shared loop (AdamW, warm-up + cosine decay, clipping)."""
    st: Setting = dataset["setting"]
    model = build_model(family, size, stats=dataset["stats"], z0_mm=st.z0_mm, z1_mm=st.z1_mm,
                        field_fn=field_function(st), kappa=st.kappa, seed=seed, n_coarse=n_coarse,
                        pde_weight=pde_weight)
    steps = epochs * (len(dataset["train"]["start"]) // batch_size)
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr, max(1, steps // 20), max(2, steps), lr * 1e-3)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=1e-5))
    loss = mlp_loss if family == "mlp" else rkpinn_loss
    result = fit(model, tx, loss, dataset["train"], dataset["val"], batch_size=batch_size, n_epochs=epochs,
                 seed=seed, monitor="val_pos_um", checkpoint_dir=checkpoint_dir, progress=False)
    return model, result


def accuracy(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Position error in µm (mean, median, p95) and slope error in mrad (mean, median) at the end plane."""
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    pos_um = 1e3 * np.hypot(pred[:, 0] - ref[:, 0], pred[:, 1] - ref[:, 1])
    slope_mrad = 1e3 * np.hypot(pred[:, 2] - ref[:, 2], pred[:, 3] - ref[:, 3])
    return {"pos_mean_um": float(pos_um.mean()), "pos_median_um": float(np.median(pos_um)),
            "pos_p95_um": float(np.percentile(pos_um, 95)), "slope_mean_mrad": float(slope_mrad.mean()),
            "slope_median_mrad": float(np.median(slope_mrad))}


def baseline_predictors(st: Setting) -> dict[str, Callable[[jax.Array], jax.Array]]:
    """Straight line, single kick and RK4-N (float32) as functions of start states (N, 5)."""
    field32 = field_function(st)
    z = np.linspace(st.z0_mm, st.z1_mm, 4001)
    with jax.enable_x64(True):
        by = np.asarray(field32(np.zeros_like(z), np.zeros_like(z), z)[1], dtype=np.float64)
    integral = float(np.trapezoid(by, z))
    z_kick = float(np.trapezoid(by * z, z) / integral) if integral != 0 else float(np.mean(z))
    predictors: dict[str, Callable[[jax.Array], jax.Array]] = {
        "straight_line": lambda s: straight_line(s, st.dz_mm),
        "single_kick": lambda s: single_kick(s, st.z0_mm, st.z1_mm, z_kick, integral, st.kappa),
    }
    for n in RK4_STEPS:
        predictors[f"rk4_{n}"] = functools.partial(_rk4_n, n=n, st=st, field=field32)
    return predictors


def _rk4_n(s: jax.Array, *, n: int, st: Setting, field: Callable[..., Any]) -> jax.Array:
    return rk4_fixed(s, st.z0_mm, st.z1_mm, n, field, st.kappa)


def ns_per_track(fn: Callable[[jax.Array], jax.Array], states: np.ndarray, *, batch: int,
                 repeats: int = 5, min_time_s: float = 0.2) -> float:
    """Wall-clock ns per track of the jitted ``fn`` at a given batch size (compilation excluded)."""
    jitted = jax.jit(fn)
    x = jnp.asarray(states[:batch], jnp.float32)
    if x.shape[0] < batch:
        x = jnp.resize(x, (batch, x.shape[1]))
    jitted(x).block_until_ready()
    best = np.inf
    for _ in range(repeats):
        n_calls, t0 = 0, time.perf_counter()
        while True:
            jitted(x).block_until_ready()
            n_calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time_s / repeats:
                break
        best = min(best, elapsed / n_calls)
    return float(best / batch * 1e9)


def jacobian_comparison(predict: Callable[[jax.Array], jax.Array], reference: Callable[[np.ndarray], np.ndarray],
                        state: np.ndarray, *, eps: Sequence[float] = (1e-2, 1e-2, 1e-5, 1e-5, 1e-5)) -> dict[str, Any]:
    """The 5×5 transport Jacobian d(out)/d(in) by autodiff of ``predict`` vs central finite differences
    of the float64 ``reference`` (whole-state columns; eps in the state's units)."""
    jac_ad = np.asarray(jax.jacfwd(lambda s: predict(s[None])[0])(jnp.asarray(state, jnp.float32)), np.float64)
    jac_fd = np.zeros((5, 5))
    for j, e in enumerate(eps):
        up, down = state.copy(), state.copy()
        up[j] += e
        down[j] -= e
        jac_fd[:, j] = (reference(up[None])[0] - reference(down[None])[0]) / (2 * e)
    scale = np.maximum(np.abs(jac_fd), 1e-12)
    rel = np.abs(jac_ad - jac_fd) / scale
    rel[np.abs(jac_fd) < 1e-9] = 0.0
    return {"autodiff": jac_ad, "finite_diff": jac_fd, "max_rel_diff_4x4": float(rel[:4, :4].max()),
            "max_rel_diff_qop_column": float(rel[:4, 4].max())}


def precision_study(model: nnx.Module, states: np.ndarray, ref: np.ndarray, *, batch: int) -> dict[str, Any]:
    """Accuracy and speed of the model run in float32, bfloat16 and float16 (weights and inputs cast)."""
    out = {}
    graphdef, state = nnx.split(model)
    for name, dtype in (("float32", jnp.float32), ("bfloat16", jnp.bfloat16), ("float16", jnp.float16)):
        cast = jax.tree.map(lambda a, d=dtype: a.astype(d) if jnp.issubdtype(a.dtype, jnp.floating) else a, state)

        def run(s: jax.Array, cast: Any = cast, dtype: Any = dtype) -> jax.Array:
            m = nnx.merge(graphdef, cast)
            # positions are kept in float32 around the network: x ~ 1e3 mm has 8 mantissa bits in bf16
            return m(s.astype(jnp.float32)).astype(jnp.float32) if dtype == jnp.float32 else _mixed(m, s, dtype)

        pred = np.asarray(jax.jit(run)(jnp.asarray(states, jnp.float32)))
        out[name] = {**accuracy(pred, ref), "ns_per_track": ns_per_track(run, states, batch=batch)}
    return out


def _mixed(model: nnx.Module, start: jax.Array, dtype: Any) -> jax.Array:
    """Network in reduced precision, base (line or coarse RK) and the final sum in float32."""
    start32 = start.astype(jnp.float32)
    norm = model.normalise(start32).astype(dtype)  # type: ignore[attr-defined]
    if isinstance(model, RKPINNExtrapolator):
        ones = jnp.ones((start.shape[0], 1), dtype)
        corr = model.net(jnp.concatenate([norm, ones], axis=1))
    else:
        corr = model.net(norm)  # type: ignore[attr-defined]
    base = model.base(start32)  # type: ignore[attr-defined]
    out = base + corr.astype(jnp.float32) * model.correction_scale(start32)  # type: ignore[attr-defined]
    return jnp.concatenate([out, start32[:, 4:5]], axis=1)


def evaluate_predictor(name: str, family: str, fn: Callable[[jax.Array], jax.Array], dataset: dict[str, Any], *,
                       timing_batch: int, params: int = 0, train_time_s: float = 0.0) -> dict[str, Any]:
    """One leaderboard row: accuracy on the test set and ns/track at batch 1 and at ``timing_batch``."""
    test = dataset["test"]["start"]
    pred = np.asarray(jax.jit(fn)(jnp.asarray(test)))
    return {"model": name, "family": family, "params": params, **accuracy(pred, dataset["test_end64"]),
            "ns_per_track_b1": ns_per_track(fn, test, batch=1),
            "ns_per_track_large": ns_per_track(fn, test, batch=timing_batch),
            "train_time_s": train_time_s}


def train_member(member: tuple[str, str], dataset: dict[str, Any], *, epochs: int, batch_size: int, lr: float,
                 seed: int, n_coarse: int, pde_weight: float) -> dict[str, Any]:
    """One zoo member as a Dask task: train ``(family, size)`` and return its weights as numpy.

    Returns
    -------
    dict
        ``state`` (:func:`hepnb.compute.sweep.state_to_numpy` of the trained model), ``train_time_s`` (training
        plus compilation) and ``best_epoch``.
    """
    from hepnb.compute.sweep import state_to_numpy

    family, size = member
    model, result = train_extrapolator(family, size, dataset, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                       n_coarse=n_coarse, pde_weight=pde_weight)
    return {"state": state_to_numpy(model), "train_time_s": result.train_time_s + result.compile_time_s,
            "best_epoch": result.best_epoch}


def _rebuild(family: str, size: str, dataset: dict[str, Any], trained: dict[str, Any], *, seed: int, n_coarse: int,
             pde_weight: float) -> nnx.Module:
    """The model a :func:`train_member` task trained, built here (field function included) with its weights."""
    from hepnb.compute.sweep import load_state

    st: Setting = dataset["setting"]
    model = build_model(family, size, stats=dataset["stats"], z0_mm=st.z0_mm, z1_mm=st.z1_mm,
                        field_fn=field_function(st), kappa=st.kappa, seed=seed, n_coarse=n_coarse,
                        pde_weight=pde_weight)
    load_state(model, trained["state"])
    model.eval()
    return model


def run_zoo(dataset: dict[str, Any], families: Sequence[str], sizes: Sequence[str], *, epochs: int,
            batch_size: int, lr: float, seed: int, n_coarse: int, pde_weight: float, timing_batch: int,
            checkpoint_root: str | None = None,
            client: Any = None) -> tuple[dict[str, nnx.Module], list[dict[str, Any]]]:
    """Train and evaluate every (family, size); return the models and their leaderboard rows.

    Parameters
    ----------
    client
        A :class:`dask.distributed.Client`: each (family, size) is trained in its own task
        (:func:`train_member`; the training data scattered once). ``None`` trains one after the other in
        this process. Either way the weights come back as numpy and accuracy, ns/track and the orbax
        checkpoints are measured and written here, so the speed columns do not depend on how busy a worker
        was. Same seeds, same weights either way.
    """
    from hepnb.compute.sweep import map_tasks

    members = [(f, s) for f in families for s in sizes]
    slim = {k: dataset[k] for k in ("train", "val", "stats", "setting")}
    trained = map_tasks(train_member, members, slim, client=client, desc="model zoo", epochs=epochs,
                        batch_size=batch_size, lr=lr, seed=seed, n_coarse=n_coarse, pde_weight=pde_weight)
    models, rows = {}, []
    for (family, size), result in zip(members, trained, strict=True):
        name = f"{family}_{size}"
        model = _rebuild(family, size, dataset, result, seed=seed, n_coarse=n_coarse, pde_weight=pde_weight)
        models[name] = model
        if checkpoint_root is not None:  # the weights, and what the architecture needs besides them
            from hepnb.checkpoint import save_model

            ckpt = f"{checkpoint_root}/{name}"
            save_model(model, ckpt)
            Path(ckpt, "config.json").write_text(json.dumps({"family": family, "size": size, "n_coarse": n_coarse,
                                                             "pde_weight": pde_weight}))
        row = evaluate_predictor(name, family, model, dataset, timing_batch=timing_batch, params=n_params(model),
                                 train_time_s=result["train_time_s"])
        row["best_epoch"] = result["best_epoch"]
        rows.append(row)
    return models, rows


def baseline_rows(dataset: dict[str, Any], *, timing_batch: int) -> list[dict[str, Any]]:
    """Leaderboard rows of the straight line, the single kick and RK4-N."""
    rows = []
    for name, fn in baseline_predictors(dataset["setting"]).items():
        family = "rk4" if name.startswith("rk4") else "analytic"
        rows.append(evaluate_predictor(name, family, fn, dataset, timing_batch=timing_batch))
    return rows


def ensemble(models: Sequence[nnx.Module]) -> Callable[[jax.Array], jax.Array]:
    """Average of the members' predicted end states."""
    def predict(start: jax.Array) -> jax.Array:
        return jnp.mean(jnp.stack([m(start) for m in models]), axis=0)
    return predict


def error_vs_momentum(fn: Callable[[jax.Array], jax.Array], dataset: dict[str, Any],
                      edges_gev: Sequence[float]) -> dict[str, list[float]]:
    """Median and p95 position error (µm) in momentum bins of the test set."""
    pred = np.asarray(jax.jit(fn)(jnp.asarray(dataset["test"]["start"])))
    ref = dataset["test_end64"]
    err = 1e3 * np.hypot(pred[:, 0] - ref[:, 0], pred[:, 1] - ref[:, 1])
    p = dataset["test_p_gev"]
    med, p95, count = [], [], []
    for lo, hi in itertools.pairwise(edges_gev):
        sel = err[(p >= lo) & (p < hi)]
        count.append(int(sel.size))
        med.append(float(np.median(sel)) if sel.size else float("nan"))
        p95.append(float(np.percentile(sel, 95)) if sel.size else float("nan"))
    return {"edges_gev": list(edges_gev), "median_um": med, "p95_um": p95, "count": count}


def pareto_front(rows: Sequence[dict[str, Any]], cost_key: str = "ns_per_track_large",
                 err_key: str = "pos_median_um") -> list[str]:
    """Names of the rows not beaten on both cost and error by another row."""
    front = []
    for r in rows:
        dominated = any(o[cost_key] <= r[cost_key] and o[err_key] <= r[err_key] and
                        (o[cost_key] < r[cost_key] or o[err_key] < r[err_key]) for o in rows)
        if not dominated:
            front.append(r["model"])
    return front


def compare_with_rk4(learned: Sequence[dict[str, Any]], baselines: Sequence[dict[str, Any]],
                     cost_key: str = "ns_per_track_large") -> tuple[list[str], dict[str, float]]:
    """Which learned models beat RK4 at equal cost.

    Returns
    -------
    beats, cheaper
        ``beats``: models more accurate than the best RK4-N that costs no more than they do;
        ``cheaper``: models cheaper than every RK4-N (no RK4 comparison at equal cost exists), with their
        median error in µm.
    """
    rk4_rows = [r for r in baselines if r["family"] == "rk4"]
    beats, cheaper = [], {}
    for row in learned:
        affordable = [r["pos_median_um"] for r in rk4_rows if r[cost_key] <= row[cost_key]]
        if not affordable:
            cheaper[row["model"]] = row["pos_median_um"]
        elif row["pos_median_um"] < min(affordable):
            beats.append(row["model"])
    return beats, cheaper


def rk4_convergence(dataset: dict[str, Any], steps: Sequence[int] = (*RK4_STEPS, 100, 200), *,
                    n_tracks: int = 1000) -> list[dict[str, Any]]:
    """Median and p95 position error (µm) of RK4-N in float64 and float32 through the setting's field.

    On the trilinear map the field is only C⁰ at the cell faces, so the error does not fall as h⁴; a
    step close to the cell size can even do worse than a longer one. The float64 column separates that
    discretisation error from float32 round-off.
    """
    st: Setting = dataset["setting"]
    start, ref = dataset["test_start64"][:n_tracks], dataset["test_end64"][:n_tracks]
    rows = []
    for n in steps:
        row: dict[str, Any] = {"n_steps": int(n), "step_mm": float(st.dz_mm / n)}
        for label, f64 in (("float64", True), ("float32", False)):
            end = rk4(start, st.z0_mm, st.z1_mm, int(n), field=st.field, kappa=st.kappa, float64=f64)
            err = 1e3 * np.hypot(end[:, 0] - ref[:, 0], end[:, 1] - ref[:, 1])
            row[f"median_um_{label}"] = float(np.median(err))
            row[f"p95_um_{label}"] = float(np.percentile(err, 95))
        rows.append(row)
    return rows
