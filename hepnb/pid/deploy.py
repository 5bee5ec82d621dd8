"""Saved PID models and prediction on any track table with the extractor's schema.

A model folder holds ``model.json`` (kind, name, protocol, the feature list, the scaling) and either
``xgboost.json`` (XGBoost's own format) or ``checkpoint/`` (an orbax checkpoint of a Flax NNX network).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.pid import constants as C
from hepnb.pid.selection import FEATURES, features
from hepnb.pid.study import Prepared, predict_network

__all__ = ["load_model", "predict_table", "save_model"]


def save_model(folder: str | os.PathLike[str], name: str, model: Any, data: Prepared) -> Path:
    """Save a trained network or XGBoost model with the scaling of its protocol."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if name == "xgboost":
        model.save_model(out / "xgboost.json")
    else:
        from hepnb.checkpoint import save_model as save_checkpoint

        save_checkpoint(model, out / "checkpoint")
    meta = {"kind": "xgboost" if name == "xgboost" else "network", "name": name, "protocol": data.protocol,
            "features": list(FEATURES), "species": list(C.SPECIES), "mean": data.mean.tolist(), "std": data.std.tolist()}
    (out / "model.json").write_text(json.dumps(meta, indent=1))
    return out


def load_model(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    """The metadata and the model of a folder written by :func:`save_model`.

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
    meta = json.loads(meta_file.read_text())
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
        from hepnb.pid.models import build_network

        return meta, load_checkpoint(lambda: build_network(meta["name"]), path / "checkpoint")
    msg = f"unknown model kind {meta['kind']!r} in {meta_file}"
    raise ValueError(msg)


def predict_table(folder: str | os.PathLike[str], table: Mapping[str, NDArray]) -> dict[str, NDArray]:
    """Per-track probabilities ``prob_<species>`` and the predicted species (index and PDG code)."""
    from hepnb.pid.report import scale_like

    meta, model = load_model(folder)
    prepared = Prepared(meta["protocol"], {}, {}, {}, np.ones(4, np.float32), np.asarray(meta["mean"]),
                        np.asarray(meta["std"]))
    inputs = scale_like(prepared, features(table))
    prob = model.predict_proba(inputs["x"]) if meta["kind"] == "xgboost" else predict_network(model, inputs)
    pred = prob.argmax(axis=1)
    out = {"event_id": np.asarray(table["event_id"]), "track_id": np.asarray(table["track_id"]),
           **{f"prob_{s}": prob[:, i] for i, s in enumerate(C.SPECIES)},
           "predicted": pred.astype(np.int32),
           "predicted_pdg": np.array([C.PDG[s] for s in C.SPECIES])[pred].astype(np.int32)}
    if "mc_pdg" in table:
        out["mc_pdg"] = np.asarray(table["mc_pdg"])
    return out
