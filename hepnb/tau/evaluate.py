"""Tau-study metrics, with uncertainties, and the conventional baselines they are compared with.

* **Tau ID** (:func:`tau_id_metrics`): ROC (mis-ID probability vs ε_τ), AUC; at ε_τ = 50, 70, 80, 90 % the
  fake rate k/N with the number of background jets k that pass out of N and a Clopper–Pearson interval,
  and a bootstrap spread that includes the threshold's own fluctuation; the rejection 1/ε_B at ε_S = 0.5;
  the same working points in bins of jet pT and θ (:func:`binned_working_points`), and the efficiency
  against generated hadronic taus, reconstruction × identification (:func:`efficiency_vs_generated`).
* **Decay mode** (:func:`decay_mode_metrics`): macro F1 over the classes present in the truth (an absent
  class would score 0 and cap it), the support-weighted F1, the 5-class result with "rare" τ jets left out,
  accuracy, a confusion matrix with counts, bootstrap spreads. Baselines: the plain count
  (:func:`counting_decay_mode`) and an HPS-like reconstruction (:func:`hps_decay_mode`: tracks, π⁰ from
  strips of photons and electrons, decay-mode hypotheses with visible-mass windows).
* **Charge** (:func:`charge_metrics`): mis-ID rate with a Clopper–Pearson interval; baselines the sign of the
  summed candidate charges (HPS-style, :func:`summed_charge`) and the jet charge Q_κ (κ = 0.5).
* **Kinematics** (:func:`kinematics_metrics`): response and resolution ((q75 − q25)/median) of the visible
  pT in 5-GeV bins from 5 to 50 GeV and overall with a bootstrap spread, of the mass, and the spread of η
  and φ; the reco jet as baseline.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from hepnb import kinematics, metrics
from hepnb.tau import constants
from hepnb.tau.jets import CAND_FEATURES

__all__ = [
    "EFFICIENCIES",
    "JET_PT_BINS_GEV",
    "PT_BINS_GEV",
    "THETA_BINS_DEG",
    "binned_working_points",
    "binomial_interval",
    "charge_metrics",
    "decay_mode_metrics",
    "decode_kinematics",
    "efficiency_vs_generated",
    "evaluate_outputs",
    "extra_background_rates",
    "kinematics_metrics",
    "tau_id_evaluation",
    "tau_id_metrics",
    "tau_id_window",
]

PT_BINS_GEV = np.arange(5.0, 55.0, 5.0)
#: Jet-pT and θ bins of the binned tau-ID working points.
JET_PT_BINS_GEV = np.array([2.0, 10.0, 20.0, 30.0, 40.0, 50.0])
THETA_BINS_DEG = np.array([10.0, 40.0, 70.0, 110.0, 140.0, 170.0])
#: The τ efficiencies of the tau-ID working points.
EFFICIENCIES: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9)
_F = {name: i for i, name in enumerate(CAND_FEATURES)}


def binomial_interval(k: int, n: int, cl: float = metrics.CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Clopper–Pearson interval of a binomial fraction k/n at confidence ``cl`` (default 68.27 %;
    :func:`hepnb.metrics.binomial_interval`)."""
    return metrics.binomial_interval(k, n, cl)


def _thresholds(score: np.ndarray, y: np.ndarray, efficiencies: Sequence[float]) -> np.ndarray:
    """Score thresholds that keep the fraction ``efficiencies`` of the signal (a score passes if ≥)."""
    sig = np.sort(score[y == 1])
    return np.array([sig[int(np.clip(np.floor((1 - e) * len(sig) + 1e-9), 0, len(sig) - 1))] for e in efficiencies])


