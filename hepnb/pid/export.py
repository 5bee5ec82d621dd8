"""Models out of the notebook: deployable model folders and prediction on any track table; ONNX export.

**Deployable folders** (:func:`save_deployable`, :func:`load_deployable`, :func:`predict_table`; ``hepnb pid
predict``): a folder holds ``model.json`` (kind, name, protocol, the feature list, the scaling) and either
``xgboost.json`` (XGBoost's own format) or ``checkpoint/`` (an orbax checkpoint of a Flax NNX network, written by
:func:`hepnb.checkpoint.save_model`).

**ONNX** (:func:`export_onnx`) of the dense networks in the O2Physics PIDML layout. The graph takes the
extractor's 22 raw features, ``input`` [batch, 22] float32 (the order of :data:`hepnb.pid.selection.FEATURES`),
applies the protocol's scaling and tokenisation inside the graph, and gives one output per species,
``prob_211``, ``prob_321``, ``prob_2212``, ``prob_11`` [batch, 1] (softmax probabilities), so that an O2 task
reading one species' probability needs nothing but the table's columns. Batch norm (DNN) is folded into the
dense layers; dropout is the identity at inference. Only the dense networks (SimpleNN, DNN) are exported: the
attention and mixture-of-experts networks use operations this hand-written graph does not cover, and the
notebook says which network it exported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from hepnb.io import read_json
from hepnb.pid.constants import PDG, SPECIES
from hepnb.pid.models import DNN, SimpleNN, build_network
from hepnb.pid.pipeline import predict_network
from hepnb.pid.protocols import protocol_spec, scale_inputs
from hepnb.pid.selection import FEATURES, features

if TYPE_CHECKING:
    from hepnb.pid.protocols import Prepared

__all__ = ["EXPORTABLE", "export_onnx", "load_deployable", "onnx_probabilities", "predict_table", "save_deployable"]


# Deployable model folders


def save_deployable(folder: str | os.PathLike[str], name: str, model: Any, data: Prepared) -> Path:
    """Save a trained network or XGBoost model with the scaling of its protocol, for :func:`predict_table`.

    Parameters
    ----------
    folder
        The model folder (created).
    name
        ``xgboost`` or a network of :data:`hepnb.pid.models.NETWORKS`.
    model
        The trained model.
    data
        The prepared cell it was trained on (its protocol and scaling are saved).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if name == "xgboost":
        model.save_model(out / "xgboost.json")
    else:
        from hepnb.checkpoint import save_model as save_checkpoint

        save_checkpoint(model, out / "checkpoint")
    meta = {"kind": "xgboost" if name == "xgboost" else "network", "name": name, "protocol": data.protocol,
            "features": list(FEATURES), "species": list(SPECIES), "mean": data.mean.tolist(),
            "std": data.std.tolist()}
    (out / "model.json").write_text(json.dumps(meta, indent=1))
    return out


