"""Judging extrapolators: accuracy (with uncertainties), cost (:func:`timings`), a cost–error curve and a model's
place against it, the Pareto front, and accuracy per momentum band and for displaced vs prompt tracks.

:func:`compare_with_rk4` places models against the equal-step RK4 curve alone: the curve interpolates log(error)
linearly in log(cost) between the RK4-N points (sorted by cost); below RK4-1's cost it runs from the single kick
to RK4-1; below the single kick's cost it stays at the kick's error, and beyond the costliest RK4-N at the
smallest RK4-N error. The study's rule, against all three Runge–Kutta curves and with paired uncertainties, is
:mod:`hepnb.tracks.judgement`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hepnb.metrics import bootstrap_ci
from hepnb.tracks.arrays import Array
from hepnb.tracks.baselines import RK4_STEPS
from hepnb.tracks.data import Setting, TrackSample
from hepnb.tracks.fieldmap import FieldMap
from hepnb.tracks.models import LearnedExtrapolator
from hepnb.tracks.propagate import flip_polarity, for_polarity, reference, rk4

__all__ = [
    "accuracy",
    "by_momentum",
    "compare_with_curve",
    "compare_with_rk4",
    "cost_error_curve",
    "curve_error_at",
    "displaced_vs_prompt",
    "error_vs_momentum",
    "evaluate_predictor",
    "evaluate_rows",
    "jacobian_comparison",
    "ns_per_track",
    "paired_median_difference",
    "pareto_front",
    "polarity_check",
    "position_error_um",
    "precision_study",
    "predict_batched",
    "rk4_convergence",
    "timings",
]



def position_error_um(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|Δ(x, y)| at the end plane in µm, per track."""
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    return 1e3 * np.hypot(pred[:, 0] - ref[:, 0], pred[:, 1] - ref[:, 1])