def tau_id_metrics(score: np.ndarray, is_tau: np.ndarray, efficiencies: Sequence[float] = EFFICIENCIES, *,
                   n_boot: int = 100, seed: int = 0) -> dict[str, Any]:
    """AUC, working points and the ROC of a tau-ID score.

    Returns
    -------
    dict
        ``auc``, ``auc_std`` (bootstrap); ``working_points``: per efficiency in percent, ``threshold``,
        ``eff_tau``, ``fake_rate`` = k/N, ``n_bkg_pass`` (k), ``n_bkg`` (N), ``fake_rate_lo``/``_hi``
        (Clopper–Pearson 68 %), ``fake_rate_std`` (bootstrap over signal and background, threshold included),
        ``rejection`` = N/k (``inf`` for k = 0) with ``rejection_lo``/``_hi`` from the interval;
        ``rejection_at_0.5`` (the 50 % point's rejection, kept for the landing page), ``n_tau``, ``n_bkg``;
        ``roc`` (``eff_tau``, ``misid``, at most 400 points).
    """
    y = np.asarray(is_tau).astype(int)
    score = np.asarray(score, np.float64)
    auc = metrics.auc(y, score)
    thresholds = _thresholds(score, y, efficiencies)
    bkg = score[y == 0]
    wps = {}
    for e, thr in zip(efficiencies, thresholds, strict=True):
        k, n = int(np.sum(bkg >= thr)), len(bkg)
        lo, hi = binomial_interval(k, n)

        def fake(s: np.ndarray, t: np.ndarray, eff: float = e) -> float:
            return float(np.mean(s[t == 0] >= _thresholds(s, t, [eff])[0]))

        wps[f"{round(100 * e)}"] = {
            "threshold": float(thr), "eff_tau": float(np.mean(score[y == 1] >= thr)), "fake_rate": k / n,
            "n_bkg_pass": k, "n_bkg": n, "fake_rate_lo": lo, "fake_rate_hi": hi,
            "fake_rate_std": metrics.spread(metrics.bootstrap(fake, score, y, n_boot=n_boot, seed=seed)),
            "rejection": float(n / k) if k else float("inf"), "rejection_lo": float(1 / hi) if hi > 0 else 0.0,
            "rejection_hi": float(1 / lo) if lo > 0 else float("inf")}
    fpr, tpr, _ = metrics.roc_curve(y, score)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 400)).astype(int))
    return {"auc": auc, "auc_std": metrics.spread(metrics.bootstrap(metrics.auc, y, score, n_boot=n_boot, seed=seed)),
            "working_points": wps, "rejection_at_0.5": wps.get("50", {}).get("rejection", float("nan")),
            "n_tau": int(np.sum(y == 1)), "n_bkg": int(np.sum(y == 0)),
            "roc": {"eff_tau": tpr[keep].tolist(), "misid": fpr[keep].tolist()}}


def binned_working_points(score: np.ndarray, is_tau: np.ndarray, jet_p4: np.ndarray,
                          thresholds: Mapping[str, float]) -> dict[str, list[dict[str, Any]]]:
    """τ efficiency and fake rate at fixed score thresholds in bins of jet pT and of jet θ.

    Returns
    -------
    dict
        ``pt`` and ``theta``: per bin ``lo``, ``hi``, ``n_tau``, ``n_bkg`` and per working point
        ``eff_<wp>``, ``fake_<wp>``, ``fake_<wp>_k`` and the Clopper–Pearson ``fake_<wp>_lo``/``_hi``.
    """
    y = np.asarray(is_tau).astype(int)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, value, edges in (("pt", kinematics.pt_gev(jet_p4), JET_PT_BINS_GEV),
                               ("theta", kinematics.theta_deg(jet_p4), THETA_BINS_DEG)):
        rows = []
        for lo, hi in itertools.pairwise(edges):
            sel = (value >= lo) & (value < hi)
            s, t = score[sel], y[sel]
            row: dict[str, Any] = {"lo": float(lo), "hi": float(hi), "n_tau": int(np.sum(t == 1)),
                                   "n_bkg": int(np.sum(t == 0))}
            for wp, thr in thresholds.items():
                k = int(np.sum(s[t == 0] >= thr))
                n_b = row["n_bkg"]
                row[f"eff_{wp}"] = float(np.mean(s[t == 1] >= thr)) if row["n_tau"] else float("nan")
                row[f"fake_{wp}"] = k / n_b if n_b else float("nan")
                row[f"fake_{wp}_k"] = k
                row[f"fake_{wp}_lo"], row[f"fake_{wp}_hi"] = binomial_interval(k, n_b)
            rows.append(row)
        out[name] = rows
    return out


