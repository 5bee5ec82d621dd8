"""What the tau page concludes and records: the numbers its conclusions quote (:func:`headline_numbers`), the
conclusion paragraph (:func:`conclusions`, with the paired differences), the landing page's entries
(:func:`headline_entries`) and the ``results.json`` metrics (:func:`results_metrics`), from the results of
:mod:`hepnb.tau.pipeline`'s sections."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hepnb.book.numbers import format_count, format_with_uncertainty
from hepnb.book.verdict import Contender, mean_over_seeds, paired_verdict, seed_spread_of_difference
from hepnb.tau.side_report import study_json

__all__ = ["conclusions", "headline_entries", "headline_numbers", "results_metrics", "seed_spreads"]


def _difference(paired: Mapping[str, Any], spreads: Mapping[str, float], key: str, quantity: str, a: Contender,
                b: Contender, lower_is_better: bool) -> str:
    """The gated sentence (:func:`hepnb.book.verdict.paired_verdict`) of one paired difference, its uncertainty the
    test bootstrap ⊕ the seed spread of the difference (``spreads[key]``)."""
    d = paired.get(key)
    if d is None or not (math.isfinite(d["value"]) and math.isfinite(d["std"])):
        return ""
    return paired_verdict(quantity, a, b, d, lower_is_better=lower_is_better, seed_std=spreads.get(key, 0.0)).sentence


def _seeded(h: Mapping[str, Any], key: str) -> str:
    """``h[key_seeds] ± h[key_seeds_std]`` of :func:`headline_numbers`, or "not available" where it has no value."""
    if not math.isfinite(h.get(f"{key}_seeds", math.nan)):
        return "not available"
    return format_with_uncertainty(h[f"{key}_seeds"], h[f"{key}_seeds_std"])


def conclusions(headline: Any, paired: Mapping[str, Any], *, profile: str, sizes_text: str = "",
                pretraining_text: str = "") -> str:
    """The conclusion paragraph, from the headline trainings (:class:`hepnb.tau.pipeline.Headline`), their
    ``paired`` differences (:func:`hepnb.tau.pipeline.compare`) and the side studies' sentences (``sizes_text``,
    ``pretraining_text``: :mod:`hepnb.tau.report`).

    Each comparison goes through the verdict gate (:func:`hepnb.book.verdict.paired_verdict`): it ranks two models
    only when the trained ones converged (every seed) and the difference exceeds twice the test bootstrap ⊕ the
    seed spread (:func:`seed_spreads`); otherwise it says which did not converge, or that the two are consistent.
    """
    spreads = seed_spreads(headline)
    h = headline_numbers(headline)
    best = headline.best
    lines = [f"With these samples ({profile} profile), and the detector described above:"]
    lines.append(
        f"- **Tau ID.** Over {h['multi_n_seeds']} training seeds each (mean ± seed spread ⊕ test uncertainty), "
        f"MultiParTau ({best}) reaches an AUC of {_seeded(h, 'multi_auc')} and a fake rate of "
        f"{_seeded(h, 'multi_fake50')} at ε_τ = 50 % (first seed: {format_count(h['multi_fake50_k'])} of "
        f"{format_count(h['n_bkg'])} q/g jets pass), SingleParTau {_seeded(h, 'single_auc')} and "
        f"{_seeded(h, 'single_fake50')}, XGBoost on jet features {_seeded(h, 'xgb_auc')} and {_seeded(h, 'xgb_fake50')}.")
    multi = Contender(f"MultiParTau ({best})", headline.main.converged)
    single = Contender("SingleParTau", "tau_id" in headline.single and headline.single["tau_id"].converged)
    sentence = _difference(paired, spreads, "tau_auc_multi_minus_single", "tau-ID AUC", multi,
                           single, lower_is_better=False)
    if sentence:
        lines.append(f"  On the same test jets, {sentence}.")
    sentence = _difference(paired, spreads, "tau_auc_multi_minus_xgb", "tau-ID AUC", multi, Contender("XGBoost"),
                           lower_is_better=False)
    if sentence:
        lines.append(f"  Against the boosted trees, {sentence}.")
    lines.append(
        f"- **Decay mode.** Macro F1 over the classes present {_seeded(h, 'multi_dm_f1')} "
        f"(accuracy {_seeded(h, 'multi_dm_acc')}) for MultiParTau over its seeds, against "
        f"{format_with_uncertainty(h['hps_dm_f1'], h.get('hps_dm_f1_std'))} (accuracy {format_with_uncertainty(h['hps_dm_acc'], h.get('hps_dm_acc_std'))}) "
        f"for the HPS-like reconstruction and {format_with_uncertainty(h['count_dm_f1'], h.get('count_dm_f1_std'))} (accuracy "
        f"{format_with_uncertainty(h['count_dm_acc'], h.get('count_dm_acc_std'))}) for the plain count; the {h['dm_baseline']} has the "
        "higher accuracy on the validation τ jets and is the baseline compared with.")
    sentence = _difference(paired, spreads, "dm_acc_multi_minus_baseline", "decay-mode accuracy", multi,
                           Contender(f"the {h['dm_baseline']}"), lower_is_better=False)
    if sentence:
        lines.append(f"  Paired: {sentence}.")
    lines.append(
        f"- **Charge.** Mis-ID {_seeded(h, 'multi_charge')} for MultiParTau over its seeds (first seed: "
        f"{format_count(h['multi_charge_k'])} of {format_count(h['n_tau'])} τ jets), {h['summed_charge']:.3g} ({h['summed_charge_k']}) for the sign of the summed candidate "
        f"charges and {h['jet_charge']:.3g} for the jet charge Q_κ.")
    lines.append(
        f"- **Visible pT.** Resolution {_seeded(h, 'multi_pt_res')} for MultiParTau over its seeds, "
        f"{_seeded(h, 'single_pt_res')} for SingleParTau, against "
        f"{format_with_uncertainty(h['reco_pt_res'], h.get('reco_pt_res_std'))} for the reco jet.")
    sentence = _difference(paired, spreads, "pt_res_multi_minus_reco", "visible-pT resolution", multi,
                           Contender("the reco jet"), lower_is_better=True)
    if sentence:
        lines.append(f"  Paired: {sentence}.")
    n_seeds = len(headline.main.trained)
    lines.append(f"- **Uncertainties.** A trained model's number above is its mean over its seeds ± their spread ⊕ "
                 "the test uncertainty (one seed: the test uncertainty alone); each comparison quotes the paired "
                 "bootstrap over the test jets ⊕ the "
                 f"spread of the trained models over their seeds ({n_seeds} of MultiParTau"
                 + (f", {len(headline.single['tau_id'].trained)} of SingleParTau's tau ID" if "tau_id" in headline.single
                    else "") + f", {h['xgb_n_seeds']} of XGBoost, whose row subsampling varies with the seed); "
                 "a network that has not converged is not ranked.")
    if sizes_text:
        lines.append(f"- **Model size.** {sizes_text}")
    if pretraining_text:
        lines.append(f"- **Pre-training.** {pretraining_text}")
    lines.append(
        "\nThese statements hold for this parametrised detector and these sample sizes; the absolute numbers "
        "are not the paper's full-simulation ones.")
    return "\n".join(lines)


#: The seed spread of each paired difference: the summary number it compares and the other side's seeds
#: (SingleParTau's tau ID, XGBoost's, or none: the conventional estimators are not trained).
_SEED_SIDES = {"tau_auc_multi_minus_single": ("tau ID AUC", "single"), "tau_auc_multi_minus_xgb": ("tau ID AUC", "xgb"),
               "dm_acc_multi_minus_baseline": ("DM accuracy", None), "pt_res_multi_minus_reco": ("pT resolution", None)}


def _finite(values: Any) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def seed_spreads(headline: Any) -> dict[str, float]:
    """The seed-to-seed standard uncertainty of each paired difference of :func:`hepnb.tau.pipeline.compare`, whose
    sides are the first seeds' models (:func:`hepnb.book.verdict.seed_spread_of_difference` of one model each,
    unpaired: the two sides' seeds do not share an initial draw), from each seed's summary number; 0 where a
    side has no finite value."""
    single = headline.single.get("tau_id")
    other = {"single": single.seeds if single is not None else None, "xgb": headline.xgb_seeds}
    out = {}
    for key, (name, side) in _SEED_SIDES.items():
        a = _finite(headline.main.seeds.get(name, {}).get("values", []))
        if side is None:
            b = [0.0]  # a conventional estimator: no training variance
        elif other[side] is None:
            b = []
        else:
            b = _finite(other[side].get(name, {}).get("values", []))
        out[key] = seed_spread_of_difference(a, b, of_mean=False) if a and b else 0.0
    return out


def headline_numbers(headline: Any) -> dict[str, Any]:
    """The numbers the conclusions quote (:func:`conclusions`), from :class:`hepnb.tau.pipeline.Headline`."""
    main, single, base = headline.main.metrics, headline.single, headline.base
    nan = float("nan")

    def single_value(task: str, *keys: str) -> float:
        value = single[task].metrics[task] if task in single else None
        for key in keys:
            value = value[key] if value is not None else None
        return nan if value is None else value

    tau, dm, charge, kin = main["tau_id"], main["decay_mode"], main["charge"], main["kinematics"]
    dm_base, charge_base = base["decay_mode"], base["charge"]
    return {"multi_auc": tau["auc"], "multi_auc_std": tau["auc_std"],
            "multi_fake50": tau["working_points"]["50"]["fake_rate"],
            "multi_fake50_k": tau["working_points"]["50"]["n_bkg_pass"], "n_bkg": tau["n_bkg"], "n_tau": charge["n_tau"],
            "single_auc": single_value("tau_id", "auc"), "single_auc_std": single_value("tau_id", "auc_std"),
            "single_fake50": single_value("tau_id", "working_points", "50", "fake_rate"),
            "xgb_auc": headline.xgb["auc"], "xgb_auc_std": headline.xgb["auc_std"],
            "multi_dm_f1": dm["macro_f1"], "multi_dm_f1_std": dm["macro_f1_std"],
            "multi_dm_acc": dm["accuracy"], "multi_dm_acc_std": dm["accuracy_std"],
            "hps_dm_f1": dm_base["HPS-like"]["macro_f1"], "hps_dm_f1_std": dm_base["HPS-like"]["macro_f1_std"],
            "hps_dm_acc": dm_base["HPS-like"]["accuracy"], "hps_dm_acc_std": dm_base["HPS-like"]["accuracy_std"],
            "count_dm_f1": dm_base["plain count"]["macro_f1"], "count_dm_f1_std": dm_base["plain count"]["macro_f1_std"],
            "count_dm_acc": dm_base["plain count"]["accuracy"], "count_dm_acc_std": dm_base["plain count"]["accuracy_std"],
            "dm_baseline": base["dm_baseline"],
            "multi_charge": charge["misid"], "multi_charge_k": charge["n_wrong"],
            "summed_charge": charge_base["summed charge"]["misid"], "summed_charge_k": charge_base["summed charge"]["n_wrong"],
            "jet_charge": charge_base["jet charge"]["misid"],
            "multi_pt_res": kin["pt_resolution"], "multi_pt_res_std": kin["pt_resolution_std"],
            "single_pt_res": single_value("kinematics", "pt_resolution"),
            "single_pt_res_std": single_value("kinematics", "pt_resolution_std"),
            "reco_pt_res": base["kinematics"]["reco jet"]["pt_resolution"],
            "reco_pt_res_std": base["kinematics"]["reco jet"]["pt_resolution_std"]} | _seed_means(headline)


def _half_interval(res: Mapping[str, Any], key: str) -> float:
    """Half the central (Clopper–Pearson) interval ``key_lo`` … ``key_hi`` of a rate."""
    return 0.5 * (res[f"{key}_hi"] - res[f"{key}_lo"])


def _seed_means(headline: Any) -> dict[str, Any]:
    """The headline numbers as means over seeds, each ± the seed spread ⊕ the first seed's test uncertainty
    (bootstrap, or half the Clopper–Pearson interval of a rate): tau-ID AUC and fake rate at ε_τ = 50 % of
    MultiParTau, SingleParTau and XGBoost, and MultiParTau's decay-mode macro F1 and accuracy, charge mis-ID and
    visible-pT resolution (SingleParTau's too): keys ``{multi,single,xgb}_{auc,fake50,dm_f1,dm_acc,charge,pt_res}_seeds``
    with ``_std``, and ``{multi,single,xgb}_n_seeds`` (the tau-ID seeds)."""
    main = headline.main.metrics
    tau, dm, charge, kin = main["tau_id"], main["decay_mode"], main["charge"], main["kinematics"]

    def tau_id(first: Mapping[str, Any]) -> list[tuple[str, str, float]]:
        return [("auc", "tau ID AUC", first["auc_std"]),
                ("fake50", "fake rate @ 50 %", _half_interval(first["working_points"]["50"], "fake_rate"))]

    sides: list[tuple[str, Mapping[str, Any], list[tuple[str, str, float]]]] = [
        ("multi", headline.main.seeds,
         [*tau_id(tau), ("dm_f1", "DM macro F1", dm["macro_f1_std"]), ("dm_acc", "DM accuracy", dm["accuracy_std"]),
          ("charge", "charge mis-ID", _half_interval(charge, "misid")),
          ("pt_res", "pT resolution", kin["pt_resolution_std"])]),
        ("xgb", headline.xgb_seeds, tau_id(headline.xgb))]
    single = headline.single
    if "tau_id" in single:
        sides.append(("single", single["tau_id"].seeds, tau_id(single["tau_id"].metrics["tau_id"])))
    if "kinematics" in single:
        sides.append(("single", single["kinematics"].seeds,
                      [("pt_res", "pT resolution", single["kinematics"].metrics["kinematics"]["pt_resolution_std"])]))
    out: dict[str, Any] = {}
    for side, seeds, numbers in sides:
        for key, name, test_std in numbers:
            out[f"{side}_{key}_seeds"], out[f"{side}_{key}_seeds_std"] = mean_over_seeds(
                seeds.get(name, {}).get("values", []), test_std)
        if "tau ID AUC" in seeds:
            out[f"{side}_n_seeds"] = len(_finite(seeds["tau ID AUC"].get("values", [])))
    return out


def _without_roc(res: Any) -> Any:
    return {k: v for k, v in res.items() if k != "roc"} if isinstance(res, dict) else res


def headline_entries(headline: Any) -> dict[str, dict[str, Any]]:
    """The landing page's entries (:func:`hepnb.book.headline.headline_entry`) of the headline MultiParTau."""
    from hepnb.book.headline import headline_entry

    name, main = headline.main_name, headline.main.metrics
    wp, charge = main["tau_id"]["working_points"]["50"], main["charge"]
    return {
        "tau_id_auc": headline_entry(f"tau-ID AUC, {name}", main["tau_id"]["auc"], uncertainty=main["tau_id"]["auc_std"]),
        "fake_rate_50": headline_entry(f"fake rate at 50 % τ efficiency, {name}", wp["fake_rate"],
                                       uncertainty=0.5 * (wp["fake_rate_hi"] - wp["fake_rate_lo"])),
        "dm_macro_f1": headline_entry(f"decay-mode macro F1, {name}", main["decay_mode"]["macro_f1"],
                                      uncertainty=main["decay_mode"]["macro_f1_std"]),
        "charge_misid": headline_entry(f"charge mis-ID, {name}", charge["misid"],
                                       uncertainty=0.5 * (charge["misid_hi"] - charge["misid_lo"])),
        "pt_resolution": headline_entry(f"visible-pT resolution, {name}", main["kinematics"]["pt_resolution"],
                                        uncertainty=main["kinematics"]["pt_resolution_std"]),
    }


def results_metrics(settings: Any, results: Mapping[str, Any]) -> dict[str, Any]:
    """The page's ``results.json`` metrics, from its :class:`hepnb.tau.pipeline.Settings` and its sections'
    results: ``headline`` (:class:`hepnb.tau.pipeline.Headline`), ``samples``, ``tau_models``, ``training``
    (:func:`hepnb.tau.report.training_frame`), ``curves``, ``paired``, ``evolution``, ``sizes`` and
    ``label`` (:class:`hepnb.tau.side_studies.SideStudy`)."""
    headline = results["headline"]
    samples = results["samples"]
    return {
        "headline": headline_entries(headline),
        "headline_numbers": headline_numbers(headline),
        "selection": {"surgery": headline.best, "validation": headline.validation,
                      "kin_weight": headline.kin_weight.weight, "kin_weight_grid": headline.kin_weight.rows,
                      "kin_weight_reco_jet": headline.kin_weight.reco_jet},
        "multi": {s: {t: _without_roc(m) for t, m in r.metrics.items()} for s, r in headline.multi.items()},
        "multi_seeds": {s: r.seeds for s, r in headline.multi.items()},
        "single": {k: {t: _without_roc(m) for t, m in r.metrics.items()} for k, r in headline.single.items()},
        "single_seeds": {k: r.seeds for k, r in headline.single.items()},
        "rocs": {name: res["roc"] for name, res in results["tau_models"].items()},
        "xgboost": _without_roc(headline.xgb), "xgboost_seeds": headline.xgb_seeds, "baselines": headline.base, "paired": results["paired"],
        "training": results["training"].reset_index(names="model").to_dict(orient="records"),
        "learning_curves": results["curves"],
        "convergence": {f"{family} ({name})": [t.fit.convergence[0].as_dict() for t in run.trained]
                        for family, runs in (("MultiParTau", headline.multi), ("SingleParTau", headline.single))
                        for name, run in runs.items()},
        "seed_spreads": seed_spreads(headline),
        "evolution": {n: _without_roc(r) for n, r in results["evolution"].models.items()},
        "scaling": results["evolution"].scaling,
        "model_sizes": study_json(results["sizes"]), "label_efficiency": study_json(results["label"]),
        "physics_checks": samples.checks, "sample_sizes": samples.sizes,
        "config": {"embed_dims": list(settings.embed_dims), "pair_dims": list(settings.pair_dims),
                   "n_heads": settings.n_heads, "n_layers": settings.n_layers, "n_cls_layers": settings.n_cls_layers,
                   "dtype": settings.compute_dtype},
    }
