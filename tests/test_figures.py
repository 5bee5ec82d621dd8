"""Figures at the page's width (hepnb.plotting) and the figure checker (hepnb.book.figure_check)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hepnb import plotting
from hepnb.book import figure_check


@pytest.fixture(autouse=True)
def _style() -> Iterator[None]:
    with matplotlib.rc_context():
        plotting.use_style("ALICE")
        yield
    plt.close("all")


def _kinds(fig: object) -> list[str]:
    return [issue.kind for issue in figure_check.check_figure(fig)]


def _good_figure(experiment: str = "ALICE") -> object:
    fig, ax = plotting.page_figure()
    x = np.linspace(0.1, 5, 40)
    ax.plot(x, np.exp(-x), label="efficiency")
    ax.errorbar(x[::5], np.exp(-x[::5]), yerr=0.02, fmt="o", label="measured")
    ax.scatter(x[::7], 0.5 * np.exp(-x[::7]), label="purity")
    ax.set(xlabel="p (GeV/c)", ylabel="fraction")
    ax.legend(loc="upper right")
    plotting.experiment_label(ax, experiment)
    return fig


@pytest.mark.parametrize("experiment", list(plotting.EXPERIMENTS))
def test_a_page_figure_with_every_experiment_label_passes(experiment: str) -> None:
    plotting.use_style(experiment)
    fig = _good_figure(experiment)
    assert figure_check.check_figure(fig) == []
    assert figure_check.displayed_fraction(fig) >= figure_check.MIN_DISPLAY_FRACTION
    assert figure_check.experiment_labels(fig) == [experiment, "Simulation"]


def test_page_width_follows_the_measured_column() -> None:
    # the column is 688 px at 1280 x 900; a full-width figure is displayed at (nearly) its natural width
    assert figure_check.PAGE_WIDTH_IN * figure_check.DISPLAY_DPI <= figure_check.PAGE_WIDTH_PX
    fig, _ = plotting.page_figure(1, 2)
    assert fig.get_size_inches()[0] == pytest.approx(figure_check.PAGE_WIDTH_IN)
    assert fig.dpi == figure_check.DISPLAY_DPI
    with pytest.raises(ValueError, match="fraction of the page"):
        plotting.page_figure(width=1.5)


def test_style_fonts_are_at_least_ten_points() -> None:
    for experiment in plotting.EXPERIMENTS:
        plotting.use_style(experiment)
        for key in ("font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"):
            assert float(matplotlib.rcParams[key]) >= figure_check.MIN_FONT_PT, (experiment, key)
    with pytest.raises(ValueError, match="unknown style"):
        plotting.use_style("FCC-hh")


def test_experiment_label_refuses_a_foreign_experiment() -> None:
    _, ax = plotting.page_figure()
    with pytest.raises(ValueError, match="experiment must be one of"):
        plotting.experiment_label(ax, "CMS")


def test_checker_finds_a_figure_too_wide_for_the_page() -> None:
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=100)
    ax.plot([0, 1], [0, 1])
    issues = figure_check.check_figure(fig)
    assert [i.kind for i in issues] == ["size"]
    assert "displayed at" in issues[0].message
    assert figure_check.displayed_fraction(fig) < figure_check.MIN_DISPLAY_FRACTION


def test_checker_finds_small_fonts() -> None:
    fig = _good_figure()
    ax = fig.axes[0]
    ax.tick_params(labelsize=7)
    ax.set_title("caption", fontsize=8)
    issues = [i for i in figure_check.check_figure(fig) if i.kind == "font"]
    assert any("at 7.0 pt" in i.message for i in issues)
    assert any("1 text at 8.0 pt (< 10 pt): 'caption'" in i.message for i in issues), issues


@pytest.mark.parametrize("artist", ["line", "scatter", "errorbar", "histogram"])
def test_checker_finds_data_outside_the_view_limits(artist: str) -> None:
    fig, ax = plotting.page_figure()
    if artist == "line":
        ax.plot([0, 1, 2], [0, 5, 1], label="MLP")
    elif artist == "scatter":
        ax.scatter([0, 1, 2], [0, 5, 1], label="MLP")
    elif artist == "errorbar":
        ax.errorbar([0, 1, 2], [0, 1, 1], yerr=[0.1, 4, 0.1], fmt="none")
    else:
        h = plotting.histogram(np.r_[np.zeros(50), np.ones(5)], plotting.Binning(bins=2, start=0, stop=2, label="x"))
        plotting.draw_histograms(ax, h, yerr=False)
    ax.set_ylim(-0.5, 2)  # the Pareto-plot mistake: a limit that cuts off some models
    issues = [i for i in figure_check.check_figure(fig) if i.kind == "outside"]
    assert issues, f"a {artist} point above the view limits must be reported"
    ax.set_ylim(-5, 60)
    assert [i for i in figure_check.check_figure(fig) if i.kind == "outside"] == []


def test_checker_ignores_reference_lines_and_log_scale_zeros() -> None:
    fig, ax = plotting.page_figure()
    ax.plot([1, 10, 100], [0.0, 1.0, 10.0])
    ax.axhline(1000.0)  # in axes coordinates along x: not a data point
    ax.set_yscale("log")
    ax.set_ylim(0.5, 20)
    assert _kinds(fig) == []


def test_checker_finds_overlapping_boxes() -> None:
    fig = _good_figure()
    ax = fig.axes[0]
    ax.annotate("best model", xy=(0.8, 0.9), xycoords="axes fraction", fontsize=12)  # onto the legend
    ax.text(0.02, 0.05, "RK4-10", transform=ax.transAxes, fontsize=12)
    ax.text(0.03, 0.06, "RK4-20", transform=ax.transAxes, fontsize=12)
    messages = [i.message for i in figure_check.check_figure(fig) if i.kind == "overlap"]
    assert any("legend" in m and "best model" in m for m in messages), messages
    assert any("RK4-10" in m and "RK4-20" in m for m in messages), messages


def test_checker_sees_side_titles_and_the_suptitle_once() -> None:
    fig = _good_figure()
    fig.suptitle("a suptitle")
    assert "overlap" not in _kinds(fig), "the suptitle is one box, not two"
    ax = fig.axes[0]
    ax.set_title("left title", loc="left")
    ax.text(0.0, 1.02, "a text on it", transform=ax.transAxes, va="bottom")
    messages = [i.message for i in figure_check.check_figure(fig) if i.kind == "overlap"]
    assert any("left title" in m and "a text on it" in m for m in messages), messages


def test_checker_finds_crowded_tick_labels() -> None:
    fig, ax = plotting.page_figure(width=0.4)
    ax.bar([f"model number {i}" for i in range(8)], np.arange(8))
    assert "overlap" in _kinds(fig)


def test_histogram_helpers_fill_hist_and_draw_with_mplhep() -> None:
    rng = np.random.default_rng(1)
    values = np.r_[rng.exponential(10, 400), rng.exponential(4, 200), np.nan]
    groups = ["τ jets"] * 400 + ["q/g jets"] * 200 + ["τ jets"]
    h = plotting.histogram_by(values, groups, plotting.Binning(bins=20, start=0, stop=60,
                                                                  label="visible $p_T$ [GeV]"))
    assert type(h).__module__.startswith("hist")
    assert list(h.axes[1]) == ["τ jets", "q/g jets"]
    assert h[:, "τ jets"].sum(flow=True) == 400 and h[:, "q/g jets"].sum(flow=True) == 200
    _, ax = plotting.page_figure()
    artists = plotting.draw_histograms(ax, h, density=True)
    assert len(artists) == 2
    assert ax.get_xlabel() == "visible $p_T$ [GeV]"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["τ jets", "q/g jets"]
    weighted = plotting.histogram(values[:400], plotting.Binning(bins=[0, 5, 10, 50], label="p"),
                                  weights=np.full(400, 0.5))
    assert weighted.sum().value == pytest.approx(0.5 * np.sum(values[:400] < 50))
    with pytest.raises(ValueError, match="one entry each"):
        plotting.histogram_by(values, groups[:10], plotting.Binning(bins=5, start=0, stop=1, label="x"))
    with pytest.raises(ValueError, match="increasing"):
        plotting.histogram(values, plotting.Binning(bins=[0, 5, 5], label="x"))


def test_savefig_records_the_verdict_beside_the_png(tmp_path: Path) -> None:
    path = plotting.savefig(_good_figure(), tmp_path, "good")
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    ax.plot([0, 1], [0, 1])
    plotting.savefig(fig, tmp_path, "wide")
    assert path == tmp_path / "good.png" and path.is_file()
    record = figure_check.read_figures(tmp_path)
    assert record["good"]["issues"] == [] and record["good"]["displayed_fraction"] >= 0.7
    assert record["good"]["experiment_labels"] == ["ALICE", "Simulation"] and record["wide"]["experiment_labels"] == []
    assert [i["kind"] for i in record["wide"]["issues"]] == ["size"]
    with pytest.raises(ValueError, match="plain file stem"):
        plotting.savefig(fig, tmp_path, "../x")


@pytest.mark.parametrize(("text", "field"), [("[]", "the top level"), ('{"a": {"dpi": 1}}', "a.experiment_labels"),
                                             ("{", "is not valid JSON")])
def test_a_damaged_figures_json_is_named_not_overwritten(tmp_path: Path, text: str, field: str) -> None:
    """``record_check`` silently started a new ``figures.json`` over a damaged one; now the schema names it."""
    sidecar = tmp_path / figure_check.FIGURES_SIDECAR
    sidecar.write_text(text)
    with pytest.raises(ValueError, match=field) as caught:
        plotting.savefig(_good_figure(), tmp_path, "good")
    assert str(sidecar) in str(caught.value) and sidecar.read_text() == text


def test_hist_is_declared_and_notebooks_leave_it_to_the_helpers() -> None:
    import tomllib

    repo = Path(__file__).resolve().parent.parent
    deps = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.split(">")[0].split("=")[0].split("[")[0].strip() == "hist" for d in deps), deps
    for notebook in sorted((repo / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert not re.search(r"^\s*(?:import hist\b|from hist\b)", code, re.MULTILINE), f"{notebook.name} imports hist"