def efficiency_vs_generated(score: np.ndarray, gen_vis_p4: np.ndarray, taus_vis_p4: np.ndarray,
                            taus_reco: np.ndarray, thresholds: Mapping[str, float]) -> list[dict[str, Any]]:
    """Efficiency against generated hadronic taus, ε = ε_reco × ε_ID, in bins of generated visible pT.

    ε_reco is the fraction of all generated prompt hadronic taus with a matched jet (every event, from
    ``taus_vis_p4`` and ``taus_reco``); ε_ID the fraction of matched τ jets of the test split (``score`` and
    ``gen_vis_p4`` of those jets) that pass each threshold.
    """
    pt_gen = kinematics.pt_gev(taus_vis_p4)
    pt_jet = kinematics.pt_gev(gen_vis_p4)
    rows = []
    for lo, hi in itertools.pairwise(PT_BINS_GEV):
        gen = (pt_gen >= lo) & (pt_gen < hi)
        jet = (pt_jet >= lo) & (pt_jet < hi)
        n_gen, n_reco = int(gen.sum()), int(np.sum(taus_reco[gen] == 1))
        eff_reco = n_reco / n_gen if n_gen else float("nan")
        row: dict[str, Any] = {"lo": float(lo), "hi": float(hi), "n_gen": n_gen, "eff_reco": eff_reco,
                               "n_test_jets": int(jet.sum())}
        for wp, thr in thresholds.items():
            eff_id = float(np.mean(score[jet] >= thr)) if jet.any() else float("nan")
            row[f"eff_id_{wp}"] = eff_id
            row[f"eff_{wp}"] = eff_reco * eff_id
        rows.append(row)
    return rows


def extra_background_rates(score: np.ndarray, origin: np.ndarray, thresholds: Mapping[str, float]
                           ) -> dict[str, dict[str, Any]]:
    """Fraction of the jets of each non-reference origin (leptonic τ, Z → ℓℓ) that pass each threshold."""
    out = {}
    for code, name in ((2, "leptonic tau"), (3, "Z → ee/μμ"), (0, "q/g")):
        s = score[origin == code]
        row: dict[str, Any] = {"n": len(s)}
        for wp, thr in thresholds.items():
            k = int(np.sum(s >= thr))
            row[f"pass_{wp}"] = k / len(s) if len(s) else float("nan")
            row[f"pass_{wp}_k"] = k
            row[f"pass_{wp}_lo"], row[f"pass_{wp}_hi"] = binomial_interval(k, len(s))
        out[name] = row
    return out


def _macro_f1(true: np.ndarray, pred: np.ndarray) -> float:
    present = np.unique(true)
    return float(f1_score(true, pred, labels=present, average="macro", zero_division=0))


def _accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(true == pred))


