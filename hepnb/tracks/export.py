"""ONNX export of the extrapolators with ``jax2onnx``, checked and timed with onnxruntime.

Every family exports the whole function ``start [batch, 5] → end [batch, 5]`` in float32: normalisation, the
network, the base and the final sum. For the RK-PINN (and any model on an RK4 base) that includes the field
map as a constant, its trilinear gather and the RK4 steps, written out one after the other: jax2onnx 0.17
cannot lower a ``lax.fori_loop`` whose body closes over traced values (its loop plugin turns the captured
step size into a numpy constant and fails with ``TracerArrayConversionError``), so the bases unroll their
few steps (:class:`hepnb.tracks.bases.RK4Base`). The polynomial exports as well (its basis is gathers and
products).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.tracks.arrays import Array

__all__ = ["export_onnx", "onnx_latency_ns", "onnx_max_abs_diff", "onnx_session", "round_trip"]



def export_onnx(fn: Callable[[Array], Array], path: str | os.PathLike[str], *, name: str = "hepnb_extrapolator") -> Path:
    """Trace ``fn`` (float32 start states (batch, 5) → end states (batch, 5)) with jax2onnx and write it.

    The input is named ``start`` and the output ``end``; the batch dimension is symbolic.
    """
    import onnx
    from jax2onnx import to_onnx

    proto = to_onnx(fn, [("batch", 5)], model_name=name, input_names=["start"], output_names=["end"])
    onnx.checker.check_model(proto)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    onnx.save(proto, tmp)
    tmp.replace(target)
    return target


def onnx_session(path: str | os.PathLike[str], *, threads: int = 1) -> Any:
    """An onnxruntime CPU session (``threads`` intra-op threads: 1 for latency at batch 1)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def onnx_max_abs_diff(fn: Callable[[Array], Array], path: str | os.PathLike[str], states: np.ndarray) -> dict[str, float]:
    """Run the ONNX file with onnxruntime and compare with JAX: max |Δ| of positions (µm) and slopes (mrad)."""
    import jax
    import jax.numpy as jnp

    session = onnx_session(path, threads=0)
    x = np.asarray(states, np.float32)
    got = session.run(["end"], {"start": x})[0]
    want = np.asarray(jax.jit(fn)(jnp.asarray(x)))
    return {"max_pos_diff_um": float(1e3 * np.abs(got[:, :2] - want[:, :2]).max()),
            "max_slope_diff_mrad": float(1e3 * np.abs(got[:, 2:4] - want[:, 2:4]).max()),
            "n_tracks": len(x)}


def onnx_latency_ns(path: str | os.PathLike[str], states: np.ndarray, *, batch: int = 1, repeats: int = 5,
                    min_time_s: float = 0.2) -> float:
    """ns per track through onnxruntime (one thread) at ``batch``, best of ``repeats``."""
    session = onnx_session(path, threads=1)
    x = np.resize(np.asarray(states, np.float32), (batch, 5))
    feed = {"start": x}
    session.run(["end"], feed)
    best = np.inf
    for _ in range(repeats):
        n_calls, t0 = 0, time.perf_counter()
        while True:
            session.run(["end"], feed)
            n_calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time_s / repeats:
                break
        best = min(best, elapsed / n_calls)
    return float(best / batch * 1e9)


def round_trip(predictors: dict[str, Callable[[Array], Array]], rows: list[dict[str, Any]], dataset: dict[str, Any],
               folder: str | os.PathLike[str], *, families: tuple[str, ...] = ("mlp", "rkpinn", "poly"),
               n_check: int = 4096) -> list[dict[str, Any]]:
    """Export the best model of each family (validation median) to ONNX, compare onnxruntime with JAX on test
    tracks, and time both at batch 1.

    Returns
    -------
    list of dict
        Per model: ``model``, ``family``, ``path`` (file name), ``max_pos_diff_um``, ``max_slope_diff_mrad``,
        ``onnx_ns_b1`` (onnxruntime, one thread) and ``jax_ns_b1``, ``export_s``; or ``error`` naming what
        could not be exported and why.
    """
    from hepnb.tracks.evaluate import ns_per_track

    start = np.asarray(dataset["test"]["start"], np.float32)
    out = []
    for family in families:
        sel = [r for r in rows if r["family"] == family]
        if not sel:
            continue
        name = min(sel, key=lambda r: r["val_median_um"])["model"]
        fn = predictors[name]
        t0 = time.perf_counter()
        try:
            path = export_onnx(fn, Path(folder) / f"{name}.onnx", name=name)
        except ImportError:  # a missing jax2onnx or onnx is the installation's fault, not the model's
            raise
        except Exception as err:  # noqa: BLE001 - the row says which primitive failed and why
            out.append({"model": name, "family": family, "error": f"{type(err).__name__}: {err}"[:500]})
            continue
        row = {"model": name, "family": family, "path": path.name, "export_s": time.perf_counter() - t0,
               **onnx_max_abs_diff(fn, path, start[:n_check]),
               "onnx_ns_b1": onnx_latency_ns(path, start, batch=1), "jax_ns_b1": ns_per_track(fn, start, batch=1)}
        out.append(row)
    return out
