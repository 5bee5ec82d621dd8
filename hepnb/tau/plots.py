"""Figures of the tau study (matplotlib; the style is set by the notebook)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hepnb.tau import constants

__all__ = ["confusion_figure", "kinematics_figure", "physics_figure", "roc_figure"]


def physics_figure(checks: Mapping[str, Any]) -> Any:
    """Visible-τ pT spectrum and candidate multiplicities of τ and q/g jets."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    hist = checks["vis_pt_hist"]
    a.stairs(hist["counts"], hist["edges"], color="C0")
    a.set_xlabel(r"visible $\tau$ $p_T$ [GeV]")
    a.set_ylabel("jets")
    n = np.arange(len(checks["n_candidates_hist"]["tau"]) + 1)
    for name, color in (("tau", "C0"), ("qg", "C1")):
        counts = np.asarray(checks["n_candidates_hist"][name], float)
        b.stairs(counts / max(counts.sum(), 1.0), n - 0.5, label=r"$\tau$ jets" if name == "tau" else "q/g jets",
                 color=color)
    b.axvline(constants.MAX_CANDIDATES + 0.5, color="grey", ls=":", label="input limit (20)")
    b.set_xlabel("candidates per jet")
    b.set_ylabel("fraction of jets")
    b.legend()
    fig.tight_layout()
    return fig


def roc_figure(rocs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Mis-ID probability vs τ efficiency, one curve per model (each a ``tau_id_metrics`` result)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5.5))
    for name, res in rocs.items():
        roc = res["roc"]
        misid = np.maximum(np.asarray(roc["misid"]), 1e-5)
        ax.plot(roc["eff_tau"], misid, label=f"{name} (AUC {res['auc']:.4f})")
    ax.set_yscale("log")
    ax.set_xlim(0.4, 1.0)
    ax.set_ylim(1e-4, 1.0)
    ax.set_xlabel(r"$\varepsilon_\tau$")
    ax.set_ylabel(r"$P_\mathrm{misid}$")
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig


def confusion_figure(matrices: Mapping[str, Any]) -> Any:
    """Row-normalised decay-mode confusion matrices side by side."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(matrices), figsize=(6.2 * len(matrices), 5.5), squeeze=False)
    for ax, (name, cm) in zip(axes[0], matrices.items(), strict=True):
        cm = np.asarray(cm)
        ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=9,
                        color="white" if cm[i, j] > 0.6 else "black")
        ax.set_xticks(range(len(constants.DM_NAMES)), constants.DM_NAMES, rotation=45, ha="right", fontsize=9)
        ax.set_yticks(range(len(constants.DM_NAMES)), constants.DM_NAMES, fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name, fontsize=12)
        ax.minorticks_off()
    fig.tight_layout()
    return fig


def kinematics_figure(results: Mapping[str, Mapping[str, Any]]) -> Any:
    """Visible-pT response and resolution in gen-pT bins, one line per estimator."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, res in results.items():
        bins = res["pt_bins"]
        centres = [0.5 * (r["lo"] + r["hi"]) for r in bins]
        a.plot(centres, [r["response"] for r in bins], "o-", label=name)
        b.plot(centres, [r["resolution"] for r in bins], "o-", label=name)
    a.axhline(1.0, color="grey", ls=":")
    a.set_ylabel(r"response (median $p_T^{reco}/p_T^{gen}$)")
    b.set_ylabel(r"resolution ($(q_{75}-q_{25})/q_{50}$)")
    for ax in (a, b):
        ax.set_xlabel(r"visible $\tau$ $p_T^{gen}$ [GeV]")
        ax.legend(fontsize=10)
    fig.tight_layout()
    return fig
