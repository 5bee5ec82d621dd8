"""The headline tau model out of the notebook: a saved folder, prediction on any jets, and ONNX export.

A folder (:func:`save_tau_model`, :func:`load_tau_model`; ``hepnb tau predict``) holds ``model.json`` (the
network's sizes, its tasks, the candidate features and decay-mode classes it was trained with, the kinematics
output scale; schema :class:`TauModelMeta`) and ``checkpoint/`` (:func:`hepnb.checkpoint.save_model`), written
last-to-first so that a folder with a ``model.json`` is complete. :func:`predict_jets` gives one row per jet: the
tau-ID score, the charge, the decay-mode probabilities and the visible four-momentum; :func:`export_onnx` writes
the network as an ONNX graph (:mod:`jax2onnx`) on the prepared tensors of :func:`hepnb.tau.data.to_tensors`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hepnb import kinematics
from hepnb.io import FiniteFloat, read_json, validate_json
from hepnb.tau import constants
from hepnb.tau.data import FEATURE_VERSION, NETWORK_FEATURES
from hepnb.tau.models import TASKS, MultiParTau, ParTConfig

__all__ = ["DM_COLUMNS", "MAX_ONNX_BATCH", "TauModelMeta", "export_onnx", "load_tau_meta", "load_tau_model", "predict_jets",
           "read_jets_for_prediction", "save_tau_model", "tensors_for_prediction"]

#: Column names of the decay-mode probabilities, in the order of :data:`hepnb.tau.constants.DM_NAMES`.
DM_COLUMNS: tuple[str, ...] = tuple(f"prob_dm_{n.replace('>=', 'ge')}" for n in constants.DM_NAMES)
_KIND = "MultiParTau"
_FEATURE_VERSIONS = {1: "tanh(dz), σ_dz, tanh(dxy), σ_dxy; true-mass track energies",
                     2: "tanh(dz), dz significance, tanh(dxy), dxy significance; pion-hypothesis track energies"}


class TauModelMeta(BaseModel):
    """The schema of a tau model folder's ``model.json`` (:func:`save_tau_model`)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    kind: Literal["MultiParTau"]
    name: str
    #: Version of the network inputs (:data:`hepnb.tau.data.FEATURE_VERSION`); a file without it predates the
    #: field and was trained on version 1.
    feature_version: int = Field(default=1, gt=0)
    tasks: list[str]
    features: list[str]
    decay_modes: list[str]
    max_candidates: int = Field(gt=0)
    embed_dims: list[int] = Field(min_length=1)
    pair_dims: list[int]
    n_heads: int = Field(gt=0)
    n_layers: int = Field(gt=0)
    n_cls_layers: int = Field(gt=0)
    ffn_ratio: int = Field(gt=0)
    trained_dtype: str
    kin_scale: Annotated[list[FiniteFloat], Field(min_length=5, max_length=5)] | None

    @field_validator("tasks")
    @classmethod
    def _all_tasks(cls, tasks: list[str]) -> list[str]:
        if sorted(tasks) != sorted(TASKS):
            msg = f"must be the four tasks {list(TASKS)}, found {tasks}"
            raise ValueError(msg)
        return tasks

    def config(self) -> ParTConfig:
        """The network's sizes, computed in float32 (the saved parameters are float32 whatever it trained in)."""
        return ParTConfig(embed_dims=tuple(self.embed_dims), pair_dims=tuple(self.pair_dims), n_heads=self.n_heads,
                          n_layers=self.n_layers, n_cls_layers=self.n_cls_layers, ffn_ratio=self.ffn_ratio)


