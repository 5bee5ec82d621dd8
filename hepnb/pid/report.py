"""The PID page's tables and generated sentences, from what :mod:`hepnb.pid.pipeline` returns.

Every value ± uncertainty is written by :func:`hepnb.book.numbers.format_with_uncertainty`; every comparison in
words through the verdict gate (:func:`hepnb.book.verdict.verdict`: a network that has not converged is not
ranked), so a conclusion changes when the numbers do.
:func:`results_metrics` gathers what ``results.json`` stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hepnb.book import numbers, prose
from hepnb.book.verdict import Contender, combined_uncertainty, mean_over_seeds, seed_spread_of_difference, verdict
from hepnb.pid.baselines import BASELINES
from hepnb.pid.constants import (
    O2_TOF_P_MIN_GEV,
    ORIGINAL_MC_FRACTIONS_AFTER_CUTS,
    SPECIES,
    SPECIES_SYMBOLS,
    TOF_MISMATCH_FRACTION,
    TOF_TAIL_SLOPE_SIGMA,
)
from hepnb.pid.original import ORIGINAL_DEVIATIONS, ORIGINAL_REPORTED
from hepnb.pid.pipeline import Comparison, Deployment, Detail, Sample, Settings, WorkingPoints
from hepnb.pid.selection import RANGE_LABELS
from hepnb.pid.training import TREES, Grid
from hepnb.pid.tuning import trials

__all__ = [
    "GAP_AIM_POINTS",
    "bayes_variant_text",
    "conclusions",
    "core_numbers",
    "deployment_numbers",
    "emulation_table",
    "fix_table",
    "gap_table",
    "glue_all",
    "headline_entries",
    "headline_table",
    "method_tables",
    "original_reported_sentence",
    "per_class_table",
    "rates_table",
    "results_metrics",
    "sample_sentence",
    "seed_table",
    "species_mix",
    "species_mix_table",
    "systematics_tables",
    "timing_table",
    "tuning_table",
    "with_uncertainty",
    "worst_variation",
]

#: The aim for the XGBoost − chosen network gap (points): the conclusions say whether each range meets it.
GAP_AIM_POINTS = 0.5


def glue_all(values: Mapping[str, Any]) -> None:
    """Glue every ``name: value`` for the page's markdown (:func:`hepnb.book.prose.glue`, not displayed)."""
    for name, value in values.items():
        prose.glue(name, value, display=False)


def with_uncertainty(frame: pd.DataFrame, key: str) -> pd.Series:
    """``key_value ± key_std`` of every row, as text (:func:`hepnb.book.numbers.format_with_uncertainty`)."""
    return frame.apply(lambda row: numbers.format_with_uncertainty(row[f"{key}_value"], row[f"{key}_std"]), axis=1)


# Data


def sample_sentence(settings: Settings, sample: Sample, profile: str) -> str:
    """The page's opening line: its profile and the sample sizes (read, selected, labelled per range)."""
    return prose.sample_sentence(profile, {
        "tracks generated" if settings.simulated else "tracks read": sample.n_read,
        f"after the {settings.selection} selection": len(sample.tracks["pt"]),
        **{f"labelled in {RANGE_LABELS[r]}": int(m.sum()) for r, m in sample.in_range.items()}},
        note="Each range's tracks are split into training, validation and one common test set.")


def species_mix(settings: Settings, sample: Sample) -> pd.DataFrame:
    """Species fractions (%) after cuts per range, of this sample and of the original's MC, and the fraction of
    this sample's tracks with TOF (columns ``(range, "here" | "original MC")``)."""
    mix = pd.DataFrame({(r, source): {s: 100 * (np.mean(sample.labels[sample.in_range[r]] == i) if source == "here"
                                                else ORIGINAL_MC_FRACTIONS_AFTER_CUTS[r][s])
                                      for i, s in enumerate(SPECIES)}
                        for r in settings.ranges for source in ("here", "original MC")})
    mix.loc["with TOF"] = [100 * np.mean(sample.tracks["has_tof"][sample.in_range[r]]) if source == "here" else np.nan
                           for r, source in mix.columns]
    return mix


