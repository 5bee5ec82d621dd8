"""The leaderboard pipeline, what the notebook calls: dataset, baselines (refitted and rerun on the same
tracks), the learned zoo (trained in stacks with vmap, optionally one stack per Dask task), and the studies
around them (RK4 convergence, precision, Jacobians, polarity, checkpoints)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hepnb.tracks.bases import LineBase, RK4Base, describe, kick_base
from hepnb.tracks.data import Setting, generate_tracks
from hepnb.tracks.evaluate import accuracy, by_momentum, displaced_vs_prompt, ns_per_track, position_error_um
from hepnb.tracks.fieldmap import FieldMap
from hepnb.tracks.models import LearnedExtrapolator, build_head, n_params
from hepnb.tracks.polynomial import PolynomialExtrapolator, fit_polynomial
from hepnb.tracks.propagate import flip_polarity, for_polarity, reference, rk4, rk4_fixed
from hepnb.tracks.training import Schedule, fit_heads, target_stats
from hepnb.train import FitResult

__all__ = [
    "MLP_BASES",
    "POLY_DEGREES",
    "RK4_STEPS",
    "ZooConfig",
    "baseline_predictors",
    "evaluate_predictor",
    "evaluate_rows",
    "field_function",
    "jacobian_comparison",
    "learned_bases",
    "load_extrapolator",
    "make_dataset",
    "polarity_check",
    "precision_study",
    "rk4_convergence",
    "run_zoo",
    "save_extrapolator",
    "train_stack_member",
]

#: The RK4-N baselines (float32, equal steps, through the same map).
RK4_STEPS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40, 50, 60, 80)
#: Degrees of the LHCb-style polynomial.
POLY_DEGREES: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9)
#: The bases an MLP head can correct (the ablation): the straight line (standardised targets) or a cheap
#: physics base (single kick, degree-5 polynomial, RK4 with 2 steps).
MLP_BASES: tuple[str, ...] = ("line", "kick", "poly5", "rk4_2")

Array = Any


def field_function(st: Setting, dtype: Any = np.float32) -> Any:
    """The setting's field for jitted float32 code: the map with device arrays (passed as buffers, not
    constants), or the setting's function for the original study's field."""
    return _device_map(st.field, np.dtype(dtype).name) if isinstance(st.field, FieldMap) else st.field


@functools.cache
def _device_map(fmap: FieldMap, dtype: str) -> FieldMap:
    return fmap.astype(np.dtype(dtype)).on_device()


def make_dataset(n_train: int, n_val: int, n_test: int, *, leg: str = "ut_t", physics: str = "correct",
                 seed: int = 0, p_range_gev: tuple[float, float] = (2.0, 500.0), displaced_fraction: float = 0.2,
                 field_map: FieldMap | str | None = None) -> dict[str, Any]:
    """Simulate tracks on a leg and split them into train, validation and test.

    Returns
    -------
    dict
        ``train``, ``val``, ``test``: each ``start`` (N, 5) float32 (what models see), ``start64`` and ``end``
        (N, 5) float64 (the reference), ``p_gev`` and ``displaced``; ``stats`` (input mean and std, (q/p)_rms of
        the training set); ``setting``; ``sizes`` and ``simulate_s``.
    """
    total = n_train + n_val + n_test
    if min(n_train, n_val, n_test) < 1:
        msg = f"n_train, n_val and n_test must be >= 1, found {n_train}, {n_val}, {n_test}"
        raise ValueError(msg)
    t0 = time.perf_counter()
    data = generate_tracks(total, leg=leg, physics=physics, seed=seed, p_range_gev=p_range_gev,
                           displaced_fraction=displaced_fraction, field_map=field_map)
    simulate_s = time.perf_counter() - t0
    parts = np.split(np.arange(total), [n_train, n_train + n_val])

    def split(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"start": data["start"][idx].astype(np.float32), "start64": data["start"][idx],
                "end": data["end"][idx], "p_gev": data["p_gev"][idx], "displaced": data["displaced"][idx]}

    train = split(parts[0])
    s = train["start64"]
    stats = {"in_mean": s.mean(0), "in_std": s.std(0) + 1e-12, "qop_rms": float(np.sqrt(np.mean(s[:, 4] ** 2)))}
    return {"train": train, "val": split(parts[1]), "test": split(parts[2]), "stats": stats, "setting": data["setting"],
            "sizes": {"train": n_train, "val": n_val, "test": n_test}, "simulate_s": simulate_s}


def _rk4_n(s: Array, *, n: int, st: Setting, field: Any) -> Array:
    return rk4_fixed(s, st.z0_mm, st.z1_mm, n, field, st.kappa)


def baseline_predictors(dataset: dict[str, Any], *, rk4_steps: Sequence[int] = RK4_STEPS,
                        degrees: Sequence[int] = POLY_DEGREES, basis: str = "chebyshev",
                        n_fit_max: int = 200_000) -> tuple[dict[str, Callable[[Array], Array]], dict[str, dict[str, Any]]]:
    """The baselines, refitted on this dataset's training split: straight line, single kick, RK4-N and the
    polynomial of each degree (fitted in float64 on up to ``n_fit_max`` training tracks, evaluated in float32).

    Returns
    -------
    predictors, info
        Name → function of float32 start states (N, 5); name → ``family``, ``params`` and ``fit_time_s``.
    """
    st: Setting = dataset["setting"]
    field32 = field_function(st)
    predictors: dict[str, Callable[[Array], Array]] = {
        "straight_line": LineBase(st.dz_mm),
        "single_kick": kick_base(field32, st.z0_mm, st.z1_mm, st.kappa),
    }
    info = {"straight_line": {"family": "analytic", "params": 0, "fit_time_s": 0.0},
            "single_kick": {"family": "analytic", "params": 0, "fit_time_s": 0.0}}
    for n in rk4_steps:
        predictors[f"rk4_{n}"] = functools.partial(_rk4_n, n=int(n), st=st, field=field32)
        info[f"rk4_{n}"] = {"family": "rk4", "params": 0, "fit_time_s": 0.0, "n_steps": int(n)}
    train = dataset["train"]
    n_fit = min(len(train["start64"]), n_fit_max)
    for degree in degrees:
        t0 = time.perf_counter()
        poly = fit_polynomial(train["start64"][:n_fit], train["end"][:n_fit], st.dz_mm, int(degree), basis=basis)
        predictors[f"poly_{degree}"] = poly
        info[f"poly_{degree}"] = {"family": "poly", "params": poly.n_params, "fit_time_s": time.perf_counter() - t0,
                                  "degree": int(degree)}
    return predictors, info


def evaluate_predictor(name: str, fn: Callable[[Array], Array], dataset: dict[str, Any], *, timing_batch: int,
                       edges_gev: Sequence[float], info: Mapping[str, Any] | None = None, time_b1: bool = True,
                       timing_s: float = 0.2) -> tuple[dict[str, Any], np.ndarray]:
    """One leaderboard row on the test split and its per-track errors (µm): accuracy with the median's
    bootstrap error, per momentum band, displaced vs prompt, validation median, ns/track at batch 1 and at
    ``timing_batch`` (wall clock) and CPU ns/track at ``timing_batch`` (compilation excluded; each timing runs
    for about ``timing_s`` seconds).

    ``info`` describes the predictor: ``family`` (default ``"learned"``), ``params`` (default 0) and any other
    columns the row should carry.
    """
    extra = dict(info or {})
    family, params = extra.pop("family", "learned"), extra.pop("params", 0)
    test, val = dataset["test"], dataset["val"]
    n_test = len(test["start"])
    both = _predict(fn, np.concatenate([test["start"], val["start"]]), chunk=timing_batch)  # the timed compilation
    pred = both[:n_test]
    err = position_error_um(pred, test["end"])
    val_err = position_error_um(both[n_test:], val["end"])
    row = {"model": name, "family": family, "params": int(params), **accuracy(pred, test["end"]),
           "val_median_um": float(np.median(val_err)),
           "by_momentum": by_momentum(err, test["p_gev"], edges_gev),
           "displaced_vs_prompt": displaced_vs_prompt(err, test["displaced"]),
           "ns_per_track_b1": ns_per_track(fn, test["start"], batch=1, min_time_s=timing_s) if time_b1 else float("nan"),
           "ns_per_track_large": ns_per_track(fn, test["start"], batch=timing_batch, min_time_s=timing_s),
           "cpu_ns_per_track_large": ns_per_track(fn, test["start"], batch=timing_batch, clock="cpu",
                                                  min_time_s=timing_s), **extra}
    return row, err


def evaluate_rows(predictors: dict[str, Callable[[Array], Array]], info: dict[str, dict[str, Any]],
                  dataset: dict[str, Any], *, timing_batch: int, edges_gev: Sequence[float],
                  timing_s: float = 0.2) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """:func:`evaluate_predictor` for every predictor; the rows and the per-track test errors by name."""
    rows, errors = [], {}
    for name, fn in predictors.items():
        row, err = evaluate_predictor(name, fn, dataset, timing_batch=timing_batch, edges_gev=edges_gev,
                                      info=info.get(name, {}), timing_s=timing_s)
        rows.append(row)
        errors[name] = err
    return rows, errors


def learned_bases(dataset: dict[str, Any], poly5: PolynomialExtrapolator | None = None) -> dict[str, Any]:
    """The cheap physics bases an MLP head can correct (:data:`MLP_BASES`), built for this dataset (the
    polynomial is the one of the baselines when given, else fitted here on the training split)."""
    st: Setting = dataset["setting"]
    field32 = field_function(st)
    if poly5 is None:
        train = dataset["train"]
        poly5 = fit_polynomial(train["start64"][:50_000], train["end"][:50_000], st.dz_mm, 5)
    return {"line": LineBase(st.dz_mm), "kick": kick_base(field32, st.z0_mm, st.z1_mm, st.kappa), "poly5": poly5,
            "rk4_2": RK4Base(2, st.z0_mm, st.z1_mm, field32, st.kappa)}


def _per_qop(base: Any) -> bool:
    """Heads on bases that are exact at q/p = 0 learn the correction per unit of q/p."""
    return not isinstance(base, PolynomialExtrapolator)


def _predict(fn: Callable[[Array], Array], start: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """``fn`` on ``start`` in batches of exactly ``chunk`` tracks (default: all of them, up to 65 536; the last
    batch padded): one compilation."""
    jitted = jax.jit(fn)
    n = len(start)
    chunk = min(n, 65536) if chunk is None else int(chunk)
    padded = np.resize(np.asarray(start, np.float32), (-(-n // chunk) * chunk, start.shape[1]))
    out = [np.asarray(jitted(jnp.asarray(padded[i:i + chunk]))) for i in range(0, len(padded), chunk)]
    return np.concatenate(out)[:n]


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


def train_stack_member(member: tuple[str, str], dataset: dict[str, Any], config: ZooConfig = ZooConfig()
                       ) -> dict[str, Any]:
    """One zoo member as a task: the stack of heads of one (family, size), trained together with vmap.

    An MLP member trains one head per base of ``config.bases``; an RK-PINN member one head per weight of
    ``config.pde_weights`` (default ``(0, pde_weight)``: the ablation) on RK4 with ``n_coarse`` steps.
    ``steps`` (or ``epochs`` of the training split) sets the optimiser steps (:class:`ZooConfig`).

    Returns
    -------
    dict
        ``variants`` (names), ``states`` (numpy weights per head, :func:`hepnb.compute.sweep.state_to_numpy`),
        ``history``, ``best_step``, ``train_time_s`` (training plus compilation), ``steps_per_s``.
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
                        n_colloc=n_colloc)
    heads, variants, result = _train_stack(family, size, dataset, schedule=schedule, seed=seed, n_coarse=n_coarse,
                                           bases=bases, pde_weights=pde_weights if pde_weights is not None
                                           else (0.0, pde_weight))
    return {"variants": variants, "states": [state_to_numpy(h) for h in heads], "history": result.history,
            "best_step": result.best_step, "train_time_s": result.train_time_s + result.compile_time_s,
            "steps_per_s": result.steps_per_s}


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
            cache[id(b)] = (_predict(b, train["start"]), _predict(b, val["start"]))
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


