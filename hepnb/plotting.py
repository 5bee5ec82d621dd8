"""Figures for the book: made at the page's width, labelled per experiment, histograms through ``hist``.

The page's size and the figure rule (:data:`hepnb.book.figure_check.PAGE_WIDTH_IN`, ``MIN_FONT_PT`` …) and
the checker that enforces them live in :mod:`hepnb.book.figure_check`; this module makes figures to that
rule and saves them (:func:`savefig` records the checker's verdict).

How a study's ``plots.py`` uses this module
-------------------------------------------
::

    import matplotlib.pyplot as plt

    from hepnb import plotting

    def efficiency(curves, *, experiment="ALICE"):
        fig, ax = plotting.page_figure()                      # page width, fonts >= 10 pt, constrained layout
        for name, (x, y) in curves.items():
            ax.plot(x, y, label=name)
        ax.set(xlabel=r"$p_\\mathrm{T}$ (GeV/$c$)", ylabel="efficiency")
        ax.legend(loc="lower right")
        plotting.experiment_label(ax, experiment, rlabel="Pb–Pb")  # "ALICE Simulation", through mplhep.exp_label
        return fig                                            # the notebook shows and saves it

    def spectrum(pt_gev, is_tau):
        binning = plotting.Binning(bins=40, start=0, stop=50, label=r"visible $p_\\mathrm{T}$ [GeV]")
        h = plotting.histogram_by(pt_gev, ["τ jets" if t else "q/g jets" for t in is_tau], binning)
        fig, ax = plotting.page_figure()
        plotting.draw_histograms(ax, h, density=True)         # mplhep.histplot, one line per category
        plotting.experiment_label(ax, "FCC-ee", com="91.188 GeV")
        return fig

and in the notebook, once: ``plotting.use_style("ALICE")`` (``"LHCb"``, ``"FCC-ee"``); per figure:
``page.show(fig, "efficiency")`` (:class:`hepnb.book.notebook.Page`), which calls :func:`savefig`.
:func:`savefig` runs :func:`hepnb.book.figure_check.record_check`, which records the checker's verdict in
``figures.json`` beside the PNG; the book's tests read it (no notebook is executed twice); a test of
``plots.py`` calls :func:`hepnb.book.figure_check.check_figure` on figures made from small synthetic inputs.
Notebooks never import ``hist``: the helpers here fill ``hist.Hist`` objects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.book.figure_check import DISPLAY_DPI, MIN_FONT_PT, PAGE_WIDTH_IN, record_check

__all__ = [
    "EXPERIMENTS",
    "NEUTRAL",
    "Binning",
    "draw_histograms",
    "experiment_label",
    "histogram",
    "histogram_by",
    "page_figure",
    "savefig",
    "study_label",
    "use_style",
]

#: Experiments of the book's studies, with the mplhep style each page uses (FCC-ee has none: a neutral one).
EXPERIMENTS: Mapping[str, str | None] = {"ALICE": "ALICE", "LHCb": "LHCb2", "FCC-ee": None}
#: The style of a page without an experiment (the environment page).
NEUTRAL = "neutral"

_STYLES = ("ALICE", "ATLAS", "CMS", "LHCb", "LHCb2", "DUNE", "plothist")
#: Page-sized overrides of the mplhep styles (made for 12 × 9 in figures with 25–32 pt labels).
_PAGE_RC: Mapping[str, Any] = {
    "figure.figsize": (PAGE_WIDTH_IN, 0.62 * PAGE_WIDTH_IN),
    "figure.dpi": DISPLAY_DPI,
    "savefig.bbox": "tight",
    "font.size": 11.0,
    "axes.labelsize": 12.0,
    "axes.titlesize": 12.0,
    "figure.titlesize": 13.0,
    "xtick.labelsize": 11.0,
    "ytick.labelsize": 11.0,
    "legend.fontsize": 10.5,
    "legend.title_fontsize": 11.0,
    "xtick.major.size": 6.0,
    "ytick.major.size": 6.0,
    "xtick.minor.size": 3.0,
    "ytick.minor.size": 3.0,
    "lines.linewidth": 1.6,
    "lines.markersize": 5.0,
    "axes.linewidth": 1.0,
    "axes.labelpad": 4.0,
    "xtick.major.pad": 3.5,
    "ytick.major.pad": 3.5,
    "xtick.major.width": 1.0,
    "ytick.major.width": 1.0,
    "xtick.minor.width": 0.8,
    "ytick.minor.width": 0.8,
    "axes.xmargin": 0.04,
    "axes.ymargin": 0.05,
    "legend.frameon": False,
}
#: The neutral style of a page without an mplhep experiment style (matplotlib's, with HEP ticks).
_NEUTRAL_RC: Mapping[str, Any] = {
    "xtick.direction": "in", "ytick.direction": "in", "xtick.top": True, "ytick.right": True,
    "xtick.minor.visible": True, "ytick.minor.visible": True, "xaxis.labellocation": "right",
    "yaxis.labellocation": "top", "axes.prop_cycle": "cycler('color', ['#3f90da', '#ffa90e', '#bd1f01', "
    "'#94a4a2', '#832db6', '#a96b59', '#e76300', '#b9ac70', '#717581', '#92dadd'])",
}


def use_style(experiment: str = "ALICE") -> None:
    """Apply the mplhep style of a study's experiment, at the page's size (fonts ≥ 10 pt).

    Parameters
    ----------
    experiment
        ``"ALICE"``, ``"LHCb"``, ``"FCC-ee"`` (matplotlib's style with HEP ticks: FCC-ee has no mplhep
        style, and a CMS style on an FCC-ee page is wrong), ``"neutral"`` (the same, for a page without an
        experiment), or any mplhep style name (``"LHCb2"``, …).

    Raises
    ------
    ValueError
        For a name that is neither.
    """
    style = None if experiment == NEUTRAL else EXPERIMENTS.get(experiment, experiment)
    if style is not None and style not in _STYLES:
        msg = f"unknown style {experiment!r}; choose one of {sorted(set(EXPERIMENTS) | set(_STYLES))}"
        raise ValueError(msg)
    import matplotlib as mpl
    import matplotlib.style
    import mplhep

    if style is None:
        matplotlib.style.use("default")
        mpl.rcParams.update(_NEUTRAL_RC)
    else:
        mplhep.style.use(style)
    mpl.rcParams.update(_PAGE_RC)


def page_figure(nrows: int = 1, ncols: int = 1, *, width: float = 1.0, aspect: float | None = None,
                **subplots_kw: Any) -> tuple[Any, Any]:
    """A figure that fills ``width`` of the page column, with constrained layout.

    Parameters
    ----------
    nrows, ncols
        Panel grid, as :func:`matplotlib.pyplot.subplots`.
    width
        Fraction of the page width (0 < width ≤ 1).
    aspect
        Height over width of the figure; default 0.62 for one row, 0.42 per row for a row of 2+ panels.
    subplots_kw
        Passed to :func:`matplotlib.pyplot.subplots` (``sharex``, ``gridspec_kw`` …).

    Returns
    -------
    (Figure, Axes or array of Axes)
    """
    if not 0 < width <= 1:
        msg = f"width is a fraction of the page, 0 < width <= 1; found {width}"
        raise ValueError(msg)
    import matplotlib.pyplot as plt

    if aspect is None:
        aspect = 0.62 if ncols == 1 else 0.42 * max(nrows, 1)
    size = (PAGE_WIDTH_IN * width, PAGE_WIDTH_IN * width * aspect)
    subplots_kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=size, dpi=DISPLAY_DPI, **subplots_kw)


def experiment_label(ax: Any, experiment: str, *, text: str = "", com: str | float | None = None,
                     rlabel: str | None = None, loc: int = 0, fontsize: float = 13.0) -> tuple[Any, ...]:
    """The experiment label of a study's figure, always "Simulation", through ``mplhep.label.exp_label``.

    Parameters
    ----------
    ax
        The axes to label.
    experiment
        ``"ALICE"``, ``"LHCb"`` or ``"FCC-ee"`` (free text: mplhep has no FCC-ee label).
    text
        Words after "Simulation" (e.g. ``"Preliminary"``); nothing by default.
    com
        Centre-of-mass energy: a number in TeV or a string with units (``"91.188 GeV"``); none by default.
    rlabel
        Right-hand text instead of the energy (e.g. ``"Pb–Pb"``, ``"UT → T1"``).
    loc
        mplhep's position code; 0 (default) puts the label above the axes, off the data.
    fontsize
        Size of the experiment name (points); the other texts follow mplhep's scaling, never under 10 pt.

    Returns
    -------
    tuple
        mplhep's text artists.

    Raises
    ------
    ValueError
        For an experiment that is not one of the book's (a CMS label on an FCC-ee page is a mistake).
    """
    if experiment not in EXPERIMENTS:
        msg = f"experiment must be one of {list(EXPERIMENTS)}, found {experiment!r}"
        raise ValueError(msg)
    from mplhep.label import exp_label

    artists = exp_label(exp=experiment, text=text, data=False, com=com, rlabel=rlabel, loc=loc,
                        fontsize=fontsize, ax=ax)
    return _readable(artists)


def _readable(artists: Any) -> tuple[Any, ...]:
    """mplhep's label artists, none under :data:`MIN_FONT_PT`."""
    for artist in artists:
        if artist is not None and artist.get_fontsize() < MIN_FONT_PT:
            artist.set_fontsize(MIN_FONT_PT)
    return tuple(a for a in artists if a is not None)


