"""The leaderboard's tables and sentences, written from the measured rows (nothing typed by hand).

:func:`judge` applies the study's rule (:mod:`hepnb.tracks.evaluate`) to every model of a leg;
:func:`judgement_markdown`, :func:`ablation_table`, :func:`convergence_markdown` and
:func:`conclusions_markdown` turn the numbers into the page's prose, with the condition stated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hepnb.book.numbers import format_with_uncertainty, page_table, table_cell
from hepnb.book.prose import glue, sample_sentence
from hepnb.book.verdict import Contender, paired_verdict
from hepnb.tracks.baselines import RK_FAMILIES
from hepnb.tracks.evaluate import paired_median_difference
from hepnb.tracks.judgement import LEARNED, best_of, judge, judgement_markdown
from hepnb.tracks.plateau import PlateauSettings

__all__ = [
    "LEADERBOARD_COLUMNS",
    "LEARNED",
    "LINE_ACCEPTANCE_MRAD",
    "ablation_displays",
    "ablation_table",
    "conclusions_markdown",
    "convergence_markdown",
    "convergence_table",
    "displaced_table",
    "glue_baselines",
    "glue_field",
    "glue_original",
    "glue_tracks",
    "headline_entries",
    "jacobian_table",
    "judge",
    "judgement_markdown",
    "leaderboard",
    "leaderboard_displays",
    "onnx_table",
    "polarity_table",
    "precision_table",
    "representatives",
    "results_metrics",
    "sample_markdown",
    "saved_models_markdown",
    "summary",
    "tracks_table",
]

#: The columns of the shown leaderboards.
LEADERBOARD_COLUMNS = ("model", "family", "params", "pos_median_um", "pos_median_err_um", "pos_p95_um",
                       "slope_median_mrad", "cpu_ns_per_track_large", "ns_per_track_b1")
#: The leaderboard's headers as the page shows them, with units.
LEADERBOARD_HEADERS = {"params": "parameters", "pos_median_um": "median error [µm]",
                       "pos_median_err_um": "its error [µm]", "pos_p95_um": "95th pct. error [µm]",
                       "slope_median_mrad": "median slope error [mrad]",
                       "cpu_ns_per_track_large": "CPU cost [ns/track]", "ns_per_track_b1": "batch-1 time [ns/track]"}
#: The acceptance of the straight lines of the field check, mrad (:func:`hepnb.tracks.field.dipole_checks`).
LINE_ACCEPTANCE_MRAD = {"tx_max_mrad": 300.0, "ty_max_mrad": 250.0}


def _glue_all(values: Mapping[str, Any]) -> dict[str, Any]:
    """Glue every value under its name (not displayed) for the page's markdown; return them."""
    for name, value in values.items():
        glue(name, value, display=False)
    return dict(values)


# Data


def sample_markdown(profile: str, sizes: Mapping[str, int], legs: Sequence[str], labels: Mapping[str, str], *,
                    steps: int, rkpinn_steps: int, batch_size: int) -> Any:
    """The page's opening line: profile, sample sizes per leg, legs, training steps and batch (a Markdown)."""
    from IPython.display import Markdown

    return Markdown(sample_sentence(profile, {f"{what} tracks per leg": n for what, n in sizes.items()},
                                    note=f"Legs: {', '.join(labels[leg] for leg in legs)}; learned models trained "
                                         f"to convergence, for at most {steps:,} steps (RK-PINN {rkpinn_steps:,}), batch {batch_size}."))


def glue_field(checks: Mapping[str, Any], grid_mm: float) -> dict[str, Any]:
    """Glue the field section's numbers (:func:`hepnb.tracks.field.dipole_checks` of the map, its grid step)."""
    return _glue_all({"grid_mm": grid_mm, "integral_t_m": abs(checks["integral_on_axis_t_m"]), **LINE_ACCEPTANCE_MRAD,
                      "line_rel_lo_pct": 100 * checks["line_integral_rel"][0],
                      "line_rel_hi_pct": 100 * checks["line_integral_rel"][1],
                      "b_max_t": checks["max_b_acceptance_t"], "peak_t": checks["peak_t"],
                      "z_peak_m": checks["z_peak_mm"] / 1e3, "by_velo_t": abs(checks["by_on_axis_t"]["velo_end"])})


