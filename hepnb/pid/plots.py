"""Figures of the PID study."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.metrics import reliability_curve, roc_curve
from hepnb.pid.constants import SPECIES

__all__ = ["confusion_figure", "detector_figure", "performance_figure"]

LABELS = {"pi": "π", "ka": "K", "pr": "p", "el": "e"}


def detector_figure(table: Mapping[str, NDArray]) -> Any:
    """TPC dE/dx and TOF β against momentum (the PID bands)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    p = np.asarray(table["p"])
    ax1.hist2d(p, table["tpc_signal"], bins=[np.geomspace(0.1, 5, 150), np.linspace(20, 250, 150)], norm=LogNorm(),
               cmap="viridis")
    ax1.set(xscale="log", xlabel="p [GeV/c]", ylabel="TPC dE/dx [a.u.]")
    tof = np.asarray(table["has_tof"]) > 0
    ax2.hist2d(p[tof], np.asarray(table["tof_beta"])[tof], bins=[np.geomspace(0.2, 5, 150), np.linspace(0.2, 1.1, 150)],
               norm=LogNorm(), cmap="viridis")
    ax2.set(xscale="log", xlabel="p [GeV/c]", ylabel="TOF β")
    from matplotlib.ticker import NullFormatter

    for ax in (ax1, ax2):  # log axes: decade labels only, the minor ones overlap at this size
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    return fig


def confusion_figure(confusions: Mapping[str, list[list[int]]]) -> Any:
    """Row-normalised confusion matrices, one panel per model."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(confusions), figsize=(4.2 * len(confusions), 4))
    axes = np.atleast_1d(axes)
    names = [LABELS[s] for s in SPECIES]
    for ax, (title, cm) in zip(axes, confusions.items(), strict=True):
        m = np.asarray(cm, dtype=float)
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        ax.imshow(m, vmin=0, vmax=1, cmap="Blues")
        for i in range(4):
            for j in range(4):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=10,
                        color="white" if m[i, j] > 0.5 else "black")
        ax.set(xticks=range(4), yticks=range(4), xticklabels=names, yticklabels=names, xlabel="predicted",
               ylabel="true", title=title)
    fig.tight_layout()
    return fig


def performance_figure(probs: Mapping[str, NDArray], y: NDArray, p_gev: NDArray, eff_pur: Mapping[str, Any]) -> Any:
    """ROC per species (kaon vs rest for each model), efficiency and purity vs p, reliability of P(K)."""
    import matplotlib.pyplot as plt

    fig, (ax_roc, ax_eff, ax_rel) = plt.subplots(1, 3, figsize=(18, 5))
    for name, prob in probs.items():
        if 0 < np.sum(y == 1) < len(y):
            fpr, tpr, _ = roc_curve(y == 1, prob[:, 1])
            ax_roc.plot(fpr, tpr, label=name)
            curve = reliability_curve(y == 1, prob[:, 1], 10)
            ax_rel.plot(curve["mean_prob"], curve["frac_positive"], "o-", label=name)
    ax_roc.set(xscale="log", xlim=(1e-4, 1), xlabel="non-kaon efficiency", ylabel="kaon efficiency", title="K vs rest")
    ax_rel.plot([0, 1], [0, 1], "k:")
    ax_rel.set(xlabel="mean predicted P(K)", ylabel="observed kaon fraction", title="reliability")
    edges = np.asarray(eff_pur["edges_gev"])
    centres = 0.5 * (edges[:-1] + edges[1:])
    for s in SPECIES:
        ax_eff.plot(centres, eff_pur[s]["efficiency"], "o-", label=f"{LABELS[s]} efficiency")
        ax_eff.plot(centres, eff_pur[s]["purity"], "s--", label=f"{LABELS[s]} purity")
    ax_eff.set(xlabel="p [GeV/c]", ylim=(0, 1.05), title="best model")
    for ax in (ax_roc, ax_eff, ax_rel):
        ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
