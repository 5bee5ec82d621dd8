"""Shared fixtures: tiny notebooks written on the fly for runner tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent


def make_notebook(path: Path, body: str, params: str = "") -> Path:
    """A study notebook with a tagged parameters cell and ``body`` after it."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('profile = "default"\nresults_dir = "../results"\n' + params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem} title"), cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


WRITES_RESULTS = """
from hepnb.book.results import save_results
save_results("{name}", profile, params={{"n": n, "scale": scale, "label": label}},
             metrics={{"headline": {{"answer": n * scale}}}}, timings_s={{"total": 0.0}},
             results_dir=results_dir)
"""

PARAMS = "n = 3\nscale = 0.5\nlabel = \"x\"\nflags = [1, 2]\nverbose = False\n"


@pytest.fixture
def notebooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A notebooks folder with a good study, one that raises and one that writes no results."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(folder / "good.ipynb", WRITES_RESULTS.format(name="good"), PARAMS)
    make_notebook(folder / "boom.ipynb", "raise RuntimeError('detector on fire')", PARAMS)
    make_notebook(folder / "silent.ipynb", "x = 1", PARAMS)
    (folder / "good.ci.yaml").write_text("n: 1\n")
    monkeypatch.setenv("HEPNB_NOTEBOOKS", str(folder))
    yield folder
