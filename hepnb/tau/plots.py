"""Figures of the tau study, at the page's width through :mod:`hepnb.plotting` ("FCC-ee Simulation" labels,
histograms through ``hist`` + ``mplhep.histplot``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepnb import plotting
from hepnb.tau import constants

__all__ = ["binned_figure", "confusion_figure", "kinematics_figure", "label_efficiency_figure",
           "learning_curves_figure", "physics_figure", "roc_figure", "size_figure"]

_EXPERIMENT = "FCC-ee"
_COM = "91.188 GeV"


def _label(ax: Any, *, com: bool = True) -> None:
    """"FCC-ee Simulation", with √s on full-width panels (a half-width panel has no room for it)."""
    plotting.experiment_label(ax, _EXPERIMENT, com=_COM if com else None)


def physics_figure(checks: Mapping[str, Any]) -> Any:
    """Visible-τ pT spectrum and candidate multiplicities of τ and q/g jets (histograms)."""
    import hist

    fig, (a, b) = plotting.page_figure(1, 2)
    spec = checks["vis_pt_hist"]
    h = hist.Hist(hist.axis.Variable(spec["edges"], label=r"visible $\tau$ $p_T$ [GeV]"))
    h[...] = np.asarray(spec["counts"], float)
    plotting.draw_histograms(a, h, yerr=False)
    a.set_ylabel("τ jets")
    n = checks["n_candidates_hist"]
    edges = np.arange(len(n["tau"]) + 1) - 0.5
    hists = []
    for name in ("tau", "qg"):
        hh = hist.Hist(hist.axis.Variable(edges, label="candidates per jet"))
        hh[...] = np.asarray(n[name], float)
        hists.append(hh)
    plotting.draw_histograms(b, hists, labels=["τ jets", "q/g jets"], density=True, yerr=False)
    b.axvline(constants.MAX_CANDIDATES + 0.5, color="grey", ls=":")
    b.set_ylabel("fraction of jets")
    for ax in (a, b):
        _label(ax, com=False)
    return fig


def roc_figure(rocs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Mis-ID probability vs τ efficiency, one curve per model (each a ``tau_id_metrics`` result)."""
    fig, ax = plotting.page_figure()
    floor = 1.0
    for name, res in rocs.items():
        roc = res["roc"]
        misid = np.asarray(roc["misid"])
        eff = np.asarray(roc["eff_tau"])
        keep = (misid > 0) & (eff >= 0.4)
        if keep.any():
            floor = min(floor, misid[keep].min())
        ax.plot(eff[keep], misid[keep], label=name)
    ax.set_yscale("log")
    ax.set_xlim(0.4, 1.0)
    ax.set_ylim(max(floor / 2, 1e-7), 1.5)
    ax.set_xlabel(r"$\varepsilon_\tau$")
    ax.set_ylabel(r"$P_\mathrm{misid}$ (q/g jets)")
    ax.legend(loc="lower right")
    _label(ax)
    return fig


def binned_figure(binned: Mapping[str, Sequence[Mapping[str, Any]]], wp: str = "50") -> Any:
    """Fake rate (with its Clopper–Pearson band) and τ efficiency at one working point vs jet pT and θ."""
    fig, axes = plotting.page_figure(1, 2)
    axes[1].sharey(axes[0])  # one fake-rate scale: the panels compare, and equal tick labels keep equal widths
    limits: list[float] = []
    for ax, (name, label) in zip(axes, (("pt", r"jet $p_T$ [GeV]"), ("theta", r"jet $\theta$ [°]")), strict=True):
        rows = binned[name]
        centre = np.array([0.5 * (r["lo"] + r["hi"]) for r in rows])
        half = np.array([0.5 * (r["hi"] - r["lo"]) for r in rows])
        fake = np.array([r[f"fake_{wp}"] for r in rows], float)
        lo = np.array([r[f"fake_{wp}_lo"] for r in rows], float)
        hi = np.array([r[f"fake_{wp}_hi"] for r in rows], float)
        ok = np.isfinite(fake) & (hi > 0)
        shown = np.where(fake[ok] > 0, fake[ok], hi[ok])  # a zero fake rate is drawn at its upper limit
        ax.errorbar(centre[ok], shown, xerr=half[ok], yerr=[np.maximum(shown - lo[ok], 0), np.maximum(hi[ok] - shown, 0)],
                    fmt="o", label="fake rate")
        ax.set_yscale("log")
        if ok.any():
            limits += [max(np.min(lo[ok][lo[ok] > 0], initial=np.min(hi[ok])) / 3, 1e-7), np.max(hi[ok]) * 3]
        ax.set_xlabel(label)
    axes[0].set_ylabel(f"fake rate at ε_τ = {wp} %")
    if limits:
        axes[0].set_ylim(min(limits[::2]), max(limits[1::2]))
    for ax in axes:
        _label(ax, com=False)
    return fig