def run_zoo(dataset: dict[str, Any], members: Sequence[tuple[str, str]], config: ZooConfig = ZooConfig(), *,
            client: Any = None) -> tuple[dict[str, LearnedExtrapolator], dict[str, dict[str, Any]]]:
    """Train every (family, size) stack; return the learned extrapolators by name and their training records.

    Names are ``<family>_<size>_<variant>`` (variant: the base of an MLP head, ``pde<weight>`` of an RK-PINN
    head). Each (family, size) of ``members`` is one :func:`train_stack_member` task on ``client`` (a Dask
    client) or, without one, in this process; the weights come back as numpy and the heads are rebuilt here on
    the same bases.
    """
    from hepnb.compute.sweep import load_state, map_tasks

    members = list(members)
    seed, n_coarse, bases = config.seed, config.n_coarse, config.bases
    slim = {k: dataset[k] for k in ("train", "val", "stats", "setting") if k in dataset}
    slim["poly5"] = dataset.get("poly5")
    trained = map_tasks(train_stack_member, members, slim, client=client, desc="model zoo", config=config)
    models: dict[str, LearnedExtrapolator] = {}
    records: dict[str, dict[str, Any]] = {}
    for (family, size), result in zip(members, trained, strict=True):
        member_bases = _member_bases(family, slim, bases=bases, n_coarse=n_coarse)
        train = dataset["train"]
        for i, (variant, state) in enumerate(zip(result["variants"], result["states"], strict=True)):
            base = next(iter(member_bases.values())) if family == "rkpinn" else member_bases[variant]
            base_train = _predict(base, train["start"])
            head = build_head(family, size, seed=seed, per_qop=_per_qop(base),
                              stats=target_stats(train["start64"], train["end"], base_train, per_qop=_per_qop(base)))
            load_state(head, state)
            name = f"{family}_{size}_{variant}"
            models[name] = LearnedExtrapolator(name, head, base)
            records[name] = {"family": family, "size": size, "variant": variant, "params": n_params(head),
                             "steps": int(result["history"]["step"][-1]), "best_step": int(result["best_step"][i]),
                             "train_time_s": float(result["train_time_s"]), "steps_per_s": float(result["steps_per_s"]),
                             "learning_curve": {"step": result["history"]["step"].tolist(),
                                                "train_loss": result["history"]["train_loss"][:, i].tolist(),
                                                "train_pde": result["history"]["train_pde"][:, i].tolist(),
                                                "val_median_um": result["history"]["val_median_um"][:, i].tolist()}}
    return models, records


