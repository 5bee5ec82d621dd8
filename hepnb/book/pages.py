"""What an executed notebook shows on its book page: no local path, no tool noise, no dead widgets.

The runner executes a study notebook with papermill; before the executed copy goes into the book tree,
:func:`clean_executed` rewrites three things a reader must not see:

* the injected ``results_dir`` — the runner's private staging folder, a path on the machine that built the
  book — becomes the results root relative to the notebook (``"../results"``), where the results are
  published;
* banners and alarms that tools write on the kernel's stdout/stderr and that say nothing about the study
  (:data:`NOISE`: Pythia's and FastJet's banners, the kernel's TCP warning, tqdm's "IProgress not found";
  and XLA's slow-compile and constant-folding alarms); other stream output stays, so a real warning is
  still seen (and fails the book's tests);
* progress-bar widgets (tqdm in a kernel with ipywidgets) and the widget state nbclient stores with them:
  they cannot render in a static page (and would make it load ipywidgets' JavaScript from a CDN), so they
  are dropped there, while JupyterLab and the terminal keep their bars.

Given the study's name, it also lays the page out like a paper (:func:`present_as_paper`): the code cells are
collapsed (shown on a click), and the raw parameters cells give way to one collapsed table of the run's
parameters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["KEY_RESULTS_TITLE", "NOISE", "PARAMETERS_TITLE", "clean_executed", "clean_stream_text", "present_as_paper", "shown_results_dir"]

#: Output nobody reading the book needs: name -> pattern (multi-line blocks included).
NOISE: Mapping[str, re.Pattern[str]] = {
    "Pythia banner": re.compile(
        r"^(?:[ \t]*\n)?[ \t]*\*-{20,}\*[ \t]*\n(?:[ \t]*\|.*\n)*?[ \t]*\|.*Welcome to the Lund Monte Carlo.*\n(?:[ \t]*\|.*\n)*?"
        r"[ \t]*\*-{20,}\*[ \t]*(?:\n|$)(?:[ \t]*\n)?", re.MULTILINE),
    "FastJet banner": re.compile(
        r"^#-{20,}[ \t]*\n#[ \t]+FastJet release.*\n(?:#.*\n)*?#-{20,}[ \t]*(?:\n|$)", re.MULTILINE),
    "kernel TCP warning": re.compile(
        r"^.*\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption.*(?:\n|$)", re.MULTILINE),
    "tqdm IProgress": re.compile(
        r"^.*TqdmWarning: IProgress not found.*\n(?:[ \t]+.*\n)?", re.MULTILINE),
}

#: XLA's slow-operation alarms (slow compile, slow constant folding): a log line from slow_operation_alarm.cc
#: and the free-form lines of its message that follow it.
_XLA_ALARM = re.compile(r"slow_operation_alarm\.cc:\d+\]")
_XLA_MESSAGE = re.compile(r"^(?:\s*$|\*{8,}|\[Compiling module|Constant folding an instruction|This isn't necessarily "
                          r"a bug|If you'd like to file a bug|If you want to file a bug|The operation took|\s+\S)")
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_RESULTS_DIR_LINE = re.compile(r"^(results_dir\s*=\s*)(.*)$", re.MULTILINE)


def _drop_xla_alarms(text: str) -> str:
    kept, in_alarm = [], False
    for line in text.splitlines(keepends=True):
        if _XLA_ALARM.search(line):
            in_alarm = True
            continue
        if in_alarm and _XLA_MESSAGE.match(line):
            continue
        in_alarm = False
        kept.append(line)
    return "".join(kept)


def clean_stream_text(text: str) -> str:
    """``text`` without the :data:`NOISE` blocks and XLA's slow-operation alarms (and the blank lines they leave
    at the ends)."""
    cleaned = _drop_xla_alarms(text)
    for pattern in NOISE.values():
        cleaned = pattern.sub("", cleaned)
    if cleaned == text:
        return text
    return cleaned.strip("\n") + ("\n" if cleaned.strip() else "")


def shown_results_dir(results_root: str | os.PathLike[str], notebook_dir: str | os.PathLike[str]) -> str:
    """How the results root is shown on the page: relative to the notebook's folder (its working directory).

    A root outside the notebook's repository is shown by its name only, so no machine path reaches a page.
    """
    root, here = Path(results_root).resolve(), Path(notebook_dir).resolve()
    try:
        root.relative_to(here.parent)
    except ValueError:
        return root.name
    return os.path.relpath(root, here)


def _replace_paths(text: str, paths: Mapping[str, str]) -> str:
    for local, shown in paths.items():
        text = text.replace(local, shown)
    return text


def _clean_outputs(outputs: list[Any], paths: Mapping[str, str]) -> list[Any]:
    kept = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = output["text"] if isinstance(output["text"], str) else "".join(output["text"])
            text = clean_stream_text(_replace_paths(text, paths))
            if not text.strip():
                continue
            output["text"] = text
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            if _WIDGET_MIME in data:
                continue
            for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
                if mime in data:
                    value = data[mime] if isinstance(data[mime], str) else "".join(data[mime])
                    data[mime] = _replace_paths(value, paths)
        elif kind == "error":
            output["traceback"] = [_replace_paths(line, paths) for line in output.get("traceback", [])]
        kept.append(output)
    return kept


#: The title of the collapsed table of a run's parameters that replaces the raw parameters cells.
PARAMETERS_TITLE = "Parameters of this run"

#: The title of the box of a study's headline numbers under its page's title.
KEY_RESULTS_TITLE = "Key results"

#: Tags that already decide how a code cell shows.
_SHOWN_TAGS = ("remove-cell", "remove-input", "hide-cell", "hide-input")


def _parameters_markdown(study: str, values: Mapping[str, Any]) -> str:
    """The collapsed table of the run's parameters: every declared parameter with the value it ran with."""
    from hepnb.book.escape import code_span
    from hepnb.book.registry import get_study

    declared = get_study(study).parameters

    def cell(value: Any) -> str:  # GFM tables: a pipe inside a cell, in a code span or not, is escaped
        return code_span(value).replace("|", "\\|")

    rows = [f"| {cell(name)} | {cell(repr(values.get(name, p.default)))} |" for name, p in declared.items()]
    profile = values.get("profile", declared["profile"].default if "profile" in declared else "")
    return "\n".join([f"```{{admonition}} {PARAMETERS_TITLE} ({profile} profile)", ":class: dropdown", "",
                      "| parameter | value |", "| --- | --- |", *rows, "```"])