def confusion_figure(matrices: Mapping[str, Any]) -> Any:
    """Decay-mode confusion matrices with counts (colour: row fraction)."""
    fig, axes = plotting.page_figure(1, len(matrices), aspect=0.55 if len(matrices) > 1 else 0.9)
    axes = np.atleast_1d(axes)
    short = ["1p0", "1p1", "1p2+", "3p0", "3p1+", "rare"]
    for ax, (name, cm) in zip(axes, matrices.items(), strict=True):
        cm = np.asarray(cm, float)
        rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1.0)
        ax.imshow(rows, vmin=0, vmax=1, cmap="Blues")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if cm[i, j] > 0:
                    ax.text(j, i, f"{cm[i, j]:.0f}", ha="center", va="center", fontsize=10,
                            color="white" if rows[i, j] > 0.6 else "black")
        ax.set_xticks(range(len(short)), short, rotation=60, fontsize=10)
        ax.set_yticks(range(len(short)), short, fontsize=10)
        ax.set_xlabel(f"predicted: {name}")
        ax.set_ylabel("true")
        ax.minorticks_off()
        _label(ax, com=False)

    return fig


def kinematics_figure(results: Mapping[str, Mapping[str, Any]]) -> Any:
    """Visible-pT response and resolution in gen-pT bins, one line per estimator."""
    fig, (a, b) = plotting.page_figure(1, 2)
    for name, res in results.items():
        bins = [r for r in res["pt_bins"] if np.isfinite(r["resolution"])]
        centres = [0.5 * (r["lo"] + r["hi"]) for r in bins]
        a.plot(centres, [r["response"] for r in bins], "o-", label=name)
        b.plot(centres, [r["resolution"] for r in bins], "o-", label=name)
    a.axhline(1.0, color="grey", ls=":")
    a.set_ylabel("response")
    b.set_ylabel("resolution")
    for ax in (a, b):
        ax.set_xlabel(r"visible $\tau$ $p_T^{gen}$ [GeV]")
        _label(ax, com=False)
    b.legend(loc="upper right")
    return fig


def learning_curves_figure(curves: Mapping[str, Mapping[str, Any]]) -> Any:
    """Validation loss at each evaluation of each training (``evals_per_epoch`` per epoch, drawn at their
    fraction of an epoch), relative to its first evaluation (one panel), and its training loss (dashed); the
    legend says whether each converged, an open circle marks the start of the last fifth of training, over which
    the convergence rule measures the improvement."""
    fig, ax = plotting.page_figure()
    for i, (name, hist) in enumerate(curves.items()):
        val = np.asarray(hist.get("val_loss", []), float)
        train = np.asarray(hist.get("train_loss", []), float)
        if len(val) == 0:
            continue
        epochs = np.arange(1, len(val) + 1) / int(hist.get("evals_per_epoch", 1))
        record = hist.get("convergence")
        ax.plot(epochs, val / val[0], "-", color=f"C{i % 10}", label=plotting.convergence_label(name, record))
        plotting.mark_convergence_window(ax, epochs, val / val[0], record, color=f"C{i % 10}")
        if len(train):
            ax.plot(epochs, train / val[0], "--", color=f"C{i % 10}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss / first validation loss")
    ax.legend(fontsize=10, ncols=2)
    _label(ax)
    return fig


def label_efficiency_figure(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("tau ID AUC",
                                                                                       "DM accuracy")) -> Any:
    """Headline numbers vs label fraction, from scratch and fine-tuned after pre-training (error bars: test
    bootstrap ⊕ spread over the draws)."""
    fig, axes = plotting.page_figure(1, len(metrics))
    for ax, key in zip(np.atleast_1d(axes), metrics, strict=True):
        for init, marker in (("scratch", "o--"), ("pre-trained", "s-")):
            pts = sorted((r["fraction"], r["summary"].get(key, np.nan), _error(r, key)) for r in rows
                         if r["init"] == init)
            if pts:
                x, y, err = zip(*pts, strict=True)
                ax.errorbar(x, y, yerr=err, fmt=marker, capsize=3, label=init)
        ax.set_xscale("log")
        ax.set_xlabel("label fraction")
        ax.set_ylabel(key)
        _label(ax, com=len(metrics) == 1)
    np.atleast_1d(axes)[0].legend(loc="lower right")
    return fig


def _error(row: Mapping[str, Any], key: str) -> float:
    """A side-study row's error bar: the test bootstrap ⊕ the seed spread (those given and finite; 0 without)."""
    parts = [row.get("errors", {}).get(key, np.nan), row.get("seed_std", {}).get(key, np.nan)]
    finite = [p for p in parts if p is not None and np.isfinite(p)]
    return float(np.hypot.reduce(finite)) if finite else 0.0


def size_figure(rows: Sequence[Mapping[str, Any]], key: str = "tau ID AUC") -> Any:
    """A summary number vs the number of parameters of each model size (error bars: test bootstrap ⊕ seed
    spread)."""
    fig, ax = plotting.page_figure(width=0.8)
    x = [r["parameters"] for r in rows]
    y = [r["summary"].get(key, np.nan) for r in rows]
    ax.errorbar(x, y, yerr=[_error(r, key) for r in rows], fmt="o-", capsize=3)
    for r, xi, yi in zip(rows, x, y, strict=True):
        ax.annotate(r["name"], (xi, yi), textcoords="offset points", xytext=(4, -12), fontsize=10)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(key)
    _label(ax)
    return fig
