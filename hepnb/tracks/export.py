"""ONNX export of the MLP extrapolator (input ``start`` [batch, 5] → output ``end`` [batch, 5]).

The graph is written operator by operator with ``onnx.helper`` (normalisation, SiLU layers, output scale
and the straight-line base are all inside), then checked against JAX with onnxruntime.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.tracks.models import MLPExtrapolator

__all__ = ["export_onnx", "onnx_max_abs_diff"]


def export_onnx(model: MLPExtrapolator, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` as an ONNX graph (opset 17) and return the path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if not isinstance(model, MLPExtrapolator):
        msg = f"ONNX export supports MLPExtrapolator, found {type(model).__name__}"
        raise TypeError(msg)
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    x = node("Div", [node("Sub", ["start", const("in_mean", model.in_mean[...])], "centred"),
                     const("in_std", model.in_std[...])], "h0")
    for i, layer in enumerate(model.net.hidden):
        z = node("Add", [node("MatMul", [x, const(f"w{i}", layer.kernel[...])], f"mm{i}"),
                         const(f"b{i}", layer.bias[...])], f"z{i}")
        x = node("Mul", [z, node("Sigmoid", [z], f"sig{i}")], f"h{i + 1}")
    out = model.net.out
    corr = node("Add", [node("MatMul", [x, const("w_out", out.kernel[...])], "mm_out"), const("b_out", out.bias[...])],
                "corr_raw")
    corr = node("Mul", [corr, const("out_scale", model.out_scale[...])], "corr_sigma")
    for name, value in (("i4", 4), ("i5", 5), ("axis1", 1)):
        inits.append(numpy_helper.from_array(np.array([value], dtype=np.int64), name))
    qop = node("Slice", ["start", "i4", "i5", "axis1"], "qop")
    per_qop = node("Div", [qop, const("qop_rms", np.asarray(model.qop_rms[...]).reshape(1))], "per_qop")
    corr = node("Mul", [corr, per_qop], "corr")
    # straight-line base: (x + tx dz, y + ty dz, tx, ty); Slice bounds are int64 constants
    for name, value in (("i0", 0), ("i2", 2)):
        inits.append(numpy_helper.from_array(np.array([value], dtype=np.int64), name))
    pos = node("Slice", ["start", "i0", "i2", "axis1"], "pos")
    slopes = node("Slice", ["start", "i2", "i4", "axis1"], "slopes")
    moved = node("Add", [pos, node("Mul", [slopes, const("dz", np.array(model.dz_mm))], "step")], "moved")
    base = node("Concat", [moved, slopes], "base", axis=1)
    node("Concat", [node("Add", [base, corr], "state4"), qop], "end", axis=1)
    graph = helper.make_graph(
        nodes, "hepnb_mlp_extrapolator",
        [helper.make_tensor_value_info("start", TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("end", TensorProto.FLOAT, ["batch", 5])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hepnb")
    onnx.checker.check_model(proto)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, target)
    return target


def onnx_max_abs_diff(model: MLPExtrapolator, path: str | os.PathLike[str], states: np.ndarray) -> dict[str, float]:
    """Run the ONNX file with onnxruntime and compare with JAX: max |Δ| of positions (µm) and slopes (mrad)."""
    import jax.numpy as jnp
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["end"], {"start": np.asarray(states, np.float32)})[0]
    want = np.asarray(model(jnp.asarray(states, jnp.float32)))
    return {"max_pos_diff_um": float(1e3 * np.abs(got[:, :2] - want[:, :2]).max()),
            "max_slope_diff_mrad": float(1e3 * np.abs(got[:, 2:4] - want[:, 2:4]).max())}
