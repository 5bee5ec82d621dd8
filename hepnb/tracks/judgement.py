"""The study's rule on one leg, and its sentences.

**The rule.** A model lies *below RK* at its cost when its median position error lies below all three Runge–Kutta
curves — RK4 with equal steps (led by the single kick), RK4 with steps aligned on the map's planes, and the
adaptive Cash–Karp of LHCb's extrapolator — that is, below their lower envelope at the model's cost
(:mod:`hepnb.tracks.envelope`); *below the polynomial* likewise against the polynomial's curve. Each is a verdict
of :mod:`hepnb.book.verdict`: the model converged (a learned one; a closed-form or integrated one needs no record)
and the paired difference, median − curve on the same test tracks, lies beyond
:data:`~hepnb.book.verdict.SIGNIFICANCE` times its test bootstrap ⊕ the seed spread of training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepnb.book.numbers import format_with_uncertainty
from hepnb.book.verdict import Contender, paired_verdict
from hepnb.tracks.baselines import RK_FAMILIES
from hepnb.tracks.envelope import COST_REL_UNCERTAINTY, ENVELOPE, build_curves, judged_difference, paired_distances
from hepnb.tracks.evaluate import paired_median_difference, pareto_front

__all__ = ["CURVE_LABELS", "LEARNED", "best_of", "judge", "judgement_markdown"]

#: Families of learned models.
LEARNED = ("mlp", "rkpinn")
#: How the page names each curve.
CURVE_LABELS = {"rk4": "equal-step RK4", "rk4_aligned": "plane-aligned RK4", "cash_karp": "adaptive Cash–Karp",
                ENVELOPE: "Runge–Kutta envelope", "poly": "polynomial"}


def _curve_name(key: str) -> str:
    """The curve as a verdict's sentence names it."""
    return f"the {CURVE_LABELS[key]}" + ("" if key == ENVELOPE else " curve")


def best_of(rows: Sequence[Mapping[str, Any]], families: Sequence[str]) -> str | None:
    """The row of these families with the smallest validation median (a choice on the validation split)."""
    sel = [r for r in rows if r["family"] in families]
    return min(sel, key=lambda r: r["val_median_um"])["model"] if sel else None


def _placed(name: str, family: str, ready: bool | None, distances: Mapping[str, Mapping[str, Any]],
            seed_std: float) -> dict[str, dict[str, Any]]:
    """Per curve: its error at the model's cost, the paired difference and uncertainty, and whether the model lies
    below it (a curve of the model's own family, or the envelope for a Runge–Kutta row, never counts).

    The verdict weighs the margin to the end of the curve's range over the cost's uncertainty nearest the median
    (:func:`hepnb.tracks.envelope.judged_difference`); a median inside that range is consistent with the curve.
    """
    out = {}
    for key, d in distances.items():
        own = key == family or (key == ENVELOPE and family in RK_FAMILIES)
        uncertainty = float(np.hypot(d["std"], seed_std))
        entry: dict[str, Any] = {"curve_um": d["curve_um"], "difference_um": d["value"],
                                 "uncertainty_um": uncertainty, "band_um": d["band_um"], "verdict": None}
        if own:
            entry["below"] = False
        elif not np.isfinite(d["curve_um"]):  # the integrator cannot run this cheaply: nothing to beat there
            entry["below"] = ready is not False
        else:
            band = d["band_um"]
            margin = judged_difference(d["curve_um"] + d["value"], band)
            entry["judged_difference_um"] = margin
            if margin is None and ready is not False:
                entry["below"] = False
                entry["verdict"] = (f"{name} and {_curve_name(key)} are consistent on median position error: its median "
                                    f"({d['curve_um'] + d['value']:.3g} µm) lies within the curve's range over the "
                                    f"cost's run-to-run uncertainty ({band[0]:.3g}–{band[1]:.3g} µm)")
            else:
                said = paired_verdict("median position error", Contender(name, ready), Contender(_curve_name(key)),
                                      {"value": d["value"] if margin is None else margin, "std": d["std"]},
                                      lower_is_better=True, unit="µm", seed_std=seed_std)
                entry["below"] = said.ranked and said.better == name
                entry["verdict"] = said.sentence
        out[key] = entry
    return out


