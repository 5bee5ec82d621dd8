"""Figures of the PID study, at the page's width through :mod:`hepnb.plotting` (ALICE Simulation labels)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb import plotting
from hepnb.pid.constants import SPECIES

__all__ = [
    "LABELS",
    "accuracy_figure",
    "confusion_figure",
    "detector_figure",
    "gap_figure",
    "nsigma_core_figure",
    "systematics_figure",
    "training_figure",
    "working_point_figure",
]

#: Species as printed.
LABELS = {"pi": "π", "ka": "K", "pr": "p", "el": "e"}
_RLABEL = "Pb–Pb"


def _label(ax: Any) -> None:
    plotting.experiment_label(ax, "ALICE", rlabel=_RLABEL)


def _log_momentum_axis(ax: Any, ticks: Sequence[float]) -> None:
    """A log p axis labelled at ``ticks`` in plain numbers (no minor labels to crowd it)."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(list(ticks)))
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def detector_figure(tracks: Mapping[str, NDArray]) -> Any:
    """TPC dE/dx and TOF β against momentum (the PID bands), as 2-D histograms."""
    import hist
    import mplhep
    from matplotlib.colors import LogNorm

    fig, (ax1, ax2) = plotting.page_figure(1, 2, aspect=0.5)
    p = np.asarray(tracks["p"], dtype=np.float64)
    tpc = hist.Hist(hist.axis.Regular(80, 0.1, 5.0, transform=hist.axis.transform.log, label="p (GeV/c)"),
                    hist.axis.Regular(80, 20, 250, label="TPC dE/dx (a.u.)"))
    tpc.fill(p, np.asarray(tracks["tpc_signal"], dtype=np.float64))
    tof = np.asarray(tracks["has_tof"]).astype(bool)
    beta = hist.Hist(hist.axis.Regular(80, 0.2, 5.0, transform=hist.axis.transform.log, label="p (GeV/c)"),
                     hist.axis.Regular(80, 0.2, 1.1, label="TOF β"))
    beta.fill(p[tof], np.asarray(tracks["tof_beta"], dtype=np.float64)[tof])
    for ax, h in ((ax1, tpc), (ax2, beta)):
        mplhep.hist2dplot(h, ax=ax, norm=LogNorm(), cbar=False, flow=None)
        _log_momentum_axis(ax, (0.2, 0.5, 1, 2, 5))
        _label(ax)
    return fig