def decay_mode_metrics(pred: np.ndarray, true: np.ndarray, *, pred_without_rare: np.ndarray | None = None,
                       n_boot: int = 100, seed: int = 0) -> dict[str, Any]:
    """Decay-mode metrics on τ jets (class indices 0–5 into :data:`hepnb.tau.constants.DM_NAMES`).

    Parameters
    ----------
    pred, true
        Predicted and true classes.
    pred_without_rare
        The prediction restricted to the five classes but "rare" (a network's argmax over them); by default
        ``pred`` itself, in which a "rare" prediction counts as wrong.

    Returns
    -------
    dict
        ``macro_f1`` (over the classes present in ``true``), ``weighted_f1`` (support-weighted),
        ``accuracy``, their bootstrap ``*_std``; ``five_class``: ``macro_f1``, ``accuracy`` and ``n`` with the
        "rare" τ jets left out; ``confusion`` (counts, rows true, columns predicted); ``present_classes``;
        ``per_class`` precision, recall, F1 and support.
    """
    pred, true = np.asarray(pred), np.asarray(true)
    labels = list(range(len(constants.DM_NAMES)))
    present = np.unique(true)
    prec, rec, f1, sup = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    per_class = {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                 for name, p, r, f, s in zip(constants.DM_NAMES, prec, rec, f1, sup, strict=True)}
    rare = len(constants.DM_NAMES) - 1
    five = true != rare
    p5 = (pred if pred_without_rare is None else np.asarray(pred_without_rare))[five]
    return {"macro_f1": _macro_f1(true, pred),
            "macro_f1_std": metrics.spread(metrics.bootstrap(_macro_f1, true, pred, n_boot=n_boot, seed=seed)),
            "weighted_f1": float(f1_score(true, pred, labels=present, average="weighted", zero_division=0)),
            "accuracy": _accuracy(true, pred),
            "accuracy_std": metrics.spread(metrics.bootstrap(_accuracy, true, pred, n_boot=n_boot, seed=seed)),
            "five_class": {"macro_f1": _macro_f1(true[five], p5) if five.any() else float("nan"),
                           "accuracy": _accuracy(true[five], p5) if five.any() else float("nan"),
                           "n": int(five.sum())},
            "confusion": confusion_matrix(true, pred, labels=labels).tolist(),
            "present_classes": [constants.DM_NAMES[i] for i in present], "per_class": per_class, "n": len(true)}


def charge_metrics(pred_plus: np.ndarray, charge: np.ndarray) -> dict[str, Any]:
    """Mis-ID rate of a charge assignment (1 = τ⁺) on τ jets: ``misid`` = k/n with a Clopper–Pearson
    interval (``misid_lo``/``_hi``), ``n_wrong`` (k) and ``n_tau`` (n)."""
    truth = np.asarray(charge).astype(int)
    wrong = int(np.sum(np.asarray(pred_plus).astype(int) != truth))
    lo, hi = binomial_interval(wrong, len(truth))
    return {"misid": wrong / max(len(truth), 1), "misid_lo": lo, "misid_hi": hi, "n_wrong": wrong,
            "n_tau": len(truth)}


def decode_kinematics(outputs: np.ndarray, jet_p4: np.ndarray) -> dict[str, np.ndarray]:
    """Visible τ (pT, η, φ, m) from the 5 kinematic outputs and the reco jet ((0, 0, 0, 1, 0) gives the jet)."""
    return {"pt": kinematics.pt_gev(jet_p4) * np.exp(outputs[:, 0]), "eta": kinematics.eta(jet_p4) + outputs[:, 1],
            "phi": kinematics.phi_rad(jet_p4) + np.arctan2(outputs[:, 2], outputs[:, 3]),
            "m": kinematics.mass_gev(jet_p4) * np.exp(outputs[:, 4])}


def _response_resolution(ratio: np.ndarray) -> tuple[float, float]:
    """Median and (q75 − q25)/median of a ratio; NaN for fewer than 4 values or a median ≤ 0."""
    if len(ratio) < 4:
        return float("nan"), float("nan")
    res = metrics.quantile_resolution(ratio)
    return res["median"], res["resolution"] if res["median"] > 0 else float("nan")


def _resolution(ratio: np.ndarray) -> float:
    return _response_resolution(ratio)[1]


def kinematics_metrics(reco: dict[str, np.ndarray], gen_vis_p4: np.ndarray, *, n_boot: int = 100, seed: int = 0
                       ) -> dict[str, Any]:
    """Response and resolution of pT in gen-pT bins and overall (with a bootstrap spread), of the mass, and the
    IQR of Δη and Δφ."""
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
    return {"pt_bins": bins, "pt_response": pt_resp, "pt_resolution": pt_res,
            "pt_resolution_std": metrics.spread(metrics.bootstrap(_resolution, ratio, n_boot=n_boot, seed=seed)),
            "m_response": m_resp, "m_resolution": m_res, "eta_iqr": float(q["eta"][1] - q["eta"][0]),
            "phi_iqr": float(q["phi"][1] - q["phi"][0]), "n": len(pt)}


