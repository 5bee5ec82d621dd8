"""Tau-study metrics and the conventional baselines they are compared with (reference/tau.md §1).

* tau ID: ROC as mis-ID probability vs ε_τ, AUC, fake rate at ε_τ = 70/80/90 %, rejection 1/ε_B at ε_S = 0.5
  (the ROC, AUC and interpolated working points of :mod:`hepnb.metrics`);
* decay mode: row-normalised confusion matrix and per-class precision/recall/F1, with a counting baseline
  (charged candidates and photons, HPS-like);
* charge: mis-ID rate, with the jet-charge estimator Q_κ = Σ q pT^κ / pT_jet^κ (κ = 0.5) as baseline;
* kinematics: response (median of reco/gen) and resolution ((q75 − q25)/median) of the visible pT in 5-GeV
  bins from 5 to 50 GeV (:func:`hepnb.metrics.quantile_resolution`), of the mass, and the spread of η and φ,
  with the reco jet as baseline.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from hepnb import kinematics, metrics
from hepnb.tau import constants
from hepnb.tau.jets import CAND_FEATURES

__all__ = ["PT_BINS_GEV", "charge_metrics", "counting_decay_mode", "decay_mode_metrics", "decode_kinematics",
           "jet_charge", "jet_summary_features", "kinematics_metrics", "tau_id_metrics"]

PT_BINS_GEV = np.arange(5.0, 55.0, 5.0)
_F = {name: i for i, name in enumerate(CAND_FEATURES)}


def tau_id_metrics(score: np.ndarray, is_tau: np.ndarray, efficiencies: Sequence[float] = (0.7, 0.8, 0.9)
                   ) -> dict[str, object]:
    """AUC, mis-ID probability at the given τ efficiencies, rejection at ε_S = 0.5 and the ROC points.

    When no background jet passes at ε_S = 0.5, ``rejection_at_0.5`` is the number of background jets, a
    lower bound, and ``rejection_is_lower_bound`` is true.
    """
    y = np.asarray(is_tau).astype(int)
    fpr, tpr, _ = metrics.roc_curve(y, score)
    *fake_rates, eps_b = metrics.interpolated_eff_bkg(y, score, [*efficiencies, 0.5]).tolist()
    fake = {f"{round(100 * e)}": f for e, f in zip(efficiencies, fake_rates, strict=True)}
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 400)).astype(int))
    # no background jet left at ε_S = 0.5: the rejection is at least the number of background jets
    bound = eps_b <= 0
    return {"auc": metrics.auc(y, score), "fake_rate_at_eff": fake,
            "rejection_at_0.5": float(np.sum(y == 0)) if bound else float(1.0 / eps_b),
            "rejection_is_lower_bound": bool(bound),
            "roc": {"eff_tau": tpr[keep].tolist(), "misid": fpr[keep].tolist()}}


def decay_mode_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, object]:
    """Row-normalised confusion matrix and per-class precision, recall, F1 and support (τ jets only)."""
    labels = list(range(len(constants.DM_NAMES)))
    cm = confusion_matrix(true, pred, labels=labels).astype(float)
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1.0)
    prec, rec, f1, sup = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    per_class = {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                 for name, p, r, f, s in zip(constants.DM_NAMES, prec, rec, f1, sup, strict=True)}
    return {"confusion_row_normalised": rows.tolist(), "per_class": per_class,
            "accuracy": float(np.mean(pred == true)), "macro_f1": float(np.mean(f1))}


def _counts(features: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = mask.astype(bool)
    charged = (features[..., _F["charge"]] != 0) & m
    photons = (features[..., _F["is_photon"]] > 0.5) & m
    return charged.sum(axis=1), photons.sum(axis=1)


def counting_decay_mode(features: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """HPS-like decay mode from candidate counts: prongs = charged candidates, π⁰ = ⌈photons / 2⌉.

    1 prong with 0, 1 or ≥ 2 π⁰ → classes 0, 1, 2; 2–3 prongs with 0 or ≥ 1 π⁰ → classes 3, 4; anything
    else → "rare" (5).
    """
    n_charged, n_photons = _counts(features, mask)
    n_pi0 = (n_photons + 1) // 2
    one = n_charged == 1
    three = (n_charged == 2) | (n_charged == 3)
    return np.select([one & (n_pi0 == 0), one & (n_pi0 == 1), one & (n_pi0 >= 2), three & (n_pi0 == 0), three],
                     [0, 1, 2, 3, 4], 5)


def jet_charge(features: np.ndarray, mask: np.ndarray, jet_pt: np.ndarray, kappa: float = 0.5) -> np.ndarray:
    """Q_κ = Σ_i q_i pT_i^κ / pT_jet^κ over the jet's candidates."""
    pt = np.exp(features[..., _F["log_pt"]]) * mask
    q = features[..., _F["charge"]] * mask
    return np.sum(q * pt**kappa, axis=1) / np.maximum(jet_pt, 1e-6) ** kappa


