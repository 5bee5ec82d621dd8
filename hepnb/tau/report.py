"""Tables and prose of the tau study's page, written from the run's numbers (Book v2: no number is typed).

Every function takes the metrics the pipeline computed (:mod:`hepnb.tau.pipeline`, :mod:`hepnb.tau.evaluate`)
and returns a :class:`pandas.DataFrame` of formatted cells or a markdown string; values carry their
uncertainties, rounded by the PDG rule (:func:`hepnb.book.numbers.format_with_uncertainty`), and fake rates the
number of background jets they rest on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hepnb.book.numbers import format_count, format_with_uncertainty
from hepnb.book.prose import describe_difference
from hepnb.tau import constants

__all__ = [
    "charge_table",
    "comparison_table",
    "conclusions",
    "decay_mode_table",
    "detector_markdown",
    "fake_rate",
    "kinematics_table",
    "label_efficiency_table",
    "paired_markdown",
    "physics_markdown",
    "rate",
    "scaling_table",
    "size_table",
    "tau_id_table",
]


def rate(k: int, n: int, lo: float, hi: float) -> str:
    """A binomial rate k/n with its 68 % Clopper–Pearson interval and the counts it rests on."""
    if n <= 0:
        return "–"
    value = k / n
    return f"{value:.3g} [{lo:.2g}, {hi:.2g}] ({format_count(k)} of {format_count(n)})"


def _seeded(summary: Mapping[str, Any], name: str) -> str:
    s = summary.get(name)
    if s is None:
        return "–"
    text = format_with_uncertainty(s["mean"], s["std"] if s["n_seeds"] > 1 else None)
    return f"{text} ({s['n_seeds']} seeds)" if s["n_seeds"] > 1 else text


def tau_id_table(models: Mapping[str, Mapping[str, Any]], seeds: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> Any:
    """Tau-ID table: AUC (bootstrap), fake rate k/N at ε_τ = 50/70/80/90 % with the Clopper–Pearson interval,
    the rejection at ε_S = 0.5; with ``seeds`` (name → :func:`hepnb.tau.studies.seed_summary`), the mean
    and spread over seeds of the AUC and the fake rates at 50 and 70 %."""
    import pandas as pd

    rows = {}
    for name, res in models.items():
        row = {"AUC": format_with_uncertainty(res["auc"], res.get("auc_std"))}
        for wp, v in res["working_points"].items():
            row[f"fake rate @ {wp} %"] = fake_rate(v)
        wp50 = res["working_points"].get("50")
        if wp50 is not None:
            rej = wp50["rejection"]
            row["1/eps_B @ eps_S = 0.5"] = (f"{rej:.3g} [{wp50['rejection_lo']:.3g}, {wp50['rejection_hi']:.3g}]"
                                            if math.isfinite(rej) else f"> {wp50['rejection_lo']:.3g}")
        if seeds and name in seeds:
            for key in ("tau ID AUC", "fake rate @ 50 %", "fake rate @ 70 %"):
                row[f"{key} over seeds"] = _seeded(seeds[name], key)
        rows[name] = row
    return pd.DataFrame(rows).T


def decay_mode_table(models: Mapping[str, Mapping[str, Any]], seeds: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> Any:
    """Decay mode: macro F1 over the classes present, support-weighted F1, the 5-class macro F1 and accuracy
    without "rare", accuracy, and per-class F1."""
    import pandas as pd

    rows = {}
    for name, res in models.items():
        row = {"macro F1 (present classes)": format_with_uncertainty(res["macro_f1"], res.get("macro_f1_std")),
               "weighted F1": format_with_uncertainty(res["weighted_f1"]), "accuracy": format_with_uncertainty(res["accuracy"], res.get("accuracy_std")),
               "macro F1 without rare": format_with_uncertainty(res["five_class"]["macro_f1"]),
               "accuracy without rare": format_with_uncertainty(res["five_class"]["accuracy"])}
        row |= {f"F1 {cls}": format_with_uncertainty(v["f1"], digits=3) for cls, v in res["per_class"].items()}
        if seeds and name in seeds:
            row["macro F1 over seeds"] = _seeded(seeds[name], "DM macro F1")
            row["accuracy over seeds"] = _seeded(seeds[name], "DM accuracy")
        rows[name] = row
    return pd.DataFrame(rows).T


def charge_table(models: Mapping[str, Mapping[str, Any]], seeds: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> Any:
    """Charge mis-ID k/n with its Clopper–Pearson interval, per model and baseline."""
    import pandas as pd

    rows = {}
    for name, res in models.items():
        row = {"charge mis-ID": rate(res["n_wrong"], res["n_tau"], res["misid_lo"], res["misid_hi"])}
        if seeds and name in seeds:
            row["mis-ID over seeds"] = _seeded(seeds[name], "charge mis-ID")
        rows[name] = row
    return pd.DataFrame(rows).T


def kinematics_table(models: Mapping[str, Mapping[str, Any]], seeds: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> Any:
    """Visible-pT response and resolution (bootstrap), mass response and resolution, η and φ spreads."""
    import pandas as pd

    rows = {}
    for name, r in models.items():
        row = {"pT response": format_with_uncertainty(r["pt_response"]), "pT resolution": format_with_uncertainty(r["pt_resolution"], r.get("pt_resolution_std")),
               "m response": format_with_uncertainty(r["m_response"]), "m resolution": format_with_uncertainty(r["m_resolution"]),
               "eta IQR": format_with_uncertainty(r["eta_iqr"], digits=3), "phi IQR (rad)": format_with_uncertainty(r["phi_iqr"], digits=3)}
        if seeds and name in seeds:
            row["pT resolution over seeds"] = _seeded(seeds[name], "pT resolution")
        rows[name] = row
    return pd.DataFrame(rows).T


def comparison_table(runs: Mapping[str, Mapping[str, Any]]) -> Any:
    """One line per training: the summary numbers (means ± spread over seeds where there are several),
    parameters and training time."""
    import pandas as pd

    rows = {}
    for name, run in runs.items():
        summary = run["summary"]
        row = {key: _seeded(summary, key) for key in summary}
        row |= {"parameters": format_count(run["parameters"]),
                "train time (s)": f"{run['train_time_s']:.0f}"}
        rows[name] = row
    return pd.DataFrame(rows).T


def size_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Model-size scaling: parameters, training jets and epochs, and the summary numbers of each size."""
    import pandas as pd

    out = {}
    for r in rows:
        out[r["name"]] = {"parameters": format_count(r["parameters"]),
                          "training jets": r["n_train"], "epochs": r["epochs"],
                          **{k: format_with_uncertainty(v, r.get("errors", {}).get(k)) for k, v in r["summary"].items()}}
    return pd.DataFrame(out).T