def species_mix_table(mix: pd.DataFrame) -> Any:
    """:func:`species_mix` as the page shows it."""
    return mix.style.format("{:.2f}", na_rep="").set_caption(
        "species fractions (%) after cuts, this sample and the original's MC")


def core_numbers(cores: pd.DataFrame, n_per_bin: int) -> dict[str, float]:
    """The glued numbers of the nσ-core check: the largest |median| and |width − 1|, and the tracks per bin."""
    return {"core_worst_median": float(cores["median"].abs().max()),
            "core_worst_width": float((cores["width"] - 1).abs().max()), "core_n_per_bin": n_per_bin}


def method_tables(settings: Settings) -> list[Any]:
    """The method's tables: the networks' settings per range, the protocols and what each adds, and where the
    ``original`` protocol here deviates from the original study."""
    from hepnb.pid.models import network_settings
    from hepnb.pid.protocols import PROTOCOLS

    networks = pd.DataFrame([{"network": n, "range": r, **vars(network_settings(n, r))}
                             for n in settings.networks for r in settings.ranges])
    protocols = pd.DataFrame([{"protocol": p.name, "adds": p.fix or "(the original)",
                               "validation split": p.validation_split, "tokenised missing values": p.tokenise_missing,
                               "class weights": p.class_weights,
                               "settings per family": settings.n_settings if p.tuned else 1}
                              for p in PROTOCOLS.values() if p.name in settings.protocols])
    return [networks.set_index(["network", "range"]).style.set_caption("network settings (the original's, per range)"),
            protocols.set_index("protocol"),
            pd.DataFrame([{"family": f, "setting": i + 1, "tried": t.label} for f in (*settings.networks, *TREES)
                          for i, t in enumerate(trials(f, settings.n_settings))]).set_index(["family", "setting"])
            .style.set_caption("the settings each family tries under a tuned protocol (the first is the original's)"),
            pd.DataFrame(ORIGINAL_DEVIATIONS).set_index("item").style.set_caption(
                "where the original protocol here deviates from the original study")]


# Results