def study_label(ax: Any, name: str, text: str, *, rlabel: str | None = None, loc: int = 0,
                fontsize: float = 13.0) -> tuple[Any, ...]:
    """A label in mplhep's layout for a figure whose detector or magnet is the study's own, not an experiment's
    (so it must not say "<experiment> Simulation"): ``name`` in bold, ``text`` after it, ``rlabel`` on the right.

    Parameters
    ----------
    ax
        The axes to label.
    name
        What was simulated, e.g. ``"LHCb-like dipole"``.
    text
        Who simulated it, e.g. ``"hepnb simulation"``.
    rlabel
        Right-hand text (e.g. ``"UT → T1"``).
    loc, fontsize
        As :func:`experiment_label`.

    Returns
    -------
    tuple
        mplhep's text artists.

    Raises
    ------
    ValueError
        For a name that is one of the experiments of :data:`EXPERIMENTS` (that is :func:`experiment_label`'s job).
    """
    if name.strip() in EXPERIMENTS:
        msg = f"name must not be an experiment's ({name!r}): use experiment_label for an experiment's simulation"
        raise ValueError(msg)
    from mplhep.label import exp_label

    artists = exp_label(exp=name, llabel=text, data=False, com=None, rlabel=rlabel, loc=loc, fontsize=fontsize, ax=ax)
    return _readable(artists)