def tau_id_window(data: Mapping[str, np.ndarray]) -> np.ndarray:
    """The jets tau-ID metrics use: 10° < θ < 170° (the tau code's evaluation), q/g or hadronic τ."""
    theta = kinematics.theta_deg(data["jet_p4"])
    return (theta > 10.0) & (theta < 170.0) & np.isin(data["origin"], (0, 1))


def _softmax(x: np.ndarray) -> np.ndarray:
    return np.asarray(jax.nn.softmax(jnp.asarray(x), axis=-1))


def tau_score(out: np.ndarray) -> np.ndarray:
    return _softmax(out)[:, 1] if out.ndim == 2 and out.shape[-1] == 2 else np.asarray(out).reshape(-1)


def tau_id_evaluation(score: np.ndarray, data: Mapping[str, np.ndarray], gen_taus: Mapping[str, np.ndarray] | None,
                      *, n_boot: int = 50, detail: bool = True) -> dict[str, Any]:
    """Tau-ID metrics of a score on a split (:func:`hepnb.tau.tau_id_metrics` in the θ window), and,
    with ``detail``, the binned working points, the extra backgrounds and the efficiency against generated
    taus."""
    win = tau_id_window(data)
    res = tau_id_metrics(score[win], data["is_tau"][win], n_boot=n_boot)
    if detail:
        thresholds = {wp: v["threshold"] for wp, v in res["working_points"].items()}
        res["binned"] = binned_working_points(score[win], data["is_tau"][win], data["jet_p4"][win],
                                                       thresholds)
        theta = kinematics.theta_deg(data["jet_p4"])
        in_theta = (theta > 10.0) & (theta < 170.0)
        res["extra_backgrounds"] = extra_background_rates(score[in_theta], data["origin"][in_theta],
                                                                   thresholds)
        if gen_taus is not None:
            tau = (data["is_tau"] == 1) & in_theta
            res["vs_generated"] = efficiency_vs_generated(score[tau], data["gen_vis_p4"][tau],
                                                                   gen_taus["vis_p4"], gen_taus["reco"], thresholds)
    return res


def evaluate_outputs(outputs: Mapping[str, np.ndarray], data: Mapping[str, np.ndarray], *,
                     gen_taus: Mapping[str, np.ndarray] | None = None, n_boot: int = 50, detail: bool = True
                     ) -> dict[str, Any]:
    """Metrics of every task in ``outputs`` (see :func:`model_outputs`) on one split."""
    tau = data["is_tau"] == 1
    res: dict[str, Any] = {}
    for task, out in outputs.items():
        out = np.asarray(out, np.float64)
        if task == "tau_id":
            res[task] = tau_id_evaluation(tau_score(out), data, gen_taus, n_boot=n_boot, detail=detail)
        elif task == "decay_mode":
            logits = out[tau]
            res[task] = decay_mode_metrics(np.argmax(logits, axis=1), data["decay_mode"][tau],
                                                    pred_without_rare=np.argmax(logits[:, :-1], axis=1),
                                                    n_boot=n_boot)
        elif task == "charge":
            prob = 1 / (1 + np.exp(-out[:, 0])) if out.shape[-1] == 1 else _softmax(out)[:, 1]
            res[task] = charge_metrics(prob[tau] > 0.5, data["charge"][tau])
        elif task == "kinematics":
            reco = decode_kinematics(out[tau], data["jet_p4"][tau].astype(np.float64))
            res[task] = kinematics_metrics(reco, data["gen_vis_p4"][tau].astype(np.float64), n_boot=n_boot)
    return res
