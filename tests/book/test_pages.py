"""What an executed notebook shows on its page (hepnb.book.pages): no machine path, no tool noise."""

from __future__ import annotations

from pathlib import Path

import nbformat

from hepnb.book.pages import clean_executed, clean_stream_text, shown_results_dir
from hepnb.book.runner import run_study

PYTHIA_BANNER = """
 *------------------------------------------------------------------------------------*
 |                                                                                    |
 |  *------------------------------------------------------------------------------*  |
 |  |   PPP   Y   Y  TTTTT  H   H  III    A      Welcome to the Lund Monte Carlo!  |  |
 |  |   P  P   Y Y     T    H   H   I    A A     This is PYTHIA version 8.317      |  |
 |  |                                                                              |  |
 |  *------------------------------------------------------------------------------*  |
 |                                                                                    |
 *------------------------------------------------------------------------------------*
"""
FASTJET_BANNER = """#--------------------------------------------------------------------------
#                         FastJet release 3.5.2
#                 M. Cacciari, G.P. Salam and G. Soyez
# Please cite EPJC72(2012)1896 [arXiv:1111.6097] if you use this package
#--------------------------------------------------------------------------
"""
XLA_ALARM = """2026-11-29 08:00:00.000000: E external/xla/xla/service/slow_operation_alarm.cc:73]
********************************
[Compiling module jit_epoch] Very slow compile? If you want to file a bug, run with envvar XLA_FLAGS=--xla_dump_to=/tmp/foo and attach the results.
********************************
2026-11-29 08:00:05.000000: E external/xla/xla/service/slow_operation_alarm.cc:140] The operation took 2m5.1s
Constant folding an instruction is taking > 1s:

  %reduce.5 = f32[128]{0} reduce(f32[128,64]{1,0} %x, f32[] %c), dimensions={1}

This isn't necessarily a bug; constant-folding is inherently a trade-off between compilation time and speed.

If you'd like to file a bug, run with envvar XLA_FLAGS=--xla_dump_to=/tmp/foo and attach the results.
"""
TCP = ("[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication (including code "
       "and outputs) is sent in plain text.\n")
TQDM = ("/venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found. Please update "
        "jupyter and ipywidgets.\n  from .autonotebook import tqdm as notebook_tqdm\n")


def test_noise_is_removed_and_the_rest_kept() -> None:
    text = ("generated 100 events\n" + PYTHIA_BANNER + FASTJET_BANNER + TCP + TQDM + XLA_ALARM
            + "UserWarning: a real warning stays\nclustered 12 jets\n")
    assert clean_stream_text(text) == "generated 100 events\nUserWarning: a real warning stays\nclustered 12 jets\n"
    assert clean_stream_text(PYTHIA_BANNER + FASTJET_BANNER) == ""
    assert clean_stream_text("plain output\n") == "plain output\n"


def test_results_dir_is_shown_relative_to_the_notebook(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    assert shown_results_dir(tmp_path / "results", tmp_path / "notebooks") == "../results"
    assert shown_results_dir("/elsewhere/run-7/results", tmp_path / "notebooks") == "results"


def test_clean_executed_rewrites_the_page(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell(f'profile = "ci"\nresults_dir = "{tmp_path}/results/.staging-x-1"\nn = 3\n')
    injected.metadata["tags"] = ["injected-parameters"]
    code = nbformat.v4.new_code_cell("run()")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=PYTHIA_BANNER + "kept line\n"),
        nbformat.v4.new_output("stream", name="stderr", text=TCP),
        nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "a"},
                                                     "text/plain": "epochs: 100%"}),
        nbformat.v4.new_output("display_data", data={"text/plain": "a table"}),
    ]
    nb.cells = [injected, code]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    nb.metadata["papermill"] = {"parameters": {"results_dir": f"{tmp_path}/results/.staging-x-1"},
                                "input_path": f"{tmp_path}/notebooks/x.ipynb",
                                "output_path": f"{tmp_path}/book/executed/.x.partial.ipynb"}
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    clean_executed(path, "../results")
    text = path.read_text()
    assert str(tmp_path) not in text
    cleaned = nbformat.read(path, as_version=4)
    assert "widgets" not in cleaned.metadata
    assert cleaned.cells[0].source == 'profile = "ci"\nresults_dir = "../results"\nn = 3\n'
    assert [o.get("text", o.get("data", {}).get("text/plain")) for o in cleaned.cells[1].outputs] == [
        "kept line\n", "a table"]


def test_runner_pages_show_no_staging_path(notebooks: Path, tmp_path: Path) -> None:
    result = run_study("good", "ci", output_dir=tmp_path / "out", results_dir=tmp_path / "results", progress=False)
    text = result.notebook.read_text()
    assert ".staging" not in text and str(tmp_path) not in text
    injected = [c for c in nbformat.read(result.notebook, as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'results_dir = "../results"' in injected[0].source
    assert "../results/ci/good/results.json" in text  # the path the cell returned, as published


def test_runner_pages_read_like_a_paper(notebooks: Path, tmp_path: Path) -> None:
    """The executed page opens with a key-results box from its results, collapses its code, removes the raw
    parameters cells and shows the run's parameters in one collapsed table instead, with the values the run had
    (the profile's ``n: 1``, a user's label escaped)."""
    from hepnb.book.pages import KEY_RESULTS_TITLE, PARAMETERS_TITLE

    result = run_study("good", "ci", output_dir=tmp_path / "out", results_dir=tmp_path / "results", progress=False,
                       overrides={"label": "<script>alert(1)</script> | x"})
    cells = nbformat.read(result.notebook, as_version=4).cells
    code = [c for c in cells if c.cell_type == "code"]
    for cell in code:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            assert "remove-cell" in tags
        else:
            assert "hide-input" in tags
    table = next(c.source for c in cells if c.cell_type == "markdown" and PARAMETERS_TITLE in c.source)
    assert ":class: dropdown" in table and f"{PARAMETERS_TITLE} (ci profile)" in table
    assert "| `n` | `1` |" in table and "| `scale` | `0.5` |" in table and "| `flags` | `[1, 2]` |" in table
    assert cells[0].source.startswith("# good") and KEY_RESULTS_TITLE in cells[1].source
    assert "answer: **0.5**" in cells[1].source and "ci profile" in cells[1].source  # n = 1 (ci) × scale 0.5
    label_row = next(line for line in table.splitlines() if line.startswith("| `label`"))
    assert label_row.count("|") - label_row.count("\\|") == 3  # the user's | does not open a column