def save_tau_model(folder: str | os.PathLike[str], model: MultiParTau, cfg: ParTConfig, *, name: str,
                   kin_scale: tuple[float, ...] | None) -> Path:
    """Save a trained MultiParTau (all four tasks) for :func:`predict_jets`: ``checkpoint/``, then ``model.json``.

    Parameters
    ----------
    folder
        The model folder (created; an existing ``model.json`` is removed first, so a failed save leaves none).
    model, cfg
        The network and the sizes it was built with.
    name
        Its name on the page (e.g. ``"MultiParTau (tau)"``).
    kin_scale
        The kinematics output scale it was built with (:func:`hepnb.tau.training.training_kin_scale`).
    """
    from hepnb.checkpoint import save_model

    if tuple(model.tasks) != TASKS:
        msg = f"only a MultiParTau with all four tasks {list(TASKS)} can be saved, found {list(model.tasks)}"
        raise ValueError(msg)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.json").unlink(missing_ok=True)
    save_model(model, out / "checkpoint")
    meta = TauModelMeta(kind=_KIND, name=name, feature_version=FEATURE_VERSION, tasks=list(TASKS),
                        features=list(NETWORK_FEATURES),
                        decay_modes=list(constants.DM_NAMES), max_candidates=constants.MAX_CANDIDATES,
                        embed_dims=list(cfg.embed_dims), pair_dims=list(cfg.pair_dims), n_heads=cfg.n_heads,
                        n_layers=cfg.n_layers, n_cls_layers=cfg.n_cls_layers, ffn_ratio=cfg.ffn_ratio,
                        trained_dtype=cfg.dtype, kin_scale=None if kin_scale is None else [float(v) for v in kin_scale])
    tmp = out / ".model.json.tmp"
    tmp.write_text(json.dumps(meta.model_dump(), indent=1))
    os.replace(tmp, out / "model.json")
    return out


def load_tau_meta(folder: str | os.PathLike[str]) -> TauModelMeta:
    """The validated ``model.json`` of a folder written by :func:`save_tau_model` (no weights read).

    Raises
    ------
    FileNotFoundError
        No ``model.json``, or no ``checkpoint/`` beside it.
    ValueError
        A ``model.json`` that breaks :class:`TauModelMeta` (the field named), or one of a model trained on other
        network inputs (:data:`hepnb.tau.data.FEATURE_VERSION`), candidate features or decay-mode classes than
        this version of hepnb builds.
    """
    path = Path(folder)
    meta_file = path / "model.json"
    if not meta_file.is_file():
        msg = f"{path} is not a hepnb tau model folder (no model.json)"
        raise FileNotFoundError(msg)
    meta = validate_json(read_json(meta_file, what="model metadata"), TauModelMeta, meta_file, what="model metadata")
    if meta.feature_version != FEATURE_VERSION:
        msg = (f"model in {path} was trained on network inputs of version {meta.feature_version}; this version of "
               f"hepnb builds version {FEATURE_VERSION} ({_FEATURE_VERSIONS.get(FEATURE_VERSION)}): retrain the model")
        raise ValueError(msg)
    for what, saved, ours in (("candidate features", meta.features, list(NETWORK_FEATURES)),
                              ("decay-mode classes", meta.decay_modes, list(constants.DM_NAMES))):
        if saved != ours:
            msg = f"model in {path} was trained on other {what}: {saved}; this version of hepnb builds {ours}"
            raise ValueError(msg)
    if not (path / "checkpoint").is_dir():
        msg = f"{meta_file} describes a {meta.kind}, but its weights {path / 'checkpoint'} are missing"
        raise FileNotFoundError(msg)
    return meta


def load_tau_model(folder: str | os.PathLike[str]) -> tuple[TauModelMeta, MultiParTau]:
    """The metadata and the network of a folder written by :func:`save_tau_model`."""
    from flax import nnx

    from hepnb.checkpoint import load_model

    meta = load_tau_meta(folder)
    cfg, scale = meta.config(), meta.kin_scale

    def factory() -> MultiParTau:
        return MultiParTau(cfg, TASKS, kin_scale=scale, rngs=nnx.Rngs(params=0, dropout=1))

    return meta, load_model(factory, Path(folder) / "checkpoint")  # type: ignore[return-value]