def save_extrapolator(model: LearnedExtrapolator, folder: str | Path) -> Path:
    """Write a learned extrapolator: its head (orbax) and ``config.json`` (family, size, base description)."""
    from hepnb.checkpoint import save_model

    path = save_model(model.head, folder)
    size = next(k for k, v in _sizes().items() if v == model.head.hidden_widths)
    config = {"name": model.name, "family": model.family, "size": size, "per_qop": model.head.per_qop_scaled,
              "base": describe(model.base)}
    Path(path, "config.json").write_text(json.dumps(config))
    return path


def _sizes() -> dict[str, tuple[int, ...]]:
    from hepnb.tracks.models import SIZES

    return SIZES


def load_extrapolator(folder: str | Path, field_fn: Any) -> LearnedExtrapolator:
    """Read back a :func:`save_extrapolator` folder; ``field_fn`` is the field of an RK4 base (the study's map).

    Raises
    ------
    FileNotFoundError, ValueError
        No checkpoint or config there, or a config that does not describe a known base.
    """
    from hepnb.checkpoint import load_model

    config_file = Path(folder, "config.json")
    if not config_file.is_file():
        msg = f"no config.json in {folder}: not a saved learned extrapolator"
        raise FileNotFoundError(msg)
    config = json.loads(config_file.read_text())
    b = config["base"]
    if b["kind"] == "line":
        base: Any = LineBase(b["dz_mm"])
    elif b["kind"] == "kick":
        from hepnb.tracks.bases import KickBase

        base = KickBase(b["z0_mm"], b["z1_mm"], b["z_kick_mm"], b["by_integral_t_mm"], b["kappa"])
    elif b["kind"] == "rk4":
        base = RK4Base(b["n_steps"], b["z0_mm"], b["z1_mm"], field_fn, b["kappa"])
    elif b["kind"] == "poly":
        base = PolynomialExtrapolator(b["degree"], b["basis"], np.asarray(b["centre"]), np.asarray(b["half_range"]),
                                      np.asarray(b["coef"]), b["dz_mm"])
    else:
        msg = f"{config_file}: unknown base kind {b['kind']!r}"
        raise ValueError(msg)
    dummy = {"in_mean": np.zeros(5), "in_std": np.ones(5), "out_mean": np.zeros(4), "out_std": np.ones(4), "qop_rms": 1.0}
    head = load_model(lambda: build_head(config["family"], config["size"], stats=dummy,
                                         per_qop=config.get("per_qop", True)), folder)
    return LearnedExtrapolator(config["name"], head, base)