def glue_baselines(poly_degrees: Sequence[int], plateau: PlateauSettings) -> dict[str, Any]:
    """Glue the method's numbers: the lowest and highest polynomial degree, and the plateau rule the learned models
    train with (``plateau``, :attr:`hepnb.tracks.training.ZooConfig.plateau`): its factor, relative threshold in
    per cent, patience in evaluations and floor relative to the peak rate."""
    return _glue_all({"poly_min": min(poly_degrees), "poly_max": max(poly_degrees),
                      "plateau_factor": plateau.factor, "plateau_threshold_pct": 100 * plateau.threshold,
                      "plateau_patience": plateau.patience, "plateau_floor": table_cell(plateau.min_lr_ratio)})


def glue_tracks(convergence: Sequence[Mapping[str, Any]], *, displaced_fraction: float,
                p_range_gev: tuple[float, float]) -> dict[str, Any]:
    """Glue the tracks section's numbers: the displaced fraction, the momentum range and the reference's own error
    (the last row of :func:`hepnb.tracks.evaluate.rk4_convergence`)."""
    return _glue_all({"displaced_pct": 100 * displaced_fraction, "p_min": p_range_gev[0], "p_max": p_range_gev[1],
                      "ref_err_um": convergence[-1]["median_um_float64"]})


def tracks_table(datasets: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]) -> pd.DataFrame:
    """Per leg: its planes, the median bend |Δtx| of the test tracks, the displaced fraction, the simulation time."""
    return pd.DataFrame({labels[leg]: {
        "z₀ → z₁ [mm]": f"{d['setting'].z0_mm:g} → {d['setting'].z1_mm:g}",
        "median |Δtx| (bend) [mrad]": 1e3 * np.median(np.abs(d["test"]["end"][:, 2] - d["test"]["start64"][:, 2])),
        "displaced tracks [%]": 100 * d["test"]["displaced"].mean(),
        "simulation [s]": d["simulate_s"]} for leg, d in datasets.items()}).T


def convergence_table(convergence: Sequence[Mapping[str, Any]]) -> Any:
    """The RK4 convergence rows (:func:`hepnb.tracks.evaluate.rk4_convergence`) as a styled table."""
    frame = pd.DataFrame(convergence).set_index("n_steps")
    return frame.rename(columns=lambda c: c.replace("_um_", " [µm], ").replace("_mm", " [mm]").replace("_", " "))\
        .style.format(table_cell)


# Results


def leaderboard_displays(boards: Mapping[str, Mapping[str, pd.DataFrame]], labels: Mapping[str, str]) -> list[Any]:
    """Per leg, its name and its shown leaderboard (:func:`leaderboard`) in :data:`LEADERBOARD_COLUMNS`."""
    from IPython.display import Markdown

    out: list[Any] = []
    for leg, board in boards.items():
        out.append(Markdown(f"**{labels[leg]}**"))
        out.append(board["shown"][list(LEADERBOARD_COLUMNS)].rename(columns=LEADERBOARD_HEADERS)
                   .style.format(table_cell).hide(axis="index"))
    return out


def ablation_displays(ablation: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]) -> list[Any]:
    """Per leg, its name, its ablation table and its sentences (:func:`ablation_table`)."""
    from IPython.display import Markdown

    out: list[Any] = []
    for leg, table in ablation.items():
        out.append(Markdown(f"**{labels[leg]}**"))
        out.append(page_table(pd.DataFrame(table["rows"])).hide(axis="index"))
        out.append(Markdown(table["summary"]))
    return out


def displaced_table(displaced: Mapping[str, Mapping[str, Any]]) -> Any:
    """Each representative's median and count on prompt and on displaced tracks (one leg) as a styled table."""
    kinds = ("prompt", "displaced")
    return pd.DataFrame({name: {f"{kind} median [µm]": v[kind]["median_um"] for kind in kinds}
                         | {f"{kind} tracks": v[kind]["count"] for kind in kinds}
                         for name, v in displaced.items()}).T.style.format(table_cell)


def precision_table(precision: Mapping[str, Mapping[str, Any]]) -> Any:
    """The reduced-precision rows (:func:`hepnb.tracks.evaluate.precision_study`) as a styled table."""
    return page_table(pd.DataFrame(precision).T[["pos_median_um", "pos_p95_um", "slope_median_mrad", "ns_per_track"]]
                      .rename(columns={"ns_per_track": "time_ns"}))