def load_deployable(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    """The metadata and the model of a folder written by :func:`save_deployable`.

    Raises
    ------
    FileNotFoundError
        No ``model.json`` in the folder.
    ValueError
        A model trained on another feature set, or an unknown kind.
    """
    path = Path(folder)
    meta_file = path / "model.json"
    if not meta_file.is_file():
        msg = f"{path} is not a hepnb PID model folder (no model.json)"
        raise FileNotFoundError(msg)
    meta = read_json(meta_file, what="model metadata")
    if meta.get("features") != list(FEATURES):
        msg = (f"model in {path} was trained on another feature set: {meta.get('features')}; "
               f"this version of hepnb builds {list(FEATURES)}")
        raise ValueError(msg)
    if meta["kind"] == "xgboost":
        import xgboost as xgb

        model = xgb.XGBClassifier()
        model.load_model(path / "xgboost.json")
        return meta, model
    if meta["kind"] == "network":
        from hepnb.checkpoint import load_model as load_checkpoint

        return meta, load_checkpoint(lambda: build_network(meta["name"]), path / "checkpoint")
    msg = f"unknown model kind {meta['kind']!r} in {meta_file}"
    raise ValueError(msg)


def predict_table(folder: str | os.PathLike[str], table: Mapping[str, NDArray]) -> dict[str, NDArray]:
    """Per-track probabilities ``prob_<species>`` and the predicted species (index and PDG code).

    Parameters
    ----------
    folder
        A folder written by :func:`save_deployable`.
    table
        Tracks with the extractor's columns (:data:`hepnb.pid.data.COLUMNS`; labels optional).

    Returns
    -------
    dict
        ``event_id``, ``track_id``, ``prob_pi`` … ``prob_el``, ``predicted``, ``predicted_pdg`` (and ``mc_pdg``
        when the table has it).
    """
    meta, model = load_deployable(folder)
    inputs = scale_inputs(features(table), meta["protocol"], np.asarray(meta["mean"]), np.asarray(meta["std"]))
    prob = model.predict_proba(inputs["x"]) if meta["kind"] == "xgboost" else predict_network(model, inputs)
    pred = prob.argmax(axis=1)
    out = {"event_id": np.asarray(table["event_id"]), "track_id": np.asarray(table["track_id"]),
           **{f"prob_{s}": prob[:, i] for i, s in enumerate(SPECIES)},
           "predicted": pred.astype(np.int32),
           "predicted_pdg": np.array([PDG[s] for s in SPECIES])[pred].astype(np.int32)}
    if "mc_pdg" in table:
        out["mc_pdg"] = np.asarray(table["mc_pdg"])
    return out


# ONNX

#: Network names that :func:`export_onnx` accepts.
EXPORTABLE = ("simple_nn", "dnn")
_TOF = [i for i, k in enumerate(FEATURES) if k.startswith("tof_")]
_BAYES = [i for i, k in enumerate(FEATURES) if k.startswith("bayes_prob_")]


def _dense_layers(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) of every layer with eval-mode batch norm folded in; the last one has no ReLU."""
    mlp = model.mlp
    layers = []
    for i, layer in enumerate(mlp.layers):
        w = np.asarray(layer.kernel[...], np.float64)
        b = np.asarray(layer.bias[...], np.float64)
        if mlp.norms is not None:
            bn = mlp.norms[i]
            scale = np.asarray(bn.scale[...]) / np.sqrt(np.asarray(bn.var[...]) + bn.epsilon)
            w = w * scale[None, :]
            b = (b - np.asarray(bn.mean[...])) * scale + np.asarray(bn.bias[...])
        layers.append((w, b))
    layers.append((np.asarray(mlp.out.kernel[...], np.float64), np.asarray(mlp.out.bias[...], np.float64)))
    return layers


def export_onnx(model: Any, protocol: str, mean: np.ndarray, std: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write a dense PID network with its protocol's preprocessing as an ONNX graph (opset 17).

    Parameters
    ----------
    model
        A trained :class:`~hepnb.pid.models.SimpleNN` or :class:`~hepnb.pid.models.DNN`.
    protocol
        A key of :data:`hepnb.pid.protocols.PROTOCOLS` (how missing TOF and Bayes values are tokenised).
    mean, std
        The protocol's scaling of the 22 features (``Prepared.mean``, ``Prepared.std``).
    path
        Output ``.onnx`` file.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if not isinstance(model, SimpleNN | DNN):
        msg = f"ONNX export supports the dense networks {list(EXPORTABLE)}, found {type(model).__name__}"
        raise TypeError(msg)
    tokenise = protocol_spec(protocol).tokenise_missing  # an unknown protocol is refused here
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: Any, dtype: Any = np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    n = len(FEATURES)
    scaled = node("Div", [node("Sub", ["input", const("mean", np.asarray(mean).reshape(1, n))], "centred"),
                          const("std", np.asarray(std).reshape(1, n))], "scaled")
    tof_cols = np.zeros((1, n))
    tof_cols[0, _TOF] = 1
    bayes_cols = np.zeros((1, n))
    bayes_cols[0, _BAYES] = 1
    if tokenise:  # absent TOF values and Bayes probabilities become 0 after scaling
        def present(feature: str) -> str:
            i = FEATURES.index(feature)
            col = node("Slice", ["input", const(f"{feature}_lo", [i], np.int64),
                                 const(f"{feature}_hi", [i + 1], np.int64), const(f"{feature}_axis", [1], np.int64)],
                       f"{feature}_col")
            return node("Cast", [node("Greater", [col, const(f"{feature}_zero", [[0.0]])], f"{feature}_gt")],
                        f"{feature}_present", to=TensorProto.FLOAT)

        one = const("one", [[1.0]])
        drop_tof = node("Mul", [node("Sub", [one, present("has_tof")], "no_tof"), const("tof_cols", tof_cols)],
                        "drop_tof")
        drop_bayes = node("Mul", [node("Sub", [one, present("bayes_available")], "no_bayes"),
                                  const("bayes_cols", bayes_cols)], "drop_bayes")
        gate = node("Sub", [node("Sub", [one, drop_tof], "gate1"), drop_bayes], "gate")
        x = node("Mul", [scaled, gate], "x")
    else:  # the seed's −0.25 token where a *scaled* Bayes probability is exactly 0
        zero = node("Equal", [scaled, const("zero", [[0.0]])], "is_zero")
        token = node("And", [zero, node("Cast", [const("bayes_cols", bayes_cols)], "bayes_mask",
                                         to=TensorProto.BOOL)], "token")
        x = node("Where", [token, const("minus_quarter", [[-0.25]]), scaled], "x")
    layers = _dense_layers(model)
    for i, (w, b) in enumerate(layers):
        z = node("Add", [node("MatMul", [x, const(f"w{i}", w)], f"mm{i}"), const(f"b{i}", b.reshape(1, -1))], f"z{i}")
        x = z if i == len(layers) - 1 else node("Relu", [z], f"h{i}")
    prob = node("Softmax", [x], "probabilities", axis=1)
    outputs = [f"prob_{PDG[s]}" for s in SPECIES]
    nodes.append(helper.make_node("Split", [prob, const("split", [1] * len(outputs), np.int64)], outputs, axis=1))
    graph = helper.make_graph(
        nodes, "hepnb_pid", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", 1]) for o in outputs], inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hepnb")
    helper.set_model_props(onnx_model, {"features": ",".join(FEATURES), "species_pdg": ",".join(
        str(PDG[s]) for s in SPECIES), "protocol": protocol})
    onnx.checker.check_model(onnx_model)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx_model, out)
    return out


def onnx_probabilities(path: str | os.PathLike[str], raw: np.ndarray) -> np.ndarray:
    """Run an exported model with onnxruntime on raw features; returns [batch, 4] probabilities."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = session.run(None, {"input": np.asarray(raw, np.float32)})
    return np.concatenate(outs, axis=1)