# ------------------------------------------------------------------------------------------------ histograms


@dataclass(frozen=True)
class Binning:
    """The value axis of a histogram: its bins, range, label and name.

    Attributes
    ----------
    bins
        Number of regular bins on [start, stop) (log-spaced with ``log``), or the bin edges.
    start, stop
        Range of regular bins (unused with edges).
    label
        Axis label with its unit, e.g. ``"visible $p_T$ [GeV]"``.
    name
        Axis name.
    log
        Log-spaced regular bins.
    """

    bins: int | Sequence[float]
    label: str
    start: float | None = None
    stop: float | None = None
    name: str = "x"
    log: bool = False


def convergence_label(name: str, record: Mapping[str, Any] | None) -> str:
    """A learning curve's legend entry: ``name`` with its convergence record's answer ("converged" or "not
    converged", :class:`hepnb.convergence.Convergence`); ``name`` alone without a record."""
    if record is None:
        return name
    return f"{name} ({'converged' if record['converged'] else 'not converged'})"


def mark_convergence_window(ax: Any, x: Sequence[float], y: Sequence[float], record: Mapping[str, Any] | None, *,
                            color: Any) -> None:
    """Mark where the convergence rule reads a learning curve: an open circle at the first point of its last
    fifth (:data:`hepnb.convergence.LAST_FRACTION`), from which the improvement is measured."""
    if record is None:
        return
    start = int(record["window"][0])
    if 0 <= start < len(x) and record["n_points"] > 1:
        ax.plot([x[start]], [y[start]], "o", mfc="none", mec=color, ms=9, mew=1.5)


def histogram(values: Any, binning: Binning, *, weights: Any = None) -> Any:
    """A filled one-dimensional ``hist.Hist`` (regular or variable bins; weighted storage with ``weights``).

    Parameters
    ----------
    values
        The values to fill (NaN are dropped).
    binning
        The value axis.
    weights
        Per-entry weights (``Weight`` storage, so that errors are √Σw²).
    """
    import hist

    storage = hist.storage.Weight() if weights is not None else hist.storage.Double()
    h = hist.Hist(_axis(binning), storage=storage)
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    if weights is None:
        h.fill(values[keep])
    else:
        h.fill(values[keep], weight=np.asarray(weights, dtype=float)[keep])
    return h


