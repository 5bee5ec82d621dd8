"""The Page helper that study notebooks share: timers, figures, declared parameters."""

from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from hepnb.book.notebook import Page
from hepnb.book.registry import get_study


def test_timer_adds_up_sections_and_survives_an_exception(tmp_path: Path) -> None:
    page = Page("environment", "ci", tmp_path)
    with page.timer("a"):
        time.sleep(0.02)
    with pytest.raises(RuntimeError), page.timer("a"):
        time.sleep(0.02)
        raise RuntimeError
    assert page.timings_s["a"] >= 0.04


def test_parameters_are_the_declared_ones_and_save_writes_them(tmp_path: Path) -> None:
    page = Page("environment", "ci", tmp_path)
    declared = [n for n in get_study("environment").parameters if n not in ("profile", "results_dir")]
    namespace = {n: 1 for n in declared} | {"unrelated": 5, "profile": "ci"}
    assert page.parameters(namespace) == {n: 1 for n in declared}
    with pytest.raises(KeyError, match=declared[0]):
        page.parameters({})
    path = page.save({"x": 1.5}, namespace)
    saved = json.loads(path.read_text())
    assert saved["params"] == {n: 1 for n in declared} and "total" in saved["timings_s"]


def test_show_saves_the_figure_captions_it_and_closes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each figure is saved, shown with a numbered, escaped caption, and closed; a figure without a caption is
    refused before anything is saved."""
    import IPython.display

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    page = Page("environment", "ci", tmp_path)
    for name in ("line", "other"):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, 1])
        path = page.show(fig, name, caption="a <b>line</b>")
        assert path.exists() and path.parent == page.figures
        assert not plt.fignum_exists(fig.number)
    captions = [o.data for o in shown if isinstance(o, IPython.display.Markdown)]
    assert captions == ["**Figure 1.** a &lt;b&gt;line&lt;/b&gt;", "**Figure 2.** a &lt;b&gt;line&lt;/b&gt;"]
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="needs a caption"):
        page.show(fig, "bare", caption=" ")
    assert not (page.figures / "bare.png").exists()