def read_jets_for_prediction(paths: list[Path]) -> tuple[Any, bool]:
    """The jets of ML-Tau ntuples (labelled when every file has the truth columns), or of a study jet file or
    HepMC3 events (:func:`hepnb.tau.data.read_sample`, labelled), and whether they carry labels."""
    from hepnb.tau.data import read_sample
    from hepnb.tau.mltau import has_labels, is_mltau, read_mltau

    if paths and all(is_mltau(p) for p in paths):
        labelled = all(has_labels(p) for p in paths)
        return read_mltau(paths, labels=labelled), labelled
    return read_sample(paths).jets, True


def tensors_for_prediction(jets: Any) -> dict[str, NDArray[Any]]:
    """The network inputs of jets (:func:`hepnb.tau.data.to_tensors`; jets over 20 candidates keep their
    highest-pT ones, as in training)."""
    from hepnb.tau.data import to_tensors

    return to_tensors(jets, warn=False)


def _softmax(logits: NDArray[Any]) -> NDArray[np.float64]:
    """Softmax over the last axis in float64 (the probabilities sum to 1 to double precision)."""
    x = np.asarray(logits, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def predict_jets(model: MultiParTau, tensors: Mapping[str, NDArray[Any]], *, labelled: bool = True
                 ) -> dict[str, NDArray[Any]]:
    """One row per jet: tau-ID score, charge, decay-mode probabilities and visible four-momentum.

    Parameters
    ----------
    model
        A MultiParTau with all four tasks.
    tensors
        :func:`tensors_for_prediction` of the jets.
    labelled
        Whether the jets carry truth labels; if so they are copied as ``true_is_tau``, ``true_decay_mode``
        (class index, −1 for other jets) and ``true_charge`` (±1, 0 for other jets).

    Returns
    -------
    dict
        ``jet`` (row index), ``n_candidates``, ``tau_score`` (p(τ) from the tau-ID softmax), ``prob_tau_plus``,
        ``charge`` (±1), :data:`DM_COLUMNS`, ``decay_mode`` (argmax class index) and ``decay_mode_hps`` (its HPS
        code), ``vis_pt_gev``, ``vis_eta``, ``vis_phi_rad``, ``vis_mass_gev``, ``vis_px_gev`` … ``vis_e_gev``,
        ``jet_pt_gev``, ``jet_eta``, ``jet_phi_rad``.
    """
    from hepnb.tau.evaluate import decode_kinematics
    from hepnb.tau.training import model_outputs

    out = model_outputs(model, tensors)
    score = _softmax(out["tau_id"])[:, 1]
    plus = 1.0 / (1.0 + np.exp(-out["charge"][:, 0].astype(np.float64)))
    dm = _softmax(out["decay_mode"])
    jet_p4 = np.asarray(tensors["jet_p4"], np.float64)
    vis = decode_kinematics(out["kinematics"].astype(np.float64), jet_p4)
    pz = vis["pt"] * np.sinh(vis["eta"])
    energy = np.sqrt((vis["pt"] * np.cosh(vis["eta"])) ** 2 + vis["m"] ** 2)
    pred = dm.argmax(axis=1).astype(np.int32)
    rows = {"jet": np.arange(len(score), dtype=np.int64),
            "n_candidates": np.asarray(tensors["mask"]).sum(axis=1).astype(np.int32),
            "tau_score": score, "prob_tau_plus": plus, "charge": np.where(plus > 0.5, 1, -1).astype(np.int32),
            **{c: dm[:, i] for i, c in enumerate(DM_COLUMNS)}, "decay_mode": pred,
            "decay_mode_hps": np.asarray(constants.DM_CLASSES, np.int32)[pred],
            "vis_pt_gev": vis["pt"], "vis_eta": vis["eta"], "vis_phi_rad": np.angle(np.exp(1j * vis["phi"])),
            "vis_mass_gev": vis["m"], "vis_px_gev": vis["pt"] * np.cos(vis["phi"]),
            "vis_py_gev": vis["pt"] * np.sin(vis["phi"]), "vis_pz_gev": pz, "vis_e_gev": energy,
            "jet_pt_gev": kinematics.pt_gev(jet_p4), "jet_eta": kinematics.eta(jet_p4),
            "jet_phi_rad": kinematics.phi_rad(jet_p4)}
    if labelled:
        tau = np.asarray(tensors["is_tau"]) == 1
        rows |= {"true_is_tau": tau.astype(np.int32), "true_decay_mode": np.asarray(tensors["decay_mode"], np.int32),
                 "true_charge": np.where(tau, 2 * np.asarray(tensors["charge"]) - 1, 0).astype(np.int32)}
    return rows


#: Largest fixed batch of an exported graph: 65 536 jets × 20² pairs × 4 features × 4 bytes ≈ 0.4 GB per call.
MAX_ONNX_BATCH = 65_536


def export_onnx(model: MultiParTau, path: str | os.PathLike[str], *, batch: int = 1) -> Path:
    """Write the network as an ONNX graph (jax2onnx, opset 17), checked with :func:`onnx.checker.check_model`.

    Inputs, as :func:`tensors_for_prediction` gives them: ``features`` [batch, 20, 17] (float32), ``p4``
    [batch, 20, 4] (px, py, pz, E in GeV) and ``mask`` [batch, 20] (1.0 for a candidate, 0.0 for padding).
    Outputs: ``tau_score`` [batch], ``prob_tau_plus`` [batch], ``decay_mode_prob`` [batch, 6] (classes of
    :data:`hepnb.tau.constants.DM_NAMES`) and ``kinematics`` [batch, 5] (log(pT/pT_jet), Δη, sin Δφ, cos Δφ,
    log(m/m_jet) of the visible τ against the reco jet; :func:`hepnb.tau.evaluate.decode_kinematics`).

    The batch size is fixed (``batch``): jax2onnx 0.17 lowers ``lax.rem`` (the Δφ wrap of the pair features) with
    the concrete output shape and fails on a symbolic batch dimension. The network treats jets independently
    (batch norm in evaluation mode), so a graph of batch 1 serves any number of jets, one call each.

    Both runtimes compute in float32; the pair feature ln m² of two near-collinear photons, E² − |p|², cancels to
    the level of rounding and differs between them, which moves the outputs of a few jets by up to a few 10⁻²
    (measured on the tests' jets: one jet in 60 by 0.023, the median by less than 2·10⁻⁶); without such pairs
    the two agree to ~10⁻⁵. The cancellation is in the float32 four-vectors themselves: a photon's E² − |p|² is
    rounding noise of order E² · 10⁻⁷, whatever formula the pair mass uses.
    """
    import jax
    import onnx
    from jax2onnx import to_onnx

    if not 1 <= batch <= MAX_ONNX_BATCH:
        msg = (f"batch must be 1 to {MAX_ONNX_BATCH} jets (the graph's fixed size; a runtime call with it holds "
               f"batch × {constants.MAX_CANDIDATES}² pair features), found {batch}")
        raise ValueError(msg)
    model.eval()
    n = constants.MAX_CANDIDATES

    def network(features: Any, p4: Any, mask: Any) -> tuple[Any, Any, Any, Any]:
        out = model(features, p4, mask > 0.5)
        return (jax.nn.softmax(out["tau_id"], axis=-1)[:, 1], jax.nn.sigmoid(out["charge"][:, 0]),
                jax.nn.softmax(out["decay_mode"], axis=-1), out["kinematics"])

    import logging

    logging.getLogger("onnx_ir.serde").setLevel(logging.ERROR)  # jax2onnx's notes on unnamed value types
    proto = to_onnx(network, [(batch, n, constants.N_FEATURES), (batch, n, 4), (batch, n)], model_name="hepnb_tau",
                    opset=17, input_names=["features", "p4", "mask"],
                    output_names=["tau_score", "prob_tau_plus", "decay_mode_prob", "kinematics"])
    onnx.checker.check_model(proto)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        onnx.save(proto, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
