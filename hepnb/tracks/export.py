"""The extrapolators out of the notebook: saved folders (:func:`save_extrapolator`, :func:`load_extrapolator`,
their ``config.json`` validated by :class:`ExtrapolatorConfig`) and ONNX export with ``jax2onnx``, checked and
timed with onnxruntime.

Every family exports the whole function ``start [batch, 5] → end [batch, 5]`` in float32: normalisation, the
network, the base and the final sum. For the RK-PINN (and any model on an RK4 base) that includes the field
map as a constant, its trilinear gather and the RK4 steps, written out one after the other: jax2onnx 0.17
cannot lower a ``lax.fori_loop`` whose body closes over traced values (its loop plugin turns the captured
step size into a numpy constant and fails with ``TracerArrayConversionError``), so the bases unroll their
few steps (:class:`hepnb.tracks.bases.RK4Base`). The polynomial exports as well (its basis is gathers and
products).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hepnb.io import FiniteFloat
from hepnb.tracks.arrays import Array
from hepnb.tracks.bases import KickBase, LineBase, RK4Base, describe
from hepnb.tracks.models import LearnedExtrapolator, build_head
from hepnb.tracks.polynomial import PolynomialExtrapolator

__all__ = ["ExtrapolatorConfig", "KickSpec", "LineSpec", "PolySpec", "RK4Spec", "export_onnx", "load_extrapolator",
           "onnx_latency_ns", "onnx_max_abs_diff", "onnx_session", "round_trip", "save_extrapolator"]


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
               folder: str | os.PathLike[str], *, families: tuple[str, ...] = ("mlp", "rkpinn", "poly", "poly_naive"),
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
        No checkpoint or config there, or a ``config.json`` that breaks :class:`ExtrapolatorConfig` (the field
        named).
    """
    from hepnb.checkpoint import load_model
    from hepnb.io import read_json, validate_json

    config_file = Path(folder, "config.json")
    if not config_file.is_file():
        msg = f"no config.json in {folder}: not a saved learned extrapolator"
        raise FileNotFoundError(msg)
    config = validate_json(read_json(config_file, what="extrapolator config"), ExtrapolatorConfig, config_file,
                           what="extrapolator config")
    b = config.base
    if isinstance(b, LineSpec):
        base: Any = LineBase(b.dz_mm)
    elif isinstance(b, KickSpec):
        base = KickBase(b.z0_mm, b.z1_mm, b.z_kick_mm, b.by_integral_t_mm, b.kappa)
    elif isinstance(b, RK4Spec):
        base = RK4Base(b.n_steps, b.z0_mm, b.z1_mm, field_fn, b.kappa)
    else:
        base = PolynomialExtrapolator(b.degree, b.basis, np.asarray(b.centre), np.asarray(b.half_range),
                                      np.asarray(b.coef), b.dz_mm,
                                      None if b.rotation is None else np.asarray(b.rotation))
    dummy = {"in_mean": np.zeros(5), "in_std": np.ones(5), "out_mean": np.zeros(4), "out_std": np.ones(4), "qop_rms": 1.0}
    head = load_model(lambda: build_head(config.family, config.size, stats=dummy, per_qop=config.per_qop), folder)
    return LearnedExtrapolator(config.name, head, base)


class _Spec(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class LineSpec(_Spec):
    """A straight-line base."""

    kind: Literal["line"]
    dz_mm: FiniteFloat


class KickSpec(_Spec):
    """A single-kick base."""

    kind: Literal["kick"]
    z0_mm: FiniteFloat
    z1_mm: FiniteFloat
    z_kick_mm: FiniteFloat
    by_integral_t_mm: FiniteFloat
    kappa: FiniteFloat


class RK4Spec(_Spec):
    """An RK4-N base through the study's field."""

    kind: Literal["rk4"]
    n_steps: Annotated[int, Field(ge=1)]
    z0_mm: FiniteFloat
    z1_mm: FiniteFloat
    kappa: FiniteFloat


class PolySpec(_Spec):
    """A fitted polynomial base."""

    kind: Literal["poly"]
    degree: Annotated[int, Field(ge=1)]
    basis: str
    dz_mm: FiniteFloat
    centre: list[FiniteFloat]
    half_range: list[FiniteFloat]
    coef: list[list[FiniteFloat]]
    #: The whitening rotation (5 × 5) of the inputs; absent in folders saved before it existed (identity).
    rotation: list[list[FiniteFloat]] | None = None


class ExtrapolatorConfig(BaseModel):
    """The schema of a saved learned extrapolator's ``config.json`` (:func:`save_extrapolator`)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: str
    family: Literal["mlp", "rkpinn"]
    size: str
    per_qop: bool = True
    base: Annotated[LineSpec | KickSpec | RK4Spec | PolySpec, Field(discriminator="kind")]

    @model_validator(mode="after")
    def _known_size(self) -> ExtrapolatorConfig:
        if self.size not in _sizes():
            msg = f"size must be one of {sorted(_sizes())}, found {self.size!r}"
            raise ValueError(msg)
        return self
