"""The kinematics regression of MultiParTau: its loss weight chosen on the validation split, and the visible-pT
response and resolution of any estimator against the reco jet's, in bins of generated visible pT.

The head regresses log(pT_vis/pT_reco) (and Δη, sin Δφ, cos Δφ, log(m_vis/m_reco)) from the reco jet's values,
its output scaled by the spread of the training targets, tails included (:data:`hepnb.tau.models.OUTPUT_COVERAGE`),
its Huber loss in units of the core's spread. What it gains over the reco jet depends on how strongly the task is
weighted against the three classification tasks that share the backbone; :func:`choose_kin_weight` trains one
MultiParTau per weight of a small grid (plain weighted sum, the first seed, the headline budget) and keeps the
weight with the best visible-pT resolution on the validation τ jets if it improves on the tau code's weight (2)
by more than the two bootstrap spreads combined. The resolution is the tau code's
(q75 − q25)/median of pT_pred/pT_vis, the response its median (:func:`hepnb.tau.evaluate.kinematics_metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hepnb.tau.data import TauData
from hepnb.tau.evaluate import decode_kinematics, evaluate_outputs, kinematics_metrics
from hepnb.tau.losses import TASK_WEIGHTS
from hepnb.tau.models import RECO_JET_TARGETS, ParTConfig
from hepnb.tau.training import Trained, TrainingConfig, model_outputs, train_multi

__all__ = ["KinWeightChoice", "choose_kin_weight", "pick_kin_weight", "reco_jet_kinematics"]


@dataclass(frozen=True)
class KinWeightChoice:
    """The kinematics loss weight chosen on validation.

    Attributes
    ----------
    weight
        The chosen weight.
    rows
        One row per weight of the grid: ``kin_weight``, the validation ``pt_resolution`` (bootstrap spread
        ``pt_resolution_std``) and ``pt_response``
        of its MultiParTau, its validation tau-ID ``auc`` (what the weight costs the tagger) and ``n_tau``.
    reco_jet
        The reco jet's validation ``pt_resolution`` and ``pt_response`` on the same τ jets.
    trained
        The MultiParTau of each weight of the grid (empty for a weight taken as given): the headline training of
        the chosen weight's first seed, which :func:`hepnb.tau.studies.surgery_study` reuses.
    """

    weight: float
    rows: list[dict[str, float]]
    reco_jet: dict[str, float]
    trained: dict[float, Trained] = field(default_factory=dict, repr=False, compare=False)


def reco_jet_kinematics(data: Mapping[str, np.ndarray], *, n_boot: int = 0) -> dict[str, Any]:
    """:func:`hepnb.tau.evaluate.kinematics_metrics` of the reco jet itself on a split's τ jets."""
    tau = np.asarray(data["is_tau"]) == 1
    jet_p4 = np.asarray(data["jet_p4"], np.float64)[tau]
    reco = decode_kinematics(np.tile(np.asarray(RECO_JET_TARGETS, np.float64), (len(jet_p4), 1)), jet_p4)
    return kinematics_metrics(reco, np.asarray(data["gen_vis_p4"], np.float64)[tau], n_boot=n_boot)


def pick_kin_weight(rows: Sequence[Mapping[str, float]], default: float = TASK_WEIGHTS["kinematics"]) -> float:
    """The weight of the row with the smallest finite validation ``pt_resolution`` (the first on a tie), if it
    improves on the ``default`` weight's row (the tau code's 2) by more than their bootstrap spreads combined
    (``pt_resolution_std``, 0 when absent); else ``default`` (when the grid has it). A weight is not chosen on
    the noise of a small validation split.

    Raises
    ------
    ValueError
        No row, or none with a finite resolution (no validation τ jets).
    """
    finite = [r for r in rows if np.isfinite(r["pt_resolution"])]
    if not finite:
        msg = f"no kinematics weight has a finite validation pT resolution (too few validation τ jets); rows {list(rows)}"
        raise ValueError(msg)
    best = min(finite, key=lambda r: r["pt_resolution"])
    base = next((r for r in finite if r["kin_weight"] == default), None)
    if base is None:
        return float(best["kin_weight"])
    spread = float(np.hypot(best.get("pt_resolution_std", 0.0), base.get("pt_resolution_std", 0.0)))
    gain = base["pt_resolution"] - best["pt_resolution"]
    return float(best["kin_weight"] if gain > spread else default)


def choose_kin_weight(data: TauData, cfg: ParTConfig, train_cfg: TrainingConfig, weights: Sequence[float],
                      *, surgery: str = "none", n_boot: int = 50) -> KinWeightChoice:
    """Train one MultiParTau per kinematics weight (``train_cfg`` otherwise, ``surgery``) and keep the weight with
    the best validation visible-pT resolution when it beats the tau code's weight by more than the bootstrap
    spreads (``n_boot`` resamples; :func:`pick_kin_weight`); one weight is taken as given, untrained.

    Raises
    ------
    ValueError
        An empty grid or a weight ≤ 0.
    """
    if not weights or min(weights) <= 0:
        msg = f"kinematics weights must be one or more values > 0, found {list(weights)}"
        raise ValueError(msg)
    reco = reco_jet_kinematics(data.val)
    reco_row = {"pt_resolution": float(reco["pt_resolution"]), "pt_response": float(reco["pt_response"])}
    if len(weights) == 1:
        return KinWeightChoice(float(weights[0]), [], reco_row)
    rows, models = [], {}
    for weight in weights:
        trained = train_multi(data, cfg, replace(train_cfg, kin_weight=float(weight)), surgery=surgery)
        models[float(weight)] = trained
        val = evaluate_outputs(model_outputs(trained.model, data.val), data.val, n_boot=n_boot, detail=False)
        kin = val["kinematics"]
        rows.append({"kin_weight": float(weight), "pt_resolution": float(kin["pt_resolution"]),
                     "pt_resolution_std": float(kin["pt_resolution_std"]),
                     "pt_response": float(kin["pt_response"]), "auc": float(val["tau_id"]["auc"]),
                     "n_tau": int(kin["n"])})
    return KinWeightChoice(pick_kin_weight(rows), rows, reco_row, models)
