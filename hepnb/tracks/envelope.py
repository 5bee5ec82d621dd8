"""Cost–error curves of the classical extrapolators, their lower envelope, and a model's paired distance to them.

A *curve* is the rows of one family (RK4 with equal steps, plane-aligned RK4, adaptive Cash–Karp, the
polynomial) sorted by cost; its error at a cost interpolates log(error) linearly in log(cost) between its points
and, beyond its costliest point, is the smallest error of its points. Below its cheapest point a curve says
nothing (that integrator cannot run so cheaply): it counts as infinitely bad there — except a *led* curve, the
equal-step RK4 curve, which the single kick leads and which stays at the kick's error below it, so that every
model, the cheapest included, meets at least one curve. The *RK envelope* is the smallest of the three Runge–Kutta
curves at a cost: a model is "below RK" only below all three.

The distance of a model to a curve (or to the envelope) at the model's cost is a paired difference: the medians of
the model and of the curve's points are recomputed on the same bootstrap resamplings of the test tracks, the curve
(or the envelope) re-interpolated from them, and the spread of the difference is its test uncertainty
(:func:`paired_distances`), which the verdict gate of :mod:`hepnb.book.verdict` then weighs with the seed spread.
"At the model's cost" is itself a measurement: the cost moves from run to run by :data:`COST_REL_UNCERTAINTY`, and
a curve falls steeply with cost. A model is judged against the curve's whole range over cost × e^(∓δ): below the
curve only when below its lowest value there, above only when above its highest (the margin taken from that end,
:func:`judged_difference`); a median inside the range is consistent with the curve whatever the test spread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepnb.metrics import resample_indices, spread

__all__ = ["COST_REL_UNCERTAINTY", "ENVELOPE", "Curve", "build_curves", "envelope_at", "judged_difference",
           "paired_distances"]

#: The key of the lower envelope of the Runge–Kutta curves in :func:`paired_distances`.
ENVELOPE = "rk_envelope"
#: Run-to-run relative uncertainty of a row's CPU cost (as a spread of log cost). Two default runs of the same code
#: (rkpinn_leaderboard at b189457 and c58a95d, 48 rows per leg) gave a spread of log(cost₂/cost₁) of 0.14 (UT → T1)
#: and 0.13 (VELO → T1), i.e. 0.10 and 0.09 per run: most rows within 2 %, a tail of a few at +30 %.
COST_REL_UNCERTAINTY = 0.10


@dataclass(frozen=True)
class Curve:
    """The points of one cost–error curve: row names sorted by cost, their costs, and whether the curve stays flat
    at its first point's error below it (``led``) or says nothing there."""

    names: tuple[str, ...]
    costs: np.ndarray
    led: bool = False

    def error_at(self, cost: float, errors: Mapping[str, float]) -> float:
        """The curve's error at ``cost`` from the errors of its points (inf below a curve that is not led)."""
        errs = np.asarray([errors[n] for n in self.names], np.float64)
        if cost < self.costs[0]:
            return float(errs[0]) if self.led else float("inf")
        if cost >= self.costs[-1]:
            return float(errs[self.costs <= cost].min())
        return float(np.exp(np.interp(np.log(cost), np.log(self.costs), np.log(np.maximum(errs, 1e-12)))))


def build_curves(rows: Sequence[Mapping[str, Any]], cost_key: str, families: Sequence[str], *,
                 lead: str | None = "single_kick", led_family: str = "rk4") -> dict[str, Curve]:
    """The curve of each family present in ``rows`` (family → :class:`Curve`); the row named ``lead`` leads the
    curve of ``led_family`` (only its points costlier than the lead stay on it)."""
    lead_row = next((r for r in rows if r["model"] == lead), None) if lead else None
    out = {}
    for family in families:
        pts = sorted((float(r[cost_key]), r["model"]) for r in rows if r["family"] == family)
        if not pts:
            continue
        led = family == led_family and lead_row is not None
        if led:
            c0 = float(lead_row[cost_key])
            pts = [(c0, lead_row["model"]), *[p for p in pts if p[0] > c0]]
        out[family] = Curve(tuple(n for _, n in pts), np.asarray([c for c, _ in pts]), led=led)
    return out


def envelope_at(cost: float, curves: Mapping[str, Curve], errors: Mapping[str, float]) -> float:
    """The smallest of ``curves`` at ``cost`` (their lower envelope)."""
    return min(c.error_at(cost, errors) for c in curves.values())


