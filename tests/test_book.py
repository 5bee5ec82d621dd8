"""End to end: every notebook at the ci profile through `hepnb book`, the HTML book, and a real browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hepnb.book import prose
from hepnb.book.registry import list_studies
from hepnb.book.results import load_results

REPO = Path(__file__).resolve().parent.parent
HTML = REPO / "_build" / "html"
STUDIES = sorted(list_studies(REPO / "notebooks"))


@pytest.fixture(scope="module")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run `hepnb book --profile ci --jobs 2` once (executes every notebook, then builds with -W)."""
    env = {**os.environ, "HEPNB_NOTEBOOKS": str(REPO / "notebooks")}
    log = tmp_path_factory.mktemp("book") / "hepnb-book-ci.log"
    with log.open("w") as handle:
        proc = subprocess.run([sys.executable, "-m", "hepnb.cli", "book", "--profile", "ci", "--jobs", "2", "--clean"],
                              cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False, timeout=1500)
    if proc.returncode != 0:
        pytest.fail(f"`hepnb book --profile ci` failed (exit {proc.returncode}):\n{log.read_text()[-6000:]}")
    return HTML / "index.html"


@pytest.mark.parametrize("study", STUDIES)
def test_each_notebook_runs_at_ci_profile(built_book: Path, study: str) -> None:
    record = load_results(study, "ci", REPO / "results")
    assert record["profile"] == "ci" and record["study"] == study
    assert record["metrics"], f"{study} wrote no metrics"
    executed = REPO / "book" / "executed" / f"{study}.ipynb"
    nb = json.loads(executed.read_text())
    assert nb["metadata"]["papermill"]["parameters"]["profile"] == "ci"
    assert (HTML / "book" / "executed" / f"{study}.html").is_file()


@pytest.mark.parametrize("study", STUDIES)
def test_prose_numbers_and_claims_come_from_the_run(built_book: Path, study: str) -> None:
    """Every markdown cell of the executed notebook: no typed number or comparative word outside glue, and
    every glue name it pastes is glued by the run (hepnb.book.prose)."""
    findings = prose.check_notebook(REPO / "book" / "executed" / f"{study}.ipynb")
    assert not findings, f"{study}: {len(findings)} findings:\n" + "\n".join(map(str, findings))


def test_book_pages_exist(built_book: Path) -> None:
    for page in ("index.html", "book/intro.html", "book/reproducibility.html", "book/cluster.html",
                 "book/references.html",
                 "book/executed/environment.html"):
        assert (HTML / page).is_file(), page
    intro = (HTML / "book" / "intro.html").read_text()
    assert "environment" in intro and "scan_steps_per_s" in intro, "front-page table must list the results"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True, timeout=900,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("chromium")
    if not found:
        pytest.fail("headless Chromium is needed: install Debian's `chromium` package")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=_chromium(), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chrome
        chrome.close()


def _open(browser: object, path: Path) -> tuple[object, list[str]]:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def test_landing_page_renders_in_chromium(built_book: Path, browser: object) -> None:
    page, errors = _open(browser, HTML / "book" / "intro.html")
    assert "hepnb" in page.title()
    rows = page.locator("table tbody tr").all_inner_texts()
    assert any("environment" in row and "ci" in row for row in rows), rows
    assert errors == []


def test_environment_page_renders_with_figures(built_book: Path, browser: object) -> None:
    page, errors = _open(browser, HTML / "book" / "executed" / "environment.html")
    images = page.locator("img").all()
    loaded = [img for img in images if img.evaluate("i => i.complete && i.naturalWidth > 0")]
    assert len(loaded) >= 1, "the environment page must show its dispatch-benchmark figure"
    assert "injected-parameters" in page.content()
    assert errors == []