def nsigma_core_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Median and width of the true-hypothesis nσ core per species and momentum bin, TPC and TOF."""
    fig, axes = plotting.page_figure(1, 2, aspect=0.5, sharex=True)
    markers = {"TPC": "o", "TOF": "s"}
    for ax, key, target, ylabel in ((axes[0], "median", 0.0, "core median"), (axes[1], "width", 1.0, "core width")):
        ax.axhspan(target - 0.1, target + 0.1, color="0.9")
        for j, s in enumerate(SPECIES):
            for det, marker in markers.items():
                sel = [r for r in rows if r["species"] == s and r["detector"] == det]
                x = [0.5 * (r["p_lo_gev"] + r["p_hi_gev"]) * (1 + 0.02 * (j - 1.5)) for r in sel]
                ax.plot(x, [r[key] for r in sel], marker=marker, ls="", color=f"C{j}",
                        label=f"{LABELS[s]} {det}" if key == "median" else None)
        ax.set(xlabel="p (GeV/c)", ylabel=ylabel, ylim=(target - 0.3, target + 0.3))
        _log_momentum_axis(ax, (0.4, 1, 2))
        _label(ax)
    axes[0].legend(ncol=2, fontsize=10, loc="lower left")
    return fig


def accuracy_figure(rows: Sequence[Mapping[str, Any]], ranges: Sequence[str], protocols: Sequence[str],
                    range_labels: Mapping[str, str] | None = None) -> Any:
    """Test accuracy (68 % interval) of every model and baseline, one panel (row) per range, one marker per protocol
    (the baselines, the same under every protocol, in grey)."""
    fig, axes = plotting.page_figure(len(ranges), 1, aspect=0.7 if len(ranges) == 1 else 0.42 * len(ranges))
    axes = np.atleast_1d(axes)
    names = list(dict.fromkeys(r["model"] for r in rows))
    ypos = {n: i for i, n in enumerate(names)}
    labels = range_labels or {}
    for ax, range_name in zip(axes, ranges, strict=True):
        groups = [("baselines", [r for r in rows if r["range"] == range_name and r["kind"] == "baseline"], "0.4", "D")]
        groups += [(p, [r for r in rows if r["range"] == range_name and r["protocol"] == p], f"C{k}", "os^v"[k % 4])
                   for k, p in enumerate(protocols)]
        for k, (label, sel, color, marker) in enumerate(groups):
            shift = 0.0 if k == 0 else 0.15 * (k - 1 - (len(protocols) - 1) / 2)
            x = [100 * r["value"] for r in sel]
            err = [[100 * (r["value"] - r["lo"]) for r in sel], [100 * (r["hi"] - r["value"]) for r in sel]]
            ax.errorbar(x, [ypos[r["model"]] + shift for r in sel], xerr=err, fmt=marker, color=color, ms=4,
                        label=label)
        ax.set_xlabel(f"test accuracy (%), {labels.get(range_name, range_name)}")
        lo = min(100 * r["lo"] for r in rows if r["range"] == range_name)
        ax.set_xlim(max(lo - 2, 0), 100.5)
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        ax.set_yticks(range(len(names)), names, fontsize=10)
        ax.invert_yaxis()
    axes[0].legend(loc="lower left", fontsize=10)
    _label(axes[0])
    return fig


def gap_figure(rows: Sequence[Mapping[str, Any]], ranges: Sequence[str], protocols: Sequence[str]) -> Any:
    """XGBoost − chosen network accuracy gap (points, 68 % paired interval) per protocol, one line per range."""
    fig, ax = plotting.page_figure()
    for j, range_name in enumerate(ranges):
        sel = {r["protocol"]: r for r in rows if r["range"] == range_name}
        x = [i + 0.08 * (j - 1) for i, p in enumerate(protocols) if p in sel]
        y = [sel[p]["gap_value"] for p in protocols if p in sel]
        err = [[sel[p]["gap_value"] - sel[p]["gap_lo"] for p in protocols if p in sel],
               [sel[p]["gap_hi"] - sel[p]["gap_value"] for p in protocols if p in sel]]
        ax.errorbar(x, y, yerr=err, fmt="o-", color=f"C{j}", label=f"{range_name} GeV/c")
    ax.axhline(0.0, color="0.5", lw=1)
    ax.set_xticks(range(len(protocols)), protocols)
    ax.set(ylabel="XGBoost − network (points)", xlabel="protocol")
    ax.legend(fontsize=10)
    _label(ax)
    return fig


def confusion_figure(confusions: Mapping[str, Sequence[Sequence[int]]]) -> Any:
    """Row-normalised confusion matrices, one panel per model (its name under the panel)."""
    fig, axes = plotting.page_figure(1, len(confusions), aspect=0.42 if len(confusions) > 2 else 0.5)
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
        ax.set(xticks=range(4), yticks=range(4), xticklabels=names, yticklabels=names,
               xlabel=f"predicted\n{title}")
        ax.minorticks_off()
    axes[0].set_ylabel("true")
    plotting.experiment_label(axes[0], "ALICE")  # a panel is too narrow for the collision system as well
    return fig


def working_point_figure(curves: Mapping[str, Mapping[str, Any]], contamination: Mapping[str, Mapping[str, Any]],
                         species: str = "ka") -> Any:
    """Left: purity against efficiency of P(species) ≥ t for each model. Right: the fraction of each other species
    in the selection against p, at each model's 90 %-purity working point (first two models: circles and squares),
    as points with their Clopper–Pearson intervals, on a log p axis; a model's bin that selects too few tracks to
    draw (``shown`` false, :data:`hepnb.pid.working_points.MIN_SELECTED`) has no points, and a bin too thin for
    both models is shaded."""
    from hepnb.pid.working_points import MIN_SELECTED

    fig, (ax1, ax2) = plotting.page_figure(1, 2, aspect=0.5)
    for k, (name, curve) in enumerate(curves.items()):
        ax1.plot(curve["efficiency"], curve["purity"], color=f"C{k}", label=name)
    ax1.axhline(0.9, color="0.5", lw=1, ls=":")
    ax1.set(xlabel=f"{LABELS[species]} efficiency", ylabel=f"{LABELS[species]} purity", xlim=(0, 1), ylim=(0, 1.02))
    ax1.legend(fontsize=10, loc="lower left")
    others = [s for s in SPECIES if s != species]
    shown = list(contamination.items())[:2]
    drawn = [np.asarray(c.get("shown", np.asarray(c["n_selected"]) >= MIN_SELECTED), dtype=bool) for _, c in shown]
    edges = np.asarray(shown[0][1]["edges_gev"], dtype=float) if shown else np.array([])
    empty = ~np.any(drawn, axis=0) if shown else np.array([], dtype=bool)
    for i, (lo, hi) in enumerate(zip(edges[:-1][empty], edges[1:][empty], strict=True)):
        ax2.axvspan(lo, hi, color="0.92", lw=0, label=f"< {MIN_SELECTED} selected" if i == 0 else None)
    log_edges = np.log(edges) if shown else edges
    centres, half = 0.5 * (log_edges[:-1] + log_edges[1:]), 0.5 * np.diff(log_edges)
    for k, ((name, c), ok) in enumerate(zip(shown, drawn, strict=True)):
        for j, s in enumerate(others):
            x = np.exp(centres[ok] + 0.5 * (3 * k + j - 2.5) / 3 * half[ok])  # six series spread over the bin
            y = np.asarray(c[f"fraction_{s}"], dtype=float)[ok]
            err = [y - np.asarray(c[f"fraction_{s}_lo"], dtype=float)[ok],
                   np.asarray(c[f"fraction_{s}_hi"], dtype=float)[ok] - y]
            ax2.errorbar(x, y, yerr=err, fmt="os"[k], mfc="white" if k else f"C{j + 3}", color=f"C{j + 3}", ms=4,
                         ls="", label=f"{LABELS[s]}, {name}")
    if shown:
        ax2.set_xlim(edges[0], edges[-1])
        _log_momentum_axis(ax2, [t for t in (0.2, 0.5, 1, 2, 5) if edges[0] <= t <= edges[-1]])
    ax2.set(xlabel="p (GeV/c)", ylabel=f"fraction of the {LABELS[species]} selection", ylim=(0, 1.02))
    ax2.legend(fontsize=10, loc="upper left", ncol=1)
    _label(ax1)
    return fig


def systematics_figure(rows: Sequence[Mapping[str, Any]], models: Sequence[str], range_name: str) -> Any:
    """Accuracy shift (points, 68 % paired interval) under each systematic variation, for a few models."""
    variations = list(dict.fromkeys(r["variation"] for r in rows))
    fig, ax = plotting.page_figure(aspect=0.7)
    for k, model in enumerate(models):
        sel = {r["variation"]: r for r in rows if r["model"] == model and r["range"] == range_name}
        y = [i + 0.2 * (k - (len(models) - 1) / 2) for i, v in enumerate(variations) if v in sel]
        x = [sel[v]["shift_value"] for v in variations if v in sel]
        err = [[sel[v]["shift_value"] - sel[v]["shift_lo"] for v in variations if v in sel],
               [sel[v]["shift_hi"] - sel[v]["shift_value"] for v in variations if v in sel]]
        ax.errorbar(x, y, xerr=err, fmt="o", color=f"C{k}", label=model, ms=4)
    ax.axvline(0.0, color="0.5", lw=1)
    ax.set_yticks(range(len(variations)), variations)
    ax.tick_params(axis="y", which="minor", left=False, right=False)
    ax.invert_yaxis()
    ax.set(xlabel=f"accuracy shift, {range_name} GeV/c (points)")
    ax.legend(fontsize=10, loc="lower left")
    _label(ax)
    return fig


def training_figure(histories: Mapping[str, Sequence[float]], references: Mapping[str, float],
                    convergence: Mapping[str, Mapping[str, Any]] | None = None, *, evals_per_epoch: int = 1) -> Any:
    """Validation accuracy (%) at each evaluation of each network (``evals_per_epoch`` per epoch, drawn at their
    fractional epoch), with horizontal lines for reference models; with ``convergence`` (records by network), the
    legend says whether each converged and an open circle marks the start of the last fifth of its evaluations
    (the convergence rule's window)."""
    fig, ax = plotting.page_figure()
    for k, (name, errors) in enumerate(histories.items()):
        acc = 100 * (1 - np.asarray(errors, dtype=float))
        record = (convergence or {}).get(name)
        epochs = np.arange(1, acc.size + 1) / evals_per_epoch
        ax.plot(epochs, acc, "o-", color=f"C{k}", label=plotting.convergence_label(name, record), ms=3)
        plotting.mark_convergence_window(ax, epochs, acc, record, color=f"C{k}")
    for j, (name, value) in enumerate(references.items()):
        ax.axhline(100 * value, color="0.3", ls=("--", ":", "-.")[j % 3], lw=1.2, label=name)
    values = [100 * (1 - np.asarray(e, dtype=float)) for e in histories.values()]
    low = min(float(np.min(v)) for v in values) if values else 0.0
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", ylim=(max(low - 1, 0), 100.5))
    ax.legend(fontsize=10, loc="lower right", ncol=2)
    _label(ax)
    return fig