def paired_distances(rows: Sequence[Mapping[str, Any]], errors: Mapping[str, np.ndarray] | None, *,
                     cost_key: str, curves: Mapping[str, Curve], envelope_of: Sequence[str],
                     n_boot: int = 200, seed: int = 0, cost_rel_uncertainty: float = COST_REL_UNCERTAINTY
                     ) -> dict[str, dict[str, dict[str, Any]]]:
    """Each row's median minus each curve (and their envelope) at the row's cost, with its paired test spread.

    Parameters
    ----------
    rows
        Leaderboard rows (``model``, ``pos_median_um``, ``pos_median_err_um`` and ``cost_key``).
    errors
        Per-track test errors (µm) by model name, on the same tracks; ``None``: no pairing is possible and the
        spread is the row's own bootstrap error of its median (the curve taken as exact).
    cost_key
        The cost of a row.
    curves
        Family → :class:`Curve` (:func:`build_curves`).
    envelope_of
        The families whose lower envelope is :data:`ENVELOPE`.
    cost_rel_uncertainty
        Relative run-to-run uncertainty δ of the model's cost (a spread of log cost): the curve's range over
        cost × e^(∓δ) is returned beside its value at the cost (0: the cost taken as exact).

    Returns
    -------
    dict
        Model → curve (family or :data:`ENVELOPE`) → ``curve_um`` (the curve at the model's cost; inf where the
        curve does not reach so low a cost), ``value`` (median − curve), ``std`` (its paired bootstrap spread)
        and ``band_um`` (the curve's lowest and highest value over the cost's uncertainty, its points included).
    """
    if not (np.isfinite(cost_rel_uncertainty) and cost_rel_uncertainty >= 0):
        msg = f"the cost's relative uncertainty must be a number >= 0, found {cost_rel_uncertainty}"
        raise ValueError(msg)
    medians = {r["model"]: float(r["pos_median_um"]) for r in rows}
    names = list(medians)
    boot: list[dict[str, float]] = []
    if errors is not None:
        matrix = np.stack([np.asarray(errors[n], np.float64) for n in names], axis=1)
        for idx in resample_indices(matrix.shape[0], n_boot, seed):
            boot.append(dict(zip(names, np.median(matrix[idx], axis=0).tolist(), strict=True)))
    env = {f: curves[f] for f in envelope_of if f in curves}

    def at(cost: float, errs: Mapping[str, float]) -> dict[str, float]:
        values = {f: c.error_at(cost, errs) for f, c in curves.items()}
        if env:
            values[ENVELOPE] = envelope_at(cost, env, errs)
        return values

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        name, cost = r["model"], float(r[cost_key])
        full = at(cost, medians)
        lo_cost, hi_cost = cost * np.exp(-cost_rel_uncertainty), cost * np.exp(cost_rel_uncertainty)
        knots = sorted({lo_cost, hi_cost, *(float(k) for c in curves.values() for k in c.costs if lo_cost < k < hi_cost)})
        in_band = [at(k, medians) for k in knots]
        own = float(r.get("pos_median_err_um", float("nan")))
        per_boot = [(b[name], at(cost, b)) for b in boot]
        result = {}
        for key, curve_um in full.items():
            if not np.isfinite(curve_um):
                result[key] = {"curve_um": curve_um, "value": float("-inf"), "std": 0.0,
                               "band_um": [curve_um, curve_um]}
                continue
            std = (spread([m - v[key] for m, v in per_boot]) if per_boot
                   else (own if np.isfinite(own) else 0.0))
            band = [v[key] for v in in_band if np.isfinite(v[key])] + [curve_um]
            result[key] = {"curve_um": curve_um, "value": medians[name] - curve_um,
                           "std": std if np.isfinite(std) else 0.0, "band_um": [min(band), max(band)]}
        out[name] = result
    return out


def judged_difference(median_um: float, band_um: Sequence[float]) -> float | None:
    """The margin a verdict weighs: median − the curve's lowest value over the cost's uncertainty where the median
    lies below it, median − its highest where above, and ``None`` where the median lies inside that range.

    Examples
    --------
    >>> judged_difference(11.6, [97.0, 1766.0])  # below the curve wherever the cost falls: by 85 µm at least
    -85.4
    >>> judged_difference(10.4, [10.2, 11.7]) is None
    True
    """
    lo, hi = float(min(band_um)), float(max(band_um))
    if median_um < lo:
        return round(median_um - lo, 12)
    if median_um > hi:
        return round(median_um - hi, 12)
    return None