def _key_results_markdown(record: Mapping[str, Any]) -> str:
    """The key-results box: the study's headline numbers (:func:`hepnb.book.site.landing_numbers`) in words."""
    from hepnb.book.escape import page_text
    from hepnb.book.headline import headline_text, landing_numbers

    items = [f"- {headline_text(k, v)}" for k, v in landing_numbers(dict(record)).items()]
    profile = page_text(record.get("profile", ""))
    return "\n".join([f"```{{admonition}} {KEY_RESULTS_TITLE}", ":class: tip", "", *items, "",
                      (f"At the {profile} profile of this run; the sections below say how each number was measured and "
                      "under which conditions it holds."), "```"])


def present_as_paper(nb: Any, study: str, results: Mapping[str, Any] | None = None) -> None:
    """Lay an executed notebook out like a paper, in place: a key-results box under the title (from the run's
    ``results`` record, when given: :data:`KEY_RESULTS_TITLE`), its code cells collapsed (``hide-input``, unless
    a tag already decides), its ``parameters`` and ``injected-parameters`` cells removed and replaced by one
    collapsed table of the values the run had (:data:`PARAMETERS_TITLE`)."""
    import nbformat

    from hepnb.book.lint import GENERATED_KEY

    values = dict(nb.metadata.get("papermill", {}).get("parameters", {}))
    place = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if "parameters" in tags or "injected-parameters" in tags:
            tags.append("remove-cell")
            place = i
        elif not any(t in tags for t in _SHOWN_TAGS):
            tags.append("hide-input")
        cell.metadata["tags"] = tags
    if place is not None:
        table = nbformat.v4.new_markdown_cell(_parameters_markdown(study, values))
        table.metadata[GENERATED_KEY] = True  # the run's values: the prose checker leaves it alone
        nb.cells.insert(place + 1, table)
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("# ")), None)
    if results is not None and title is not None:
        box = nbformat.v4.new_markdown_cell(_key_results_markdown(results))
        box.metadata[GENERATED_KEY] = True
        nb.cells.insert(title + 1, box)


def clean_executed(notebook: str | os.PathLike[str], results_dir_shown: str, *,
                   staging_dir: str | os.PathLike[str] | None = None, study: str | None = None,
                   results: Mapping[str, Any] | None = None) -> Path:
    """Rewrite an executed notebook in place for the book (see the module docstring).

    Parameters
    ----------
    notebook
        The executed ``.ipynb`` (papermill's output).
    results_dir_shown
        The value shown for ``results_dir`` in the injected-parameters cell (see :func:`shown_results_dir`).
    staging_dir
        The folder the run wrote its results into; in outputs (a printed path, a returned ``Path``) it is
        shown as ``results_dir_shown``, and the repository's root as ``.``.
    study, results
        The study's name and its run's results record: the page is then laid out like a paper
        (:func:`present_as_paper`).

    Returns
    -------
    pathlib.Path
        The notebook's path.
    """
    import nbformat

    from hepnb.book.registry import repo_root

    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    paths = {str(Path(staging_dir).resolve()): results_dir_shown} if staging_dir is not None else {}
    if staging_dir is not None and str(staging_dir) != str(Path(staging_dir).resolve()):
        paths[str(staging_dir)] = results_dir_shown
    paths[str(repo_root())] = "."
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = _RESULTS_DIR_LINE.sub(lambda m: m.group(1) + repr(results_dir_shown).replace("'", '"'),
                                                cell.source)
        cell.outputs = _clean_outputs(cell.get("outputs", []), paths)
    # the widget state nbclient stores would make the page load ipywidgets' JavaScript from a CDN
    nb.metadata.pop("widgets", None)
    papermill = nb.metadata.get("papermill", {})
    papermill.get("parameters", {}).update(results_dir=results_dir_shown)
    if study is not None:
        present_as_paper(nb, study, results)
    for key in ("input_path", "output_path"):  # the .ipynb a reader downloads carries no machine path either
        if papermill.get(key):
            papermill[key] = Path(papermill[key]).name
    tmp = path.with_name(f".{path.name}.clean")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return path
