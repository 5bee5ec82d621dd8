"""Figures for the book: made at the page's width, labelled per experiment, histograms through ``hist``, checked.

The page
--------
The book is read in sphinx-book-theme (Jupyter Book 1). Its article column, measured in Chromium at a
1280 × 900 viewport, is :data:`PAGE_WIDTH_PX` = 688 CSS pixels wide (752 px article minus 2 × 32 px padding;
``tests/test_book.py`` measures it again on every build). A notebook figure is shown as a PNG rendered at
``figure.dpi`` with a tight bounding box, so a figure of :data:`PAGE_WIDTH_IN` inches at :data:`DISPLAY_DPI`
is displayed at its natural width; the book's rule is that no figure is shrunk below
:data:`MIN_DISPLAY_FRACTION` (70 %) of it, i.e. its natural width stays under 983 px, and that no text is
smaller than :data:`MIN_FONT_PT` (10 pt, drawn at 100 dpi: 14 px on the page).

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
        h = plotting.histogram_by(pt_gev, ["τ jets" if t else "q/g jets" for t in is_tau],
                                  bins=40, start=0, stop=50, label=r"visible $p_\\mathrm{T}$ [GeV]")
        fig, ax = plotting.page_figure()
        plotting.draw_histograms(ax, h, density=True)         # mplhep.histplot, one line per category
        plotting.experiment_label(ax, "FCC-ee", com="91.188 GeV")
        return fig

and in the notebook, once: ``plotting.use_style("ALICE")`` (``"LHCb"``, ``"FCC-ee"``); per figure:
``plotting.savefig(fig, figures, "efficiency")`` then ``plt.show()``. :func:`savefig` runs
:func:`check_figure` and records its verdict in ``figures.json`` beside the PNG, which the book's tests read
(no notebook is executed twice); a test of ``plots.py`` calls :func:`check_figure` on figures made from small
synthetic inputs. Notebooks never import ``hist``: the helpers here fill ``hist.Hist`` objects.

What :func:`check_figure` reports
---------------------------------
``size``: the natural width of the displayed PNG against the page (shrunk below 70 %); ``font``: any visible
text smaller than 10 pt; ``outside``: data points (lines, markers, scatter, error bars, histogram steps)
outside the axes' view limits, i.e. cut off; ``overlap``: legends, annotations, texts, titles, axis labels and
experiment labels whose boxes overlap (from the artists' window extents), and crowded tick labels.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "DISPLAY_DPI",
    "EXPERIMENTS",
    "MIN_DISPLAY_FRACTION",
    "MIN_FONT_PT",
    "NEUTRAL",
    "PAGE_WIDTH_IN",
    "PAGE_WIDTH_PX",
    "FigureIssue",
    "check_figure",
    "displayed_fraction",
    "draw_histograms",
    "experiment_label",
    "experiment_labels",
    "histogram",
    "histogram_by",
    "natural_width_px",
    "page_figure",
    "savefig",
    "use_style",
]

#: Width of sphinx-book-theme's article content at a 1280 × 900 viewport (CSS px), measured in Chromium.
PAGE_WIDTH_PX = 688
#: Resolution of the PNG a notebook displays (``figure.dpi``); one figure pixel is one CSS pixel.
DISPLAY_DPI = 100
#: A full-width figure (inches); a little narrower than the column so a tight box with labels still fits.
PAGE_WIDTH_IN = 6.8
#: Smallest font size on a figure (points).
MIN_FONT_PT = 10.0
#: Smallest displayed width of a figure as a fraction of its natural width.
MIN_DISPLAY_FRACTION = 0.7
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
        Right-hand text instead of the energy (e.g. ``"Pb–Pb"``, ``"UT → T"``).
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
    for artist in artists:
        if artist is not None and artist.get_fontsize() < MIN_FONT_PT:
            artist.set_fontsize(MIN_FONT_PT)
    return tuple(a for a in artists if a is not None)


# ------------------------------------------------------------------------------------------------ histograms


def histogram(values: Any, *, bins: int | Sequence[float], start: float | None = None, stop: float | None = None,
              label: str, name: str = "x", weights: Any = None, log: bool = False) -> Any:
    """A filled one-dimensional ``hist.Hist`` (regular or variable bins; weighted storage with ``weights``).

    Parameters
    ----------
    values
        The values to fill (NaN are dropped).
    bins, start, stop
        ``bins`` regular bins on [start, stop) (log-spaced with ``log``), or the bin edges.
    label
        Axis label with its unit, e.g. ``"visible $p_T$ [GeV]"``.
    name
        Axis name.
    weights
        Per-entry weights (``Weight`` storage, so that errors are √Σw²).
    """
    import hist

    axis = _axis(bins, start, stop, label=label, name=name, log=log)
    storage = hist.storage.Weight() if weights is not None else hist.storage.Double()
    h = hist.Hist(axis, storage=storage)
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    if weights is None:
        h.fill(values[keep])
    else:
        h.fill(values[keep], weight=np.asarray(weights, dtype=float)[keep])
    return h


def histogram_by(values: Any, groups: Sequence[str] | Any, *, bins: int | Sequence[float],
                 start: float | None = None, stop: float | None = None, label: str, name: str = "x",
                 group_name: str = "group", weights: Any = None, log: bool = False) -> Any:
    """A ``hist.Hist`` of ``values`` with a category axis of ``groups`` (one entry per value).

    The categories keep their order of first appearance; draw one line per category with
    :func:`draw_histograms`.
    """
    import hist

    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups).astype(str)
    if groups.shape != values.shape:
        msg = f"values and groups must have one entry each; found shapes {values.shape} and {groups.shape}"
        raise ValueError(msg)
    categories = list(dict.fromkeys(groups.tolist()))
    storage = hist.storage.Weight() if weights is not None else hist.storage.Double()
    h = hist.Hist(_axis(bins, start, stop, label=label, name=name, log=log),
                  hist.axis.StrCategory(categories, name=group_name, label=group_name), storage=storage)
    keep = np.isfinite(values)
    if weights is None:
        h.fill(values[keep], groups[keep])
    else:
        h.fill(values[keep], groups[keep], weight=np.asarray(weights, dtype=float)[keep])
    return h


def _axis(bins: int | Sequence[float], start: float | None, stop: float | None, *, label: str, name: str,
          log: bool) -> Any:
    import hist

    if isinstance(bins, (int, np.integer)):
        if start is None or stop is None or not stop > start:
            msg = f"regular bins need start < stop; found start={start}, stop={stop}"
            raise ValueError(msg)
        transform = hist.axis.transform.log if log else None
        return hist.axis.Regular(int(bins), start, stop, name=name, label=label, transform=transform)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        msg = f"bin edges must be increasing with at least two values; found {edges.tolist()[:10]}"
        raise ValueError(msg)
    return hist.axis.Variable(edges, name=name, label=label)


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


# ------------------------------------------------------------------------------------------------- checking

IssueKind = Literal["size", "font", "outside", "overlap"]


@dataclass(frozen=True)
class FigureIssue:
    """One problem of a figure found by :func:`check_figure`."""

    kind: IssueKind
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def _renderer(fig: Any) -> Any:
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def natural_width_px(fig: Any, renderer: Any = None) -> float:
    """Width (px) of the PNG a notebook displays: the tight bounding box (+ padding) at the figure's dpi."""
    import matplotlib as mpl

    bbox = fig.get_tightbbox(renderer if renderer is not None else _renderer(fig))
    pad = float(mpl.rcParams["savefig.pad_inches"])
    return float((bbox.width + 2 * pad) * fig.dpi)