def label_efficiency_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """The label-efficiency curve: per label fraction, the summary numbers from scratch and fine-tuned."""
    import pandas as pd

    out = {}
    for r in rows:
        out[(r["fraction"], r["init"])] = {"labelled jets": r["n_train"],
                                           **{k: format_with_uncertainty(v, r.get("errors", {}).get(k)) for k, v in r["summary"].items()}}
    table = pd.DataFrame(out).T
    table.index.names = ["label fraction", "start"]
    return table


def detector_markdown() -> str:
    """The detector paragraph of the page, written from :mod:`hepnb.tau.constants` (so it is always the
    detector that ran)."""
    c = constants
    return (
        "**Detector.** A parametrised CLD-like detector: particles with "
        f"|cos θ| < {c.COS_THETA_MAX}; tracks for charged particles with pT ≥ {c.TRACK_PT_MIN_GEV} GeV made within "
        f"{c.TRACK_R_MAX_MM:.0f} mm of the beam line, found with an efficiency rising from {c.TRACK_EFF_LOW:.0%} at "
        f"threshold to {c.TRACK_EFF_PLATEAU:.1%}, σ(pT)/pT = √(({c.TRACK_SAGITTA_PER_GEV:g} pT)² + "
        f"{c.TRACK_MS_TERM:g}²), {c.FAKE_TRACK_RATE:.1%} fake and {c.DUPLICATE_TRACK_RATE:.1%} duplicated tracks; "
        f"impact parameters of the helix in the {c.B_FIELD_T:g} T field, d0 to the beam-spot centre (its "
        f"{1e3 * c.BEAM_SPOT_SIGMA_MM[0]:.2f} µm × {1e6 * c.BEAM_SPOT_SIGMA_MM[1]:.0f} nm size in σ(d0)) and z0 "
        f"to a primary-vertex z fitted per event, with σ(d0) = {1e3 * c.D0_CONST_MM:g} µm ⊕ "
        f"{1e3 * c.D0_MS_MM_GEV:g} µm·GeV/(p sin^{{3/2}}θ) and σ(z0) = {c.DZ_OVER_D0:g} σ(d0), signed by the jet "
        f"axis; photon conversions in {c.TRACKER_X0:.0%} X₀ of tracker material (e⁺e⁻ pairs when they convert "
        f"inside {c.CONVERSION_R_MAX_MM:.0f} mm); photons {c.ECAL_STOCHASTIC:.0%}/√E ⊕ {c.ECAL_CONST:.0%} above "
        f"{c.PHOTON_E_MIN_GEV} GeV, merged when closer than {c.MERGE_DISTANCE_MM:.0f} mm on the ECAL; neutral "
        f"hadrons {c.HCAL_STOCHASTIC:.0%}/√E ⊕ {c.HCAL_CONST:.0%} ⊕ {c.HCAL_NOISE_GEV:g} GeV above "
        f"{c.NEUTRAL_HADRON_E_MIN_GEV} GeV, absorbed by a charged hadron's cluster within "
        f"{c.CONFUSION_DISTANCE_MM:.0f} mm when smaller than {c.CONFUSION_SIGMAS:g} σ of its calorimeter energy, "
        f"and {c.FRAGMENT_RATE:.0%} of charged hadrons above {c.FRAGMENT_P_MIN_GEV:g} GeV leaving a fake neutral "
        f"fragment; lost tracks reach the calorimeters as clusters. K⁰_S and Λ decay only inside the tracker "
        f"cylinder (r < {c.LIMIT_CYLINDER_XY_MM:.0f} mm, |z| < {c.LIMIT_CYLINDER_Z_MM:.0f} mm). Assumed values "
        "and their reasons are in `hepnb/tau/constants.py`.")


