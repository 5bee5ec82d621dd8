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

__all__ = ["dispatch_benchmark", "machine_info", "plot_dispatch_benchmark"]


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
        ``compile_step_s``, ``compile_scan_s``, ``loop_steps_per_s``, ``scan_steps_per_s``,
        ``speedup`` (scan over loop), ``dispatch_overhead_us`` (per step), ``max_param_diff``.
    """
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
    return {
        "n_steps": n_steps,
        "batch_size": batch_size,
        "compile_step_s": compile_step,
        "compile_scan_s": compile_scan,
        "loop_s": t_loop,
        "scan_s": t_scan,
        "loop_steps_per_s": n_steps / t_loop,
        "scan_steps_per_s": n_steps / t_scan,
        "speedup": t_loop / t_scan,
        "dispatch_overhead_us": max(t_loop - t_scan, 0.0) / n_steps * 1e6,
        "max_param_diff": diff,
    }


def plot_dispatch_benchmark(bench: dict[str, float]) -> Any:
    """Two panels: training steps/s of the loop and the scan; compile and run times (log scale)."""
    import matplotlib.pyplot as plt

    fig, (ax_rate, ax_time) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax_rate.bar(["Python loop\nof jitted step", "one jitted\nlax.scan"],
                [bench["loop_steps_per_s"], bench["scan_steps_per_s"]], color=["tab:gray", "tab:blue"])
    ax_rate.set_ylabel("training steps / s")
    ax_rate.set_title(f"batch {bench['batch_size']:.0f}, {bench['n_steps']:.0f} steps", fontsize=14)
    ax_time.bar(["compile\nstep", "compile\nscan", "run\nloop", "run\nscan"],
                [bench["compile_step_s"], bench["compile_scan_s"], bench["loop_s"], bench["scan_s"]],
                color=["tab:orange", "tab:orange", "tab:gray", "tab:blue"])
    ax_time.set_ylabel("seconds")
    ax_time.set_yscale("log")
    return fig
