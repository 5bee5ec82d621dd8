"""Building the Jupyter Book: the landing-page summary from results files, then ``jupyter-book build``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hepnb.book.registry import PROFILES, repo_root
from hepnb.book.results import load_results
from hepnb.book.runner import default_output_dir, default_results_dir

__all__ = ["BookError", "build_book", "headline", "summary_markdown", "write_summary"]

SUMMARY_NAME = "summary.md"
_MAX_HEADLINE = 6


class BookError(RuntimeError):
    """``jupyter-book build`` failed (warnings count as errors)."""


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def headline(record: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a study puts on the front page.

    ``metrics["headline"]`` if the study defines it; otherwise the first scalar metrics.
    """
    metrics = record.get("metrics", {})
    chosen = metrics.get("headline")
    if isinstance(chosen, dict) and chosen:
        return dict(list(chosen.items())[:_MAX_HEADLINE])
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
    return dict(list(flat.items())[:_MAX_HEADLINE])


def _results_records(results_dir: Path) -> list[dict[str, Any]]:
    records = []
    for profile in PROFILES:
        folder = results_dir / profile
        if not folder.is_dir():
            continue
        for study_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                records.append(load_results(study_dir.name, profile, results_dir))
            except (FileNotFoundError, ValueError):
                continue
    return records


def _executed_profile(notebook: Path) -> str | None:
    """The profile an executed notebook in the book tree was run with (from papermill's metadata)."""
    if not notebook.is_file():
        return None
    import nbformat

    meta = nbformat.read(notebook, as_version=4).metadata.get("papermill", {})
    return meta.get("parameters", {}).get("profile")


def summary_markdown(results_dir: str | os.PathLike[str] | None = None,
                     output_dir: str | os.PathLike[str] | None = None) -> str:
    """A Markdown table of every results file found, one row per (study, profile).

    A row links to the study's page when the executed notebook in the book tree is of that profile.
    """
    records = _results_records(Path(results_dir) if results_dir else default_results_dir())
    executed = Path(output_dir) if output_dir else default_output_dir()
    if not records:
        return ("*No results yet.* Run `make book` (or `hepnb run STUDY`) to execute the studies; "
                "this table fills itself from `results/<profile>/<study>/results.json`.\n")
    lines = ["| study | profile | headline numbers | device | commit | created |",
             "|---|---|---|---|---|---|"]
    for rec in records:
        numbers = "<br>".join(f"{k} = {_format(v)}" for k, v in headline(rec).items())
        commit = str(rec.get("git_commit", "unknown"))[:10]
        name = rec["study"]
        linked = _executed_profile(executed / f"{name}.ipynb") == rec["profile"]
        cell = f"{{doc}}`{name} <executed/{name}>`" if linked else name
        lines.append(f"| {cell} | {rec['profile']} | {numbers} | "
                     f"{rec.get('device', '?')} | `{commit}` | {str(rec.get('created', '?'))[:16].replace('T', ' ')} |")
    return "\n".join(lines) + "\n"


def write_summary(results_dir: str | os.PathLike[str] | None = None,
                  output_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write the landing-page table to ``book/executed/summary.md`` (included by the intro page)."""
    folder = Path(output_dir) if output_dir else default_output_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SUMMARY_NAME
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(summary_markdown(results_dir, folder), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _toc_files(root: Path) -> list[str]:
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


def build_book(*, clean: bool = False, results_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write the summary and build the HTML with ``jupyter-book build -W`` (warnings are errors).

    Returns
    -------
    pathlib.Path
        The built ``_build/html/index.html``.

    Raises
    ------
    BookError
        If a page listed in ``_toc.yml`` is missing (run the studies first) or the build fails.
    """
    root = repo_root()
    write_summary(results_dir)
    missing = [f for f in _toc_files(root)
               if not any((root / f"{f}{ext}").exists() for ext in ("", ".md", ".ipynb"))]
    if missing:
        msg = f"pages listed in _toc.yml do not exist yet: {missing}; run `hepnb book` to execute the studies"
        raise BookError(msg)
    if clean:
        shutil.rmtree(root / "_build", ignore_errors=True)
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "-W", "--keep-going"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        raise BookError(msg)
    index = root / "_build" / "html" / "index.html"
    if not index.is_file():
        msg = f"jupyter-book build reported success but {index} is missing"
        raise BookError(msg)
    return index

