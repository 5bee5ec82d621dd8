"""Figures of the track-extrapolation study."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hepnb.tracks.field import FieldMap, field

__all__ = ["error_vs_momentum_figure", "field_figure", "pareto_figure"]

_COLOURS = {"mlp": "tab:blue", "rkpinn": "tab:red", "rk4": "black", "analytic": "tab:gray", "ensemble": "tab:purple"}


def field_figure(fmap: FieldMap) -> Any:
    """On-axis By(z) (analytic and grid map) and the transverse dependence at the field peak."""
    import matplotlib.pyplot as plt

    fig, (ax_z, ax_x) = plt.subplots(1, 2, figsize=(13, 4.5))
    z = np.linspace(-500, 14000, 1451)
    zero = np.zeros_like(z)
    ax_z.plot(z, np.asarray(field(zero, zero, z)[1]), label="analytic")
    ax_z.plot(z, np.asarray(fmap(zero, zero, z)[1]), "--", label="grid map (100 mm, trilinear)")
    ax_z.set(xlabel="z [mm]", ylabel="$B_y(0, 0, z)$ [T]")
    ax_z.legend(fontsize=12)
    x = np.linspace(-3000, 3000, 301)
    for y in (0.0, 500.0, 1000.0):
        ax_x.plot(x, np.asarray(fmap(x, np.full_like(x, y), np.full_like(x, 5000.0))[1]), label=f"y = {y:.0f} mm")
    ax_x.set(xlabel="x [mm]", ylabel="$B_y(x, y, 5000\\,\\mathrm{mm})$ [T]")
    ax_x.legend(fontsize=12)
    return fig


def pareto_figure(rows: Sequence[dict[str, Any]], cost_key: str = "ns_per_track_large") -> Any:
    """Median position error vs cost, every model and baseline, log-log."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    for family in dict.fromkeys(r["family"] for r in rows):
        sel = [r for r in rows if r["family"] == family]
        ax.scatter([r[cost_key] for r in sel], [r["pos_median_um"] for r in sel], label=family,
                   color=_COLOURS.get(family), s=40)
        if family == "rk4":
            ax.plot([r[cost_key] for r in sel], [r["pos_median_um"] for r in sel], color="black", lw=1)
        for r in sel:
            ax.annotate(r["model"].replace("mlp_", "").replace("rkpinn_", ""), (r[cost_key], r["pos_median_um"]),
                        fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.set(xscale="log", yscale="log", xlabel="cost [ns / track, CPU]", ylabel="median position error [µm]")
    ax.legend(fontsize=11)
    return fig


def error_vs_momentum_figure(curves: dict[str, dict[str, list[float]]]) -> Any:
    """Median position error vs momentum for several predictors."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, c in curves.items():
        edges = np.asarray(c["edges_gev"])
        centres = np.sqrt(edges[:-1] * edges[1:])
        ax.plot(centres, c["median_um"], "o-", label=name)
    ax.set(xscale="log", yscale="log", xlabel="p [GeV]", ylabel="median position error [µm]")
    ax.legend(fontsize=11)
    return fig