def rk4_convergence(dataset: dict[str, Any], steps: Sequence[int] = (*RK4_STEPS, 160, 320), *,
                    n_tracks: int = 2000) -> list[dict[str, Any]]:
    """Median and p95 position error (µm) of RK4-N in float64 and float32 through the setting's field, against
    the reference (plane-aligned 10 mm steps), plus the reference's own error against 2.5 mm aligned steps.

    On the trilinear map the field is only C⁰ at the cell faces, so equal steps do not converge as h⁴; a step
    close to the cell size can even do worse than a longer one. The float64 column separates that
    discretisation error from float32 round-off.
    """
    st: Setting = dataset["setting"]
    start, ref = dataset["test"]["start64"][:n_tracks], dataset["test"]["end"][:n_tracks]
    rows = []
    for n in steps:
        row: dict[str, Any] = {"n_steps": int(n), "step_mm": float(st.dz_mm / n)}
        for label, f64 in (("float64", True), ("float32", False)):
            end = rk4(start, st.z0_mm, st.z1_mm, int(n), field=st.field, kappa=st.kappa, float64=f64)
            err = position_error_um(end, ref)
            row[f"median_um_{label}"] = float(np.median(err))
            row[f"p95_um_{label}"] = float(np.percentile(err, 95))
        rows.append(row)
    if isinstance(st.field, FieldMap):
        fine = reference(start, st.z0_mm, st.z1_mm, field=st.field, step_mm=2.5, kappa=st.kappa)
        err = position_error_um(ref, fine)
        rows.append({"n_steps": -1, "step_mm": 10.0, "median_um_float64": float(np.median(err)),
                     "p95_um_float64": float(np.percentile(err, 95)), "median_um_float32": float("nan"),
                     "p95_um_float32": float("nan"), "note": "reference (aligned 10 mm) vs aligned 2.5 mm"})
    return rows