def judge(rows: Sequence[Mapping[str, Any]], *, cost_key: str, errors: Mapping[str, np.ndarray] | None = None,
          converged: Mapping[str, bool] | None = None, seeds: Mapping[str, Any] | None = None,
          window_um: tuple[float, float] = (1.0, 100.0), cost_rel_uncertainty: float = COST_REL_UNCERTAINTY
          ) -> dict[str, Any]:
    """The study's rule (module docstring) on every row of one leg.

    ``converged`` names the learned models that converged (a learned model missing there has not); ``seeds``
    (:func:`hepnb.tracks.pipeline.seed_spread`, per learned model) gives each model's spread over training seeds,
    which enters its uncertainty, and whose ``all_converged`` then decides its convergence (a learned model without
    an entry has one seed: its verdicts rest on the test bootstrap alone, and the sentences say so); ``errors`` (per-track test errors by
    model) make the differences paired (without them the curve is taken as exact and the uncertainty is the row's
    own bootstrap error); ``cost_rel_uncertainty`` is the cost's run-to-run uncertainty, over which the curve's
    range decides (:func:`hepnb.tracks.envelope.judged_difference`).

    Returns
    -------
    dict
        ``models`` (per model: ``error_um``, ``error_err_um`` (test ⊕ seed), ``cost``, ``converged``, ``curves``
        (per curve: ``curve_um``, ``difference_um``, ``uncertainty_um``, ``below``, ``verdict``), and for short
        ``rk_envelope_um``/``below_rk``, ``rk4_curve_um``/``below_rk4``, ``poly_curve_um``/``below_poly``),
        ``learned``, ``not_converged``, ``beats_rk`` (below the envelope), ``beats_rk4`` (below the equal-step
        curve), ``beats_poly``, ``beats_both`` (envelope and polynomial), ``beats_both_in_window`` (with a median
        in ``window_um``), ``pareto_front``, ``best_learned``, ``best_poly``, ``seeds`` and, with ``errors``,
        ``paired`` (best learned − best polynomial).

    Raises
    ------
    ValueError
        Without RK4-N rows (family ``rk4``).
    """
    curves = build_curves(rows, cost_key, (*RK_FAMILIES, "poly"))
    if "rk4" not in curves:
        msg = "no RK4-N rows (family 'rk4') among the baselines"
        raise ValueError(msg)
    distances = paired_distances(rows, errors, cost_key=cost_key, curves=curves, envelope_of=RK_FAMILIES,
                                 cost_rel_uncertainty=cost_rel_uncertainty)
    models = {}
    for r in rows:
        name = r["model"]
        error_err = float(r.get("pos_median_err_um", float("nan")))
        ready = bool((converged or {}).get(name, False)) if r["family"] in LEARNED else None
        seed_std = 0.0
        if seeds and name in seeds:
            seed_std, ready = float(seeds[name]["std_um"]), bool(seeds[name]["all_converged"])
        placed = _placed(name, r["family"], ready, distances[name], seed_std)
        m = {"family": r["family"], "error_um": float(r["pos_median_um"]), "cost": float(r[cost_key]),
             "error_err_um": float(np.hypot(error_err, seed_std)), "converged": ready, "curves": placed,
             "n_seeds": len(seeds[name]["median_um"]) if seeds and name in seeds else 1}
        for short, key in (("rk", ENVELOPE), ("rk4", "rk4"), ("poly", "poly")):
            m[f"{short}_curve_um" if short != "rk" else "rk_envelope_um"] = placed.get(key, {}).get("curve_um", float("nan"))
            m[f"below_{short}"] = bool(placed.get(key, {}).get("below", False))
        models[name] = m
    learned = [r["model"] for r in rows if r["family"] in LEARNED]
    lo, hi = window_um
    out: dict[str, Any] = {
        "cost_key": cost_key, "models": models, "learned": learned, "curve_families": list(curves),
        "not_converged": [m for m in learned if not models[m]["converged"]],
        "beats_rk": [m for m in learned if models[m]["below_rk"]],
        "beats_rk4": [m for m in learned if models[m]["below_rk4"]],
        "beats_poly": [m for m in learned if models[m]["below_poly"]],
        "beats_both": [m for m in learned if models[m]["below_rk"] and models[m]["below_poly"]],
        "window_um": [lo, hi], "pareto_front": pareto_front(rows, cost_key),
        "best_learned": best_of(rows, LEARNED), "best_poly": best_of(rows, ("poly",)),
    }
    out["beats_both_in_window"] = [m for m in out["beats_both"] if lo <= models[m]["error_um"] <= hi]
    out["seeds"] = {name: dict(v) for name, v in seeds.items()} if seeds else None
    if errors is not None and out["best_learned"] and out["best_poly"]:
        out["paired"] = paired_median_difference(errors[out["best_learned"]], errors[out["best_poly"]])
    return out