def physics_markdown(checks: Mapping[str, Any]) -> str:
    """What the sample looks like, from :func:`hepnb.tau.pipeline.physics_checks`."""
    dm, pdg = checks["dm_fractions"], checks["dm_fractions_pdg"]
    dev = max(abs(dm[k] - v) for k, v in pdg.items())
    q = checks["vis_pt_quantiles"]
    n = checks["n_candidates_mean"]
    text = (f"The decay-mode fractions of the τ jets differ from the PDG hadronic branching ratios by at most "
            f"{dev:.3f} (absolute) over the five main classes. The visible pT of the τ jets has its most populated "
            f"bin at {checks['vis_pt_mode']:.1f} GeV; ten per cent of the jets lie below {q['q10']:.1f} GeV, the "
            f"median is {q['q50']:.1f} GeV and ninety per cent lie below {q['q90']:.1f} GeV. A τ jet has "
            f"{n['tau']:.1f} candidates on average, a q/g jet {n['qg']:.1f}.")
    if "n_truncated" in checks:
        t = checks["n_truncated"]
        text += (f" Jets with more than {constants.MAX_CANDIDATES} candidates keep their "
                 f"{constants.MAX_CANDIDATES} of highest pT: {format_count(t['all'])} jets in all, {format_count(t['tau'])} of "
                 "them τ jets.")
    if "tau_reco_efficiency" in checks:
        eff = checks["tau_reco_efficiency"]
        text += (f" Of the {format_count(eff['n_gen'])} generated prompt hadronic taus, a fraction {eff['value']:.3f} has "
                 "a matched reconstructed jet.")
    return text


def _difference(paired: Mapping[str, Any], key: str, quantity: str, a: str, b: str, lower_is_better: bool) -> str:
    d = paired.get(key)
    if d is None or not (math.isfinite(d["value"]) and math.isfinite(d["std"])):
        return ""
    return describe_difference(quantity, a, b, d["value"], d["std"], lower_is_better=lower_is_better)