def headline_table(settings: Settings, accuracy: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) ± its interval of every model (rows) per range and shown protocol (columns); the network
    each protocol chooses is marked ✓; the baselines, the same under every protocol, are repeated."""
    shown_protocols = settings.shown_protocols
    shown = accuracy[accuracy["protocol"].isin(["", *shown_protocols])].copy()
    shown["text"] = [numbers.format_with_uncertainty(100 * value, 100 * std) + (" ✓" if chosen else "")
                     for value, std, chosen in zip(shown["value"], shown["std"], shown["chosen"], strict=True)]
    models = shown[shown["kind"] != "baseline"].pivot(index="model", columns=["range", "protocol"], values="text")
    baselines = pd.concat([shown[shown["kind"] == "baseline"].assign(protocol=p) for p in shown_protocols])
    table = pd.concat([models, baselines.pivot(index="model", columns=["range", "protocol"], values="text")])
    table = table.reindex(columns=pd.MultiIndex.from_product([settings.ranges, shown_protocols]))
    return table.reindex([*settings.networks, *TREES, *BASELINES])


def rates_table(settings: Settings, accuracy: pd.DataFrame) -> pd.DataFrame:
    """Beside the headline: per range, every model of the main protocol and every baseline with its test accuracy,
    balanced accuracy, and per species efficiency and purity (%, ± their intervals; the chosen network ✓)."""
    shown = accuracy[accuracy["protocol"].isin(["", settings.main_protocol])]
    metrics = {"accuracy": "", "balanced accuracy": "balanced_",
               **{f"eff. {SPECIES_SYMBOLS[s]}": f"efficiency_{s}_" for s in SPECIES},
               **{f"pur. {SPECIES_SYMBOLS[s]}": f"purity_{s}_" for s in SPECIES}}
    rows = {}
    for _, row in shown.iterrows():
        cells = {(row["range"], label): numbers.format_with_uncertainty(100 * row[f"{key}value"],
                                                                         100 * row[f"{key}std"])
                 for label, key in metrics.items()}
        rows.setdefault(row["model"] + (" ✓" if row["chosen"] else ""), {}).update(cells)
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.reindex(columns=pd.MultiIndex.from_product([settings.ranges, list(metrics)]))


#: The seed table's columns: (label, the accuracy table's column prefix, the seed summary's key, species).
_SEED_COLUMNS = (("accuracy", "", "accuracy", None), ("balanced accuracy", "balanced_", "balanced", None),
                 ("eff. e", "efficiency_el_", "efficiency", "el"), ("eff. K", "efficiency_ka_", "efficiency", "ka"))


def seed_table(settings: Settings, comparison: Comparison) -> pd.DataFrame:
    """Per range, every family of the main protocol (its chosen setting) over its training seeds, and every
    baseline: test accuracy, balanced accuracy and electron and kaon efficiency (%), each the mean over seeds
    ± the seed spread (standard deviation) ⊕ the first seed's test bootstrap, as one trained model's uncertainty;
    ``converged`` counts the seeds that met the Book's rule. A baseline is fitted in closed form: one value, its
    test bootstrap only."""
    acc = comparison.accuracy
    rows: dict[str, dict[tuple[str, str], str]] = {}
    for range_name in settings.ranges:
        shown = acc[(acc["range"] == range_name) & acc["protocol"].isin(["", settings.main_protocol])]
        for _, row in shown.iterrows():
            runs = comparison.seeds.get(range_name, {}).get(row["model"])
            cells = {}
            for label, prefix, key, species in _SEED_COLUMNS:
                test_std = float(row[f"{prefix}std"])
                value, std = (mean_over_seeds(runs[key][species] if species else runs[key], test_std) if runs
                              else (float(row[f"{prefix}value"]), test_std))
                cells[(range_name, label)] = numbers.format_with_uncertainty(100 * value, 100 * std)
            cells[(range_name, "converged")] = (f"{sum(runs['converged'])}/{len(runs['converged'])}" if runs
                                                else "closed form")
            rows.setdefault(row["model"], {}).update(cells)
    labels = [label for label, *_ in _SEED_COLUMNS] + ["converged"]
    table = pd.DataFrame.from_dict(rows, orient="index")
    table = table.reindex(columns=pd.MultiIndex.from_product([settings.ranges, labels]))
    return table.reindex([m for m in (*settings.networks, *TREES, *BASELINES) if m in table.index])


def tuning_table(grid: Grid) -> pd.DataFrame:
    """Per tuned (range, protocol) and family: the settings tried, each one's validation accuracy (%), and the one
    kept (the best on validation)."""
    rows = [{"range": r, "protocol": p, "family": m, "settings tried": len(t["settings"]),
             "chosen setting": t["settings"][t["chosen"]],
             "validation accuracy of each (%)": ", ".join(f"{100 * a:.2f}" for a in t["val_accuracy"])}
            for (r, p), cell in grid.cells.items() for m, t in cell.get("tuning", {}).items()
            if len(t["settings"]) > 1]
    return pd.DataFrame(rows).set_index(["range", "protocol", "family"]) if rows else pd.DataFrame()


def original_reported_sentence(ranges: Sequence[str]) -> str:
    """What the original study reported for the ``ranges`` it had, said to be its own numbers."""
    return ("The original study reported, on its own MC: " + "; ".join(
        f"{RANGE_LABELS[r]}: " + ", ".join(f"{m} {v:.1f} %" for m, v in ORIGINAL_REPORTED[r].items())
        for r in ranges if r in ORIGINAL_REPORTED)
        + ". Those numbers come from other data and a test-set-chosen protocol; they are shown as the original's only.")


def bayes_variant_text(rows: Sequence[Mapping[str, Any]], *, may_rank: bool = True) -> str:
    """What ALICE's TOF tail and mismatch terms change in the ALICE Bayes, per range, through the verdict gate.

    Parameters
    ----------
    rows
        :func:`hepnb.pid.bayes_compare.bayes_variant_rows`: per range both accuracies, the paired difference
        with − without the terms (points) and the test tracks the two disagree on.
    may_rank
        ``False`` at the ci profile, whose samples are too small for the page to rank anything: a difference the
        gate would rank is then given as a number only.
    """
    if not rows:
        return "The two ALICE Bayes variants were not both evaluated, so they are not compared here."
    lines = []
    for row in rows:
        said = verdict("test accuracy", Contender("the ALICE Bayes with the TOF tail and mismatch terms"),
                       Contender("the pure-Gaussian one"), row["diff_value"], row["diff_std"],
                       lower_is_better=False, unit="points")
        sentence = said.sentence
        if said.ranked and not may_rank:
            sentence = (f"with − without the terms: {numbers.format_with_uncertainty(row['diff_value'], row['diff_std'])}"
                        f" points of test accuracy ({said.significance:.1f}σ; not ranked at the ci profile)")
        lines.append(f"- **{RANGE_LABELS.get(row['range'], row['range'])}**: {sentence}; the two disagree on "
                     f"{numbers.format_count(row['n_disagree'])} of {numbers.format_count(row['n_test'])} test "
                     f"tracks, of which the variant with the terms identifies {row['disagree_right_mismatch']} "
                     f"right and the pure-Gaussian one {row['disagree_right_gaussian']}"
                     + (f"; of the {row['n_mismatched_test']} test tracks that carry another track's TOF hit, the "
                        f"pure-Gaussian one misidentifies {row['mismatched_wrong_gaussian']} and the one with the "
                        f"terms {row['mismatched_wrong_mismatch']}" if "n_mismatched_test" in row else "") + ".")
    return ("The two ALICE Bayes rows differ only in the TOF likelihood: `alice_bayes_mismatch` continues the "
            f"Gaussian core by ALICE's exponential tail beyond {TOF_TAIL_SLOPE_SIGMA:g}σ and adds a "
            f"{100 * TOF_MISMATCH_FRACTION:g} % mismatch probability whose time density is the sample's own "
            "distribution of 1/β, so a TOF time that no hypothesis explains leaves the decision to the TPC instead "
            "of picking the least distant hypothesis. On the same test tracks:\n\n"
            + "\n".join(lines))


def gap_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """Per range and protocol: the chosen network, its accuracy, XGBoost's and the gap, and the gap in balanced
    accuracy, each ± its paired interval."""
    return pd.DataFrame({"range": gaps["range"], "protocol": gaps["protocol"], "chosen network": gaps["best_network"],
                         "network (%)": with_uncertainty(gaps, "network"),
                         "XGBoost (%)": with_uncertainty(gaps, "xgboost"),
                         "gap (points)": with_uncertainty(gaps, "gap"),
                         "balanced-accuracy gap (points)": with_uncertainty(gaps, "balanced_gap")}
                        ).set_index(["range", "protocol"])


def fix_table(fixes: pd.DataFrame) -> pd.DataFrame:
    """Per range and fix: the gap it closes, and how it moves the chosen network and XGBoost (points)."""
    if not len(fixes):
        return pd.DataFrame()
    return pd.DataFrame({"range": fixes["range"], "fix": fixes["fix"],
                         "gap closed (points)": with_uncertainty(fixes, "closed"),
                         "chosen network Δ (points)": with_uncertainty(fixes, "network_change"),
                         "XGBoost Δ (points)": with_uncertainty(fixes, "xgboost_change")}).set_index(["range", "fix"])


def per_class_table(settings: Settings, detail: Detail) -> Any:
    """Precision, recall, F1 and support per species of the chosen network and XGBoost (focus range)."""
    focus = detail.per_model[f"{settings.focus}/{settings.main_protocol}"]
    return (pd.DataFrame({f"{m} {s}": focus[m]["per_class"][s] for m in (detail.best_network, "xgboost")
                          for s in SPECIES}).T.style.format(numbers.table_cell))


def systematics_tables(settings: Settings, syst: pd.DataFrame, shown: Sequence[str]) -> list[Any]:
    """The accuracy shift (points) of every model per variation in the focus range, and the per-species
    efficiency shifts of the ``shown`` models; a sentence instead for a user's input (nothing to vary)."""
    if not len(syst):
        return [_markdown("The systematic variations need the simulation: a user's input has no response "
                               "to vary.")]
    focus = settings.focus
    text = syst.assign(shift=with_uncertainty(syst, "shift"))
    shifts = syst[syst["model"].isin(list(shown)) & (syst["range"] == focus)].copy()
    for s in SPECIES:
        shifts[f"Δeff {s}"] = 100 * (shifts[f"eff_varied_{s}"] - shifts[f"eff_nominal_{s}"])
    return [text.pivot(index=["range", "model"], columns="variation", values="shift")
            .reindex(columns=list(settings.variations)).loc[focus],
            shifts.set_index(["model", "variation"])[[f"Δeff {s}" for s in SPECIES]].style.format("{:+.1f}")
            .set_caption(f"per-species efficiency shift (points), {RANGE_LABELS[focus]}")]