def jacobian_comparison(predict: Callable[[Array], Array], reference_fn: Callable[[np.ndarray], np.ndarray],
                        state: np.ndarray, *, eps: Sequence[float] = (1e-2, 1e-2, 1e-5, 1e-5, 1e-5)) -> dict[str, Any]:
    """The 5×5 transport Jacobian d(out)/d(in) by autodiff of ``predict`` vs central finite differences of the
    float64 ``reference_fn`` (whole-state columns; eps in the state's units)."""
    jac_ad = np.asarray(jax.jacfwd(lambda s: predict(s[None])[0])(jnp.asarray(state, jnp.float32)), np.float64)
    jac_fd = np.zeros((5, 5))
    for j, e in enumerate(eps):
        up, down = state.copy(), state.copy()
        up[j] += e
        down[j] -= e
        jac_fd[:, j] = (reference_fn(up[None])[0] - reference_fn(down[None])[0]) / (2 * e)
    scale = np.maximum(np.abs(jac_fd), 1e-12)
    rel = np.abs(jac_ad - jac_fd) / scale
    rel[np.abs(jac_fd) < 1e-9] = 0.0
    return {"autodiff": jac_ad, "finite_diff": jac_fd, "max_rel_diff_4x4": float(rel[:4, :4].max()),
            "max_rel_diff_qop_column": float(rel[:4, 4].max())}


