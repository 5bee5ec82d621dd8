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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["NOISE", "clean_executed", "clean_stream_text", "shown_results_dir"]

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


def clean_executed(notebook: str | os.PathLike[str], results_dir_shown: str, *,
                   staging_dir: str | os.PathLike[str] | None = None) -> Path:
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
    for key in ("input_path", "output_path"):  # the .ipynb a reader downloads carries no machine path either
        if papermill.get(key):
            papermill[key] = Path(papermill[key]).name
    tmp = path.with_name(f".{path.name}.clean")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return path