def histogram_by(values: Any, groups: Sequence[str] | Any, binning: Binning, *, group_name: str = "group",
                 weights: Any = None) -> Any:
    """A ``hist.Hist`` of ``values`` with a category axis of ``groups`` (one entry per value).

    The categories keep their order of first appearance; draw one line per category with
    :func:`draw_histograms`.

    Parameters
    ----------
    values
        The values to fill (NaN are dropped).
    groups
        The category of each value.
    binning
        The value axis.
    group_name
        Name and label of the category axis.
    weights
        Per-entry weights (``Weight`` storage, so that errors are √Σw²).
    """
    import hist

    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups).astype(str)
    if groups.shape != values.shape:
        msg = f"values and groups must have one entry each; found shapes {values.shape} and {groups.shape}"
        raise ValueError(msg)
    categories = list(dict.fromkeys(groups.tolist()))
    storage = hist.storage.Weight() if weights is not None else hist.storage.Double()
    h = hist.Hist(_axis(binning), hist.axis.StrCategory(categories, name=group_name, label=group_name),
                  storage=storage)
    keep = np.isfinite(values)
    if weights is None:
        h.fill(values[keep], groups[keep])
    else:
        h.fill(values[keep], groups[keep], weight=np.asarray(weights, dtype=float)[keep])
    return h


def _axis(binning: Binning) -> Any:
    import hist

    bins, start, stop = binning.bins, binning.start, binning.stop
    if isinstance(bins, (int, np.integer)):
        if start is None or stop is None or not stop > start:
            msg = f"regular bins need start < stop; found start={start}, stop={stop}"
            raise ValueError(msg)
        transform = hist.axis.transform.log if binning.log else None
        return hist.axis.Regular(int(bins), start, stop, name=binning.name, label=binning.label,
                                 transform=transform)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        msg = f"bin edges must be increasing with at least two values; found {edges.tolist()[:10]}"
        raise ValueError(msg)
    return hist.axis.Variable(edges, name=binning.name, label=binning.label)


def draw_histograms(ax: Any, h: Any, *, labels: Sequence[str] | None = None, density: bool = False,
                    histtype: str = "step", yerr: bool = True, legend: bool = True, **kwargs: Any) -> Any:
    """Draw a ``hist.Hist`` (one axis), or one line per category of a 2-D one, with ``mplhep.histplot``.

    Parameters
    ----------
    ax
        Target axes.
    h
        A histogram from :func:`histogram` or :func:`histogram_by`, or a list of 1-D histograms.
    labels
        Legend labels (default: the category names).
    density, histtype, yerr
        As ``mplhep.histplot``.
    legend
        Add a legend when there is more than one line.
    kwargs
        Passed to ``mplhep.histplot``.
    """
    import mplhep

    if isinstance(h, (list, tuple)):
        hists = list(h)
        names = list(labels) if labels is not None else [None] * len(hists)
    elif h.ndim == 2:
        categories = list(h.axes[1])
        hists = [h[:, i] for i in range(len(categories))]
        names = list(labels) if labels is not None else [str(c) for c in categories]
    else:
        hists = [h]
        names = list(labels) if labels is not None else [None]
    artists = mplhep.histplot(hists, ax=ax, density=density, histtype=histtype, yerr=yerr,
                              label=names if any(names) else None, **kwargs)
    ax.set_xlabel(hists[0].axes[0].label)
    if legend and len(hists) > 1:
        ax.legend()
    return artists


# --------------------------------------------------------------------------------------------------- saving


def savefig(fig: Any, folder: str | os.PathLike[str], name: str, *, dpi: int = 200, check: bool = True) -> Path:
    """Save ``fig`` as ``folder/name.png`` and record the figure check's verdict in ``folder/figures.json``.

    The check is :func:`hepnb.book.figure_check.record_check` (skipped with ``check=False``).

    The figure stays open for display. The PNG file is written at ``dpi`` (print quality); what the page
    shows is the notebook's own display at the figure's dpi.

    Returns
    -------
    pathlib.Path
        The PNG file.
    """
    if not name or "/" in name or name.startswith("."):
        msg = f"figure name must be a plain file stem, found {name!r}"
        raise ValueError(msg)
    folder = Path(folder)
    path = folder / f"{name}.png"
    folder.mkdir(parents=True, exist_ok=True)
    if check:
        record_check(fig, folder, name)
    fig.savefig(path, dpi=dpi)
    return path
