"""Export to O2Physics' ``Tools/PIDML`` as it loads models, and a Python emulation of its reader.

O2Physics' ``PidONNXModel`` (``Tools/PIDML/pidOnnxModel.h``) reads, from one folder:

- ``columns_for_training.json``, key ``columns_for_training``: the AO2D column labels of the network's input, in
  order; it fetches each with ``getColumnGetterByLabel``;
- ``scaling_params.json``, key ``data``: rows ``[label, mean, std]``; a column with a row is standardised in C++,
  ``(value − mean) / std``;
- ``attention_model_<pdg>.onnx`` per species and charge (a negative pdg is written ``0<|pdg|>``): one input
  [1, n_columns] and **one output**, read as ``output[0][0]``, the certainty that the track is that species.

It sets ``fBeta`` and ``fTOFSignal`` to NaN when the track has no TOF or p < 0.5 GeV/c. :func:`export_o2` writes
such a folder for a network of any family (SimpleNN, DNN, FSE, MoE): the graph, converted from JAX with
``jax2onnx``, takes only AO2D columns, computes inside itself what the study derives from them (has_TOF from
NaN ``fBeta``, the extractor's Bayes probabilities from the nσ, the network's input transform (clip or asinh of the
nσ and dE/dx, :mod:`hepnb.pid.transforms`) and the protocol's tokenisation), runs the network
and returns the softmax probability of its species. One network serves both charges. The network should have been
trained with the same TOF blanking (``tof_p_min_gev = 0.5``, :func:`hepnb.pid.selection.blank_tof`);
:func:`o2_reader_certainty` emulates the C++ reader to check a folder against the in-memory model.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from hepnb.io import FiniteFloat, naming_write_errors, read_json, validate_json
from hepnb.pid.constants import (
    C_CM_PER_PS,
    CHARGE_OF_PDG,
    MISSING,
    O2_TOF_P_MIN_GEV,
    ORIGINAL_BAYES_PRIORS,
    PDG,
    SPECIES,
)
from hepnb.pid.detector import tof_track_length_cm
from hepnb.pid.protocols import protocol_spec
from hepnb.pid.selection import FEATURES, GROUPS
from hepnb.pid.transforms import IDENTITY, InputTransform

__all__ = [
    "O2_COLUMNS",
    "O2Columns",
    "O2Scaling",
    "ao2d_table",
    "export_o2",
    "model_file_name",
    "o2_reader_certainty",
    "read_o2_files",
    "signed_pdgs",
]

#: The network's inputs as AO2D column labels, with the study feature each one is.
O2_COLUMNS: dict[str, str] = {
    "fPt": "pt", "fEta": "eta", "fPhi": "phi", "fTPCSignal": "tpc_signal",
    **{f"fTPCNSigma{s.capitalize()}": f"tpc_nsigma_{s}" for s in SPECIES},
    "fBeta": "tof_beta", **{f"fTOFNSigma{s.capitalize()}": f"tof_nsigma_{s}" for s in SPECIES},
    "fDcaXY": "dca_xy", "fDcaZ": "dca_z",
}
_TOF_BLANKED = ("fBeta", "fTOFSignal")  # the columns O2's reader sets to NaN


def model_file_name(pdg: int) -> str:
    """``attention_model_<pdg>.onnx``, a negative pdg written ``0<|pdg|>`` (O2's ``getModelPaths``)."""
    return f"attention_model_{'0' + str(-pdg) if pdg < 0 else pdg}.onnx"


def signed_pdgs(species: str) -> tuple[int, int]:
    """The PDG codes of the positive and the negative particle of a species (e⁺ is −11)."""
    code = PDG[species] * CHARGE_OF_PDG[species]
    return code, -code


def _raw_features(x: Any, mean: Any, std: Any) -> Any:
    """The 22 study features from O2's standardised AO2D inputs (jax.numpy; the graph's first part)."""
    import jax.numpy as jnp

    cols = {feature: x[:, j] * std[j] + mean[j] for j, feature in enumerate(O2_COLUMNS.values())}
    has_tof = ~jnp.isnan(x[:, list(O2_COLUMNS).index("fBeta")])
    sentinel = jnp.float32(MISSING)
    for name in ("tof_beta", *(f"tof_nsigma_{s}" for s in SPECIES)):
        cols[name] = jnp.where(has_tof, cols[name], sentinel)
    chi2 = [cols[f"tpc_nsigma_{s}"] ** 2 + cols[f"tof_nsigma_{s}"] ** 2 for s in SPECIES]
    terms = [jnp.exp(jnp.float32(-0.5) * c) * jnp.float32(prior) for c, prior in zip(chi2, ORIGINAL_BAYES_PRIORS,
                                                                                       strict=True)]
    total = terms[0] + terms[1] + terms[2] + terms[3]
    safe = jnp.where(total > 0, total, jnp.float32(1.0))
    for s, t in zip(SPECIES, terms, strict=True):
        cols[f"bayes_prob_{s}"] = t / safe
    cols["bayes_available"] = (total > 0).astype(jnp.float32)
    cols["has_tpc"] = (cols["tpc_signal"] > 0).astype(jnp.float32)
    cols["has_tof"] = has_tof.astype(jnp.float32)
    return jnp.stack([cols[f] for f in FEATURES], axis=1)


def _scaled(raw: Any, protocol: str, mean: Any, std: Any, transform: InputTransform = IDENTITY
            ) -> tuple[Any, Any, Any]:
    """:func:`hepnb.pid.protocols.scale_inputs` in jax.numpy, the input transform included: ``x``, ``mask``,
    ``mode``."""
    import jax.numpy as jnp

    spec = protocol_spec(protocol)
    has_tpc = raw[:, FEATURES.index("has_tpc")] > 0
    has_tof = raw[:, FEATURES.index("has_tof")] > 0
    bayes = raw[:, FEATURES.index("bayes_available")] > 0
    scaled = (transform.apply(raw, jnp) - mean) / std
    tof_cols = jnp.array([k.startswith("tof_") for k in FEATURES])
    bayes_cols = jnp.array([j in GROUPS["bayes"] for j in range(len(FEATURES))])
    if spec.tokenise_missing:
        absent = (tof_cols[None, :] & ~has_tof[:, None]) | (bayes_cols[None, :] & ~bayes[:, None])
        scaled = jnp.where(absent, jnp.float32(0.0), scaled)
        mask = jnp.stack([has_tpc, has_tof, bayes, jnp.ones_like(has_tpc)], axis=1)
    else:
        scaled = jnp.where(bayes_cols[None, :] & (scaled == 0), jnp.float32(-0.25), scaled)
        mask = jnp.stack([jnp.any(raw[:, list(idx)] != 0, axis=1) for idx in GROUPS.values()], axis=1)
    mode = has_tpc.astype(jnp.int32) + 2 * has_tof.astype(jnp.int32)
    return scaled.astype(jnp.float32), mask.astype(jnp.float32), mode


def _o2_scaling(meta: Mapping[str, Any]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Mean and std O2 standardises each AO2D input with: the protocol's (of the transformed features), from the
    present values where it tokenises (so a −999 nσ of a TOF-less track is just another number to invert). The graph
    undoes this standardisation first, so O2's inputs are the raw AO2D values whatever the network's transform."""
    mean, std = np.asarray(meta["mean"]), np.asarray(meta["std"])
    idx = [FEATURES.index(f) for f in O2_COLUMNS.values()]
    return mean[idx].astype(np.float32), std[idx].astype(np.float32)


def export_o2(model: Any, meta: Mapping[str, Any], folder: str | os.PathLike[str]) -> Path:
    """Write the O2Physics PIDML folder of a trained network: eight ONNX files and the two JSON files.

    Parameters
    ----------
    model
        A trained network of :data:`hepnb.pid.models.NETWORKS` (any family).
    meta
        Its ``model.json`` (:func:`hepnb.pid.export.save_deployable`): protocol, input transform and scaling.
    folder
        The output folder (created; existing files of the same names are replaced).

    Raises
    ------
    ValueError
        An XGBoost folder (only networks are exported), or a network trained without O2's TOF limit.
    """
    import jax
    import jax.numpy as jnp
    from jax2onnx import to_onnx

    if meta.get("kind") != "network":
        msg = f"only networks can be exported to O2Physics (jax2onnx); found a {meta.get('kind')!r} model"
        raise ValueError(msg)
    if float(meta.get("tof_p_min_gev", 0.0)) != O2_TOF_P_MIN_GEV:
        msg = (f"the network was trained with TOF down to p = {meta.get('tof_p_min_gev', 0.0)} GeV/c, but O2Physics "
               f"blanks TOF below {O2_TOF_P_MIN_GEV} GeV/c: train it with tof_p_min_gev={O2_TOF_P_MIN_GEV}")
        raise ValueError(msg)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    o2_mean, o2_std = _o2_scaling(meta)
    mean32 = jnp.asarray(np.asarray(meta["mean"]), jnp.float32)
    std32 = jnp.asarray(np.asarray(meta["std"]), jnp.float32)
    transform = InputTransform.from_dict(meta.get("transform"))
    model.eval()
    logging.getLogger("onnx_ir.serde").setLevel(logging.ERROR)  # jax2onnx's harmless notes on unnamed value types
    for i, species in enumerate(SPECIES):

        def certainty(x: Any, i: int = i) -> Any:
            raw = _raw_features(x, jnp.asarray(o2_mean), jnp.asarray(o2_std))
            scaled, mask, mode = _scaled(raw, meta["protocol"], mean32, std32, transform)
            return jax.nn.softmax(model(scaled, mask, mode))[:, i:i + 1]

        proto = to_onnx(certainty, [("B", len(O2_COLUMNS))], model_name=f"hepnb_pid_{species}", opset=17,
                        input_names=["input"], output_names=["certainty"])
        for pdg in signed_pdgs(species):
            _atomic_write(out / model_file_name(pdg), proto.SerializeToString())
    columns = O2Columns(columns_for_training=list(O2_COLUMNS))
    _atomic_write(out / "columns_for_training.json", json.dumps(columns.model_dump(), indent=1).encode())
    rows = [(label, float(m), float(s)) for label, m, s in zip(O2_COLUMNS, o2_mean, o2_std, strict=True)]
    _atomic_write(out / "scaling_params.json", json.dumps(O2Scaling(data=rows).model_dump(), indent=1).encode())
    return out


class O2Columns(BaseModel):
    """``columns_for_training.json`` as ``pidOnnxModel.h`` reads it: the input's AO2D labels, in order."""

    model_config = ConfigDict(extra="forbid")
    columns_for_training: Annotated[list[str], Field(min_length=1)]


class O2Scaling(BaseModel):
    """``scaling_params.json`` as ``pidOnnxModel.h`` reads it: rows ``[label, mean, std]`` (std > 0)."""

    model_config = ConfigDict(extra="forbid")
    data: list[tuple[str, FiniteFloat, Annotated[float, Field(gt=0.0, allow_inf_nan=False)]]]


def read_o2_files(folder: str | os.PathLike[str]) -> tuple[list[str], dict[str, tuple[np.float32, np.float32]]]:
    """The input labels and the scaling (label → mean, std in float32) of an O2 PIDML folder, each file checked
    against its schema (:class:`O2Columns`, :class:`O2Scaling`).

    Raises
    ------
    FileNotFoundError
        A missing file.
    ValueError
        A file that is not JSON or breaks its schema (the file and field named), or scaling rows for labels
        that are not inputs.
    """
    path = Path(folder)
    columns_file, scaling_file = path / "columns_for_training.json", path / "scaling_params.json"
    columns = validate_json(read_json(columns_file, what="O2 columns file"), O2Columns, columns_file,
                            what="O2 columns file").columns_for_training
    rows = validate_json(read_json(scaling_file, what="O2 scaling file"), O2Scaling, scaling_file,
                         what="O2 scaling file").data
    unknown = sorted({label for label, _, _ in rows} - set(columns))
    if unknown:
        msg = f"O2 scaling file {scaling_file}: rows for {unknown}, which are not in {columns_file.name}"
        raise ValueError(msg)
    return columns, {label: (np.float32(mean), np.float32(std)) for label, mean, std in rows}


def _atomic_write(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with naming_write_errors(path):
            tmp.write_bytes(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ao2d_table(tracks: Mapping[str, NDArray]) -> dict[str, NDArray]:
    """The tracks as an AO2D-style table with O2's labels and conventions: −999 for the TOF columns of a track
    without TOF, ``fTOFSignal`` (ps) and ``fTOFExpMom`` from which O2 derives ``hasTOF``, and ``fP``."""
    has_tof = np.asarray(tracks["has_tof"]).astype(bool)
    p = np.asarray(tracks["p"], dtype=np.float32)
    beta = np.asarray(tracks["tof_beta"], dtype=np.float64)
    time_ps = tof_track_length_cm(np.asarray(tracks["eta"], dtype=np.float64)) / (C_CM_PER_PS * np.where(has_tof, beta,
                                                                                                          1.0))
    table = {label: np.asarray(tracks[name], dtype=np.float32) for label, name in O2_COLUMNS.items()}
    table.update({"fP": p, "fTOFSignal": np.where(has_tof, time_ps, MISSING).astype(np.float32),
                  "fTOFExpMom": np.where(has_tof, p, 0.0).astype(np.float32)})
    return table


def o2_reader_certainty(folder: str | os.PathLike[str], pdg: int, table: Mapping[str, NDArray],
                        rows: Sequence[int] | None = None) -> NDArray[np.float32]:
    """What O2Physics' ``PidONNXModel<T>::applyModel`` returns for each track, emulated in Python.

    As ``pidOnnxModel.h`` does: read ``columns_for_training.json`` and ``scaling_params.json``; per track, gather
    the columns by label, set ``fBeta``/``fTOFSignal`` to NaN unless ``hasTOF()`` (``fTOFSignal > 0`` and
    ``fTOFExpMom > 0``) and ``p() >= 0.5``, standardise the columns that have scaling parameters (in float32),
    run ``attention_model_<pdg>.onnx`` with onnxruntime on a [1, n] tensor and read ``output[0][0]``.

    Parameters
    ----------
    folder
        An O2 PIDML folder.
    pdg
        The species' PDG code (negative for the antiparticle).
    table
        An AO2D-style table (:func:`ao2d_table`, or a user's with the same labels).
    rows
        The tracks to run (default: all), one session call each, as O2 does.
    """
    import onnxruntime as ort

    path = Path(folder)
    columns, scaling = read_o2_files(path)
    session = ort.InferenceSession(str(path / model_file_name(pdg)), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    has_tof = (np.asarray(table["fTOFSignal"]) > 0) & (np.asarray(table["fTOFExpMom"]) > 0)
    use_tof = has_tof & (np.asarray(table["fP"]) >= O2_TOF_P_MIN_GEV)
    out = []
    for r in range(len(has_tof)) if rows is None else rows:
        values = []
        for label in columns:
            if label in _TOF_BLANKED and not use_tof[r]:
                values.append(np.float32(np.nan))
                continue
            value = np.float32(table[label][r])
            if label in scaling:
                mean, std = scaling[label]
                value = np.float32((value - mean) / std)
            values.append(value)
        output = session.run(None, {input_name: np.array([values], dtype=np.float32)})
        out.append(output[0][0][0])
    return np.asarray(out, dtype=np.float32)
