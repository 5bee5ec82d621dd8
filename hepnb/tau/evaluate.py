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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from hepnb import kinematics, metrics
from hepnb.tau import constants
from hepnb.tau.jets import CAND_FEATURES

__all__ = ["EFFICIENCIES", "HPS_MASS_WINDOWS_GEV", "PT_BINS_GEV", "THETA_BINS_DEG", "binned_working_points",
           "binomial_interval", "charge_metrics", "counting_decay_mode", "decay_mode_metrics",
           "decode_kinematics", "efficiency_vs_generated", "extra_background_rates", "hps_decay_mode", "jet_charge",
           "jet_summary_features", "kinematics_metrics", "summed_charge", "tau_id_metrics",
           "tune_hps"]

PT_BINS_GEV = np.arange(5.0, 55.0, 5.0)
#: Jet-pT and θ bins of the binned tau-ID working points.
JET_PT_BINS_GEV = np.array([2.0, 10.0, 20.0, 30.0, 40.0, 50.0])
THETA_BINS_DEG = np.array([10.0, 40.0, 70.0, 110.0, 140.0, 170.0])
#: The τ efficiencies of the tau-ID working points.
EFFICIENCIES: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9)
#: Visible-mass windows (GeV) of the HPS-like decay-mode hypotheses (class index → window), after CMS's HPS.
HPS_MASS_WINDOWS_GEV: dict[int, tuple[float, float]] = {1: (0.3, 1.3), 2: (0.4, 1.5), 3: (0.8, 1.5),
                                                       4: (0.9, 1.6)}
_F = {name: i for i, name in enumerate(CAND_FEATURES)}


def binomial_interval(k: int, n: int, cl: float = metrics.CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Clopper–Pearson interval of a binomial fraction k/n at confidence ``cl`` (default 68.27 %)."""
    if n <= 0:
        return float("nan"), float("nan")
    alpha = 1 - cl
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


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
    for code, name in ((2, "leptonic tau"), (3, "Z -> ee/mumu"), (0, "q/g")):
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


def _strips(p4: np.ndarray, members: np.ndarray, strip_pt_min: float, deta: float = 0.05, dphi: float = 0.10
            ) -> tuple[np.ndarray, np.ndarray]:
    """Strips of each jet: the highest-pT unclustered photon or electron seeds a strip that takes every
    unclustered one within |Δη| < ``deta`` and |Δφ| < ``dphi`` of it (conversion electrons bend in φ).
    Returns the number of strips above ``strip_pt_min`` per jet and their summed four-momentum."""
    n_jets, n_slots = members.shape
    pt = np.where(members, np.hypot(p4[..., 0], p4[..., 1]), -1.0)
    eta = np.where(members, kinematics.eta(np.where(members[..., None], p4, [1.0, 0.0, 0.0, 1.0])), 0.0)
    phi = np.arctan2(p4[..., 1], p4[..., 0])
    free = members.copy()
    n_strips = np.zeros(n_jets, np.int64)
    total = np.zeros((n_jets, 4))
    rows = np.arange(n_jets)
    for _ in range(n_slots):
        if not free.any():
            break
        seed = np.argmax(np.where(free, pt, -1.0), axis=1)
        has = free[rows, seed]
        near = (free & (np.abs(eta - eta[rows, seed][:, None]) < deta)
                & (np.abs(kinematics.delta_phi_rad(phi, phi[rows, seed][:, None])) < dphi) & has[:, None])
        strip = np.einsum("js,jsc->jc", near.astype(np.float64), p4)
        good = has & (np.hypot(strip[:, 0], strip[:, 1]) >= strip_pt_min)
        n_strips += good
        total += strip * good[:, None]
        free &= ~near
    return n_strips, total


def hps_decay_mode(features: np.ndarray, p4: np.ndarray, mask: np.ndarray, *, track_pt_min: float = 0.5,
                   strip_pt_min: float = 1.0) -> np.ndarray:
    """HPS-like decay mode.

    Prongs are charged hadrons with pT ≥ ``track_pt_min``; π⁰ candidates are strips (photons and
    electrons, :func:`_strips`) with pT ≥ ``strip_pt_min``. The hypothesis (1 or 3 prongs — 2 prongs count
    as 3, as the labels do — with 0, 1 or ≥ 2 π⁰) must have a visible mass (prongs + strips) inside its window
    (:data:`HPS_MASS_WINDOWS_GEV`); a hypothesis outside its window falls back to the same prongs with one
    π⁰ fewer, and to "rare" when none fits.
    """
    kinds = _kinds(features, mask)
    pt = np.hypot(p4[..., 0], p4[..., 1])
    prong = kinds["hadron"] & (pt >= track_pt_min)
    n_prongs = prong.sum(axis=1)
    charged_p4 = np.einsum("js,jsc->jc", prong.astype(np.float64), p4.astype(np.float64))
    n_pi0, strips_p4 = _strips(p4.astype(np.float64), kinds["photon"] | kinds["electron"], strip_pt_min)
    mass = kinematics.mass_gev(charged_p4 + strips_p4)
    mass_no_strips = kinematics.mass_gev(charged_p4)
    cls = _classes(n_prongs, n_pi0)
    out = cls.copy()
    for c, (lo, hi) in HPS_MASS_WINDOWS_GEV.items():
        m = mass_no_strips if c == 3 else mass
        fails = (cls == c) & ((m < lo) | (m > hi))
        fallback = {1: 0, 2: 1, 3: 5, 4: 3}[c]
        out[fails] = fallback
    return out


def tune_hps(features: np.ndarray, p4: np.ndarray, mask: np.ndarray, true: np.ndarray,
             track_pt_min: Sequence[float] = (0.3, 0.5, 1.0), strip_pt_min: Sequence[float] = (0.5, 1.0, 2.0, 3.0)
             ) -> dict[str, float]:
    """The HPS-like thresholds with the highest accuracy on a (validation) set of τ jets."""
    best = max(((t, s) for t in track_pt_min for s in strip_pt_min),
               key=lambda ts: np.mean(hps_decay_mode(features, p4, mask, track_pt_min=ts[0], strip_pt_min=ts[1])
                                      == true))
    return {"track_pt_min": float(best[0]), "strip_pt_min": float(best[1])}


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
    dxy = np.where(charged, np.abs(features[..., _F["dxy"]]), 0.0)
    dz = np.where(charged, np.abs(features[..., _F["dz"]]), 0.0)
    sig_xy = np.where(charged, dxy / np.maximum(features[..., _F["dxy_err"]], 1e-6), 0.0)
    sig_z = np.where(charged, dz / np.maximum(features[..., _F["dz_err"]], 1e-6), 0.0)
    width = np.sum(pt_c * features[..., _F["dr"]], axis=1) / np.maximum(pt_c.sum(axis=1), 1e-9)
    return np.column_stack([
        jet_pt, kinematics.p_gev(jet_p4), kinematics.mass_gev(jet_p4), m.sum(axis=1), charged.sum(axis=1),
        kinds["photon"].sum(axis=1), n_nh, pt_c.max(axis=1) / np.maximum(jet_pt, 1e-9), width,
        np.abs(np.sum(features[..., _F["charge"]] * m, axis=1)), dxy.max(axis=1), dz.max(axis=1),
        sig_xy.max(axis=1), sig_z.max(axis=1), np.sort(e_rel, axis=1)[:, ::-1][:, :3].sum(axis=1)]).astype(np.float32)