def worst_variation(syst: pd.DataFrame, network: str, range_name: str) -> pd.Series | None:
    """The row of the variation that moves ``network``'s accuracy in ``range_name`` most (``None``: no rows)."""
    if not len(syst):
        return None
    rows = syst[(syst["model"] == network) & (syst["range"] == range_name)]
    return rows.loc[rows["shift_value"].abs().idxmax()]


def _markdown(text: str) -> Any:
    from IPython.display import Markdown

    return Markdown(text)


def deployment_numbers(deployment: Deployment) -> dict[str, Any]:
    """The glued numbers of the deployment paragraph."""
    cost = deployment.blanking_cost
    return {"deployed_network": deployment.network,
            "blanking_cost": numbers.format_with_uncertainty(100 * cost["value"], 100 * _blanking_std(deployment)),
            "blanking_uncertainty": _blanking_uncertainty_words(deployment),
            "tof_p_min": O2_TOF_P_MIN_GEV, "emulation_max_diff": max(deployment.emulation.values()),
            "emulation_tracks": deployment.n_emulated, "n_o2_files": len(deployment.emulation),
            "flagged_fraction": deployment.out_of_domain_pct}


def _blanking_std(deployment: Deployment) -> float:
    """The blanking cost's uncertainty (fraction): the paired test bootstrap ⊕ the training spread."""
    return combined_uncertainty(deployment.blanking_cost["std"], deployment.blanking_seed_std)


