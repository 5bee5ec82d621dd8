"""JupyterLab as a user meets it: `hepnb lab` on a loopback port, the environment notebook run through the UI."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "environment.ipynb"
KERNEL_LABEL = "Python (hepnb)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    notebooks: Path


def _copy_at_ci_sizes(folder: Path) -> None:
    """The environment notebook as stored, with its parameters cell set to the ci profile's values (so the
    test stays short); everything else is what a user opens."""
    nb = nbformat.read(REPO / "notebooks" / NOTEBOOK, as_version=4)
    overrides = yaml.safe_load((REPO / "notebooks" / "environment.ci.yaml").read_text()) or {}
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in overrides.items():
        cell.source, n = re.subn(rf"^{name}\s*=\s*[^#\n]*", f"{name} = {value!r} ", cell.source, flags=re.MULTILINE)
        assert n == 1, f"parameter {name} not found in the parameters cell"
    nbformat.write(nb, folder / NOTEBOOK)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """`hepnb lab` on a free loopback port, serving a copy of the notebooks folder (results stay in tmp)."""
    folder = tmp_path_factory.mktemp("lab") / "notebooks"
    folder.mkdir()
    _copy_at_ci_sizes(folder)
    port, token = _free_port(), "hepnb-test-token"
    log = folder.parent / "lab.log"
    env = {**os.environ, "HEPNB_NOTEBOOKS": str(folder), "JUPYTER_CONFIG_DIR": str(folder.parent / "config")}
    with log.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "hepnb.cli", "lab", "--port", str(port), "--token", token],
                                cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                _get(f"http://127.0.0.1:{port}/api/status?token={token}")
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(0.5)
        yield Lab(f"http://127.0.0.1:{port}", token, folder)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_lab_serves_its_status_api_on_loopback(lab: Lab) -> None:
    status = _get(f"{lab.url}/api/status?token={lab.token}")
    assert "started" in status
    specs = _get(f"{lab.url}/api/kernelspecs?token={lab.token}")
    assert "hepnb" in specs["kernelspecs"]  # type: ignore[operator]
    contents = _get(f"{lab.url}/api/contents?token={lab.token}")
    assert NOTEBOOK in [item["name"] for item in contents["content"]]  # type: ignore[index]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium is needed: install Debian's `chromium` package")
    return found


def test_environment_notebook_runs_through_the_ui_with_the_project_kernel(lab: Lab) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
            page.wait_for_selector(".jp-Notebook .jp-CodeCell")
            page.wait_for_function("() => / \\| Idle/.test(document.body.innerText)")
            if f"{KERNEL_LABEL} | Idle" not in page.inner_text("body"):  # the stored notebook names python3
                page.click("div.lm-MenuBar-itemLabel:text-is('Kernel')")
                page.click("div.lm-Menu-itemLabel:text-is('Change Kernel…')")
                page.select_option(".jp-Dialog select", label=KERNEL_LABEL)
                page.click(".jp-Dialog button:has-text('Select')")
                page.wait_for_function(f"() => document.body.innerText.includes('{KERNEL_LABEL} | Idle')")
            page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
            page.click("div.lm-Menu-itemLabel:text-is('Run All Cells')")
            # every code cell shows its execution count ([n]:, not [*]: or [ ]:), or a cell failed (Run All stops)
            page.wait_for_function(
                "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                ".map(e => e.textContent); return (p.length > 0 && p.every(t => /\\[\\d+\\]/.test(t)))"
                " || document.querySelector('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]'); }",
                timeout=240_000)
            page.wait_for_function(f"() => document.body.innerText.includes('{KERNEL_LABEL} | Idle')")
            prompts = page.eval_on_selector_all(".jp-CodeCell .jp-InputPrompt", "es => es.map(e => e.textContent)")
            errors = page.eval_on_selector_all(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
                "es => es.map(e => e.textContent.slice(0, 500))")
            images = page.locator(".jp-OutputArea-output img").count()
        finally:
            browser.close()
    stored = nbformat.read(REPO / "notebooks" / NOTEBOOK, as_version=4)
    n_code = sum(c.cell_type == "code" for c in stored.cells)
    assert len(prompts) == n_code, prompts
    assert all(re.search(r"\[\d+\]", prompt) for prompt in prompts), f"cells not executed: {prompts}"
    assert errors == [], f"cells wrote errors or warnings: {errors}"
    assert images >= 1, "the dispatch-benchmark figure must be shown"
    assert (lab.notebooks.parent / "results" / "default" / "environment" / "results.json").is_file()