def displayed_fraction(fig: Any, page_width_px: float = PAGE_WIDTH_PX) -> float:
    """Displayed over natural width on the page (1 when the figure fits the column)."""
    return min(1.0, page_width_px / natural_width_px(fig))


def _text_label(artist: Any) -> str:
    from matplotlib.legend import Legend

    if isinstance(artist, Legend):
        return "legend"
    text = " ".join(str(artist.get_text()).split())
    return f"text {text[:40]!r}"


def _visible(artist: Any) -> bool:
    if not artist.get_visible():
        return False
    parent = getattr(artist, "axes", None)
    return parent is None or parent.get_visible()


def _font_issues(fig: Any, min_font_pt: float) -> list[FigureIssue]:
    """One issue per font size under ``min_font_pt``, naming a few of the texts set in it."""
    from matplotlib.text import Text

    small: dict[float, list[str]] = {}
    for text in fig.findobj(Text):
        if not _visible(text) or not str(text.get_text()).strip():
            continue
        size = float(text.get_fontsize())
        if size < min_font_pt - 1e-9:
            small.setdefault(size, []).append(" ".join(str(text.get_text()).split())[:30])
    issues = []
    for size, texts in sorted(small.items()):
        shown = ", ".join(repr(t) for t in list(dict.fromkeys(texts))[:4])
        more = f" and {len(texts) - 4} more" if len(texts) > 4 else ""
        issues.append(FigureIssue("font", f"{len(texts)} text{'s' if len(texts) > 1 else ''} at {size:.1f} pt "
                                  f"(< {min_font_pt:g} pt): {shown}{more}"))
    return issues


