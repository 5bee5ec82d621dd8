"""The classical extrapolators the learned ones are ranked against, refitted on each dataset.

The straight line, a single kick at the leg's field-weighted centre, RK4 with N equal steps (RK4-N) through
the setting's field, the LHCb-style physics polynomial of each weighted degree (:mod:`hepnb.tracks.physpoly`,
family ``poly``: the polynomial curve) and the naive polynomial of each total degree in the five inputs
(:mod:`hepnb.tracks.polynomial`, family ``poly_naive``); the two other Runge–Kutta curves
(:func:`rk_curve_predictors`): RK4 with steps that end on every z plane of the map, and the adaptive Cash–Karp
RK4(5) of LHCb's extrapolator (:mod:`hepnb.tracks.adaptive`) at several tolerances; and the cheap physics bases
a learned head corrects (:func:`learned_bases`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from hepnb.tracks.adaptive import CashKarp
from hepnb.tracks.arrays import Array
from hepnb.tracks.bases import LineBase, RK4Base, kick_base
from hepnb.tracks.data import Setting, field_function
from hepnb.tracks.fieldmap import FieldMap
from hepnb.tracks.physpoly import field_parities, fit_physics_polynomial
from hepnb.tracks.polynomial import PolynomialExtrapolator, fit_polynomial
from hepnb.tracks.propagate import plane_aligned_nodes, rk4_fixed, rk4_on_runs, step_runs

__all__ = [
    "ADAPTIVE_TOLERANCES_MM",
    "ALIGNED_STEPS_MM",
    "MLP_BASES",
    "PHYS_POLY_DEGREES",
    "POLY_DEGREES",
    "RK4_STEPS",
    "RK_FAMILIES",
    "baseline_predictors",
    "learned_bases",
    "rk_curve_predictors",
]


#: The RK4-N baselines (float32, equal steps, through the same map).
RK4_STEPS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40, 50, 60, 80)


#: Largest steps of the plane-aligned RK4 curve, mm (every z plane of the map is a node: on a 100 mm grid the
#: largest useful step is 100 mm).
ALIGNED_STEPS_MM: tuple[float, ...] = (100.0, 50.0, 25.0)

#: Tolerances of the adaptive Cash–Karp curve (x and y per step), mm; LHCb's default is 0.001 mm.
ADAPTIVE_TOLERANCES_MM: tuple[float, ...] = (1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5)

#: The families of the three Runge–Kutta curves: equal steps (RK4-N), plane-aligned steps, adaptive Cash–Karp.
RK_FAMILIES: tuple[str, ...] = ("rk4", "rk4_aligned", "cash_karp")


#: Degrees of the naive polynomial (rows ``poly_<degree>``, family ``poly_naive``).
POLY_DEGREES: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9)


#: Weighted degrees of the physics polynomial (rows ``lhcb_poly_<degree>``, family ``poly``); with both parities
#: only even degrees add terms.
PHYS_POLY_DEGREES: tuple[int, ...] = (4, 6, 8, 10, 12)


#: The bases an MLP head can correct (the ablation): the straight line (standardised targets) or a cheap
#: physics base (single kick, degree-5 polynomial, RK4 with 2 steps).
MLP_BASES: tuple[str, ...] = ("line", "kick", "poly5", "rk4_2")


def _rk4_n(s: Array, *, n: int, st: Setting, field: Any) -> Array:
    return rk4_fixed(s, st.z0_mm, st.z1_mm, n, field, st.kappa)


def _rk4_aligned(s: Array, *, runs: list[tuple[float, float, int]], st: Setting, field: Any) -> Array:
    return rk4_on_runs(s, runs, field, st.kappa)


def rk_curve_predictors(dataset: dict[str, Any], *, aligned_steps_mm: Sequence[float] = ALIGNED_STEPS_MM,
                        tolerances_mm: Sequence[float] = ADAPTIVE_TOLERANCES_MM
                        ) -> tuple[dict[str, Callable[[Array], Array]], dict[str, dict[str, Any]]]:
    """The plane-aligned RK4 (``rk4_aligned_<step>mm``: steps of at most ``step`` that end on every z plane of the
    map) and the adaptive Cash–Karp (``cash_karp_<tol>mm``) of each step and tolerance, float32 through the
    setting's field, as :func:`baseline_predictors` returns them (families ``rk4_aligned`` and ``cash_karp``)."""
    st: Setting = dataset["setting"]
    field32 = field_function(st)
    predictors: dict[str, Callable[[Array], Array]] = {}
    info: dict[str, dict[str, Any]] = {}
    for step in aligned_steps_mm:
        nodes = plane_aligned_nodes(st.z0_mm, st.z1_mm, float(step), st.field if isinstance(st.field, FieldMap) else None)
        name = f"rk4_aligned_{float(step):g}mm"
        predictors[name] = functools.partial(_rk4_aligned, runs=step_runs(nodes), st=st, field=field32)
        info[name] = {"family": "rk4_aligned", "params": 0, "fit_time_s": 0.0, "n_steps": len(nodes) - 1,
                      "step_mm": float(step)}
    for tol in tolerances_mm:
        name = f"cash_karp_{float(tol):g}mm"
        predictors[name] = CashKarp(st.z0_mm, st.z1_mm, float(tol), field32, st.kappa)
        info[name] = {"family": "cash_karp", "params": 0, "fit_time_s": 0.0, "tol_mm": float(tol)}
    return predictors, info