def _blanking_uncertainty_words(deployment: Deployment) -> str:
    if deployment.blanking_seed_std > 0:
        return (f"paired test bootstrap ⊕ the training spread of two trainings, "
                f"{100 * deployment.blanking_seed_std:.2f} points")
    return "paired test bootstrap only: one training seed"


def emulation_table(deployment: Deployment) -> pd.DataFrame:
    """Per O2 model file: the largest |O2 reader − in-memory| probability."""
    return pd.Series(deployment.emulation, name="max |O2 reader − in-memory|").to_frame()


def timing_table(grid: Grid) -> Any:
    """Training and inference times of every model of every cell, and whether each network converged (without
    the validation curve and the numbers of the convergence record)."""
    return numbers.page_table(pd.DataFrame({f"{m} ({r}/{p})": {k: v for k, v in c["timing"][m].items()
                                                               if k not in ("val_err_history", "convergence")}
                                            for (r, p), c in grid.cells.items() for m in c["timing"]}).T)


# Conclusions


def _seed_spread(a: Sequence[float] | None, b: Sequence[float] | None) -> float:
    """The seed spread (fraction) of one trained model of ``a`` − one of ``b`` (unpaired: their seeds share no
    initial draw), each side from its seeds' values; a side with one value or none adds nothing."""
    return seed_spread_of_difference(list(a or [0.0]), list(b or [0.0]), of_mean=False)


