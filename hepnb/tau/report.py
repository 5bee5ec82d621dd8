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

from hepnb.book.numbers import format_count, format_with_uncertainty, table_cell
from hepnb.tau import constants

__all__ = [
    "charge_table",
    "comparison_table",
    "decay_mode_table",
    "detector_markdown",
    "extra_backgrounds_table",
    "fake_rate",
    "hps_markdown",
    "kin_weight_table",
    "kinematics_bins_table",
    "kinematics_table",
    "last_change_markdown",
    "paired_markdown",
    "physics_markdown",
    "rate",
    "sample_markdown",
    "scaling_table",
    "selection_table",
    "tau_id_table",
    "training_frame",
    "training_table",
    "vs_generated_table",
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


def kinematics_bins_table(models: Mapping[str, Mapping[str, Any]]) -> Any:
    """Visible-pT response (median of pT_pred/pT_vis) and resolution ((q75 − q25)/median) in bins of generated
    visible pT, one pair of columns per estimator (the reco jet beside the networks), with each bin's τ jets."""
    import pandas as pd

    first = next(iter(models.values()))
    rows = {}
    for i, b in enumerate(first["pt_bins"]):
        row: dict[str, Any] = {"τ jets": format_count(b["n"])}
        for name, r in models.items():
            this = r["pt_bins"][i]
            row[f"{name}: response"] = format_with_uncertainty(this["response"])
            row[f"{name}: resolution"] = format_with_uncertainty(this["resolution"])
        rows[f"{b['lo']:g}–{b['hi']:g} GeV"] = row
    return pd.DataFrame(rows).T


def kin_weight_table(choice: Any) -> Any:
    """The kinematics loss weights tried (:class:`hepnb.tau.regression.KinWeightChoice`): each MultiParTau's
    validation visible-pT resolution and response and tau-ID AUC, the reco jet's on the same τ jets; ``None``
    when a single weight was given."""
    import pandas as pd

    if not choice.rows:
        return None
    rows = {}
    for r in choice.rows:
        mark = " (chosen)" if r["kin_weight"] == choice.weight else ""
        rows[f"weight {r['kin_weight']:g}{mark}"] = {
            "pT resolution": format_with_uncertainty(r["pt_resolution"]),
            "pT response": format_with_uncertainty(r["pt_response"]), "tau-ID AUC": format_with_uncertainty(r["auc"], digits=4),
            "validation τ jets": format_count(r["n_tau"])}
    rows["reco jet"] = {"pT resolution": format_with_uncertainty(choice.reco_jet["pt_resolution"]),
                        "pT response": format_with_uncertainty(choice.reco_jet["pt_response"]), "tau-ID AUC": "",
                        "validation τ jets": format_count(choice.rows[0]["n_tau"])}
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


# The page's sections (from hepnb.tau.pipeline's results; the conclusions are in hepnb.tau.summary)


def sample_markdown(profile: str, samples: Any) -> str:
    """The sample sentence of the data section (:func:`hepnb.book.prose.sample_sentence`), with its counts
    glued for the page's prose (``n_tau_jets``, ``n_qg_jets``, ``n_train``, ``n_test_tau``, ``n_test_bkg``)."""
    from hepnb.book.prose import glue, sample_sentence

    names = ("n_tau_jets", "n_qg_jets", "n_train", "n_test_tau", "n_test_bkg")
    for name, value in zip(names, samples.sizes.values(), strict=True):
        glue(name, value, display=False)
    return sample_sentence(profile, samples.sizes)


def training_frame(headline: Any) -> Any:
    """One row per headline training (every PCGrad setting and task, every seed): parameters, epochs, training
    and compile time, throughput and whether it converged (for ``results.json``; :func:`training_table` formats
    them)."""
    import pandas as pd

    def row(t: Any) -> dict[str, float]:
        return {"parameters": t.n_params, "epochs": t.fit.n_epochs_run, "train time (s)": t.fit.train_time_s,
                "compile time (s)": t.fit.compile_time_s, "jets/s": t.jets_per_s, "converged": t.fit.converged}

    rows = {f"MultiParTau ({s}), seed {i}": row(t) for s, r in headline.multi.items() for i, t in enumerate(r.trained)}
    rows |= {f"SingleParTau ({k}), seed {i}": row(t) for k, r in headline.single.items() for i, t in enumerate(r.trained)}
    return pd.DataFrame(rows).T


def training_table(frame: Any) -> Any:
    """:func:`training_frame`, formatted."""
    return frame.style.format({"parameters": "{:,.0f}", "epochs": "{:.0f}", "train time (s)": "{:.1f}",
                               "compile time (s)": "{:.1f}", "jets/s": "{:,.0f}"}).set_caption("training")


def selection_table(validation: Mapping[str, Mapping[str, float]]) -> Any:
    """The validation numbers of each PCGrad setting, on which the headline setting is chosen."""
    import pandas as pd

    return pd.DataFrame(validation).T.style.format("{:.4g}").set_caption(
        "validation headline numbers of the PCGrad settings (the choice is made on these)")


def last_change_markdown(curves: Mapping[str, Mapping[str, Any]]) -> str:
    """How much each validation loss changed over its last epoch (its last ``evals_per_epoch`` evaluations, one
    when absent), relative to its first evaluation's loss."""
    def change(h: Mapping[str, Any]) -> float:
        loss, k = h["val_loss"], int(h.get("evals_per_epoch", 1))
        return (loss[-1] - loss[-1 - k]) / abs(loss[0]) if len(loss) > k else float("nan")

    return ("Change of the validation loss over the last epoch, relative to the first evaluation's loss: "
            + ", ".join(f"{k} {change(h):+.3f}" for k, h in curves.items()) + ".")


def extra_backgrounds_table(tau_id: Mapping[str, Any], name: str) -> Any:
    """The fraction of jets of each origin (leptonic taus, Z → ℓℓ) passing model ``name``'s working points."""
    import pandas as pd

    table = pd.DataFrame({origin: {f"pass @ {wp} %": rate(v[f"pass_{wp}_k"], v["n"], v[f"pass_{wp}_lo"], v[f"pass_{wp}_hi"])
                                   for wp in tau_id["working_points"]}
                          for origin, v in tau_id["extra_backgrounds"].items()}).T
    return table.style.set_caption(f"fraction of jets of each origin passing {name}'s working points (the reference "
                                   "definition keeps leptonic taus and Z → ℓℓ out of training)")


def vs_generated_table(tau_id: Mapping[str, Any]) -> Any | None:
    """Efficiency against the generated hadronic taus in bins of visible pT (``None`` without generated taus)."""
    import pandas as pd

    if "vs_generated" not in tau_id:
        return None
    gen = pd.DataFrame(tau_id["vs_generated"]).rename(columns={"lo": "pT from [GeV]", "hi": "pT to [GeV]"})
    gen = gen.set_index(["pT from [GeV]", "pT to [GeV]"])
    effs = ["eff_reco", "eff_id_50", "eff_50", "eff_70"]
    return gen[["n_gen", *effs]].style.format({"n_gen": format_count, **dict.fromkeys(effs, "{:.3f}")}).format_index(
        table_cell).set_caption("efficiency against generated hadronic taus in bins of visible pT: "
                                          "reconstruction × identification (ε_reco from every event, ε_ID on the test jets)")


def hps_markdown(base: Mapping[str, Any]) -> str:
    """The HPS thresholds chosen on validation, the conventional estimators' validation accuracies and, from the
    test τ jets (:func:`hepnb.tau.baselines.hps_diagnostics`), why HPS scores what it does."""
    from hepnb.tau.hps import MASS_WINDOWS_GEV, SIGNAL_CONE

    params = base["hps_params"]
    names = {(1, 1): "h±π⁰", (1, 2): "h±π⁰π⁰", (3, 0): "h±h∓h±", (3, 1): "h±h∓h±π⁰"}
    windows = "; ".join(f"{names[k]} {lo:g}–{hi:g} GeV" + (f" (upper edge × √(pT/100 GeV) above 100 GeV, at most "
                                                            f"{top:g} GeV)" if scales else "")
                        for k, (lo, hi, scales, top) in MASS_WINDOWS_GEV.items() if k in names)
    k, lo_cone, hi_cone = SIGNAL_CONE
    text = (f"HPS signal cone {k:g}/pT within {lo_cone:g}–{hi_cone:g}; mass windows {windows} (the two-prong modes "
            "take the three-prong windows). HPS thresholds chosen on validation: charged hadrons above "
            f"{params['track_pt_min']:g} GeV, strips above {params['strip_pt_min']:g} GeV. Accuracy on the validation "
            "τ jets: " + ", ".join(f"{k} {v:.3f}" for k, v in base["dm_validation_accuracy"].items())
            + f"; the {base['dm_baseline']} is the baseline the networks are compared with below.")
    d = base.get("hps_diagnostics")
    if not d or not d["n_tau"]:
        return text
    return text + (
        f" On the {format_count(d['n_tau'])} test τ jets HPS finds a τ candidate (a hypothesis with charge ±1, its "
        f"constituents in the signal cone and its mass in the window) in a fraction {d['found']:.3f} of them; where "
        f"it finds one its accuracy is {d['accuracy_when_found']:.3f} against {d['count_accuracy_when_found']:.3f} "
        f"for the plain count on the same jets ({d['accuracy']:.3f} and {d['count_accuracy']:.3f} on all), and "
        f"{d['not_found_share_of_errors']:.2f} of its errors are jets where no hypothesis passed. Where it departs "
        "from the plain count: the signal cone, bounded for the LHC's τ above 20 GeV, against the wider opening of "
        f"lower-pT decays (with the cone opened to the jet, ΔR < 0.4, the accuracy is {d['accuracy_open_cone']:.3f}); "
        f"and the strips, which merge the photon pairs of h±π⁰π⁰: a fraction {d['true_pi0pi0_as_pi0']:.2f} of the "
        "true 1p≥2π⁰ jets are reconstructed as h±π⁰, as CMS's own decay modes count them (with that merging "
        f"forgiven, {d['accuracy_pi0pi0_as_pi0']:.3f}). In these clean τ jets almost every candidate belongs to "
        "the τ, which is what the plain count assumes.")