def onnx_table(onnx_rows: Sequence[Mapping[str, Any]]) -> Any:
    """The ONNX round-trip rows (:func:`hepnb.tracks.export.round_trip`) as a styled table."""
    return page_table(pd.DataFrame(onnx_rows).set_index("model"))


def saved_models_markdown(saved: Mapping[str, Mapping[str, Path]], folder: Path) -> str:
    """One sentence: where the saved models are (relative to the page's results folder) and how to apply them."""
    names = "; ".join(f"{leg}: " + ", ".join(f"`{p.relative_to(folder).as_posix()}`" for p in kinds.values())
                      for leg, kinds in saved.items() if kinds)
    return (f"The best learned extrapolator and the best physics polynomial of each leg (chosen on the validation "
            f"split) are saved next to this page's `results.json`, each folder with a `model.json` ({names}); "
            "`hepnb tracks propagate --model DIR` applies one to a table of states, flagging those outside its "
            "training domain, and `hepnb tracks export --model DIR --onnx FILE` writes it as ONNX.")


def jacobian_table(jacobian: Mapping[str, Mapping[str, Any]]) -> Any:
    """The largest relative differences of each model's Jacobian from finite differences, as a styled table."""
    return pd.DataFrame({k: {"max rel. diff (x, y, tx, ty block)": v["max_rel_diff_4x4"],
                             "max rel. diff (q/p column)": v["max_rel_diff_qop_column"]}
                         for k, v in jacobian.items()}).style.format(table_cell)


def polarity_table(polarity: Mapping[str, Any]) -> Any:
    """Per model checked (:func:`hepnb.tracks.evaluate.polarity_check`): its median and 95th-percentile error on the
    MagDown test tracks and on tracks simulated in MagUp (through the flip of q/p), as a styled table."""
    frame = pd.DataFrame({name: {f"{pol} {what}": v[key][col] for pol, key in (("MagDown", "magdown"),
                                                                              ("MagUp", "magup"))
                                 for what, col in (("median [µm]", "pos_median_um"), ("its error [µm]", "pos_median_err_um"),
                                                   ("95th pct. [µm]", "pos_p95_um"))}
                          for name, v in polarity["models"].items()}).T
    return page_table(frame)


def glue_original(original: Mapping[str, float]) -> dict[str, Any]:
    """Glue the original setting's numbers: the straight line's median miss there and in the correct physics
    (mm) and their ratio."""
    return _glue_all({"original_line_mm": original["original_line_um"] / 1e3,
                      "correct_line_mm": original["correct_line_um"] / 1e3,
                      "original_ratio": original["correct_line_um"] / original["original_line_um"]})


def leaderboard(rows: Sequence[Mapping[str, Any]], top: int = 10) -> dict[str, pd.DataFrame]:
    """All rows ranked by test median error, and the shown table: the ``top`` best, every polynomial degree
    (physics and naive),
    every point of the three Runge–Kutta curves and the best model of each learned family (validation choice),
    ranked."""
    board = pd.DataFrame(rows).sort_values("pos_median_um").reset_index(drop=True)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    best_learned = [best_of(rows, (family,)) for family in LEARNED]
    shown = board[(board["rank"] <= top) | board["family"].isin(["poly", "poly_naive", *RK_FAMILIES])
                  | board["model"].isin(best_learned)]
    return {"all": board, "shown": shown}