def _range_conclusion(settings: Settings, comparison: Comparison, per_model: Mapping[str, Any], range_name: str
                      ) -> str:
    protocol = settings.main_protocol
    gaps = comparison.gaps
    gap = gaps[(gaps["range"] == range_name) & (gaps["protocol"] == protocol)].iloc[0]
    network = gap["best_network"]
    within = abs(gap["gap_value"]) <= GAP_AIM_POINTS
    errors = comparison.grid.cells[(range_name, protocol)]["timing"][network]["val_err_history"]
    tail = min(3, len(errors) - 1)
    rising = 100 * (errors[-1 - tail] - min(errors[-tail:])) if tail > 0 else 0.0
    learning = (f" ({network} was still learning: its validation accuracy rose by {rising:.2f} points over "
                f"its last {tail} evaluation{'s' if tail > 1 else ''} of {len(errors)})"
                if not within and rising > 0.05 else "")
    if not within:  # where the gap comes from: correct identifications per true species, on the same test tracks
        conf = {m: np.asarray(per_model[f"{range_name}/{protocol}"][m]["confusion"]) for m in ("xgboost", network)}
        by_species = 100 * (np.diag(conf["xgboost"]) - np.diag(conf[network])) / conf["xgboost"].sum()
        learning += (f"; per true species, the correct identifications of XGBoost minus those of {network} make up "
                     + ", ".join(f"{SPECIES_SYMBOLS[s]} {v:+.2f}".replace("-", "−")
                                 for s, v in zip(SPECIES, by_species, strict=True)) + " points")
    seeds = comparison.seeds.get(range_name, {})
    net_seeds, xgb_seeds = seeds.get(network, {}), seeds.get("xgboost", {})
    n_seeds = len(net_seeds.get("accuracy", [])) or 1
    converged = (net_seeds["all_converged"] if net_seeds else
                 bool(comparison.grid.cells[(range_name, protocol)]["timing"][network].get("converged")))
    chosen = Contender(f"the chosen network ({network})", converged)
    # one trained model of each side is compared: each side's seed spread (0 where one seed) enters in quadrature
    gap_seed_std = 100 * _seed_spread(xgb_seeds.get("accuracy"), net_seeds.get("accuracy"))
    against_xgb = verdict("test accuracy", Contender("XGBoost"), chosen, gap["gap_value"],
                          combined_uncertainty(gap["gap_std"], gap_seed_std), lower_is_better=False, unit="points")
    balanced_seed_std = 100 * _seed_spread(xgb_seeds.get("balanced"), net_seeds.get("balanced"))
    balanced_xgb = (verdict("test balanced accuracy", Contender("XGBoost"), chosen, gap["balanced_gap_value"],
                            combined_uncertainty(gap["balanced_gap_std"], balanced_seed_std), lower_is_better=False,
                            unit="points").sentence if "balanced_gap_value" in gap else "")
    net_seed_std = 100 * _seed_spread(net_seeds.get("accuracy"), None)
    versus = comparison.versus_baseline
    row = versus[(versus["range"] == range_name)] if len(versus) else versus
    if len(row):
        row = row.iloc[0]
        against_base = verdict("test accuracy", Contender(network, converged),
                               Contender(f"the most accurate baseline ({row['baseline']})"), row["diff_value"],
                               combined_uncertainty(row["diff_std"], net_seed_std), lower_is_better=False, unit="points")
        base_text = "; " + against_base.sentence
    else:
        base_text = ""
    xgb_std = 100 * _seed_spread(xgb_seeds.get("accuracy"), None)
    spread = (f"test bootstrap ⊕ the spread over {n_seeds} training seeds of {network} ({net_seed_std:.2f} points) "
              f"and of XGBoost ({xgb_std:.2f} points)" if n_seeds > 1 else "test bootstrap only: one training seed")
    return (f"- **{RANGE_LABELS[range_name]}**: {against_xgb.sentence}"
            + (", within" if within else ", not within") + " the half-point aim" + learning
            + (f"; {balanced_xgb}" if balanced_xgb else "") + base_text
            + f" (uncertainties: {spread}).")