def baseline_predictors(dataset: dict[str, Any], *, rk4_steps: Sequence[int] = RK4_STEPS,
                        degrees: Sequence[int] = POLY_DEGREES, phys_degrees: Sequence[int] = PHYS_POLY_DEGREES,
                        basis: str = "chebyshev", n_fit_max: int = 200_000
                        ) -> tuple[dict[str, Callable[[Array], Array]], dict[str, dict[str, Any]]]:
    """The baselines, refitted on this dataset's training split: straight line, single kick, RK4-N, the physics
    polynomial of each weighted degree in ``phys_degrees`` and the naive polynomial of each degree in ``degrees``
    (both fitted in float64 on up to ``n_fit_max`` training tracks, evaluated in float32).

    Returns
    -------
    predictors, info
        Name → function of float32 start states (N, 5); name → ``family``, ``params`` (fitted coefficients),
        ``fit_time_s`` and, for the polynomials, ``degree`` and ``terms`` (monomials).
    """
    st: Setting = dataset["setting"]
    field32 = field_function(st)
    predictors: dict[str, Callable[[Array], Array]] = {
        "straight_line": LineBase(st.dz_mm),
        "single_kick": kick_base(field32, st.z0_mm, st.z1_mm, st.kappa),
    }
    info = {"straight_line": {"family": "analytic", "params": 0, "fit_time_s": 0.0},
            "single_kick": {"family": "analytic", "params": 0, "fit_time_s": 0.0}}
    for n in rk4_steps:
        predictors[f"rk4_{n}"] = functools.partial(_rk4_n, n=int(n), st=st, field=field32)
        info[f"rk4_{n}"] = {"family": "rk4", "params": 0, "fit_time_s": 0.0, "n_steps": int(n)}
    train = dataset["train"]
    n_fit = min(len(train["start64"]), n_fit_max)
    for degree in degrees:
        t0 = time.perf_counter()
        poly = fit_polynomial(train["start64"][:n_fit], train["end"][:n_fit], st.dz_mm, int(degree), basis=basis)
        predictors[f"poly_{degree}"] = poly
        info[f"poly_{degree}"] = {"family": "poly_naive", "params": poly.n_params,
                                  "fit_time_s": time.perf_counter() - t0, "degree": int(degree), "terms": poly.n_terms}
    parities = field_parities(st.field, st.z0_mm, st.z1_mm) if phys_degrees else ()
    for degree in phys_degrees:
        t0 = time.perf_counter()
        phys = fit_physics_polynomial(train["start64"][:n_fit], train["end"][:n_fit], st.z0_mm, st.z1_mm, int(degree),
                                      parities=parities)
        predictors[f"lhcb_poly_{degree}"] = phys
        info[f"lhcb_poly_{degree}"] = {"family": "poly", "params": phys.n_params, "fit_time_s": time.perf_counter() - t0,
                                       "degree": int(degree), "terms": phys.n_terms, "parities": "".join(parities)}
    return predictors, info


def learned_bases(dataset: dict[str, Any], poly5: PolynomialExtrapolator | None = None) -> dict[str, Any]:
    """The cheap physics bases an MLP head can correct (:data:`MLP_BASES`), built for this dataset (the
    polynomial is the one of the baselines when given, else fitted here on the training split)."""
    st: Setting = dataset["setting"]
    field32 = field_function(st)
    if poly5 is None:
        train = dataset["train"]
        poly5 = fit_polynomial(train["start64"][:50_000], train["end"][:50_000], st.dz_mm, 5)
    return {"line": LineBase(st.dz_mm), "kick": kick_base(field32, st.z0_mm, st.z1_mm, st.kappa), "poly5": poly5,
            "rk4_2": RK4Base(2, st.z0_mm, st.z1_mm, field32, st.kappa)}
