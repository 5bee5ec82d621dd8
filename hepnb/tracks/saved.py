"""Saved extrapolators out of the notebook: a folder with ``model.json`` and the weights, applied to any table of
start states with per-state training-domain flags (``hepnb tracks propagate --model``, ``hepnb tracks export``).

A folder (:func:`save_model_folder`) holds ``model.json`` (:class:`SavedModelMeta`: kind ``learned`` or
``polynomial``, name, leg and its planes, the field it was trained through, the training domain and a format
version), ``sample_states.parquet`` (validation start states: an example input, and the states the ONNX export is
checked on) and the weights: ``extrapolator/`` (:func:`hepnb.tracks.export.save_extrapolator`: an orbax checkpoint
and its ``config.json``) or ``polynomial.json`` (:meth:`hepnb.tracks.physpoly.PhysicsPolynomial.to_dict`).
``model.json`` is written last, so a folder that has it is complete.

As ``hepnb pid predict`` does (:func:`hepnb.pid.export.predict_table`), states outside the training domain are
not predicted: ``in_domain`` is 0, ``domain_flags`` says why (:data:`DOMAIN_FLAGS`) and their end states are NaN.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hepnb.io import FiniteFloat, read_json, validate_json
from hepnb.paths import why_missing
from hepnb.tracks.constants import LEGS_MM

__all__ = ["DOMAIN_FLAGS", "FORMAT_VERSION", "FieldDescription", "PolynomialFile", "SavedModelMeta", "TrainingDomain",
           "domain_flags", "load_saved_model", "predict_states", "read_saved_meta", "save_model_folder",
           "training_domain"]

#: The version of the folder layout and of ``model.json``.
FORMAT_VERSION = 1
#: Bits of the per-state ``domain_flags``: why a state lies outside the model's training domain (0: inside).
DOMAIN_FLAGS: dict[str, int] = {"p_outside_range": 1, "tx_outside_range": 2, "ty_outside_range": 4,
                                "x_outside_range": 8, "y_outside_range": 16, "origin_outside_range": 32}
#: Validation start states saved with a model (the ONNX export is checked on them; an example input too).
SAMPLE_STATES = "sample_states.parquet"
N_SAMPLE_STATES = 1024
#: The weights of each kind, inside the folder.
WEIGHTS = {"learned": "extrapolator", "polynomial": "polynomial.json"}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class TrainingDomain(_Strict):
    """The ranges of the training split's start states (``model.json``'s ``domain``); p = 1/|q/p|, and x0, y0 where
    the straight line of a state crosses z = 0 (the vertex region: x and tx of a real track are correlated, so a
    state at the corner of the x and tx ranges is still far from every training track)."""

    p_min_gev: FiniteFloat
    p_max_gev: FiniteFloat
    tx_min: FiniteFloat
    tx_max: FiniteFloat
    ty_min: FiniteFloat
    ty_max: FiniteFloat
    x_min_mm: FiniteFloat
    x_max_mm: FiniteFloat
    y_min_mm: FiniteFloat
    y_max_mm: FiniteFloat
    x0_min_mm: FiniteFloat
    x0_max_mm: FiniteFloat
    y0_min_mm: FiniteFloat
    y0_max_mm: FiniteFloat

    @model_validator(mode="after")
    def _ordered(self) -> TrainingDomain:
        for name in ("p", "tx", "ty", "x", "y", "x0", "y0"):
            unit = "_gev" if name == "p" else "_mm" if name[0] in "xy" and name not in ("tx", "ty") else ""
            lo, hi = getattr(self, f"{name}_min{unit}"), getattr(self, f"{name}_max{unit}")
            if not lo <= hi:
                msg = f"{name}_min{unit} must be <= {name}_max{unit}, found {lo} > {hi}"
                raise ValueError(msg)
        if not self.p_min_gev > 0:
            msg = f"p_min_gev must be > 0, found {self.p_min_gev}"
            raise ValueError(msg)
        return self


class FieldDescription(_Strict):
    """The field the model was trained through: how the study named it and the map's digest."""

    #: ``""`` (the study's dipole), an npz file or a quadrant pattern (:func:`hepnb.tracks.fieldmap.load_field_map`).
    spec: str
    #: :meth:`hepnb.tracks.fieldmap.FieldMap.digest` of the map.
    digest: Annotated[str, Field(min_length=1)]