def ablation_table(rows: Sequence[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]],
                   errors: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Per stack (family and size): each variant's validation and test medians, the variant kept (validation),
    and a sentence per stack (with a paired test-set difference between the kept variant and the line-base or
    no-residual twin when ``errors`` are given)."""
    by_name = {r["model"]: r for r in rows}
    table, sentences = [], []
    stacks: dict[tuple[str, str], list[str]] = {}
    for name, rec in records.items():
        stacks.setdefault((rec["family"], rec["size"]), []).append(name)
    for (family, size), names in stacks.items():
        kept = min(names, key=lambda n: by_name[n]["val_median_um"])
        for name in names:
            r = by_name[name]
            table.append({"family": family, "size": size, "variant": records[name]["variant"],
                          "val_median_um": r["val_median_um"], "test_median_um": r["pos_median_um"],
                          "test_median_err_um": r["pos_median_err_um"], "kept": name == kept})
        ref_variant = "line" if family == "mlp" else "pde0"
        ref = next((n for n in names if records[n]["variant"] == ref_variant), None)
        text = (f"{family} {size}: the {records[kept]['variant']} variant has the smallest validation median "
                f"({by_name[kept]['val_median_um']:.3g} µm)")
        if ref is not None and ref != kept and errors is not None:
            said = paired_verdict("median position error",
                                  Contender(f"the {records[kept]['variant']} variant", bool(records[kept].get("converged"))),
                                  Contender(f"the {ref_variant} variant", bool(records[ref].get("converged"))),
                                  paired_median_difference(errors[kept], errors[ref]), lower_is_better=True, unit="µm")
            text += "; on the test tracks, " + said.sentence
        sentences.append(text + ".")
    return {"rows": table, "summary": "With these samples: " + " ".join(sentences)}


def convergence_markdown(records_by_leg: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """How much the validation median still moved over the last fifth of the steps, per leg (largest change)."""
    parts = []
    for leg, records in records_by_leg.items():
        changes = {}
        for name, rec in records.items():
            curve = np.asarray(rec["learning_curve"]["val_median_um"], np.float64)
            k = max(1, len(curve) // 5)
            if len(curve) > k:
                changes[name] = float(curve[-1] / curve[-1 - k] - 1.0)
        if changes:
            worst = max(changes, key=lambda n: abs(changes[n]))
            steps = sorted({rec["steps"] for rec in records.values()})
            span = f"{steps[0]:,}" if len(steps) == 1 else f"{steps[0]:,}–{steps[-1]:,}"
            n_conv = sum(bool(rec.get("converged")) for rec in records.values())
            parts.append(f"on {leg}, training stopped after {span} steps; over the last fifth of its evaluations "
                         f"the validation median of every model changed by at most "
                         f"{100 * abs(changes[worst]):.1f} % ({worst}), and {n_conv} of {len(records)} converged")
    return ("With these samples and steps, " + "; ".join(parts) + ".") if parts else ""


def representatives(rows: Sequence[Mapping[str, Any]], *, cost_key: str) -> list[str]:
    """The best learned model and the best polynomial (validation), and the RK4-N closest in cost to the former."""
    best = best_of(rows, LEARNED)
    picks = [p for p in (best, best_of(rows, ("poly",))) if p]
    rk4 = [r for r in rows if r["family"] == "rk4"]
    if best and rk4:
        cost = next(r[cost_key] for r in rows if r["model"] == best)
        picks.append(min(rk4, key=lambda r: abs(np.log(r[cost_key] / cost)))["model"])
    return picks


def headline_entries(judged: Mapping[str, Mapping[str, Any]], legs: Sequence[str],
                     labels: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The front page's numbers (:func:`hepnb.book.headline.headline_entry` records): per leg, the median error of
    the best learned model (validation choice) with its bootstrap error, and how many learned models lie below
    both the Runge–Kutta envelope (all three RK curves) and the polynomial curve at their cost."""
    from hepnb.book.headline import headline_entry

    labels = labels or {}
    out: dict[str, dict[str, Any]] = {}
    for leg in legs:
        j = judged[leg]
        best = j["best_learned"]
        name = labels.get(leg, leg)
        if best:
            m = j["models"][best]
            out[f"best_learned_median_{leg}"] = headline_entry(
                f"median position error, best learned model ({best.replace('_', ' ')}), {name}", m["error_um"],
                uncertainty=m["error_err_um"] if np.isfinite(m["error_err_um"]) else None, unit="µm")
        out[f"beating_both_{leg}"] = headline_entry(
            f"learned models below the Runge–Kutta envelope and the polynomial curve, {name}",
            f"{len(j['beats_both'])} of {len(j['learned'])}")
    return out


def summary(judged: Mapping[str, Mapping[str, Any]], legs: Sequence[str]) -> dict[str, Any]:
    """Per leg: the best learned model, its error and cost, the best polynomial and the counts (results.json)."""
    out = {}
    for leg in legs:
        j = judged[leg]
        best = j["best_learned"]
        m = j["models"].get(best, {}) if best else {}
        out[leg] = {"best_learned": best, "best_learned_median_um": m.get("error_um"),
                    "best_learned_cost_ns": m.get("cost"), "best_poly": j["best_poly"],
                    "n_learned": len(j["learned"]), "n_beating_rk": len(j["beats_rk"]),
                    "n_beating_rk4": len(j["beats_rk4"]),
                    "n_beating_poly": len(j["beats_poly"]), "n_beating_both": len(j["beats_both"])}
    return out