def accuracy(pred: np.ndarray, ref: np.ndarray, *, n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """Position error in µm (median with its bootstrap standard error, mean, p68, p95) and slope error in mrad.

    Raises
    ------
    ValueError
        Predictions with NaN/inf (named by row), or shapes that differ.
    """
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    if pred.shape[0] != ref.shape[0] or pred.shape[1] < 4 or ref.shape[1] < 4:
        msg = f"predictions {pred.shape} and references {ref.shape} must be (N, >= 4) with the same N"
        raise ValueError(msg)
    bad = ~np.isfinite(pred[:, :4]).all(1)
    if bad.any():
        msg = f"{int(bad.sum())} predictions are NaN/inf (first rows: {np.nonzero(bad)[0][:5].tolist()})"
        raise ValueError(msg)
    pos = position_error_um(pred, ref)
    slope = 1e3 * np.hypot(pred[:, 2] - ref[:, 2], pred[:, 3] - ref[:, 3])
    boot = bootstrap_ci(np.median, pos, n_boot=n_boot, seed=seed)
    return {"pos_median_um": float(np.median(pos)), "pos_median_err_um": boot["std"],
            "pos_mean_um": float(pos.mean()), "pos_p68_um": float(np.percentile(pos, 68)),
            "pos_p95_um": float(np.percentile(pos, 95)), "slope_median_mrad": float(np.median(slope)),
            "slope_mean_mrad": float(slope.mean())}


def paired_median_difference(err_a_um: np.ndarray, err_b_um: np.ndarray, *, n_boot: int = 300,
                             seed: int = 0) -> dict[str, float]:
    """median(a) − median(b) on the same tracks, with a paired bootstrap (rows resampled together)."""
    return bootstrap_ci(lambda a, b: float(np.median(a) - np.median(b)), np.asarray(err_a_um),
                        np.asarray(err_b_um), n_boot=n_boot, seed=seed)


#: A timing covers at least this many calls per repeat, unless its repeats together pass :data:`TIMING_MAX_S`.
TIMING_MIN_CALLS = 10
#: Seconds after which a timing stops adding calls (a call slower than ``TIMING_MAX_S / repeats`` is timed once
#: per repeat).
TIMING_MAX_S = 1.0


def timings(fn: Callable[[Array], Array], states: np.ndarray, *, batch: int, repeats: int = 5,
            min_time_s: float = 0.2, min_calls: int = TIMING_MIN_CALLS) -> dict[str, float]:
    """Wall-clock and CPU ns per track of the jitted ``fn`` at a given batch size (compilation excluded).

    Each of ``repeats`` repeats runs calls until it has lasted ``min_time_s / repeats`` and made ``min_calls``
    calls, or has lasted ``TIMING_MAX_S / repeats`` (so one timing spans at least ``repeats × min_calls`` calls
    or about :data:`TIMING_MAX_S` seconds); the best repeat's mean per call is kept. ``cpu`` is the CPU time of
    this process (all its threads) over the same calls: a busy machine inflates it far less (a process waiting
    for a core uses none), and it counts every core a batch keeps busy.

    Returns
    -------
    dict
        ``wall_ns``, ``cpu_ns`` (per track), ``calls`` (in all) and ``seconds`` (wall clock, in all).
    """
    if repeats < 1 or min_calls < 1:
        msg = f"repeats and min_calls must be >= 1, found {repeats} and {min_calls}"
        raise ValueError(msg)
    jitted = jax.jit(fn)
    x = jnp.asarray(np.resize(np.asarray(states, np.float32), (batch, 5)))
    jitted(x).block_until_ready()
    best_wall, best_cpu, calls, total = np.inf, np.inf, 0, 0.0
    for _ in range(repeats):
        n_calls, w0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            jitted(x).block_until_ready()
            n_calls += 1
            elapsed = time.perf_counter() - w0
            if elapsed >= min_time_s / repeats and (n_calls >= min_calls or elapsed >= TIMING_MAX_S / repeats):
                break
        best_wall = min(best_wall, elapsed / n_calls)
        best_cpu = min(best_cpu, (time.process_time() - c0) / n_calls)
        calls, total = calls + n_calls, total + elapsed
    return {"wall_ns": float(best_wall / batch * 1e9), "cpu_ns": float(best_cpu / batch * 1e9), "calls": calls,
            "seconds": total}


def ns_per_track(fn: Callable[[Array], Array], states: np.ndarray, *, batch: int, repeats: int = 5,
                 min_time_s: float = 0.2, clock: str = "wall") -> float:
    """ns per track of the jitted ``fn`` at a given batch size: the ``clock`` (``"wall"`` or ``"cpu"``) of
    :func:`timings`."""
    if clock not in ("wall", "cpu"):
        msg = f"clock must be 'wall' or 'cpu', found {clock!r}"
        raise ValueError(msg)
    return timings(fn, states, batch=batch, repeats=repeats, min_time_s=min_time_s)[f"{clock}_ns"]


def cost_error_curve(rows: Sequence[dict[str, Any]], cost_key: str, err_key: str = "pos_median_um",
                     lead: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (cost, error) points of a curve: ``rows`` sorted by cost, ``lead`` (the single kick) first.

    Where timing noise makes a costlier point cheaper than the one before, the points are sorted by cost
    anyway: the curve is the measured one.
    """
    pts = sorted((float(r[cost_key]), float(r[err_key])) for r in rows)
    if lead is not None:
        pts = [(float(lead[cost_key]), float(lead[err_key])), *[p for p in pts if p[0] > float(lead[cost_key])]]
    cost, err = (np.asarray(v) for v in zip(*pts, strict=True))
    return cost, err


def curve_error_at(cost: float, curve: tuple[np.ndarray, np.ndarray]) -> float:
    """The curve's error at ``cost``: log–log interpolation; flat at the first point's error below it, and the
    smallest error of the points cheaper than ``cost`` beyond the last."""
    costs, errs = curve
    if cost <= costs[0]:
        return float(errs[0])
    if cost >= costs[-1]:
        return float(errs[costs <= cost].min())
    return float(np.exp(np.interp(np.log(cost), np.log(costs), np.log(np.maximum(errs, 1e-12)))))


def compare_with_curve(rows: Sequence[dict[str, Any]], curve: tuple[np.ndarray, np.ndarray], cost_key: str,
                       err_key: str = "pos_median_um") -> list[dict[str, Any]]:
    """For each row: the curve's error at its cost, the ratio error / curve, and whether it lies below."""
    out = []
    for r in rows:
        ref = curve_error_at(float(r[cost_key]), curve)
        out.append({"model": r["model"], "cost": float(r[cost_key]), "error": float(r[err_key]),
                    "curve_error": ref, "ratio": float(r[err_key]) / ref if ref > 0 else float("inf"),
                    "below": bool(float(r[err_key]) < ref)})
    return out


def compare_with_rk4(rows: Sequence[dict[str, Any]], baselines: Sequence[dict[str, Any]],
                     cost_key: str = "ns_per_track_large", err_key: str = "pos_median_um") -> list[dict[str, Any]]:
    """:func:`compare_with_curve` against the RK4-N curve led by the single kick (rows of family ``rk4`` and the
    row named ``single_kick`` in ``baselines``)."""
    rk4_rows = [r for r in baselines if r["family"] == "rk4"]
    kick = next((r for r in baselines if r["model"] == "single_kick"), None)
    if not rk4_rows:
        msg = "no RK4-N rows (family 'rk4') among the baselines"
        raise ValueError(msg)
    return compare_with_curve(rows, cost_error_curve(rk4_rows, cost_key, err_key, lead=kick), cost_key, err_key)


def pareto_front(rows: Sequence[dict[str, Any]], cost_key: str = "ns_per_track_large",
                 err_key: str = "pos_median_um") -> list[str]:
    """Names of the rows not beaten on both cost and error by another row, cheapest first."""
    front = []
    for r in rows:
        dominated = any(o[cost_key] <= r[cost_key] and o[err_key] <= r[err_key]
                        and (o[cost_key] < r[cost_key] or o[err_key] < r[err_key]) for o in rows)
        if not dominated:
            front.append(r)
    return [r["model"] for r in sorted(front, key=lambda r: r[cost_key])]


def by_momentum(err_um: np.ndarray, p_gev: np.ndarray, edges_gev: Sequence[float]) -> dict[str, list[float]]:
    """Median and p95 of per-track errors in momentum bins, with counts and the median's bootstrap error."""
    med, p95, count, med_err = [], [], [], []
    for lo, hi in itertools.pairwise(edges_gev):
        sel = err_um[(p_gev >= lo) & (p_gev < hi)]
        count.append(int(sel.size))
        med.append(float(np.median(sel)) if sel.size else float("nan"))
        p95.append(float(np.percentile(sel, 95)) if sel.size else float("nan"))
        med_err.append(bootstrap_ci(np.median, sel, n_boot=100)["std"] if sel.size > 1 else float("nan"))
    return {"edges_gev": [float(e) for e in edges_gev], "median_um": med, "median_err_um": med_err, "p95_um": p95,
            "count": count}


def error_vs_momentum(fn: Callable[[Array], Array], dataset: dict[str, Any],
                      edges_gev: Sequence[float], split: str = "test") -> dict[str, list[float]]:
    """:func:`by_momentum` of ``fn`` on a split of a dataset (:func:`hepnb.tracks.data.make_dataset`)."""
    part = dataset[split]
    pred = np.asarray(jax.jit(fn)(jnp.asarray(part["start"], jnp.float32)))
    return by_momentum(position_error_um(pred, part["end"]), part["p_gev"], edges_gev)


def displaced_vs_prompt(err_um: np.ndarray, displaced: np.ndarray) -> dict[str, dict[str, float]]:
    """Median error (with bootstrap error) and count for prompt and displaced tracks."""
    out = {}
    for name, sel in (("prompt", ~displaced), ("displaced", displaced)):
        e = err_um[sel]
        out[name] = {"count": int(e.size), "median_um": float(np.median(e)) if e.size else float("nan"),
                     "median_err_um": bootstrap_ci(np.median, e, n_boot=100)["std"] if e.size > 1 else float("nan"),
                     "p95_um": float(np.percentile(e, 95)) if e.size else float("nan")}
    return out


def evaluate_predictor(name: str, fn: Callable[[Array], Array], dataset: dict[str, Any], *, timing_batch: int,
                       edges_gev: Sequence[float], info: Mapping[str, Any] | None = None, time_b1: bool = True,
                       timing_s: float = 0.2) -> tuple[dict[str, Any], np.ndarray]:
    """One leaderboard row on the test split and its per-track errors (µm): accuracy with the median's
    bootstrap error, per momentum band, displaced vs prompt, validation median, ns/track at batch 1 and at
    ``timing_batch`` (wall clock) and CPU ns/track at ``timing_batch`` (compilation excluded; each timing runs
    for at least ``timing_s`` seconds and :data:`TIMING_MIN_CALLS` calls per repeat, or about
    :data:`TIMING_MAX_S` seconds: :func:`timings`; ``timing_calls_large`` is how many calls the large-batch
    timing made).

    ``info`` describes the predictor: ``family`` (default ``"learned"``), ``params`` (default 0) and any other
    columns the row should carry.
    """
    extra = dict(info or {})
    family, params = extra.pop("family", "learned"), extra.pop("params", 0)
    test, val = dataset["test"], dataset["val"]
    n_test = len(test["start"])
    both = predict_batched(fn, np.concatenate([test["start"], val["start"]]), chunk=timing_batch)  # the timed compilation
    pred = both[:n_test]
    err = position_error_um(pred, test["end"])
    val_err = position_error_um(both[n_test:], val["end"])
    large = timings(fn, test["start"], batch=timing_batch, min_time_s=timing_s)
    row = {"model": name, "family": family, "params": int(params), **accuracy(pred, test["end"]),
           "val_median_um": float(np.median(val_err)),
           "by_momentum": by_momentum(err, test["p_gev"], edges_gev),
           "displaced_vs_prompt": displaced_vs_prompt(err, test["displaced"]),
           "ns_per_track_b1": ns_per_track(fn, test["start"], batch=1, min_time_s=timing_s) if time_b1 else float("nan"),
           "ns_per_track_large": large["wall_ns"], "cpu_ns_per_track_large": large["cpu_ns"],
           "timing_calls_large": large["calls"], **extra}
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


def predict_batched(fn: Callable[[Array], Array], start: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """``fn`` on ``start`` in batches of exactly ``chunk`` tracks (default: all of them, up to 65 536; the last
    batch padded): one compilation."""
    jitted = jax.jit(fn)
    n = len(start)
    chunk = min(n, 65536) if chunk is None else int(chunk)
    padded = np.resize(np.asarray(start, np.float32), (-(-n // chunk) * chunk, start.shape[1]))
    out = [np.asarray(jitted(jnp.asarray(padded[i:i + chunk]))) for i in range(0, len(padded), chunk)]
    return np.concatenate(out)[:n]


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

        pred = predict_batched(run, test["start"])
        out[name] = {**accuracy(pred, test["end"]), "ns_per_track": ns_per_track(run, test["start"], batch=batch)}
    return out


def polarity_check(predictors: Mapping[str, Callable[[Array], Array]], dataset: dict[str, Any],
                   sample: TrackSample, *, n_tracks: int = 2000, seed: int = 1_000_003) -> dict[str, Any]:
    """The MagUp accuracy of MagDown extrapolators on tracks simulated in MagUp, beside their MagDown accuracy.

    A genuine MagUp sample — ``sample`` generated through the flipped map, from the vertex on, with its float64
    reference through that map — not flipped MagDown states (a MagDown start state with q/p negated has bent the
    wrong way before the leg and lies outside the training distribution). Each extrapolator serves MagUp through
    the flip of q/p (:func:`for_polarity`).

    Returns
    -------
    dict
        ``models``: name → ``magdown`` (:func:`accuracy` on the first ``n_tracks`` MagDown test tracks) and
        ``magup`` (on ``n_tracks`` MagUp tracks); ``n_magup``; ``max_ref_symmetry_violation_um``: the MagUp reference
        against the MagDown reference of the flipped states, flipped back (zero for exact negatives).

    Raises
    ------
    ValueError
        For a setting without a field map (the original study's field has no MagUp map here).
    """
    from dataclasses import replace

    st: Setting = dataset["setting"]
    if not isinstance(st.field, FieldMap):
        msg = "the polarity check needs a field map (the correct physics), not the original study's field"
        raise ValueError(msg)  # noqa: TRY004 - a setting without a map is a wrong value, as before
    up = replace(sample, leg=st.leg, field_map=st.field.flipped()).generate(n_tracks, seed)
    test = dataset["test"]
    down_start = jnp.asarray(test["start"][:n_tracks])
    up_start = jnp.asarray(up["start"], jnp.float32)
    models = {}
    for name, fn in predictors.items():
        down = np.asarray(jax.jit(fn)(down_start))
        magup = np.asarray(jax.jit(for_polarity(fn, +1))(up_start))
        models[name] = {"magdown": accuracy(down, test["end"][:n_tracks]), "magup": accuracy(magup, up["end"])}
    flipped_ref = flip_polarity(reference(flip_polarity(up["start"]), st.z0_mm, st.z1_mm, field=st.field,
                                          kappa=st.kappa))
    return {"models": models, "n_magup": len(up["start"]),
            "max_ref_symmetry_violation_um": float(position_error_um(flipped_ref, up["end"]).max())}
