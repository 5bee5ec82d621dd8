"""The conventional methods the tau networks are compared with.

The plain prong/π⁰ count and an HPS-like reconstruction of the decay mode (tracks, π⁰ from strips of photons and
electrons, visible-mass windows per hypothesis; thresholds chosen on validation), the summed-charge and jet-charge
assignments, the reco jet for the kinematics, and the high-level jet features of the XGBoost tagger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hepnb import kinematics
from hepnb.tau import evaluate
from hepnb.tau.data import NETWORK_FEATURES, TauData
from hepnb.tau.hps import hps_decay_mode, hps_reconstruct, tune_hps
from hepnb.tau.models import RECO_JET_TARGETS

__all__ = [
    "counting_decay_mode",
    "dm_baseline_prediction",
    "evaluate_baselines",
    "hps_decay_mode",
    "hps_diagnostics",
    "hps_prediction",
    "jet_charge",
    "jet_summary_features",
    "summed_charge",
    "tune_hps",
]

_F = {name: i for i, name in enumerate(NETWORK_FEATURES)}  # the prepared tensors of to_tensors


def evaluate_baselines(data: TauData, *, n_boot: int = 50) -> dict[str, Any]:
    """The conventional estimators on the test split: the decay mode by plain count and HPS-like (thresholds
    chosen on the validation τ jets), the charge by summed candidate charge and by Q_κ (κ = 0.5), the reco
    jet's kinematics. ``dm_baseline`` names the decay-mode estimator with the higher validation accuracy (the one
    the networks are compared with, :func:`dm_baseline_prediction`) and ``dm_validation_accuracy`` gives both."""
    test, val = data.test, data.val
    tau, vtau = test["is_tau"] == 1, val["is_tau"] == 1
    hps_params = tune_hps(val["features"][vtau], val["p4"][vtau], val["mask"][vtau],
                                   val["decay_mode"][vtau])
    val_acc = {name: float(np.mean(dm_baseline_prediction(val, name, hps_params) == val["decay_mode"][vtau]))
               for name in _DM_BASELINES}
    f, m = test["features"][tau], test["mask"][tau]
    true = test["decay_mode"][tau]
    jet_pt = kinematics.pt_gev(test["jet_p4"][tau])
    reco = evaluate.decode_kinematics(np.tile(np.asarray(RECO_JET_TARGETS), (int(tau.sum()), 1)),
                                      test["jet_p4"][tau].astype(np.float64))
    return {"decay_mode": {name: evaluate.decay_mode_metrics(dm_baseline_prediction(test, name, hps_params), true,
                                                             n_boot=n_boot) for name in _DM_BASELINES},
            "hps_params": hps_params, "dm_validation_accuracy": val_acc,
            "hps_diagnostics": hps_diagnostics(test, hps_params),
            "dm_baseline": max(val_acc, key=val_acc.__getitem__),
            "charge": {"summed charge": evaluate.charge_metrics(summed_charge(f, m), test["charge"][tau]),
                       "jet charge": evaluate.charge_metrics(jet_charge(f, m, jet_pt) > 0,
                                                             test["charge"][tau])},
            "zero_charge_sum": float(np.mean(np.sum(f[..., 7] * m, axis=1) == 0)),
            "kinematics": {"reco jet": evaluate.kinematics_metrics(reco, test["gen_vis_p4"][tau].astype(np.float64),
                                                                   n_boot=n_boot)}}


def hps_diagnostics(data: Mapping[str, np.ndarray], params: Mapping[str, float]) -> dict[str, float]:
    """Why the HPS reconstruction scores what it does on the τ jets of a split: the fraction with a τ candidate
    (``found``), its accuracy overall and where found, the plain count's on the same jets, and the share of HPS's
    errors that are jets where no hypothesis passed (charge, signal cone, mass window); and the accuracy with the
    signal cone opened to the jet (ΔR < 0.4) and with h±π⁰π⁰ counted as h±π⁰ (as CMS's own decay modes do), the
    two places where this reconstruction loses against the plain count."""
    tau = data["is_tau"] == 1
    res = hps_reconstruct(data["features"][tau], data["p4"][tau], data["mask"][tau], **params)
    true = data["decay_mode"][tau]
    count = counting_decay_mode(data["features"][tau], data["mask"][tau])
    found, right = res["found"], res["decay_mode"] == true
    f, p, m = data["features"][tau], data["p4"][tau], data["mask"][tau]
    open_cone = hps_reconstruct(f, p, m, **params, cone_max=0.4)["decay_mode"]
    merged = (res["decay_mode"] == true) | ((res["decay_mode"] == 1) & (true == 2))
    wrong = ~right

    def mean(x: np.ndarray) -> float:
        return float(np.mean(x)) if x.size else float("nan")

    return {"n_tau": int(tau.sum()), "found": mean(found), "accuracy": mean(right),
            "accuracy_when_found": mean(right[found]), "count_accuracy": mean(count == true),
            "count_accuracy_when_found": mean((count == true)[found]),
            "not_found_share_of_errors": mean(~found[wrong]), "accuracy_open_cone": mean(open_cone == true),
            "accuracy_pi0pi0_as_pi0": mean(merged), "true_pi0pi0_as_pi0": mean(res["decay_mode"][true == 2] == 1)}


def hps_prediction(data: Mapping[str, np.ndarray], params: Mapping[str, float]) -> np.ndarray:
    """The HPS-like decay mode of the τ jets of a split (:func:`hps_decay_mode`)."""
    tau = data["is_tau"] == 1
    return hps_decay_mode(data["features"][tau], data["p4"][tau], data["mask"][tau], **params)


_DM_BASELINES = ("HPS-like", "plain count")


def dm_baseline_prediction(data: Mapping[str, np.ndarray], name: str, hps_params: Mapping[str, float]
                           ) -> np.ndarray:
    """The decay mode of the τ jets of a split by one conventional estimator: ``"HPS-like"``
    (:func:`hps_prediction` with ``hps_params``) or ``"plain count"``
    (:func:`counting_decay_mode`)."""
    if name not in _DM_BASELINES:
        msg = f"decay-mode baseline must be one of {_DM_BASELINES}, found {name!r}"
        raise ValueError(msg)
    if name == "HPS-like":
        return hps_prediction(data, hps_params)
    tau = data["is_tau"] == 1
    return counting_decay_mode(data["features"][tau], data["mask"][tau])


def _kinds(features: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    m = mask.astype(bool)
    return {"charged": (features[..., _F["charge"]] != 0) & m,
            "hadron": (features[..., _F["is_charged_hadron"]] > 0.5) & m,
            "photon": (features[..., _F["is_photon"]] > 0.5) & m,
            "electron": (features[..., _F["is_electron"]] > 0.5) & m}


def _classes(n_prongs: np.ndarray, n_pi0: np.ndarray) -> np.ndarray:
    one = n_prongs == 1
    three = (n_prongs == 2) | (n_prongs == 3)
    return np.select([one & (n_pi0 == 0), one & (n_pi0 == 1), one & (n_pi0 >= 2), three & (n_pi0 == 0), three],
                     [0, 1, 2, 3, 4], 5)


def counting_decay_mode(features: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Plain count: prongs = charged candidates, π⁰ = ⌈photons / 2⌉; 1 prong with 0, 1, ≥ 2 π⁰ → classes
    0, 1, 2; 2–3 prongs with 0 or ≥ 1 π⁰ → 3, 4; anything else → "rare" (5)."""
    kinds = _kinds(features, mask)
    return _classes(kinds["charged"].sum(axis=1), (kinds["photon"].sum(axis=1) + 1) // 2)


def summed_charge(features: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """HPS-style charge: 1 (τ⁺) when the summed charge of the jet's candidates is positive, 0 when negative; a
    zero sum takes the charge of the highest-pT charged candidate (τ⁻ when there is none)."""
    q = features[..., _F["charge"]] * mask
    total = q.sum(axis=1)
    pt = np.where(q != 0, np.exp(features[..., _F["log_pt"]]), -1.0)
    lead = q[np.arange(len(q)), np.argmax(pt, axis=1)]
    return np.where(total != 0, total > 0, lead > 0).astype(np.int32)


def jet_charge(features: np.ndarray, mask: np.ndarray, jet_pt: np.ndarray, kappa: float = 0.5) -> np.ndarray:
    """Q_κ = Σ_i q_i pT_i^κ / pT_jet^κ over the jet's candidates."""
    pt = np.exp(features[..., _F["log_pt"]]) * mask
    q = features[..., _F["charge"]] * mask
    return np.sum(q * pt**kappa, axis=1) / np.maximum(jet_pt, 1e-6) ** kappa


def jet_summary_features(features: np.ndarray, mask: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """High-level jet features for the boosted-tree tagger.

    Jet pT, |p|, mass, candidate, charged, photon and neutral-hadron multiplicities, leading-candidate pT
    fraction, pT-weighted width Σ pT ΔR / Σ pT, |Σ q|, largest |dxy| and |dz| and their significances, and the
    energy fraction of the leading 3 candidates.
    """
    m = mask.astype(bool)
    pt_c = np.exp(features[..., _F["log_pt"]]) * m
    e_rel = np.exp(features[..., _F["log_e_rel"]]) * m
    jet_pt = kinematics.pt_gev(np.asarray(jet_p4, np.float64)).astype(np.asarray(jet_p4).dtype)
    kinds = _kinds(features, mask)
    n_nh = ((features[..., _F["is_neutral_hadron"]] > 0.5) & m).sum(axis=1)
    charged = kinds["charged"]
    dxy = np.where(charged, np.abs(features[..., _F["tanh_dxy"]]), 0.0)
    dz = np.where(charged, np.abs(features[..., _F["tanh_dz"]]), 0.0)
    sig_xy = np.where(charged, np.abs(features[..., _F["dxy_significance"]]), 0.0)
    sig_z = np.where(charged, np.abs(features[..., _F["dz_significance"]]), 0.0)
    width = np.sum(pt_c * features[..., _F["dr"]], axis=1) / np.maximum(pt_c.sum(axis=1), 1e-9)
    return np.column_stack([
        jet_pt, kinematics.p_gev(jet_p4), kinematics.mass_gev(jet_p4), m.sum(axis=1), charged.sum(axis=1),
        kinds["photon"].sum(axis=1), n_nh, pt_c.max(axis=1) / np.maximum(jet_pt, 1e-9), width,
        np.abs(np.sum(features[..., _F["charge"]] * m, axis=1)), dxy.max(axis=1), dz.max(axis=1),
        sig_xy.max(axis=1), sig_z.max(axis=1), np.sort(e_rel, axis=1)[:, ::-1][:, :3].sum(axis=1)]).astype(np.float32)