def conclusions_markdown(judged: Mapping[str, Mapping[str, Any]], ablation: Mapping[str, Mapping[str, Any]],
                         records: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str], *, profile: str) -> str:
    """The page's conclusions, written from the judgement of each leg, with the condition stated."""
    out = [f"With the samples and training of the **{profile}** profile on this machine:"]
    for leg, j in judged.items():
        best = j["best_learned"]
        m = j["models"].get(best) if best else None
        if m is None:
            continue
        if m["converged"]:
            place = [("below" if m[f"below_{c}"] else "not significantly below") + f" {label}"
                     for c, label in (("rk", "every Runge–Kutta curve (equal-step, plane-aligned and adaptive)"),
                                      ("poly", "the polynomial curve"))]
            where = f"{' and '.join(place)} at that cost"
        else:
            where = "but has not converged, so it is not placed against the curves"
        text = (f"- {labels[leg]}: the best learned model ({best}) reaches {format_with_uncertainty(m['error_um'], m['error_err_um'], unit='µm')} "
                f"at {m['cost']:.4g} CPU ns per track, {where}; "
                f"{len(j['beats_both'])} of {len(j['learned'])} learned models lie below both the Runge–Kutta envelope and "
                "the polynomial curve (converged, beyond twice their paired uncertainty)")
        if j["beats_both_in_window"]:
            lo, hi = j["window_um"]
            text += f", {len(j['beats_both_in_window'])} of them between {lo:g} and {hi:g} µm"
        out.append(text + ".")
    kept = {}
    for leg, a in ablation.items():
        for row in a["rows"]:
            if row["kept"] and row["family"] == "mlp":
                kept.setdefault(row["variant"], []).append(f"{row['size']} on {labels[leg]}")
    if kept:
        out.append("- The variant kept by the validation split: " + "; ".join(
            f"{variant} ({', '.join(where)})" for variant, where in kept.items()) + ".")
    out.append("- These statements hold for these sample sizes and step counts; the `full` profile trains on "
               "more tracks for more steps, and the cost axis is this machine's CPU.")
    return "\n".join(out)


def results_metrics(legs: Sequence[str], labels: Mapping[str, str], sections: Mapping[str, Any]) -> dict[str, Any]:
    """The ``metrics`` of ``results.json`` from the page's sections.

    Parameters
    ----------
    legs, labels
        The legs run and how each is written.
    sections
        ``checks`` (the field checks), ``samples``, ``zoo``, ``boards``, ``judged``, ``ablation``, ``bands``,
        ``deployment``, ``transport`` and ``original``: what the page's sections returned
        (:mod:`hepnb.tracks.pipeline`).
    """
    records, boards = sections["zoo"].records, sections["boards"].boards
    judged, ablation, bands = sections["judged"], sections["ablation"], sections["bands"]
    transport, deployment = sections["transport"], sections["deployment"]
    drop = ("by_momentum", "displaced_vs_prompt")
    return {
        "field": sections["checks"], "rk4_convergence": sections["samples"].convergence,
        "legs": {leg: {"leaderboard": [{k: v for k, v in r.items() if k not in drop}
                                       for r in boards[leg]["all"].to_dict(orient="records")],
                       "judgement": judged[leg], "ablation": ablation[leg]["rows"],
                       "by_momentum": bands["by_momentum"][leg],
                       "displaced_vs_prompt": bands["displaced_vs_prompt"][leg],
                       "learning_curves": {k: v["learning_curve"] for k, v in records[leg].items()}} for leg in legs},
        "precision": deployment.precision, "onnx": deployment.onnx,
        "jacobian": {k: {"max_rel_diff_4x4": v["max_rel_diff_4x4"], "max_rel_diff_qop_column": v["max_rel_diff_qop_column"],
                         "autodiff": v["autodiff"]} for k, v in transport["jacobian"].items()},
        "polarity": transport["polarity"],
        "original_setting": {"straight_line_median_um": sections["original"]["original_line_um"]},
        "summary": summary(judged, legs), "headline": headline_entries(judged, legs, labels),
    }
