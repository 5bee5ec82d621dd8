"""Items 7 and 10 (runs): parameters outside their declared values are refused before a kernel starts; integers
are decimal; a dead kernel is named with its likely cause and keeps its notebook; a stale failed notebook goes
with the next success; broken notebooks and profiles are named and block nothing else; outputs follow the umask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults.conftest import Hepnb, hidden_leftovers, last_line, snapshot


def _run(hepnb: Hepnb, *args: object, umask: int | None = None):
    return hepnb("run", "faulty", "--output", hepnb.root / "book", "--results-dir", hepnb.root / "results", *args,
                 umask=umask)


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "n", "0"], "-p: study 'faulty': parameter 'n' must be >= 1 and <= 1000 (range: 1..1000), found 0"),
    (["-p", "n", "0x10"], "-p: parameter 'n' must be int (default 3), found str '0x10'"),
    (["-p", "mode", "fast"], "-p: study 'faulty': parameter 'mode' must be one of ok|die|raise|sleep, found 'fast'"),
])
def test_values_outside_the_declaration_are_refused_before_a_kernel_starts(hepnb: Hepnb, args: list[str],
                                                                           message: str) -> None:
    proc = _run(hepnb, *args)
    assert proc.returncode == 2
    assert last_line(proc) == f"hepnb: error: {message}"
    assert "Executing" not in proc.stderr  # no kernel, no papermill progress
    assert not (hepnb.root / "book").exists() and not (hepnb.root / "results").exists()


def test_list_shows_the_allowed_values_and_names_a_broken_notebook(hepnb: Hepnb, notebooks: Path) -> None:
    text = (notebooks / "faulty.ipynb").read_text()
    (notebooks / "cut.ipynb").write_text(text[: len(text) // 3])
    proc = hepnb("list")
    assert proc.returncode == 0, proc.stderr
    assert "    n: int = 3  [range: 1..1000]" in proc.stdout
    assert "    mode: str = 'ok'  [choices: ok|die|raise|sleep]" in proc.stdout
    assert f"cut  (cannot be loaded)  {notebooks / 'cut.ipynb'} cannot be read as a notebook" in proc.stdout
    proc = hepnb("run", "cut")
    assert proc.returncode == 2
    assert last_line(proc).startswith(f"hepnb: error: study 'cut' cannot be loaded: {notebooks / 'cut.ipynb'}")


def test_a_run_through_failures_keeps_what_it_should(hepnb: Hepnb, notebooks: Path) -> None:
    """One study through success, a dead kernel, a raising cell and success again, with a truncated stray notebook
    beside it, a profile file with ``010``, and umask 027."""
    (notebooks / "stray.ipynb").write_text('{"cells": [')  # blocks only itself
    (notebooks / "faulty.full.yaml").write_text("n: 010\nflags: [08, 9]\n")
    book, results = hepnb.root / "book", hepnb.root / "results"

    proc = _run(hepnb, "--profile", "full", "-p", "label", "0x10", umask=0o027)
    assert proc.returncode == 0, proc.stderr
    record = results / "full" / "faulty" / "results.json"
    assert json.loads(record.read_text())["params"] == {"n": 10, "scale": 0.5, "label": "0x10"}
    assert record.stat().st_mode & 0o777 == 0o640  # the umask's, not a temporary file's 0600
    before = snapshot(results)

    proc = _run(hepnb, "--profile", "full", "-p", "mode", "die")
    assert proc.returncode == 1
    assert ("hepnb: error: study 'faulty' (profile 'full'): the kernel died while running cell 3; the likely "
            "cause is memory") in proc.stderr
    failed = book / "faulty.failed.ipynb"
    assert f"the executed notebook is kept at {failed}; no results were written" in proc.stderr
    assert failed.is_file() and snapshot(results) == before

    proc = _run(hepnb, "--profile", "full", "-p", "mode", "raise")
    assert proc.returncode == 1
    assert "raised in cell 3: RuntimeError: detector on fire" in proc.stderr
    assert snapshot(results) == before

    proc = _run(hepnb, "--profile", "full")
    assert proc.returncode == 0, proc.stderr
    assert not failed.exists(), "a stale failed notebook must go with the next success"
    assert sorted(p.name for p in book.iterdir()) == ["faulty.ipynb"]
    assert hidden_leftovers(hepnb.root) == []


def test_a_profile_that_is_not_utf8_is_named(hepnb: Hepnb, notebooks: Path) -> None:
    (notebooks / "faulty.full.yaml").write_bytes(b"label: \xff\xfe\n")
    proc = _run(hepnb, "--profile", "full")
    assert proc.returncode == 2
    assert last_line(proc) == (f"hepnb: error: profile file {notebooks / 'faulty.full.yaml'} is not UTF-8 text "
                               f"(byte 7 is b'\\xff')")