def charge_metrics(prob_plus: np.ndarray, charge: np.ndarray, q_kappa: np.ndarray) -> dict[str, float]:
    """Charge mis-ID rate of the network (p(τ⁺) > 0.5) and of the jet-charge sign, on τ jets."""
    truth = np.asarray(charge).astype(int)
    return {"misid_network": float(np.mean((prob_plus > 0.5).astype(int) != truth)),
            "misid_jet_charge": float(np.mean((q_kappa > 0).astype(int) != truth)), "n_tau": len(truth)}


def decode_kinematics(outputs: np.ndarray, jet_p4: np.ndarray) -> dict[str, np.ndarray]:
    """Visible τ (pT, η, φ, m) from the 5 kinematic outputs and the reco jet (zeros give the reco jet)."""
    return {"pt": kinematics.pt_gev(jet_p4) * np.exp(outputs[:, 0]), "eta": kinematics.eta(jet_p4) + outputs[:, 1],
            "phi": kinematics.phi_rad(jet_p4) + np.arctan2(outputs[:, 2], outputs[:, 3]),
            "m": kinematics.mass_gev(jet_p4) * np.exp(outputs[:, 4])}


def _response_resolution(ratio: np.ndarray) -> tuple[float, float]:
    """Median and (q75 − q25)/median of a ratio; NaN for fewer than 4 values or a median ≤ 0."""
    if len(ratio) < 4:
        return float("nan"), float("nan")
    res = metrics.quantile_resolution(ratio)
    return res["median"], res["resolution"] if res["median"] > 0 else float("nan")


def kinematics_metrics(reco: dict[str, np.ndarray], gen_vis_p4: np.ndarray) -> dict[str, object]:
    """Response and resolution of pT in gen-pT bins and overall, of the mass, and the IQR of Δη and Δφ."""
    pt = kinematics.pt_gev(gen_vis_p4)
    ratio = reco["pt"] / np.maximum(pt, 1e-9)
    bins = []
    for lo, hi in itertools.pairwise(PT_BINS_GEV):
        sel = (pt >= lo) & (pt < hi)
        resp, res = _response_resolution(ratio[sel])
        bins.append({"lo": float(lo), "hi": float(hi), "n": int(sel.sum()), "response": resp, "resolution": res})
    dphi = kinematics.delta_phi_rad(reco["phi"], kinematics.phi_rad(gen_vis_p4))
    deta = reco["eta"] - kinematics.eta(gen_vis_p4)
    q = {name: np.quantile(d, [0.25, 0.75]) for name, d in (("eta", deta), ("phi", dphi))}
    m_resp, m_res = _response_resolution(reco["m"] / np.maximum(kinematics.mass_gev(gen_vis_p4), 1e-9))
    pt_resp, pt_res = _response_resolution(ratio)
    return {"pt_bins": bins, "pt_response": pt_resp, "pt_resolution": pt_res, "m_response": m_resp,
            "m_resolution": m_res, "eta_iqr": float(q["eta"][1] - q["eta"][0]),
            "phi_iqr": float(q["phi"][1] - q["phi"][0])}


def jet_summary_features(features: np.ndarray, mask: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """High-level jet features for the boosted-tree tagger.

    Jet pT, |p|, mass, candidate, charged, photon and neutral-hadron multiplicities, leading-candidate pT
    fraction, pT-weighted width Σ pT ΔR / Σ pT, |Σ q|, largest |dxy| and |dz| and their significances, and the
    energy fraction of the leading 3 candidates.
    """
    m = mask.astype(bool)
    pt_c = np.exp(features[..., _F["log_pt"]]) * m
    e_rel = np.exp(features[..., _F["log_e_rel"]]) * m
    # pT from float64 and rounded, as np.hypot rounds, so that the boosted trees see the inputs they always saw
    jet_pt = kinematics.pt_gev(np.asarray(jet_p4, np.float64)).astype(np.asarray(jet_p4).dtype)
    n_charged, n_photons = _counts(features, mask)
    n_nh = ((features[..., _F["is_neutral_hadron"]] > 0.5) & m).sum(axis=1)
    charged = (features[..., _F["charge"]] != 0) & m
    dxy = np.where(charged, np.abs(features[..., _F["dxy"]]), 0.0)
    dz = np.where(charged, np.abs(features[..., _F["dz"]]), 0.0)
    sig_xy = np.where(charged, dxy / np.maximum(features[..., _F["dxy_err"]], 1e-6), 0.0)
    sig_z = np.where(charged, dz / np.maximum(features[..., _F["dz_err"]], 1e-6), 0.0)
    width = np.sum(pt_c * features[..., _F["dr"]], axis=1) / np.maximum(pt_c.sum(axis=1), 1e-9)
    return np.column_stack([
        jet_pt, kinematics.p_gev(jet_p4), kinematics.mass_gev(jet_p4), m.sum(axis=1), n_charged, n_photons, n_nh,
        pt_c.max(axis=1) / np.maximum(jet_pt, 1e-9), width, np.abs(np.sum(features[..., _F["charge"]] * m, axis=1)),
        dxy.max(axis=1), dz.max(axis=1), sig_xy.max(axis=1), sig_z.max(axis=1),
        np.sort(e_rel, axis=1)[:, ::-1][:, :3].sum(axis=1)]).astype(np.float32)