class SavedModelMeta(_Strict):
    """The schema of a saved extrapolator's ``model.json`` (:func:`save_model_folder`)."""

    format_version: Literal[1]
    kind: Literal["learned", "polynomial"]
    name: Annotated[str, Field(min_length=1)]
    leg: str
    z0_mm: FiniteFloat
    z1_mm: FiniteFloat
    field: FieldDescription
    domain: TrainingDomain
    n_train: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _known_leg(self) -> SavedModelMeta:
        if self.leg not in LEGS_MM:
            msg = f"leg must be one of {sorted(LEGS_MM)}, found {self.leg!r}"
            raise ValueError(msg)
        if (self.z0_mm, self.z1_mm) != LEGS_MM[self.leg]:
            msg = f"z0_mm, z1_mm must be the planes of leg {self.leg} {LEGS_MM[self.leg]}, found {(self.z0_mm, self.z1_mm)}"
            raise ValueError(msg)
        return self


class PolynomialFile(_Strict):
    """The schema of ``polynomial.json`` (:meth:`hepnb.tracks.physpoly.PhysicsPolynomial.to_dict`)."""

    kind: Literal["physics_poly"]
    degree: Annotated[int, Field(ge=1)]
    z0_mm: FiniteFloat
    dz_mm: FiniteFloat
    half_range: Annotated[list[FiniteFloat], Field(min_length=5, max_length=5)]
    coef_x: list[Annotated[list[FiniteFloat], Field(min_length=2, max_length=2)]]
    coef_y: list[Annotated[list[FiniteFloat], Field(min_length=2, max_length=2)]]
    weights: Annotated[list[int], Field(min_length=5, max_length=5)]
    parities: list[str]


def training_domain(start: np.ndarray, z0_mm: float) -> dict[str, float]:
    """The ranges (:class:`TrainingDomain`) of training start states (N, 5) as (x, y, tx, ty, q/p) on the plane
    ``z0_mm``."""
    s = np.asarray(start, np.float64)
    p = 1.0 / np.abs(s[:, 4])
    x0, y0 = s[:, 0] - s[:, 2] * z0_mm, s[:, 1] - s[:, 3] * z0_mm
    return {"x0_min_mm": float(x0.min()), "x0_max_mm": float(x0.max()), "y0_min_mm": float(y0.min()),
            "y0_max_mm": float(y0.max()), "p_min_gev": float(p.min()), "p_max_gev": float(p.max()), "tx_min": float(s[:, 2].min()),
            "tx_max": float(s[:, 2].max()), "ty_min": float(s[:, 3].min()), "ty_max": float(s[:, 3].max()),
            "x_min_mm": float(s[:, 0].min()), "x_max_mm": float(s[:, 0].max()), "y_min_mm": float(s[:, 1].min()),
            "y_max_mm": float(s[:, 1].max())}


