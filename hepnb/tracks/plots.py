"""Figures of the track-extrapolation study, at the page's width through :mod:`hepnb.plotting`, labelled
"LHCb-like dipole, hepnb simulation" (:data:`LABEL`): the magnet and the tracks are this study's own, not LHCb's
simulation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepnb import plotting
from hepnb.tracks.evaluate import cost_error_curve
from hepnb.tracks.field import analytic_field
from hepnb.tracks.fieldmap import FieldMap

__all__ = ["LABEL", "LEG_LABELS", "error_vs_momentum_figure", "field_figure", "learning_curves_figure",
           "pareto_figure"]

#: How a leg is written everywhere (figures, tables, sentences): each ends on the first SciFi plane, T1 (z = 7826 mm).
LEG_LABELS = {"ut_t": "UT → T1", "velo_t": "VELO → T1"}
#: The figures' label: what was simulated (bold) and by whom (:func:`hepnb.plotting.study_label`).
LABEL = ("LHCb-like dipole", "hepnb simulation")
_FAMILY_STYLE = {"mlp": ("tab:blue", "o", "MLP"), "rkpinn": ("tab:red", "s", "RK-PINN"),
                 "rk4": ("black", "^", "RK4, equal steps"), "rk4_aligned": ("tab:brown", "<", "RK4, plane-aligned"),
                 "cash_karp": ("tab:orange", ">", "Cash–Karp, adaptive"),
                 "poly": ("tab:green", "D", "polynomial"), "analytic": ("tab:gray", "v", "line, kick"),
                 "poly_naive": ("tab:olive", "d", "naive polynomial")}
#: Line style of each curve on the Pareto figure.
_CURVE_STYLE = {"rk4": ("black", "-"), "rk4_aligned": ("tab:brown", "-."), "cash_karp": ("tab:orange", ":"),
                "poly": ("tab:green", "--")}


def _log_limits(values: Sequence[float], pad: float = 0.25) -> tuple[float, float]:
    """View limits on a log axis that hold every value with a margin of ``pad`` decades."""
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0])
    lo, hi = np.log10(v.min()), np.log10(v.max())
    return 10 ** (lo - pad), 10 ** (hi + pad)


def field_figure(fmap: FieldMap, *, z_planes: Mapping[str, float] | None = None) -> Any:
    """On-axis By(z) of the analytic field and of the map, and By across x at the peak for three heights."""
    import jax

    fig, (ax_z, ax_x) = plotting.page_figure(1, 2, aspect=0.45)
    z = np.linspace(fmap.extent_mm[2][0], fmap.extent_mm[2][1], 1451)
    zero = np.zeros_like(z)
    with jax.enable_x64(True):
        by_analytic = np.asarray(analytic_field(zero, zero, z)[1])
    ax_z.plot(z / 1e3, by_analytic, label="analytic")
    ax_z.plot(z / 1e3, np.asarray(fmap(zero, zero, z)[1]), "--", label="map (trilinear)")
    for i, (name, zp) in enumerate((z_planes or {}).items()):  # labels staggered in height: planes lie close
        ax_z.axvline(zp / 1e3, color="gray", lw=0.8, ls=":")
        ax_z.text(zp / 1e3, 0.04 + 0.1 * (i % 2), f" {name}", transform=ax_z.get_xaxis_transform(), fontsize=10,
                  color="gray")
    ax_z.set(xlabel="z [m]", ylabel="$B_y(0, 0, z)$ [T]")
    ax_z.legend(loc="center right", title="MagDown")  # in the legend: beside the label, a half panel is too narrow
    z_peak = float(z[np.argmax(np.abs(by_analytic))])
    x = np.linspace(-2500, 2500, 201)
    for y in (0.0, 600.0, 1200.0):
        ax_x.plot(x / 1e3, np.asarray(fmap(x, np.full_like(x, y), np.full_like(x, z_peak))[1]), label=f"y = {y / 1e3:g} m")
    ax_x.set(xlabel="x [m]", ylabel=f"$B_y$ at z = {z_peak / 1e3:.2f} m [T]")
    ax_x.legend(loc="lower center")
    plotting.study_label(ax_z, *LABEL, fontsize=11.0)  # a half panel: at 13 pt mplhep's two parts overlap
    return fig


def pareto_figure(rows: Sequence[Mapping[str, Any]], *, cost_key: str = "cpu_ns_per_track_large",
                  err_key: str = "pos_median_um", leg: str = "ut_t", cost_label: str = "CPU ns per track") -> Any:
    """Median position error against cost for every model and baseline (log–log), with the three Runge–Kutta
    curves (equal steps, led by the single kick; plane-aligned; adaptive Cash–Karp) and the polynomial curve; every
    point lies inside the axes."""
    fig, ax = plotting.page_figure(aspect=0.72)
    families = list(dict.fromkeys(r["family"] for r in rows))
    for family in families:
        sel = [r for r in rows if r["family"] == family]
        colour, marker, label = _FAMILY_STYLE.get(family, ("tab:purple", "x", family))
        ax.scatter([r[cost_key] for r in sel], [r[err_key] for r in sel], color=colour, marker=marker, s=28,
                   label=label, zorder=3)
    kick = next((r for r in rows if r["model"] == "single_kick"), None)
    for family, (colour, style) in _CURVE_STYLE.items():
        sel = [r for r in rows if r["family"] == family]
        if sel:
            cost, err = cost_error_curve(sel, cost_key, err_key, lead=kick if family == "rk4" else None)
            ax.plot(cost, err, color=colour, lw=1.0, ls=style, zorder=2)
    ax.set(xscale="log", yscale="log", xlabel=cost_label, ylabel="median position error [µm]")
    ax.set_xlim(*_log_limits([r[cost_key] for r in rows]))
    ax.set_ylim(*_log_limits([r[err_key] for r in rows]))
    ax.legend(loc="upper right", ncols=1)
    plotting.study_label(ax, *LABEL, rlabel=LEG_LABELS.get(leg, leg))
    return fig


def learning_curves_figure(records: Mapping[str, Mapping[str, Any]], *, leg: str = "ut_t") -> Any:
    """Validation median position error against optimiser step for each learned model; the legend says whether
    each converged, an open circle marks the start of the last fifth of its steps (the convergence rule's window)."""
    fig, ax = plotting.page_figure(aspect=0.62)
    values = []
    for name, rec in records.items():
        curve, record = rec["learning_curve"], rec.get("convergence")
        (line,) = ax.plot(curve["step"], curve["val_median_um"],
                          label=plotting.convergence_label(name.replace("_", " "), record))
        plotting.mark_convergence_window(ax, curve["step"], curve["val_median_um"], record, color=line.get_color())
        values.extend(curve["val_median_um"])
    ax.set(yscale="log", xlabel="optimiser step", ylabel="validation median error [µm]")
    ax.set_ylim(*_log_limits(values, pad=0.15))
    ax.legend(loc="upper right", fontsize=10, ncols=2)
    plotting.study_label(ax, *LABEL, rlabel=LEG_LABELS.get(leg, leg))
    return fig


def error_vs_momentum_figure(curves: Mapping[str, Mapping[str, Sequence[float]]], *, leg: str = "ut_t") -> Any:
    """Median position error (with its bootstrap error) against momentum for several predictors."""
    fig, ax = plotting.page_figure(aspect=0.62)
    values: list[float] = []
    for name, c in curves.items():
        edges = np.asarray(c["edges_gev"])
        centres = np.sqrt(edges[:-1] * edges[1:])
        med, err = np.asarray(c["median_um"]), np.nan_to_num(np.asarray(c["median_err_um"]))
        ok = np.isfinite(med) & (med > 0)
        ax.errorbar(centres[ok], med[ok], yerr=np.minimum(err[ok], 0.9 * med[ok]), marker="o", ms=4, capsize=2,
                    label=name.replace("_", " "))
        values.extend((med[ok] - np.minimum(err[ok], 0.9 * med[ok])).tolist())
        values.extend((med[ok] + err[ok]).tolist())
    ax.set(xscale="log", yscale="log", xlabel="p [GeV]", ylabel="median position error [µm]")
    all_edges = [e for c in curves.values() for e in c["edges_gev"]]
    ax.set_xlim(min(all_edges) * 0.9, max(all_edges) * 1.1)
    ax.set_ylim(*_log_limits(values, pad=0.2))
    ax.legend(loc="upper right", fontsize=10)
    plotting.study_label(ax, *LABEL, rlabel=LEG_LABELS.get(leg, leg))
    return fig