def conclusions(settings: Settings, profile: str, comparison: Comparison, detail: Detail,
                worst: pd.Series | None, deployment: Deployment) -> str:
    """The page's conclusions in markdown, every number from the run: per range the gap XGBoost − chosen network
    against the half-point aim (and where it comes from) and the network against the best baseline; how much of
    the original protocol's gap the fixes close; the largest systematic shift; what deploying costs."""
    lines = [_range_conclusion(settings, comparison, detail.per_model, r) for r in settings.ranges]
    gaps, fixes = comparison.gaps, comparison.fixes
    closing = ""
    if "original" in settings.protocols and len(fixes):
        original_gap = gaps[gaps["protocol"] == "original"].set_index("range")["gap_value"]
        total = fixes.groupby("range")["closed_value"].sum()
        closing = "Under the original's protocol the gap was " + "; ".join(
            f"{original_gap[r]:.1f} points in {RANGE_LABELS[r]}, of which the fixes together close {total[r]:+.1f}"
            for r in settings.ranges) + " (the fix table gives each fix with its interval). "
    syst_text = ""
    if worst is not None:
        syst_text = (f"Of the response variations, {worst['variation']} moves the chosen network's accuracy in "
                     f"{RANGE_LABELS[settings.focus]} most, "
                     f"by {numbers.format_with_uncertainty(worst['shift_value'], worst['shift_std'])} points. ")
    network, cost = deployment.network, deployment.blanking_cost
    spread_text = (f"; another training would move it by {100 * deployment.blanking_seed_std:.2f} points (the "
                   "chosen network's seed spread, for two trainings)" if deployment.blanking_seed_std > 0 else "")
    if deployment.n_blanked_test and cost["value"] == 0 and cost["std"] == 0:
        deploy_text = (f"Deploying {network} to O2Physics with TOF blanked below {O2_TOF_P_MIN_GEV} GeV/c changes "
                       f"whether it identifies right for none of the {numbers.format_count(deployment.n_blanked_test)} "
                       f"test tracks whose TOF measurement it blanks: this training's accuracy is unchanged, exactly"
                       f"{spread_text}.")
    elif deployment.n_blanked_test:
        deploy_text = (f"Deploying {network} to O2Physics with TOF blanked below {O2_TOF_P_MIN_GEV} GeV/c changes its "
                       f"accuracy by {numbers.format_with_uncertainty(100 * cost['value'], 100 * _blanking_std(deployment))}"
                       f" points ({_blanking_uncertainty_words(deployment)}).")
    else:
        deploy_text = (f"No test track of {RANGE_LABELS[settings.focus]} has a TOF measurement below "
                       f"{O2_TOF_P_MIN_GEV} GeV/c, so the blanking O2 applies changes nothing for the deployed "
                       f"{network} there.")
    return (f"With these samples ({profile} profile, simulated Pb–Pb-like tracks, {settings.selection} selection) "
            f"and the {settings.main_protocol} protocol:\n\n" + "\n".join(lines) + "\n\n" + closing + syst_text
            + deploy_text + ("" if profile != "ci" else " (At the ci profile these numbers mean nothing: the samples "
                                                        "are tiny.)"))


# results.json


