"""The PID page's data-like section: the bias of the predicted fractions, and the original study's look at data
(:mod:`hepnb.pid.data_look`) as tables and sentences.

Every share is written with its count and its Clopper–Pearson interval (:func:`rate_text`); the one comparison
that ranks — which of ML and Bayes identifies the data-like tracks better, i.e. is right more often where the two
disagree — goes through the verdict gate (:func:`hepnb.book.verdict.verdict`) with the test bootstrap ⊕ the
chosen network's seed spread, and is not ranked at the ci profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from hepnb.book import numbers
from hepnb.book.verdict import Contender, combined_uncertainty, verdict
from hepnb.pid.constants import SPECIES, SPECIES_SYMBOLS
from hepnb.pid.data_look import CONFIDENCE_BINS, CONFIDENCE_CUT, DETECTOR_GROUPS
from hepnb.pid.pipeline import Comparison, DataLike, Settings
from hepnb.pid.selection import RANGE_LABELS

__all__ = [
    "ORIGINAL_KAON_AGREEMENT_PCT",
    "agreement_table",
    "confidence_table",
    "cut_table",
    "data_like_tables",
    "data_look_tables",
    "data_look_text",
    "disagreement_table",
    "fractions_table",
    "page_constants",
    "rate_text",
]

#: The original's ML–Bayes agreement on kaons on real Run 3 tracks (%), its README.
ORIGINAL_KAON_AGREEMENT_PCT = 38.0


def page_constants() -> dict[str, Any]:
    """The constants the data-like and working-point prose names, for the page to glue: the confidence bins and
    cut, the original's kaon agreement, the intervals' confidence level (%) and the fewest tracks a contamination
    bin needs to be drawn."""
    from hepnb.metrics import CONFIDENCE_LEVEL
    from hepnb.pid.working_points import MIN_SELECTED

    return {"confidence_bins": ", ".join(label for label, _, _ in CONFIDENCE_BINS), "confidence_cut": CONFIDENCE_CUT,
            "original_kaon_agreement": ORIGINAL_KAON_AGREEMENT_PCT, "interval_pct": 100 * CONFIDENCE_LEVEL,
            "min_selected": MIN_SELECTED}


def rate_text(rate: Mapping[str, float], *, counts: bool = True) -> str:
    """A :func:`hepnb.pid.data_look.count_rate` as a cell: ``pct % (lo–hi)``, with ``k/n`` after it; "–" for
    ``n == 0``."""
    if not rate["n"]:
        return "–"
    text = f"{rate['pct']:.1f} % ({rate['lo_pct']:.1f}–{rate['hi_pct']:.1f})"
    if counts:
        text += f", {numbers.format_count(rate['k'])}/{numbers.format_count(rate['n'])}"
    return text


def _share(rate: Mapping[str, float]) -> str:
    """``k of n (pct %, lo–hi)`` for a sentence."""
    if not rate["n"]:
        return "none of 0"
    return (f"{numbers.format_count(rate['k'])} of {numbers.format_count(rate['n'])} ({rate['pct']:.1f} %, "
            f"{rate['lo_pct']:.1f}–{rate['hi_pct']:.1f})")


def data_like_tables(result: DataLike) -> list[Any]:
    """The bias of the predicted fractions (points ± interval) per range, model and species, and the true
    fractions; a sentence instead when the data-like input has no labels."""
    bias = result.bias
    if not len(bias):
        return [_markdown("The data-like input has no labels: the bias of the fractions cannot be measured.")]
    text = bias.assign(text=bias.apply(lambda row: numbers.format_with_uncertainty(row["bias_value"],
                                                                                   row["bias_std"]), axis=1))
    truth = bias[bias["model"] == "xgboost"].pivot(index="range", columns="species", values="true_pct")[list(SPECIES)]
    return [text.pivot(index=["range", "model"], columns="species", values="text")[list(SPECIES)],
            truth.style.format("{:.2f}").set_caption("true fractions of the data-like sample (%)")]


def fractions_table(look: Mapping[str, Any]) -> pd.DataFrame:
    """Predicted species fractions of each model and the true ones (%, Clopper–Pearson interval, counts)."""
    rows = {m: {SPECIES_SYMBOLS[s]: rate_text(r) for s, r in f.items()} for m, f in look["fractions"].items()}
    if "true_fractions" in look:
        rows["true"] = {SPECIES_SYMBOLS[s]: rate_text(r) for s, r in look["true_fractions"].items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def confidence_table(look: Mapping[str, Any]) -> pd.DataFrame:
    """Per model: the share of all, TPC+TOF and TPC-only tracks in each confidence bin (%, interval, count), and
    of each bin's tracks the share with TOF (the bin "mostly" TPC+TOF or TPC-only) and the share identified
    right."""
    rows = {}
    for model, bins in look["confidence"].items():
        for group in DETECTOR_GROUPS:
            n = numbers.format_count(bins[0][group]["n"])
            label = f"of all {n} tracks" if group == "all" else f"of the {n} {group} tracks"
            rows[(model, label)] = {b["bin"]: f"{rate_text(b[group], counts=False)}, {numbers.format_count(b[group]['k'])}"
                                    for b in bins}
        rows[(model, "of the bin: with TOF")] = {
            b["bin"]: rate_text(b["with_tof"], counts=False) + (f", mostly {b['mostly']}" if b["mostly"] else "")
            for b in bins}
        if "accuracy" in bins[0]:
            rows[(model, "of the bin: right")] = {b["bin"]: rate_text(b["accuracy"], counts=False) for b in bins}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["model", "share"])
    return table[[label for label, _, _ in CONFIDENCE_BINS]]


def agreement_table(look: Mapping[str, Any]) -> pd.DataFrame:
    """ML–Bayes agreement per pair: on all tracks, and per species of the tracks ML calls that species."""
    return pd.DataFrame.from_dict(
        {pair.replace("/", " vs "): {"all tracks": rate_text(a["all"]),
                                     **{f"ML calls {SPECIES_SYMBOLS[s]}": rate_text(a["of_ml"][s]) for s in SPECIES}}
         for pair, a in look["agreement"].items()}, orient="index")


def cut_table(look: Mapping[str, Any]) -> pd.DataFrame:
    """Per model: efficiency and purity of the argmax call per species and overall, without and with the
    confidence cut, and the share of tracks the cut keeps."""
    rows = {}
    for model, cut in look["cut"].items():
        for what in ("efficiency", "purity"):
            for tag, label in (("no_cut", "no cut"), ("cut", f"confidence > {cut['threshold']:.2f}")):
                rows[(model, what, label)] = {("all" if s == "all" else SPECIES_SYMBOLS[s]): rate_text(v[what], counts=False)
                                              for s, v in cut[tag].items()}
        rows[(model, "kept by the cut", "")] = {"all": rate_text(cut["kept"])}
    table = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["model", "", "selection"])
    return table


def disagreement_table(look: Mapping[str, Any]) -> pd.DataFrame:
    """Per ML–Bayes pair and true species: the tracks they disagree on and the share each (or neither) gets
    right."""
    rows = {}
    for pair, d in look["disagreement"].items():
        for group in ("all", *SPECIES):
            g = d[group]
            rows[(pair.replace("/", " vs "), "all" if group == "all" else f"true {SPECIES_SYMBOLS[group]}")] = {
                "disagree": numbers.format_count(g["n_disagree"]), "ML right": rate_text(g["ml_right"]),
                "Bayes right": rate_text(g["bayes_right"]), "neither right": rate_text(g["neither_right"])}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["pair", "tracks"])
    return table


def data_look_tables(settings: Settings, result: DataLike) -> list[Any]:
    """The focus range's look-at-data tables (:func:`fractions_table`, :func:`confidence_table`,
    :func:`agreement_table`, :func:`cut_table`, :func:`disagreement_table`), captioned."""
    look = result.look.get(settings.focus)
    if not look:
        return [_markdown(f"The data-like input has no tracks in {RANGE_LABELS[settings.focus]}.")]
    where = RANGE_LABELS[settings.focus]
    tables = [(fractions_table(look), f"predicted species fractions on the data-like sample, {where}"),
              (confidence_table(look), f"confidence (largest probability) per bin, {where}"),
              (agreement_table(look), f"ML–Bayes agreement, {where}")]
    if "cut" in look:
        tables += [(cut_table(look), f"efficiency and purity with and without the confidence cut, {where}"),
                   (disagreement_table(look), f"where ML and Bayes disagree: who is right, {where}")]
    return [table.style.set_caption(caption) for table, caption in tables]


def _ml_contender(settings: Settings, comparison: Comparison, range_name: str, model: str
                  ) -> tuple[Contender, float]:
    """The ML side of a comparison and its seed spread (fraction): the model (XGBoost or a network) with its
    convergence over its seeds and its spread over them (:func:`hepnb.pid.training.seed_runs`); without seed
    runs, the grid's training's convergence and no spread."""
    seeds = comparison.seeds.get(range_name, {}).get(model)
    name = "XGBoost" if model == "xgboost" else model
    if seeds:
        return Contender(name, bool(seeds["all_converged"])), float(seeds["std"])
    if model == "xgboost":
        return Contender(name), 0.0
    timing = comparison.grid.cells[(range_name, settings.main_protocol)]["timing"][model]
    return Contender(name, bool(timing.get("converged"))), 0.0


def data_look_text(settings: Settings, comparison: Comparison, result: DataLike, *, may_rank: bool = True) -> str:
    """The focus range's look at data in words: the kaon agreement against the original's 38 %, what the
    confidence cut keeps, and per ML–Bayes pair who is right where they disagree, through the verdict gate
    (``may_rank=False`` at the ci profile: a difference the gate would rank is given as a number only)."""
    focus = settings.focus
    look = result.look.get(focus)
    if not look:
        return ""
    lines = [f"- Of the tracks {pair.split('/')[0]} calls kaons, {pair.split('/')[1]} calls "
             f"{_share(a['of_ml']['ka'])} kaons too (the original: {ORIGINAL_KAON_AGREEMENT_PCT:g} % on real "
             "tracks)." for pair, a in look["agreement"].items()]
    for model, cut in look.get("cut", {}).items():
        lines.append(f"- The cut confidence > {CONFIDENCE_CUT:.2f} keeps {_share(cut['kept'])} of the tracks for "
                     f"{model}; the purity of its calls is {rate_text(cut['cut']['all']['purity'], counts=False)} "
                     f"with the cut and {rate_text(cut['no_cut']['all']['purity'], counts=False)} without it.")
    for pair, d in look.get("disagreement", {}).items():
        contender, seed_std = _ml_contender(settings, comparison, focus, pair.split("/")[0])
        ml, bayes = contender.name, pair.split("/")[1]
        diff = d["difference"]
        said = verdict("accuracy on the data-like sample", contender, Contender(bayes), 100 * diff["value"],
                       combined_uncertainty(100 * diff["std"], 100 * seed_std), lower_is_better=False, unit="points")
        sentence = said.sentence
        if said.ranked and not may_rank:
            sentence = (f"{ml} − {bayes}: {numbers.format_with_uncertainty(100 * diff['value'], 100 * diff['std'])}"
                        f" points of accuracy ({said.significance:.1f}σ; not ranked at the ci profile)")
        g = d["all"]
        lines.append(f"- {ml} and {bayes} disagree on {numbers.format_count(g['n_disagree'])} tracks: {ml} is right "
                     f"on {_share(g['ml_right'])}, {bayes} on {_share(g['bayes_right'])}; {sentence}.")
    return "\n".join(lines)


def _markdown(text: str) -> Any:
    from IPython.display import Markdown

    return Markdown(text)
