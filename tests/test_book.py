"""End to end: every notebook at the ci profile through `hepnb book`, the HTML book, and a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hepnb.book import figure_check, lint
from hepnb.book.registry import list_studies
from hepnb.book.results import load_results
from tests import ci_numbers

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


@pytest.mark.parametrize("study", ci_numbers.STUDIES)
def test_ci_numbers_are_the_recorded_ones(built_book: Path, study: str) -> None:
    """The ci numbers of PID and tau, key names aside, are those recorded in tests/data/ci_numbers.json: a change
    of layout changes no number. A change that moves numbers on purpose records them again
    (``python -m tests.ci_numbers results/ci tests/data/ci_numbers.json``) and says why in its commit."""
    recorded = json.loads((REPO / "tests" / "data" / "ci_numbers.json").read_text())[study]
    now = ci_numbers.numbers(REPO / "results" / "ci" / study / "results.json")
    diffs = ci_numbers.differences(recorded, now)
    assert not diffs, f"{study}: {len(diffs)} numbers differ from the record:\n" + "\n".join(diffs[:20])


@pytest.mark.parametrize("study", STUDIES)
def test_prose_numbers_and_claims_come_from_the_run(built_book: Path, study: str) -> None:
    """Every markdown cell of the executed notebook: no typed number or comparative word outside glue, and
    every glue name it pastes is glued by the run (hepnb.book.lint)."""
    findings = lint.check_notebook(REPO / "book" / "executed" / f"{study}.ipynb")
    assert not findings, f"{study}: {len(findings)} findings:\n" + "\n".join(map(str, findings))


def _markdown_outputs(cell: dict) -> str:
    return "".join("".join(out.get("data", {}).get("text/markdown", "")) for out in cell.get("outputs", []))


@pytest.mark.parametrize("study", STUDIES)
def test_study_page_states_profile_at_the_top_and_ends_with_its_results_file(built_book: Path, study: str) -> None:
    """The profile and sample sizes (hepnb.book.prose.sample_sentence) before the first section, and the page's
    last section "What `results.json` holds" generated from the file (hepnb.book.results_text.results_markdown)."""
    cells = json.loads((REPO / "book" / "executed" / f"{study}.ipynb").read_text())["cells"]
    sections = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                and any(line.startswith("## ") for line in "".join(c["source"]).splitlines())]
    first_section = sections[0] if sections else len(cells)
    top = "".join(_markdown_outputs(c) for c in cells[:first_section])
    assert "Profile **ci**" in top, f"{study}: no profile/sample-size sentence before the first section"
    last = "".join(cells[sections[-1]]["source"]) if sections else ""
    assert "What `results.json` holds" in last, f"{study}: the last section is not “What results.json holds”"
    generated = "".join(_markdown_outputs(c) for c in cells[sections[-1]:])
    assert f"`results/ci/{study}/results.json` holds" in generated, f"{study}: its contents are not generated"


def _displayed_images(notebook: Path) -> int:
    """PNG outputs a page shows (glue records, stored under a prefixed MIME type, are not shown)."""
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for c in cells if c["cell_type"] == "code"
               for out in c.get("outputs", []))


#: The label each study's figures carry (the environment page has none): "<experiment> Simulation", or, for the
#: tracks study, whose magnet is its own, what was simulated and by whom (never "LHCb Simulation").
EXPERIMENT = {"pid_ranges": ("ALICE", "Simulation"), "rkpinn_leaderboard": ("LHCb-like dipole", "hepnb simulation"),
              "tau_multitask": ("FCC-ee", "Simulation")}


@pytest.mark.parametrize("study", sorted(EXPERIMENT))
def test_figures_carry_the_study_experiment_label(built_book: Path, study: str) -> None:
    """Every saved figure of a study carries its label (mplhep.label.exp_label's layout)."""
    sidecar = REPO / "results" / "ci" / study / figure_check.FIGURES_SIDECAR
    record = figure_check.read_figures(sidecar.parent) if sidecar.is_file() else {}
    assert record, f"{study} saved no figure through hepnb.plotting.savefig"
    wrong = {name: entry.get("experiment_labels") for name, entry in record.items()
             if not all(text in entry.get("experiment_labels", []) for text in EXPERIMENT[study])}
    assert not wrong, f"{study}: figures without the label {' '.join(EXPERIMENT[study])}: {wrong}"


@pytest.mark.parametrize("study", STUDIES)
def test_figures_pass_the_checker(built_book: Path, study: str) -> None:
    """Every figure of the ci run, as checked by hepnb.plotting.savefig when the notebook saved it: page
    width, fonts >= 10 pt, no data outside the view limits, no overlapping boxes; and no figure shown unchecked."""
    sidecar = REPO / "results" / "ci" / study / figure_check.FIGURES_SIDECAR
    shown = _displayed_images(REPO / "book" / "executed" / f"{study}.ipynb")
    record = figure_check.read_figures(sidecar.parent) if sidecar.is_file() else {}
    problems = [f"{name}: {issue['kind']}: {issue['message']}" for name, entry in record.items()
                for issue in entry["issues"]]
    assert len(record) >= shown, (f"{study} shows {shown} figures but saved {len(record)} through "
                                  f"hepnb.plotting.savefig (which checks them)")
    assert not problems, f"{study}: {len(problems)} figure problems:\n" + "\n".join(problems)


def test_book_pages_exist(built_book: Path) -> None:
    for page in ("index.html", "book/intro.html", "book/using.html", "book/reproducibility.html", "book/cluster.html",
                 "book/references.html",
                 "book/executed/environment.html"):
        assert (HTML / page).is_file(), page
    intro = (HTML / "book" / "intro.html").read_text()
    assert "Environment" in intro and "JAX training steps/s, one lax.scan" in intro, \
        "front-page table must list the results with human labels"


PAGES = ["book/intro", *(f"book/executed/{study}" for study in STUDIES), "book/using", "book/reproducibility",
         "book/cluster",
         "book/references"]
#: Signs of a machine path on a page: the checkout, temporary folders, home folders.
LOCAL_PATHS = (str(REPO), "/tmp/", "/home/", "/root/", "/Users/", ".staging-")


@pytest.mark.parametrize("study", STUDIES)
def test_study_pages_show_no_machine_path_and_no_warning_text(built_book: Path, study: str) -> None:
    html = (HTML / "book" / "executed" / f"{study}.html").read_text()
    assert not [p for p in LOCAL_PATHS if p in html], f"{study}: a local path is on the page"
    assert "output stderr" not in html, f"{study}: the page shows stderr output (a warning, a banner, a bar)"
    for noise in ("IProgress not found", "Welcome to the Lund Monte Carlo", "FastJet release",
                  "running over TCP without encryption", "slow_operation_alarm"):
        assert noise not in html, f"{study}: {noise!r} is on the page"


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
    """The page at the book's reference viewport (1280 × 900), with its console errors collected."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


_IMAGES = """async () => {
  const images = [...document.querySelectorAll('article img')];
  images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  return images.map(i => ({src: i.getAttribute('src').slice(-60), natural: i.naturalWidth,
                           shown: i.getBoundingClientRect().width}));
}"""


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_in_chromium(built_book: Path, browser: object, name: str) -> None:
    """No console error, and every image loaded and displayed at >= 70 % of its natural width."""
    page, errors = _open(browser, HTML / f"{name}.html")
    try:
        images = page.evaluate(_IMAGES)  # type: ignore[attr-defined]
    finally:
        page.close()  # type: ignore[attr-defined]
    assert errors == [], f"{name}: console errors {errors}"
    broken = [i["src"] for i in images if i["natural"] == 0]
    shrunk = [f"{i['src']}: {i['shown']:.0f} of {i['natural']} px" for i in images
              if i["natural"] and i["shown"] < figure_check.MIN_DISPLAY_FRACTION * i["natural"]]
    assert not broken, f"{name}: images that do not load: {broken}"
    assert not shrunk, f"{name}: images shown below 70 % of their natural width: {shrunk}"
    if name == "book/executed/environment":
        assert images, "the environment page must show its dispatch-benchmark figure"


def test_page_column_is_the_width_figures_are_made_for(built_book: Path, browser: object) -> None:
    page, _ = _open(browser, HTML / "book" / "executed" / "environment.html")
    width = page.evaluate(  # type: ignore[attr-defined]
        "() => { const a = document.querySelector('article.bd-article'); const s = getComputedStyle(a);"
        " return a.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); }")
    page.close()  # type: ignore[attr-defined]
    assert abs(width - figure_check.PAGE_WIDTH_PX) <= 2, (
        f"the theme's column is {width:.0f} px at 1280 x 900; hepnb.book.figure_check.PAGE_WIDTH_PX says "
        f"{figure_check.PAGE_WIDTH_PX}")


def test_landing_table_fits_the_page_and_lists_every_study(built_book: Path, browser: object) -> None:
    page, errors = _open(browser, HTML / "book" / "intro.html")
    fit = page.evaluate(  # type: ignore[attr-defined]
        "() => { const t = document.querySelector('article table'); const a = document.querySelector("
        "'article.bd-article'); return {table: t.getBoundingClientRect().right, column: "
        "a.getBoundingClientRect().right - parseFloat(getComputedStyle(a).paddingRight), scroll: "
        "t.parentElement.scrollWidth - t.parentElement.clientWidth}; }")
    rows = page.locator("article table tbody tr").all_inner_texts()  # type: ignore[attr-defined]
    text = page.inner_text("article")  # type: ignore[attr-defined]
    page.close()  # type: ignore[attr-defined]
    assert errors == []
    assert fit["table"] <= fit["column"] + 1 and fit["scroll"] <= 0, fit
    assert "Built at the ci profile" in text
    assert len(rows) == len(STUDIES), rows
    shown = [row.replace("\u2019", "'") for row in rows]  # Sphinx's smartquotes: LHCb's is shown as LHCb’s
    for study in STUDIES:
        title = list_studies(REPO / "notebooks")[study].title
        assert any(title in row for row in shown), f"{title} missing from {rows}"
    assert not any("not run at the ci profile" in row for row in rows), rows


#: A sentence that ranks two models (the verdict gate's words, hepnb.book.verdict).
RANKING = ("is better than", "is worse than", " beats ", " outperforms ")


@pytest.mark.parametrize("study", STUDIES)
def test_ci_pages_rank_nothing(built_book: Path, study: str) -> None:
    """At ci no network trains to a plateau (hepnb.convergence), so the verdict gate lets no sentence rank two
    models; every trained network's record says so in results.json."""
    cells = json.loads((REPO / "book" / "executed" / f"{study}.ipynb").read_text())["cells"]
    text = "".join(_markdown_outputs(c) for c in cells)
    assert not [phrase for phrase in RANKING if phrase in text], f"{study}: a ci page ranks two models"
    records = json.dumps(load_results(study, "ci", REPO / "results")["metrics"])
    assert '"converged": true' not in records, f"{study}: a ci network is recorded as converged"


_LAYOUT = """() => {
  const article = document.querySelector('article.bd-article');
  const right = article.getBoundingClientRect().right - parseFloat(getComputedStyle(article).paddingRight);
  const shownCode = [...article.querySelectorAll('div.cell_input')].filter(e => !e.closest('details:not([open])')
    && e.getBoundingClientRect().height > 0);
  const wide = [...article.querySelectorAll('table, pre')].filter(e => {
    const box = e.parentElement; const scrolls = box.scrollWidth > box.clientWidth + 1
      && ['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
    return e.getBoundingClientRect().right > right + 1 && !scrolls; }).map(e => e.tagName + ': '
      + e.innerText.slice(0, 60));
  return {shownCode: shownCode.length, wide: wide, text: article.innerText};
}"""


@pytest.mark.parametrize("name", PAGES)
def test_pages_read_like_a_paper_in_chromium(built_book: Path, browser: object, name: str) -> None:
    """At 1280 × 900, on every page: no code cell open, no table or code block running out of the column (unless
    it scrolls in its own box), no raw `->`; on a study page, the run's parameters in one collapsed table instead
    of the raw cells, and a key-results box."""
    from hepnb.book.pages import KEY_RESULTS_TITLE, PARAMETERS_TITLE

    page, errors = _open(browser, HTML / f"{name}.html")
    try:
        layout = page.evaluate(_LAYOUT)  # type: ignore[attr-defined]
    finally:
        page.close()  # type: ignore[attr-defined]
    assert errors == []
    assert layout["shownCode"] == 0, f"{name}: {layout['shownCode']} code cells are open"
    assert not layout["wide"], f"{name}: wider than the column: {layout['wide']}"
    assert "->" not in layout["text"], f"{name}: a raw '->' on the page"
    if name.startswith("book/executed/"):
        assert PARAMETERS_TITLE in layout["text"], f"{name}: no table of the run's parameters"
        assert KEY_RESULTS_TITLE in layout["text"], f"{name}: no key-results box"
        assert "results_dir =" not in layout["text"], f"{name}: the raw parameters cell is shown"


#: ``value ± uncertainty`` as the pages write it (thin spaces group digits; − is the minus sign).
PLUS_MINUS = re.compile(r"(?<![\d.])[−-]?(\d[\d\u202f]*(?:\.(\d+))?) ± (\d[\d\u202f]*(?:\.(\d+))?)(?![\d.])")
#: A number padded with zeros: a count written with three or more zero decimals (``408.000``, ``92.000``), any
#: number with four or more (``5.000000``, pandas' ``0.000000``), a significant digit followed by three or more
#: zeros after the point (``0.500000``, ``5177.8000``). A one-digit measurement to three decimals that happen to be
#: zeros (``4.000 T·m``) and a fraction's 0.000 or 1.000 in a column of three decimals are not padding.
PADDED = re.compile(r"(?<![\d.])(?:[1-9]\d+\.0{3,}|\d+\.0{4,}|\d+\.\d*[1-9]0{3,})(?!\d)")


def number_findings(text: str) -> list[str]:
    """Numbers written with more digits than their uncertainty supports (the uncertainty with more than two
    significant digits, or the value with other decimals than its uncertainty), and padded numbers."""
    out = []
    for m in PLUS_MINUS.finditer(text):
        value_decimals, error = len(m.group(2) or ""), m.group(3).replace("\u202f", "")
        # an integer's trailing zeros are place holders (160 is two significant digits), a decimal's are not
        significant = (error.replace(".", "") if "." in error else error.rstrip("0")).lstrip("0")
        if len(significant) > 2 or value_decimals != len(m.group(4) or ""):
            out.append(m.group(0))
    out += [m.group(0) for m in PADDED.finditer(text)]
    return out


def test_number_findings_catch_what_the_rule_forbids() -> None:
    assert number_findings("0.912 ± 0.004 and 12.3 ± 1.2 µm and (1.20 ± 0.35) and 1 234 ± 56") == []
    assert number_findings("0.91234 ± 0.004") == ["0.91234 ± 0.004"]
    assert number_findings("0.912 ± 0.0043") == ["0.912 ± 0.0043"]
    assert number_findings("12.3 ± 1.234") == ["12.3 ± 1.234"]
    assert number_findings("−1400 ± 160 and 52\u202f000 ± 3\u202f000") == []  # an integer's trailing zeros hold places
    assert number_findings("−1400 ± 163 and 1234 ± 567") == ["−1400 ± 163", "1234 ± 567"]
    assert number_findings("a count of 408.000 and an edge 5.000000") == ["408.000", "5.000000"]
    assert number_findings("0.500000, 5177.8000, 92.000 and 0.000000; but efficiencies 0.000, 1.000 or 0.250 and "
                           "∫By dz = 4.000 T·m") == ["0.500000", "5177.8000", "92.000", "0.000000"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_write_numbers_with_the_digits_their_uncertainty_supports(built_book: Path, browser: object,
                                                                          name: str) -> None:
    page, _ = _open(browser, HTML / f"{name}.html")
    try:
        text = page.inner_text("article")  # type: ignore[attr-defined]
    finally:
        page.close()  # type: ignore[attr-defined]
    findings = number_findings(text)
    assert not findings, f"{name}: {len(findings)} numbers with more digits than supported: {findings[:15]}"