def _curve_clause(key: str, entry: Mapping[str, Any]) -> str:
    """How one curve stands at the model's cost: its error and the paired difference, or that it cannot run so cheaply."""
    if not np.isfinite(entry["curve_um"]):
        return f"{CURVE_LABELS[key]}: does not run that cheaply"
    diff = format_with_uncertainty(entry["difference_um"], entry["uncertainty_um"], unit="µm")
    return f"{CURVE_LABELS[key]} {entry['curve_um']:.3g} µm (median − curve {diff})"


def _spread_words(j: Mapping[str, Any]) -> str:
    """What the paired uncertainties of a leg's learned models hold: the seed spread where every one was retrained."""
    counts = sorted({j["models"][m].get("n_seeds", 1) for m in j["learned"]})
    if counts and counts[0] > 1:
        many = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        return f"test bootstrap ⊕ the spread of each model over {many} training seeds"
    return "test bootstrap ⊕ seed spread where a model was retrained over seeds; the test bootstrap alone where not"


def judgement_markdown(j: Mapping[str, Any], leg_label: str) -> str:
    """Sentences for one leg: how many learned models lie below the Runge–Kutta envelope and the polynomial curve,
    the best one's paired distance to each curve at its cost, its comparison with the best polynomial, the Pareto
    front."""
    n = len(j["learned"])
    models = j["models"]
    n_conv = n - len(j.get("not_converged", []))
    n_rk = len(j["beats_rk"])
    rk_names = ", ".join(CURVE_LABELS[f] for f in RK_FAMILIES if f in j.get("curve_families", RK_FAMILIES))
    lines = [(f"**{leg_label}.** With these samples, {n_conv} of the {n} learned models converged (by the rule stated "
              f"under the learning curves); {n_rk} of these {'lies' if n_rk == 1 else 'lie'} below every Runge–Kutta "
              f"curve ({rk_names}) at {'its' if n_rk == 1 else 'their'} cost, {len(j['beats_poly'])} below the "
              f"polynomial curve, and {len(j['beats_both'])} below both — each by more than twice the paired "
              f"uncertainty ({_spread_words(j)}), from the curve's end least favourable to the model over the "
              "cost's run-to-run uncertainty")]
    if j["beats_both_in_window"]:
        lo, hi = j["window_um"]
        lines[-1] += (f"; {len(j['beats_both_in_window'])} of these between {lo:g} and {hi:g} µm "
                      f"({', '.join(j['beats_both_in_window'])})")
    lines[-1] += "."
    best = j["best_learned"]
    if best:
        m = models[best]
        clauses = "; ".join(_curve_clause(k, e) for k, e in m["curves"].items() if k != ENVELOPE)
        lines.append(f"The learned model chosen on the validation split, {best}, has a test median of "
                     f"{format_with_uncertainty(m['error_um'], m['error_err_um'], unit='µm')} at {m['cost']:.4g} CPU ns "
                     f"per track. At that cost: {clauses}.")
        env = m["curves"].get(ENVELOPE)
        if env and env["verdict"]:
            lines.append(f"Against the Runge–Kutta envelope ({env['curve_um']:.3g} µm at that cost), paired on the "
                         f"same test tracks: {env['verdict']}.")
    if "paired" in j and j["best_poly"]:
        seeds = (j.get("seeds") or {}).get(best)
        said = paired_verdict("median position error", Contender(best, models[best]["converged"]),
                              Contender(j["best_poly"]), j["paired"], lower_is_better=True, unit="µm",
                              seed_std=seeds["std_um"] if seeds else 0.0)
        spread = (f"the test bootstrap ⊕ the spread of {best} over {len(seeds['median_um'])} training seeds "
                  f"({seeds['std_um']:.2g} µm)" if seeds and len(seeds["median_um"]) > 1
                  else "the test bootstrap only: one training seed")
        lines.append(f"On the same test tracks (uncertainty: {spread}), {said.sentence}.")
    lines.append("Pareto front (cheapest first): " + ", ".join(j["pareto_front"]) + ".")
    return "\n\n".join(lines)
