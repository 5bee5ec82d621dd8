"""What machine a book was built on, and why training epochs are fused with ``lax.scan``."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hepnb.book.results import package_versions

__all__ = ["conclusion_markdown", "dispatch_benchmark", "machine_info", "plot_dispatch_benchmark"]


def machine_info() -> dict[str, Any]:
    """CPU count, platform, JAX backend and devices, and whether XGBoost was built with CUDA."""
    import xgboost

    build = xgboost.build_info()
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "jax_backend": jax.default_backend(),
        "jax_devices": [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip() for d in jax.devices()],
        "xgboost_cuda": bool(build.get("USE_CUDA", False)),
        "xgboost_openmp": bool(build.get("USE_OPENMP", False)),
        "versions": package_versions(),
    }


def _init_mlp(key: jax.Array, sizes: tuple[int, ...]) -> list[tuple[jax.Array, jax.Array]]:
    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), jnp.zeros(b))
            for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)]


def _loss(params: list[tuple[jax.Array, jax.Array]], x: jax.Array, y: jax.Array) -> jax.Array:
    h = x
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    return jnp.mean(_xent(h @ w + b, y))


def _xent(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Softmax cross-entropy with integer labels (kept dependency-free for the benchmark)."""
    return jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]


def _sgd_step(params: Any, batch: tuple[jax.Array, jax.Array], lr: float = 1e-2) -> tuple[Any, jax.Array]:
    loss, grads = jax.value_and_grad(_loss)(params, *batch)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads), loss