def precision_study(model: LearnedExtrapolator, dataset: dict[str, Any], *, batch: int) -> dict[str, Any]:
    """Accuracy and speed of a learned model with its network in float32, bfloat16 and float16 (the base and
    the final sum stay in float32: positions of metres have 8 mantissa bits in bfloat16)."""
    test = dataset["test"]
    out = {}
    graphdef, params, rest = nnx.split(model.head, nnx.Param, ...)  # only the weights are cast
    for name, dtype in (("float32", jnp.float32), ("bfloat16", jnp.bfloat16), ("float16", jnp.float16)):
        cast = jax.tree.map(lambda a, d=dtype: a.astype(d), params)

        def run(s: Array, cast: Any = cast, dtype: Any = dtype) -> Array:
            head = nnx.merge(graphdef, cast, rest)
            s32 = s.astype(jnp.float32)
            y = head.net(head.features(s32).astype(dtype)).astype(jnp.float32)
            corr = head.per_qop(s32) * (head.out_mean[...] + head.out_std[...] * y)
            return jnp.concatenate([model.base(s32)[:, :4] + corr, s32[:, 4:5]], axis=1)

        pred = _predict(run, test["start"])
        out[name] = {**accuracy(pred, test["end"]), "ns_per_track": ns_per_track(run, test["start"], batch=batch)}
    return out


def polarity_check(fn: Callable[[Array], Array], dataset: dict[str, Any], *, n_tracks: int = 2000) -> dict[str, Any]:
    """The MagUp accuracy of a MagDown extrapolator through the flip of q/p (:func:`for_polarity`), against the
    float64 reference through the MagUp map, beside its MagDown accuracy on the same tracks."""
    st: Setting = dataset["setting"]
    test = dataset["test"]
    start64 = test["start64"][:n_tracks]
    up_map = st.field.flipped() if isinstance(st.field, FieldMap) else None
    if up_map is None:
        msg = "the polarity check needs a field map (the correct physics), not the original study's field"
        raise ValueError(msg)
    up_ref = reference(start64, st.z0_mm, st.z1_mm, field=up_map, kappa=st.kappa)
    down = np.asarray(jax.jit(fn)(jnp.asarray(test["start"][:n_tracks])))
    up = np.asarray(jax.jit(for_polarity(fn, +1))(jnp.asarray(test["start"][:n_tracks])))
    flipped_ref = flip_polarity(reference(flip_polarity(np.asarray(start64)), st.z0_mm, st.z1_mm, field=st.field,
                                          kappa=st.kappa))
    return {"magdown": accuracy(down, test["end"][:n_tracks]), "magup": accuracy(up, up_ref),
            "max_ref_symmetry_violation_um": float(position_error_um(flipped_ref, up_ref).max())}

