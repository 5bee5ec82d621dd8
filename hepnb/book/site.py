"""Building the Jupyter Book: the landing-page summary from results files, then ``jupyter-book build``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hepnb.book.escape import page_text
from hepnb.book.headline import headline_text, landing_numbers
from hepnb.book.registry import PROFILES, list_studies, repo_root
from hepnb.book.results import load_results
from hepnb.book.runner import default_output_dir, default_results_dir

__all__ = ["BookError", "book_profile", "build_book", "summary_markdown", "write_summary"]

SUMMARY_NAME = "summary.md"
#: Left in ``_build`` by a failed build; the next build then starts from a clean ``_build``, so that Sphinx's
#: cached environment, which holds the failed pages as read, cannot make it report them as built.
FAILED_MARKER = ".hepnb-build-failed"

#: What each profile's numbers are, said above the landing table.
PROFILE_MEANING = {
    "ci": "tiny samples that run every code path in a few minutes; its numbers mean nothing",
    "default": "the samples of `make book` on a laptop; the numbers to read",
    "full": "seed-scale samples on one GPU",
}


class BookError(RuntimeError):
    """``jupyter-book build`` failed (warnings count as errors), or the book's pages disagree on the profile."""


def _executed_profile(notebook: Path) -> str | None:
    """The profile an executed notebook in the book tree was run with (from papermill's metadata)."""
    if not notebook.is_file():
        return None
    import nbformat

    meta = nbformat.read(notebook, as_version=4).metadata.get("papermill", {})
    return meta.get("parameters", {}).get("profile")


def _study_order(names: list[str]) -> list[str]:
    """Studies in the order of the table of contents (then the others, by name)."""
    try:
        toc = [Path(f).name for f in _toc_files(repo_root())]
    except (OSError, KeyError):
        toc = []
    return sorted(names, key=lambda n: (toc.index(n) if n in toc else len(toc), n))


def book_profile(output_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The profile of the executed notebooks in the book tree; ``None`` when there are none.

    Raises
    ------
    BookError
        When they were run at different profiles (a book shows one profile).
    """
    executed = Path(output_dir) if output_dir else default_output_dir()
    profiles: dict[str, list[str]] = {}
    for name in list_studies():
        found = _executed_profile(executed / f"{name}.ipynb")
        if found is not None:
            profiles.setdefault(found, []).append(name)
    if len(profiles) > 1:
        msg = (f"the executed notebooks in {executed.name}/ were run at different profiles: {profiles}; "
               f"run them all at one profile (`hepnb book --profile P`)")
        raise BookError(msg)
    return next(iter(profiles), None)


def summary_markdown(results_dir: str | os.PathLike[str] | None = None,
                     output_dir: str | os.PathLike[str] | None = None, *, profile: str | None = None) -> str:
    """The landing-page table: one row per study, with its headline numbers at the book's profile.

    Parameters
    ----------
    results_dir
        Root of the results tree (default ``results/``).
    output_dir
        The book tree's executed notebooks (default ``book/executed``).
    profile
        The profile the book is built at (default: that of the executed notebooks, else ``default``); results
        of other profiles are not shown.
    """
    root = Path(results_dir) if results_dir else default_results_dir()
    executed = Path(output_dir) if output_dir else default_output_dir()
    profile = profile or book_profile(executed) or "default"
    if profile not in PROFILES:
        msg = f"unknown profile {profile!r}; choose one of {list(PROFILES)}"
        raise BookError(msg)
    studies = list_studies()
    lines = [f"Built at the **{profile}** profile ({PROFILE_MEANING[profile]}).", "",
             "| study | headline numbers | run |", "|:---|:---|:---|"]
    for name in _study_order(list(studies)):
        title = studies[name].title
        linked = _executed_profile(executed / f"{name}.ipynb") == profile
        cell = f"{{doc}}`{title} <executed/{name}>`" if linked else title
        try:
            rec = load_results(name, profile, root)
        except FileNotFoundError:
            lines.append(f"| {cell} | *not run at the {profile} profile* | |")
            continue
        except ValueError as err:  # a damaged file is said to be one, not taken for a missing run
            lines.append(f"| {cell} | *its results.json is damaged: {page_text(err)}* | |")
            continue
        numbers = "<br>".join(headline_text(k, v) for k, v in landing_numbers(rec).items()) or "*no headline*"
        commit = page_text(str(rec.get("git_commit", "unknown"))[:10])
        created = page_text(str(rec.get("created", "?"))[:10])
        lines.append(f"| {cell} | {numbers} | {page_text(rec.get('device', '?'))}<br><code>{commit}</code><br>{created} |")
    return "\n".join(lines) + "\n"


def write_summary(results_dir: str | os.PathLike[str] | None = None,
                  output_dir: str | os.PathLike[str] | None = None, *, profile: str | None = None) -> Path:
    """Write the landing-page table to ``book/executed/summary.md`` (included by the intro page)."""
    folder = Path(output_dir) if output_dir else default_output_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SUMMARY_NAME
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(summary_markdown(results_dir, folder, profile=profile), encoding="utf-8")
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


def build_book(*, clean: bool = False, results_dir: str | os.PathLike[str] | None = None,
               profile: str | None = None) -> Path:
    """Write the summary and build the HTML with ``jupyter-book build -W`` (warnings are errors).

    Parameters
    ----------
    clean
        Remove ``_build`` first (done anyway after a failed build: :data:`FAILED_MARKER`).
    results_dir
        Root of the results tree (default ``results/``).
    profile
        The profile the book is built at; the executed notebooks must all be of it (default: theirs).

    Returns
    -------
    pathlib.Path
        The built ``_build/html/index.html``.

    Raises
    ------
    BookError
        If a page listed in ``_toc.yml`` is missing (run the studies first), the executed notebooks are not
        all of ``profile``, or the build fails.
    """
    root = repo_root()
    found = book_profile()
    if profile is not None and found is not None and found != profile:
        msg = (f"the book is built at the {profile!r} profile but its executed notebooks were run at {found!r}; "
               f"run `hepnb book --profile {profile}` (without --no-run)")
        raise BookError(msg)
    write_summary(results_dir, profile=profile or found)
    missing = [f for f in _toc_files(root)
               if not any((root / f"{f}{ext}").exists() for ext in ("", ".md", ".ipynb"))]
    if missing:
        msg = f"pages listed in _toc.yml do not exist yet: {missing}; run `hepnb book` to execute the studies"
        raise BookError(msg)
    marker = root / "_build" / FAILED_MARKER
    if clean or marker.exists():  # after a failure, nothing of the failed build is reused
        shutil.rmtree(root / "_build", ignore_errors=True)
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "-W", "--keep-going"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(msg, encoding="utf-8")
        raise BookError(msg)
    index = root / "_build" / "html" / "index.html"
    if not index.is_file():
        msg = f"jupyter-book build reported success but {index} is missing"
        raise BookError(msg)
    return index