def headline_entries(settings: Settings, gaps: pd.DataFrame) -> dict[str, Any]:
    """The landing page's numbers: per range, the chosen network's test accuracy and the gap XGBoost − it."""
    from hepnb.book.headline import headline_entry

    out = {}
    for r in settings.ranges:
        gap = gaps[(gaps["range"] == r) & (gaps["protocol"] == settings.main_protocol)].iloc[0]
        out[f"network_{r}"] = headline_entry(f"test accuracy of the chosen network ({gap['best_network']}), "
                                             f"{RANGE_LABELS[r]}", gap["network_value"],
                                             uncertainty=gap["network_std"], unit="%")
        out[f"gap_{r}"] = headline_entry(f"XGBoost − chosen network, {RANGE_LABELS[r]}", gap["gap_value"],
                                         uncertainty=gap["gap_std"], unit="points")
    return out


def results_metrics(settings: Settings, sample: Sample, page_results: Mapping[str, Any]) -> dict[str, Any]:
    """The ``metrics`` of ``results.json``.

    Parameters
    ----------
    settings, sample
        The page's settings and sample.
    page_results
        What the sections returned: ``mix`` (:func:`species_mix`), ``cores``, ``comparison``, ``detail``,
        ``working_points``, ``systematics`` (a table), ``data_like``, ``deployment`` and ``bayes_variants``
        (:func:`hepnb.pid.bayes_compare.bayes_variant_rows`).
    """
    from hepnb.pid import evaluate

    comparison: Comparison = page_results["comparison"]
    grid = comparison.grid
    points: WorkingPoints = page_results["working_points"]
    deployment: Deployment = page_results["deployment"]
    syst: pd.DataFrame = page_results["systematics"]
    bias = page_results["data_like"].bias
    return {
        "headline": headline_entries(settings, comparison.gaps),
        "sample": {"n_read": int(sample.n_read), "n_selected": len(sample.tracks["pt"]),
                   "labelled_per_range": {r: int(m.sum()) for r, m in sample.in_range.items()},
                   "test_per_range": {r: len(evaluate.test_labels(grid, r)) for r in settings.ranges}},
        "species_mix_pct": {f"{r}/{src}": v for (r, src), v in page_results["mix"].to_dict().items()},
        "nsigma_cores": page_results["cores"].to_dict(orient="records"),
        "accuracy": comparison.accuracy.to_dict(orient="records"),
        "gaps_points": comparison.gaps.to_dict(orient="records"),
        "fixes_points": comparison.fixes.to_dict(orient="records"),
        "network_vs_baseline_points": comparison.versus_baseline.to_dict(orient="records"),
        "alice_bayes_mismatch_vs_gaussian": list(page_results["bayes_variants"]),
        "seed_spread": comparison.seeds,
        "models": page_results["detail"].per_model,
        "working_points": points.points, "kaon_contamination": points.contamination,
        "threshold_scans": points.scans,
        "systematics": syst.to_dict(orient="records") if len(syst) else [],
        "data_like_fraction_bias": bias.to_dict(orient="records") if len(bias) else [],
        "data_like_look": page_results["data_like"].look,
        "deployment": {"network": deployment.network, "range": deployment.range_name,
                       "tof_p_min_gev": O2_TOF_P_MIN_GEV,
                       "blanking_cost_points": {**{k: 100 * v for k, v in deployment.blanking_cost.items()},
                                                "seed_std": 100 * deployment.blanking_seed_std,
                                                "total_std": 100 * _blanking_std(deployment)},
                       "o2_folder": "o2",
                       "model_folders": {k: f"models/{v.name}" for k, v in deployment.model_dirs.items()},
                       "o2_reader_emulation": {"n_tracks": deployment.n_emulated,
                                               "max_abs_diff": deployment.emulation},
                       "data_like_out_of_domain_pct": deployment.out_of_domain_pct},
        "timing": {f"{r}/{p}": c["timing"] for (r, p), c in grid.cells.items()},
        "tuning": {f"{r}/{p}": c.get("tuning", {}) for (r, p), c in grid.cells.items()},
        "n_settings": settings.n_settings,
        "original_reported_pct": ORIGINAL_REPORTED, "original_deviations": list(ORIGINAL_DEVIATIONS),
    }