def _name(artist: Any, kind: str, index: int) -> str:
    label = str(artist.get_label() or "")
    return f"{kind} {label!r}" if label and not label.startswith("_") else f"{kind} #{index}"


def _data_points(ax: Any) -> list[tuple[str, np.ndarray]]:
    """(description, N×2 data coordinates) of the data artists drawn in data coordinates of ``ax``."""
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection
    from matplotlib.patches import StepPatch

    found = []
    for i, line in enumerate(ax.get_lines()):
        if not _visible(line) or line.get_transform() != ax.transData:
            continue
        xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)]) \
            if len(line.get_xdata()) else np.empty((0, 2))
        found.append((_name(line, "line", i), xy))
    for i, coll in enumerate(ax.collections):
        if not _visible(coll):
            continue
        if isinstance(coll, PathCollection) and coll.get_offset_transform() == ax.transData:
            found.append((_name(coll, "scatter", i), np.asarray(coll.get_offsets(), dtype=float)))
        elif isinstance(coll, LineCollection) and coll.get_transform() == ax.transData:
            segments = [np.asarray(s, dtype=float) for s in coll.get_segments() if len(s)]
            if segments:
                found.append((_name(coll, "error bars", i), np.concatenate(segments)))
        elif isinstance(coll, PolyCollection):
            continue  # bands and fills are drawn to the edge on purpose
    for i, patch in enumerate(ax.patches):
        if isinstance(patch, StepPatch) and _visible(patch) and patch.get_transform() == ax.transData:
            values, edges, _baseline = patch.get_data()
            centres = 0.5 * (np.asarray(edges[1:]) + np.asarray(edges[:-1]))
            ys = np.asarray(values, dtype=float)
            xy = np.column_stack([centres, ys]) if patch.orientation == "vertical" else np.column_stack([ys, centres])
            found.append((_name(patch, "histogram", i), xy))
    return found


def _outside_issues(fig: Any) -> list[FigureIssue]:
    issues = []
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.has_data():
            continue
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        tx, ty = 1e-9 * (x1 - x0), 1e-9 * (y1 - y0)
        log_x, log_y = ax.get_xscale() == "log", ax.get_yscale() == "log"
        for what, xy in _data_points(ax):
            if xy.size == 0:
                continue
            x, y = xy[:, 0], xy[:, 1]
            finite = np.isfinite(x) & np.isfinite(y)
            if log_x:
                finite &= x > 0
            if log_y:
                finite &= y > 0
            out = finite & ((x < x0 - tx) | (x > x1 + tx) | (y < y0 - ty) | (y > y1 + ty))
            if out.any():
                first = xy[np.argmax(out)]
                issues.append(FigureIssue("outside", f"axes {index}: {what} has {int(out.sum())} of "
                                          f"{int(finite.sum())} points outside the view limits "
                                          f"x∈[{x0:.4g}, {x1:.4g}], y∈[{y0:.4g}, {y1:.4g}] "
                                          f"(e.g. ({first[0]:.4g}, {first[1]:.4g}))"))
    return issues


def _boxes(fig: Any) -> list[tuple[str, Any]]:
    """The text-like boxes of a figure: legends, texts, annotations, titles, axis labels, experiment labels."""
    from matplotlib.text import Text

    boxes: list[tuple[str, Any]] = []
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        if legend is not None and legend.get_visible():
            boxes.append(("legend", legend))
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        candidates: list[Any] = [*ax.texts, ax.title, ax._left_title, ax._right_title,
                                 ax.xaxis.label, ax.yaxis.label]
        boxes += [(_text_label(t), t) for t in candidates if isinstance(t, Text) and _visible(t)
                  and str(t.get_text()).strip()]
    boxes += [(_text_label(t), t) for t in fig.texts if _visible(t) and str(t.get_text()).strip()]
    if fig._suptitle is not None and str(fig._suptitle.get_text()).strip():
        boxes.append((_text_label(fig._suptitle), fig._suptitle))
    return boxes


