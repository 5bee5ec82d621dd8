"""The book's figure rule and its checker: what a reader would find wrong with a figure on the page.

The page
--------
The book is read in sphinx-book-theme (Jupyter Book 1). Its article column, measured in Chromium at a
1280 × 900 viewport, is :data:`PAGE_WIDTH_PX` = 688 CSS pixels wide (752 px article minus 2 × 32 px padding;
``tests/test_book.py`` measures it again on every build). A notebook figure is shown as a PNG rendered at
``figure.dpi`` with a tight bounding box, so a figure of :data:`PAGE_WIDTH_IN` inches at :data:`DISPLAY_DPI`
is displayed at its natural width; the book's rule is that no figure is shrunk below
:data:`MIN_DISPLAY_FRACTION` (70 %) of it, i.e. its natural width stays under 983 px, and that no text is
smaller than :data:`MIN_FONT_PT` (10 pt, drawn at 100 dpi: 14 px on the page).

:mod:`hepnb.plotting` makes figures to this rule; :func:`hepnb.plotting.savefig` calls :func:`record_check`,
which runs :func:`check_figure` and records its verdict in :data:`FIGURES_SIDECAR` (``figures.json``) beside
the PNG, which the book's tests read (no notebook is executed twice); a test of a study's ``plots.py`` calls
:func:`check_figure` on figures made from small synthetic inputs.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, RootModel

from hepnb.io import FiniteFloat, read_json, validate_json

__all__ = [
    "DISPLAY_DPI",
    "FIGURES_SIDECAR",
    "MIN_DISPLAY_FRACTION",
    "MIN_FONT_PT",
    "PAGE_WIDTH_IN",
    "PAGE_WIDTH_PX",
    "FigureIssue",
    "FigureRecord",
    "check_figure",
    "displayed_fraction",
    "experiment_labels",
    "natural_width_px",
    "read_figures",
    "record_check",
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
#: The sidecar beside the figures: the checker's verdict per saved figure.
FIGURES_SIDECAR = "figures.json"


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
        # the axes' texts (annotations, experiment labels) and its three titles are its Text children
        candidates: list[Any] = [*ax.get_children(), ax.xaxis.label, ax.yaxis.label]
        boxes += [(_text_label(t), t) for t in candidates if isinstance(t, Text) and _visible(t)
                  and str(t.get_text()).strip()]
    # the figure's texts include its suptitle (Figure.suptitle adds it through Figure.text)
    boxes += [(_text_label(t), t) for t in fig.texts if _visible(t) and str(t.get_text()).strip()]
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


def record_check(fig: Any, folder: str | os.PathLike[str], name: str) -> list[FigureIssue]:
    """Check ``fig`` (:func:`check_figure`, one draw) and record the verdict under ``name`` in ``folder/figures.json``.

    The record of each figure holds its experiment labels, natural width (px), displayed fraction, size
    (inches), dpi and issues; the file is rewritten atomically (temp file + rename).

    Parameters
    ----------
    fig
        The figure, as the notebook will display it.
    folder
        The folder of the page's figures (it must exist).
    name
        The figure's file stem.

    Returns
    -------
    list of FigureIssue
        The issues found (also recorded).
    """
    issues, width = _check(fig)
    sidecar = Path(folder) / FIGURES_SIDECAR
    record = read_figures(folder) if sidecar.is_file() else {}
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
    return issues


class _IssueRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    kind: IssueKind
    message: str


class FigureRecord(BaseModel):
    """One figure's entry in ``figures.json`` (:func:`record_check` writes it, the book's tests read it)."""

    model_config = ConfigDict(extra="forbid")
    experiment_labels: list[str]
    natural_width_px: FiniteFloat
    displayed_fraction: Annotated[float, Field(ge=0.0, le=1.0)]
    size_in: Annotated[list[FiniteFloat], Field(min_length=2, max_length=2)]
    dpi: FiniteFloat
    issues: list[_IssueRecord]


class FigureRecords(RootModel[dict[str, FigureRecord]]):
    """The whole ``figures.json``: figure name → :class:`FigureRecord`."""


def read_figures(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The checker's records of a page's figures (``folder/figures.json``), validated against :class:`FigureRecord`.

    Raises
    ------
    FileNotFoundError
        No ``figures.json`` in ``folder``.
    ValueError
        Not JSON, not an object of figure names, or an entry that breaks the schema (the file and field named).
    """
    path = Path(folder) / FIGURES_SIDECAR
    record = read_json(path, what="figure records")
    validate_json(record, FigureRecords, path, what="figure records")
    return record
