"""Models out of the notebook: deployable model folders, and prediction on any track table with per-track
domain flags.

A folder (:func:`save_deployable`, :func:`load_deployable`; ``hepnb pid predict``) holds ``model.json`` (kind,
name, protocol, momentum range, the feature list, the input transform and the scaling after it, the training
domain, the TOF momentum limit) and
either ``xgboost.json`` (XGBoost's own format) or ``checkpoint/`` (an orbax checkpoint of a Flax NNX network,
written by :func:`hepnb.checkpoint.save_model`). :func:`predict_table` predicts only tracks inside the domain the
model was trained on; the others are flagged per track and left unpredicted. The O2Physics export of a network
folder is :mod:`hepnb.pid.o2export`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, model_validator

from hepnb.io import FiniteFloat, read_json, validate_json
from hepnb.paths import why_missing
from hepnb.pid.constants import CHARGE_OF_PDG, PDG, SPECIES
from hepnb.pid.models import build_network
from hepnb.pid.protocols import scale_inputs
from hepnb.pid.selection import FEATURES, RANGES, blank_tof, features
from hepnb.pid.training import predict_network, tree_probabilities
from hepnb.pid.transforms import InputTransform

if TYPE_CHECKING:
    from hepnb.pid.protocols import Prepared

__all__ = [
    "DOMAIN_FLAGS",
    "ModelDomain",
    "ModelMeta",
    "domain_flags",
    "load_deployable",
    "model_inputs",
    "predict_table",
    "read_model_meta",
    "save_deployable",
]

#: Bits of the per-track ``domain_flags``: why a track lies outside the model's training domain.
DOMAIN_FLAGS: dict[str, int] = {"pt_not_positive": 1, "pt_below_min": 2, "eta_beyond": 4, "p_outside_range": 8,
                                "non_finite_input": 16}
_ETA_MAX = 0.8  # both selections cut |η| at 0.8
_PT_MIN_GEV = 0.1  # the O2 global-track pT cut (the extractor's lower pT limit too)


def save_deployable(folder: str | os.PathLike[str], name: str, model: Any, data: Prepared, *,
                    range_name: str = "full", tof_p_min_gev: float = 0.0) -> Path:
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
        The prepared cell it was trained on (its protocol, input transform and scaling are saved).
    range_name
        The momentum range it was trained on (:data:`hepnb.pid.selection.RANGES`): its domain, and the network's
        per-range settings.
    tof_p_min_gev
        The TOF momentum limit it was trained with (:func:`hepnb.pid.selection.blank_tof`; 0.5 for O2Physics).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    if range_name not in RANGES:
        msg = f"unknown momentum range {range_name!r}; choose one of {list(RANGES)}"
        raise ValueError(msg)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if name == "xgboost":
        model.save_model(out / "xgboost.json")
    else:
        from hepnb.checkpoint import save_model as save_checkpoint

        save_checkpoint(model, out / "checkpoint")
    lo, hi = RANGES[range_name]
    meta = {"kind": "xgboost" if name == "xgboost" else "network", "name": name, "protocol": data.protocol,
            "range": range_name, "features": list(FEATURES), "species": list(SPECIES), "mean": data.mean.tolist(),
            "std": data.std.tolist(), "transform": data.transform.as_dict(), "tof_p_min_gev": tof_p_min_gev,
            "domain": {"p_min_gev": lo, "p_max_gev": hi if np.isfinite(hi) else None, "pt_min_gev": _PT_MIN_GEV,
                       "abs_eta_max": _ETA_MAX}}
    (out / "model.json").write_text(json.dumps(meta, indent=1))
    return out


class ModelDomain(BaseModel):
    """The training domain of a deployable model (``model.json``'s ``domain``)."""

    model_config = ConfigDict(strict=True)

    p_min_gev: FiniteFloat
    p_max_gev: FiniteFloat | None
    pt_min_gev: FiniteFloat
    abs_eta_max: FiniteFloat


class ColumnTransformMeta(BaseModel):
    """One column group's input transform in ``model.json`` (:class:`hepnb.pid.transforms.ColumnTransform`)."""

    model_config = ConfigDict(strict=True)

    kind: Literal["none", "clip", "asinh"]
    scale: FiniteFloat


class TransformMeta(BaseModel):
    """``model.json``'s ``transform`` (:meth:`hepnb.pid.transforms.InputTransform.as_dict`)."""

    model_config = ConfigDict(strict=True)

    nsigma: ColumnTransformMeta
    dedx: ColumnTransformMeta


class ModelMeta(BaseModel):
    """The schema of a PID model folder's ``model.json`` (:func:`save_deployable`)."""

    model_config = ConfigDict(strict=True, extra="allow")

    kind: Literal["xgboost", "network"]
    name: str
    protocol: str
    range: str
    features: list[str]
    species: list[str]
    mean: list[FiniteFloat]
    std: list[FiniteFloat]
    transform: TransformMeta | None = None
    tof_p_min_gev: FiniteFloat = 0.0
    domain: ModelDomain

    @model_validator(mode="after")
    def _scaling_matches(self) -> ModelMeta:
        if self.transform is not None and min(self.transform.nsigma.scale, self.transform.dedx.scale) <= 0:
            msg = "an input transform's scale must be > 0"
            raise ValueError(msg)
        if len(self.mean) != len(self.std) or any(s <= 0 for s in self.std):
            msg = (f"mean and std must have the same length and std > 0, found {len(self.mean)} means and "
                   f"{len(self.std)} stds")
            raise ValueError(msg)
        return self


def read_model_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked metadata of a model folder, its weights' presence included, without loading the weights.

    Commands call it first, so that a wrong folder is named before an input is read, and a wrong input before
    the weights are loaded.

    Raises
    ------
    FileNotFoundError
        No folder, no ``model.json`` in it, or its weights (``xgboost.json`` or ``checkpoint/``) missing.
    ValueError
        A model trained on another feature set, or a ``model.json`` that breaks :class:`ModelMeta` (the field
        named).
    """
    path = Path(folder)
    meta_file = path / "model.json"
    if not path.is_dir():
        msg = f"model folder {path} {'is a file, expected a folder' if path.is_file() else why_missing(path)}"
        raise FileNotFoundError(msg)
    if not meta_file.is_file():
        msg = f"{path} is not a hepnb PID model folder (no model.json)"
        raise FileNotFoundError(msg)
    meta = read_json(meta_file, what="model metadata")
    validate_json(meta, ModelMeta, meta_file, what="model metadata")
    if meta.get("features") != list(FEATURES):
        msg = (f"model in {path} was trained on another feature set: {meta.get('features')}; "
               f"this version of hepnb builds {list(FEATURES)}")
        raise ValueError(msg)
    weights = path / ("xgboost.json" if meta["kind"] == "xgboost" else "checkpoint")
    if not weights.exists():
        msg = f"{meta_file} describes a {meta['kind']} model, but its weights {weights} are missing"
        raise FileNotFoundError(msg)
    return meta


def load_deployable(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    """The metadata and the model of a folder written by :func:`save_deployable`.

    Raises
    ------
    FileNotFoundError
        No ``model.json`` in the folder, or its weights (``xgboost.json`` or ``checkpoint/``) are missing.
    ValueError
        A model trained on another feature set, or a ``model.json`` that breaks :class:`ModelMeta` (the field
        named).
    """
    meta = read_model_meta(folder)
    path = Path(folder)
    if meta["kind"] == "xgboost":
        import xgboost as xgb

        model = xgb.XGBClassifier()
        model.load_model(path / "xgboost.json")
        return meta, model
    if meta["kind"] == "network":
        from hepnb.checkpoint import load_model as load_checkpoint

        range_name = meta.get("range")
        return meta, load_checkpoint(lambda: build_network(meta["name"], range_name=range_name), path / "checkpoint")
    msg = f"unknown model kind {meta['kind']!r} in {path / 'model.json'}"
    raise ValueError(msg)


def domain_flags(table: Mapping[str, NDArray], domain: Mapping[str, Any], raw: NDArray | None = None
                 ) -> NDArray[np.int32]:
    """Per track, the :data:`DOMAIN_FLAGS` bits of why it lies outside a model's training domain (0: inside)."""
    pt = np.asarray(table["pt"], dtype=np.float64)
    p = np.asarray(table["p"], dtype=np.float64)
    eta = np.asarray(table["eta"], dtype=np.float64)
    hi = domain.get("p_max_gev")
    flags = np.zeros(len(pt), dtype=np.int32)
    flags |= np.where(~(pt > 0), DOMAIN_FLAGS["pt_not_positive"], 0).astype(np.int32)
    flags |= np.where((pt > 0) & (pt < domain["pt_min_gev"]), DOMAIN_FLAGS["pt_below_min"], 0).astype(np.int32)
    flags |= np.where(~(np.abs(eta) <= domain["abs_eta_max"]), DOMAIN_FLAGS["eta_beyond"], 0).astype(np.int32)
    outside = ~(p >= domain["p_min_gev"]) | ((p >= hi) if hi is not None else np.zeros(len(p), dtype=bool))
    flags |= np.where(outside, DOMAIN_FLAGS["p_outside_range"], 0).astype(np.int32)
    if raw is not None:
        flags |= np.where(~np.isfinite(raw).all(axis=1), DOMAIN_FLAGS["non_finite_input"], 0).astype(np.int32)
    return flags


def model_inputs(meta: Mapping[str, Any], table: Mapping[str, NDArray]) -> dict[str, NDArray]:
    """The scaled network inputs of a folder's model for a track table (its TOF limit and input transform applied;
    a folder without a transform predates them: the identity)."""
    blanked = blank_tof(table, float(meta.get("tof_p_min_gev", 0.0)))
    return scale_inputs(features(blanked), meta["protocol"], np.asarray(meta["mean"]), np.asarray(meta["std"]),
                        InputTransform.from_dict(meta.get("transform")))


def predict_table(folder: str | os.PathLike[str], table: Mapping[str, NDArray]) -> dict[str, NDArray]:
    """Per-track probabilities ``prob_<species>``, the predicted species, and the training-domain flags.

    Tracks outside the domain the model was trained on (pT ≤ 0 or below its cut, |η| or p beyond its range,
    non-finite inputs) are not predicted: ``in_domain`` is 0, ``domain_flags`` says why (:data:`DOMAIN_FLAGS`),
    the probabilities are NaN, ``predicted`` is −1 and ``predicted_pdg`` 0.

    Parameters
    ----------
    folder
        A folder written by :func:`save_deployable`.
    table
        Tracks as :func:`hepnb.pid.reader.read_tracks` returns them (labels optional).

    Returns
    -------
    dict
        ``event_id``, ``track_id``, ``prob_pi`` … ``prob_el``, ``predicted``, ``predicted_pdg``, ``in_domain``,
        ``domain_flags`` (and ``mc_pdg`` when the table has it).
    """
    meta, model = load_deployable(folder)
    inputs = model_inputs(meta, table)
    flags = domain_flags(table, meta["domain"], inputs["raw"])
    inside = flags == 0
    prob = np.full((len(flags), len(SPECIES)), np.nan)
    if inside.any():
        part = {k: v[inside] for k, v in inputs.items()}
        prob[inside] = tree_probabilities(model, part["x"]) if meta["kind"] == "xgboost" else predict_network(
            model, part)
    pred = np.where(inside, np.nan_to_num(prob, nan=-1.0).argmax(axis=1), -1)
    charge = np.asarray(table["charge"]) if "charge" in table else np.ones(len(pred))
    pdg = np.array([PDG[s] for s in SPECIES])[np.maximum(pred, 0)]
    sign = np.sign(charge) * np.array([CHARGE_OF_PDG[s] for s in SPECIES])[np.maximum(pred, 0)]
    out = {"event_id": np.asarray(table["event_id"]), "track_id": np.asarray(table["track_id"]),
           **{f"prob_{s}": prob[:, i] for i, s in enumerate(SPECIES)},
           "predicted": pred.astype(np.int32), "predicted_pdg": np.where(inside, sign * pdg, 0).astype(np.int32),
           "in_domain": inside.astype(np.int32), "domain_flags": flags}
    if "mc_pdg" in table:
        out["mc_pdg"] = np.asarray(table["mc_pdg"])
    return out