def _overlap_px(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return min(w, h) if w > 0 and h > 0 else 0.0


def _overlap_issues(fig: Any, renderer: Any, tolerance_px: float) -> list[FigureIssue]:
    boxes = [(name, artist.get_window_extent(renderer)) for name, artist in _boxes(fig)]
    issues = []
    for i, (name_a, box_a) in enumerate(boxes):
        for name_b, box_b in boxes[i + 1:]:
            depth = _overlap_px(box_a, box_b)
            if depth > tolerance_px:
                issues.append(FigureIssue("overlap", f"{name_a} and {name_b} overlap by {depth:.0f} px"))
    for index, ax in enumerate(fig.axes):
        for axis_name, labels in (("x", ax.get_xticklabels()), ("y", ax.get_yticklabels())):
            shown = [t for t in labels if _visible(t) and str(t.get_text()).strip()]
            extents = [t.get_window_extent(renderer) for t in shown]
            for j in range(len(extents) - 1):
                if _overlap_px(extents[j], extents[j + 1]) > tolerance_px:
                    issues.append(FigureIssue("overlap", f"axes {index}: {axis_name} tick labels "
                                              f"{shown[j].get_text()!r} and {shown[j + 1].get_text()!r} overlap"))
                    break
    return issues


def experiment_labels(fig: Any) -> list[str]:
    """The texts of the mplhep experiment labels on a figure (``["ALICE", "Simulation"]``), in drawing order."""
    from matplotlib.text import Text

    return [str(t.get_text()) for t in fig.findobj(Text)
            if type(t).__name__ in ("ExpLabel", "ExpText") and str(t.get_text()).strip()]


def check_figure(fig: Any, *, page_width_px: float = PAGE_WIDTH_PX, min_font_pt: float = MIN_FONT_PT,
                 min_display_fraction: float = MIN_DISPLAY_FRACTION, overlap_tolerance_px: float = 1.0
                 ) -> list[FigureIssue]:
    """What a reader would find wrong with a figure, checked on the matplotlib side.

    Parameters
    ----------
    fig
        A matplotlib figure, drawn as the notebook will display it.
    page_width_px
        Width of the page column (CSS px) the figure is displayed in.
    min_font_pt
        Smallest allowed font size.
    min_display_fraction
        Smallest allowed displayed / natural width.
    overlap_tolerance_px
        Boxes that overlap by no more than this (in both directions) are not reported.

    Returns
    -------
    list of FigureIssue
        ``size`` (shrunk below ``min_display_fraction`` of its natural width), ``font`` (text under
        ``min_font_pt``), ``outside`` (data points outside the view limits), ``overlap`` (legend, text,
        annotation, title, axis-label and experiment-label boxes that overlap; crowded tick labels).
        Empty for a good figure.
    """
    return _check(fig, page_width_px, min_font_pt, min_display_fraction, overlap_tolerance_px)[0]


def _check(fig: Any, page_width_px: float = PAGE_WIDTH_PX, min_font_pt: float = MIN_FONT_PT,
           min_display_fraction: float = MIN_DISPLAY_FRACTION, overlap_tolerance_px: float = 1.0
           ) -> tuple[list[FigureIssue], float]:
    """:func:`check_figure` with one draw; also returns the natural width (px)."""
    renderer = _renderer(fig)
    issues: list[FigureIssue] = []
    natural = natural_width_px(fig, renderer)
    fraction = min(1.0, page_width_px / natural)
    if fraction < min_display_fraction:
        issues.append(FigureIssue("size", f"natural width {natural:.0f} px is displayed at {100 * fraction:.0f} % "
                                  f"in the {page_width_px:.0f} px page column (< {100 * min_display_fraction:.0f} %);"
                                  f" make it at most {page_width_px / min_display_fraction / fig.dpi:.1f} in wide "
                                  f"at {fig.dpi:.0f} dpi"))
    issues += _font_issues(fig, min_font_pt)
    issues += _outside_issues(fig)
    issues += _overlap_issues(fig, renderer, overlap_tolerance_px)
    return issues, natural


# --------------------------------------------------------------------------------------------------- saving

#: The sidecar beside the figures: the checker's verdict per saved figure.
FIGURES_SIDECAR = "figures.json"


def _record_check(folder: Path, name: str, fig: Any, issues: Iterable[FigureIssue], width: float) -> None:
    sidecar = folder / FIGURES_SIDECAR
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    except (OSError, ValueError):
        record = {}
    record[name] = {
        "experiment_labels": experiment_labels(fig),
        "natural_width_px": round(width, 1),
        "displayed_fraction": round(min(1.0, PAGE_WIDTH_PX / width), 3),
        "size_in": [round(float(v), 3) for v in fig.get_size_inches()],
        "dpi": float(fig.dpi),
        "issues": [asdict(issue) for issue in issues],
    }
    tmp = sidecar.with_name(f".{sidecar.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, sidecar)


def savefig(fig: Any, folder: str | os.PathLike[str], name: str, *, dpi: int = 200, check: bool = True) -> Path:
    """Save ``fig`` as ``folder/name.png`` and record :func:`check_figure`'s verdict in ``folder/figures.json``.

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
        _record_check(folder, name, fig, *_check(fig))
    fig.savefig(path, dpi=dpi)
    return path