def dispatch_benchmark(
    n_steps: int = 2000,
    batch_size: int = 256,
    n_features: int = 22,
    hidden: int = 64,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Time the same SGD steps of a small MLP two ways: a Python loop over a jitted step, and one
    jitted ``lax.scan`` over all steps.

    Both give identical parameters (checked); the difference is the per-step dispatch overhead.

    Returns
    -------
    dict
        The settings (``n_steps``, ``batch_size``, ``n_features``, ``hidden``, ``repeats``),
        ``compile_step_s``, ``compile_scan_s``, the fastest ``loop_s``/``scan_s`` and their rates
        ``loop_steps_per_s``/``scan_steps_per_s``, ``speedup`` (fastest loop over fastest scan) and
        ``speedup_std`` (standard deviation of the per-repetition ratios, 0 for one repetition),
        ``dispatch_overhead_us`` (per step), ``max_param_diff``, and every repetition's times
        (``loop_times_s``, ``scan_times_s``).
    """
    if n_steps < 1 or batch_size < 1 or repeats < 1:
        msg = f"n_steps, batch_size and repeats must be >= 1; found {n_steps}, {batch_size}, {repeats}"
        raise ValueError(msg)
    key = jax.random.key(seed)
    k_param, k_x, k_y = jax.random.split(key, 3)
    params = _init_mlp(k_param, (n_features, hidden, hidden, 4))
    xs = jax.random.normal(k_x, (n_steps, batch_size, n_features))
    ys = jax.random.randint(k_y, (n_steps, batch_size), 0, 4)

    step = jax.jit(_sgd_step)
    scan = jax.jit(lambda p, x, y: jax.lax.scan(_sgd_step, p, (x, y)))

    t0 = time.perf_counter()
    step_c = step.lower(params, (xs[0], ys[0])).compile()
    compile_step = time.perf_counter() - t0
    t0 = time.perf_counter()
    scan_c = scan.lower(params, xs, ys).compile()
    compile_scan = time.perf_counter() - t0

    def run_loop() -> Any:
        p = params
        for i in range(n_steps):
            p, _ = step_c(p, (xs[i], ys[i]))
        return jax.block_until_ready(p)

    def run_scan() -> Any:
        return jax.block_until_ready(scan_c(params, xs, ys)[0])

    loop_times, scan_times = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p_loop = run_loop()
        loop_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        p_scan = run_scan()
        scan_times.append(time.perf_counter() - t0)
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in
               zip(jax.tree.leaves(p_loop), jax.tree.leaves(p_scan), strict=True))
    t_loop, t_scan = float(np.min(loop_times)), float(np.min(scan_times))
    ratios = np.asarray(loop_times) / np.asarray(scan_times)
    return {
        "n_steps": n_steps,
        "batch_size": batch_size,
        "n_features": n_features,
        "hidden": hidden,
        "repeats": repeats,
        "compile_step_s": compile_step,
        "compile_scan_s": compile_scan,
        "loop_s": t_loop,
        "scan_s": t_scan,
        "loop_steps_per_s": n_steps / t_loop,
        "scan_steps_per_s": n_steps / t_scan,
        "speedup": t_loop / t_scan,
        "speedup_std": float(np.std(ratios, ddof=1)) if repeats > 1 else 0.0,
        "dispatch_overhead_us": max(t_loop - t_scan, 0.0) / n_steps * 1e6,
        "max_param_diff": diff,
        "loop_times_s": [float(t) for t in loop_times],
        "scan_times_s": [float(t) for t in scan_times],
    }


def conclusion_markdown(bench: dict[str, Any], info: dict[str, Any]) -> str:
    """The page's conclusion, written from the benchmark's numbers (it changes when they do).

    Parameters
    ----------
    bench
        :func:`dispatch_benchmark`'s result.
    info
        :func:`machine_info`'s result (backend and core count, the condition of the statement).
    """
    from hepnb.book.numbers import format_with_uncertainty

    def count(x: float) -> str:
        return f"{x:,.0f}".replace(",", "\u202f")

    where = (f"On this machine ({info['jax_backend']} backend, {info['cpu_affinity']} usable cores), with "
             f"{count(bench['n_steps'])} steps of batch {bench['batch_size']} per repetition and the fastest of "
             f"{bench['repeats']} repetitions,")
    rates = (f"one jitted `lax.scan` runs {count(bench['scan_steps_per_s'])} training steps per second and a "
             f"Python loop over the jitted step {count(bench['loop_steps_per_s'])}")
    speedup = format_with_uncertainty(bench["speedup"], bench["speedup_std"]) if bench["speedup_std"] > 0 \
        else f"{bench['speedup']:.2f}"
    same = (f"Both end with the same parameters (largest difference {bench['max_param_diff']:.1e}), so the "
            f"difference is dispatch alone")
    if bench["speedup"] > 1 + 2 * bench["speedup_std"]:
        verdict = (f"the scan is faster by a factor {speedup}: {bench['dispatch_overhead_us']:.1f} µs of Python "
                   f"dispatch per step are saved. This is why `hepnb.train.fit` compiles one epoch as a single "
                   f"`lax.scan` and returns to Python only between epochs (validation, early stopping, the "
                   f"progress bar).")
    else:
        verdict = (f"the ratio of the two is {speedup}, not a significant gain: here the per-step arithmetic, "
                   f"not Python's dispatch, sets the pace, and fusing epochs with `lax.scan` buys little.")
    return f"{where} {rates}; {verdict} {same}.\n"


def plot_dispatch_benchmark(bench: dict[str, Any]) -> Any:
    """Two panels at the page's width: training steps/s of the loop and the scan (the fastest repetition,
    with every repetition as a point), and compile and run times (log scale)."""
    from hepnb.plotting import page_figure

    fig, (ax_rate, ax_time) = page_figure(1, 2, aspect=0.45)
    names = ["loop of\njitted step", "one jitted\nlax.scan"]
    rates = [bench["loop_steps_per_s"], bench["scan_steps_per_s"]]
    ax_rate.bar(names, rates, color=["tab:gray", "tab:blue"], width=0.6)
    for x, times in enumerate((bench.get("loop_times_s", []), bench.get("scan_times_s", []))):
        ax_rate.plot([x] * len(times), [bench["n_steps"] / t for t in times], "k.", ms=6)
    ax_rate.set_ylabel("training steps / s")
    ax_rate.set_ylim(0, 1.15 * max(rates))
    ax_rate.tick_params(axis="x", which="minor", bottom=False, top=False)
    labels = ["compile\nstep", "compile\nscan", "run\nloop", "run\nscan"]
    times = [bench["compile_step_s"], bench["compile_scan_s"], bench["loop_s"], bench["scan_s"]]
    ax_time.bar(labels, times, color=["tab:orange", "tab:orange", "tab:gray", "tab:blue"], width=0.6)
    ax_time.set_ylabel("seconds")
    ax_time.set_yscale("log")
    ax_time.set_ylim(min(times) / 3, max(times) * 3)
    ax_time.tick_params(axis="x", which="minor", bottom=False, top=False)
    return fig