def save_model_folder(folder: str | os.PathLike[str], model: Any, dataset: Mapping[str, Any], *, name: str,
                      field_spec: str = "") -> Path:
    """Save a learned extrapolator or a physics polynomial trained on ``dataset``, ``model.json`` last.

    Parameters
    ----------
    folder
        The model folder (created; a model already there is replaced).
    model
        A :class:`hepnb.tracks.models.LearnedExtrapolator` or a :class:`hepnb.tracks.physpoly.PhysicsPolynomial`.
    dataset
        Its :func:`hepnb.tracks.data.make_dataset`: the leg, planes and field of its ``setting``, and the training
        domain of its ``train`` split.
    name
        The model's name on the leaderboard.
    field_spec
        How the study named its field map (``""``: the study's dipole).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    from hepnb.tracks.data import write_states
    from hepnb.tracks.export import save_extrapolator
    from hepnb.tracks.models import LearnedExtrapolator
    from hepnb.tracks.physpoly import PhysicsPolynomial

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.json").unlink(missing_ok=True)  # the folder is incomplete until model.json is back
    if isinstance(model, LearnedExtrapolator):
        kind = "learned"
        shutil.rmtree(out / WEIGHTS[kind], ignore_errors=True)
        save_extrapolator(model, out / WEIGHTS[kind])
    elif isinstance(model, PhysicsPolynomial):
        kind = "polynomial"
        _write_json(out / WEIGHTS[kind], model.to_dict())
    else:
        msg = f"a saved model is a LearnedExtrapolator or a PhysicsPolynomial, found a {type(model).__name__}"
        raise TypeError(msg)
    st = dataset["setting"]
    meta = {"format_version": FORMAT_VERSION, "kind": kind, "name": name, "leg": st.leg, "z0_mm": float(st.z0_mm),
            "z1_mm": float(st.z1_mm), "field": {"spec": field_spec, "digest": st.field.digest()},
            "domain": training_domain(dataset["train"]["start64"], st.z0_mm),
            "n_train": len(dataset["train"]["start64"])}
    SavedModelMeta.model_validate(meta)
    write_states(out / SAMPLE_STATES, dataset["val"]["start64"][:N_SAMPLE_STATES])
    _write_json(out / "model.json", meta)
    return out


def _write_json(path: Path, record: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def read_saved_meta(folder: str | os.PathLike[str]) -> SavedModelMeta:
    """The checked ``model.json`` of a saved extrapolator, its weights' presence included, without loading them.

    Raises
    ------
    FileNotFoundError
        No folder, no ``model.json`` in it, or its weights missing.
    ValueError
        A ``model.json`` that breaks :class:`SavedModelMeta` (the field named).
    """
    path = Path(folder)
    if not path.is_dir():
        msg = f"model folder {path} {'is a file, expected a folder' if path.is_file() else why_missing(path)}"
        raise FileNotFoundError(msg)
    meta_file = path / "model.json"
    if not meta_file.is_file():
        msg = f"{path} is not a saved hepnb track extrapolator (no model.json)"
        raise FileNotFoundError(msg)
    meta = validate_json(read_json(meta_file, what="extrapolator metadata"), SavedModelMeta, meta_file,
                         what="extrapolator metadata")
    weights = path / WEIGHTS[meta.kind]
    if not weights.exists():
        msg = f"{meta_file} describes a {meta.kind} extrapolator, but its weights {weights} are missing"
        raise FileNotFoundError(msg)
    return meta


def load_saved_model(folder: str | os.PathLike[str], meta: SavedModelMeta, fmap: Any = None) -> Any:
    """The extrapolator of a folder (start states (N, 5) → end states (N, 5), float32).

    ``fmap``: the field map of a learned model's Runge–Kutta base (its digest must be the one in ``model.json``;
    a polynomial needs none).
    """
    path = Path(folder)
    if meta.kind == "polynomial":
        from hepnb.tracks.physpoly import PhysicsPolynomial

        file = path / WEIGHTS["polynomial"]
        spec = validate_json(read_json(file, what="polynomial coefficients"), PolynomialFile, file,
                             what="polynomial coefficients")
        return PhysicsPolynomial.from_dict(spec.model_dump())
    from hepnb.tracks.data import field_function, setting
    from hepnb.tracks.export import load_extrapolator

    if fmap is None or fmap.digest() != meta.field.digest:
        msg = f"the field map given to {path} is not the one it was trained through (digest {meta.field.digest})"
        raise ValueError(msg)
    return load_extrapolator(path / WEIGHTS["learned"], field_function(setting("correct", meta.leg, fmap)))


def domain_flags(states: np.ndarray, domain: TrainingDomain, z0_mm: float) -> np.ndarray:
    """Per state (x, y, tx, ty, q/p) on the plane ``z0_mm``, the :data:`DOMAIN_FLAGS` bits of why it lies outside
    ``domain`` (0: inside; the ranges are closed; q/p = 0 is an infinite momentum, outside)."""
    s = np.asarray(states, np.float64)
    x0, y0 = s[:, 0] - s[:, 2] * z0_mm, s[:, 1] - s[:, 3] * z0_mm
    origin = ~((x0 >= domain.x0_min_mm) & (x0 <= domain.x0_max_mm) & (y0 >= domain.y0_min_mm) & (y0 <= domain.y0_max_mm))
    with np.errstate(divide="ignore"):
        p = 1.0 / np.abs(s[:, 4])
    checks = (("p_outside_range", p, domain.p_min_gev, domain.p_max_gev),
              ("tx_outside_range", s[:, 2], domain.tx_min, domain.tx_max),
              ("ty_outside_range", s[:, 3], domain.ty_min, domain.ty_max),
              ("x_outside_range", s[:, 0], domain.x_min_mm, domain.x_max_mm),
              ("y_outside_range", s[:, 1], domain.y_min_mm, domain.y_max_mm))
    flags = np.zeros(len(s), dtype=np.int32)
    for bit, value, lo, hi in checks:
        flags |= np.where(~((value >= lo) & (value <= hi)), DOMAIN_FLAGS[bit], 0).astype(np.int32)
    return flags | np.where(origin, DOMAIN_FLAGS["origin_outside_range"], 0).astype(np.int32)


def predict_states(model: Any, states: np.ndarray, domain: TrainingDomain, z0_mm: float) -> dict[str, np.ndarray]:
    """End states of the states inside the training domain, NaN for the others, and the flags.

    Returns
    -------
    dict
        ``end`` (N, 5) float64 (NaN outside the domain; q/p carried over), ``in_domain`` (N,) int32 0/1,
        ``domain_flags`` (N,) int32 (:data:`DOMAIN_FLAGS`).
    """
    from hepnb.tracks.evaluate import predict_batched

    flags = domain_flags(states, domain, z0_mm)
    inside = flags == 0
    end = np.full((len(states), 5), np.nan)
    if inside.any():
        end[inside] = predict_batched(model, np.asarray(states, np.float32)[inside], chunk=min(int(inside.sum()), 8192))
    return {"end": end, "in_domain": inside.astype(np.int32), "domain_flags": flags}