def conclusions(results: Mapping[str, Any]) -> str:
    """The conclusion paragraph, from the metrics the notebook saves (its ``metrics`` dict)."""
    h = results["headline_numbers"]
    best = results["selection"]["surgery"]
    profile = results["profile"]
    lines = [f"With these samples ({profile} profile), and the detector described above:"]
    lines.append(
        f"- **Tau ID.** MultiParTau ({best}) reaches an AUC of {format_with_uncertainty(h['multi_auc'], h.get('multi_auc_std'))} "
        f"and a fake rate of {h['multi_fake50']:.3g} at ε_τ = 50 % ({format_count(h['multi_fake50_k'])} of "
        f"{format_count(h['n_bkg'])} q/g jets pass), SingleParTau {format_with_uncertainty(h['single_auc'], h.get('single_auc_std'))} and "
        f"{h['single_fake50']:.3g}; XGBoost on jet features {format_with_uncertainty(h['xgb_auc'], h.get('xgb_auc_std'))}.")
    paired = results.get("paired", {})
    sentence = _difference(paired, "tau_auc_multi_minus_single", "tau-ID AUC", f"MultiParTau ({best})",
                           "SingleParTau", lower_is_better=False)
    if sentence:
        lines.append(f"  On the same test jets, {sentence}.")
    sentence = _difference(paired, "tau_auc_multi_minus_xgb", "tau-ID AUC", f"MultiParTau ({best})",
                           "XGBoost", lower_is_better=False)
    if sentence:
        lines.append(f"  Against the boosted trees, {sentence}.")
    lines.append(
        f"- **Decay mode.** Macro F1 over the classes present {format_with_uncertainty(h['multi_dm_f1'], h.get('multi_dm_f1_std'))} "
        f"(accuracy {format_with_uncertainty(h['multi_dm_acc'], h.get('multi_dm_acc_std'))}) for MultiParTau, against "
        f"{format_with_uncertainty(h['hps_dm_f1'], h.get('hps_dm_f1_std'))} (accuracy {format_with_uncertainty(h['hps_dm_acc'], h.get('hps_dm_acc_std'))}) "
        f"for the HPS-like reconstruction and {format_with_uncertainty(h['count_dm_f1'], h.get('count_dm_f1_std'))} (accuracy "
        f"{format_with_uncertainty(h['count_dm_acc'], h.get('count_dm_acc_std'))}) for the plain count; the {h['dm_baseline']} has the "
        "higher accuracy on the validation τ jets and is the baseline compared with.")
    sentence = _difference(paired, "dm_acc_multi_minus_baseline", "decay-mode accuracy", "MultiParTau",
                           f"the {h['dm_baseline']}", lower_is_better=False)
    if sentence:
        lines.append(f"  Paired: {sentence}.")
    lines.append(
        f"- **Charge.** Mis-ID {h['multi_charge']:.3g} ({format_count(h['multi_charge_k'])} of {format_count(h['n_tau'])} τ jets) for "
        f"MultiParTau, {h['summed_charge']:.3g} ({h['summed_charge_k']}) for the sign of the summed candidate "
        f"charges and {h['jet_charge']:.3g} for the jet charge Q_κ.")
    lines.append(
        f"- **Visible pT.** Resolution {format_with_uncertainty(h['multi_pt_res'], h.get('multi_pt_res_std'))} for MultiParTau, "
        f"{format_with_uncertainty(h['single_pt_res'], h.get('single_pt_res_std'))} for SingleParTau, against "
        f"{format_with_uncertainty(h['reco_pt_res'], h.get('reco_pt_res_std'))} for the reco jet.")
    sentence = _difference(paired, "pt_res_multi_minus_reco", "visible-pT resolution", "MultiParTau",
                           "the reco jet", lower_is_better=True)
    if sentence:
        lines.append(f"  Paired: {sentence}.")
    if results.get("sizes_text"):
        lines.append(f"- **Model size.** {results['sizes_text']}")
    if results.get("pretraining_text"):
        lines.append(f"- **Pre-training.** {results['pretraining_text']}")
    lines.append(
        "\nThese statements hold for this parametrised detector and these sample sizes; the absolute numbers "
        "are not the paper's full-simulation ones.")
    return "\n".join(lines)


def fake_rate(wp: Mapping[str, Any]) -> str:
    """:func:`rate` of one working point of :func:`hepnb.tau.evaluate.tau_id_metrics`."""
    return rate(wp["n_bkg_pass"], wp["n_bkg"], wp["fake_rate_lo"], wp["fake_rate_hi"])


def scaling_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Data scaling: AUC and fake rate at ε_τ = 50 % per model and training fraction."""
    import pandas as pd

    table = pd.DataFrame({(r["model"], r["fraction"]): {"training jets": r["n_train"], "AUC": format_with_uncertainty(r["auc"], r["auc_std"]),
                                                        "fake rate @ 50 %": fake_rate(r["working_points"]["50"])}
                          for r in rows}).T.sort_index()
    table.index.names = ["model", "fraction"]
    return table


_PAIRED = {"tau_auc_multi_minus_single": "tau-ID AUC, MultiParTau − SingleParTau",
           "tau_auc_multi_minus_xgb": "tau-ID AUC, MultiParTau − XGBoost",
           "dm_acc_multi_minus_baseline": "decay-mode accuracy, MultiParTau − the conventional estimator chosen on validation",
           "pt_res_multi_minus_reco": "visible-pT resolution, MultiParTau − reco jet"}


def paired_markdown(paired: Mapping[str, Mapping[str, float]]) -> str:
    """The paired differences on the same test jets, as a list (bootstrap spreads)."""
    return "Paired differences on the same test jets:\n\n" + "\n".join(
        f"- {_PAIRED.get(k, k)}: {format_with_uncertainty(v['value'], v['std'])}" for k, v in paired.items())
