from __future__ import annotations

import json
from pathlib import Path

import pytest

from hepnb.book.registry import ParameterError
from hepnb.book.runner import RunError, run_many, run_study


def test_run_writes_notebook_and_results(notebooks: Path, tmp_path: Path) -> None:
    out, res = tmp_path / "out", tmp_path / "results"
    result = run_study("good", "ci", {"scale": 4.0}, output_dir=out, results_dir=res, progress=False)
    record = json.loads((res / "ci" / "good" / "results.json").read_text())
    assert record["params"] == {"n": 1, "scale": 4.0, "label": "x"}
    assert record["metrics"]["headline"]["answer"] == 4.0
    assert result.notebook == out / "good.ipynb"
    import nbformat

    nb = nbformat.read(result.notebook, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "n = 1" in injected[0].source and "scale = 4.0" in injected[0].source
    assert not [p for p in res.rglob("*") if ".staging" in p.name], "staging folders must be cleaned up"


def test_failing_notebook_leaves_previous_results(notebooks: Path, tmp_path: Path) -> None:
    out, res = tmp_path / "out", tmp_path / "results"
    run_study("good", "ci", output_dir=out, results_dir=res, progress=False)
    before = (res / "ci" / "good" / "results.json").read_text()
    (notebooks / "good.ipynb").replace(notebooks / "good.bak")
    (notebooks / "boom.ipynb").replace(notebooks / "good.ipynb")
    with pytest.raises(RunError, match=r"raised in cell .*RuntimeError: detector on fire"):
        run_study("good", "ci", output_dir=out, results_dir=res, progress=False)
    assert (res / "ci" / "good" / "results.json").read_text() == before
    assert (out / "good.failed.ipynb").is_file()
    assert not list(out.glob(".*partial*"))


def test_notebook_that_raises_writes_nothing(notebooks: Path, tmp_path: Path) -> None:
    res = tmp_path / "results"
    with pytest.raises(RunError, match="no results were written"):
        run_study("boom", "default", output_dir=tmp_path / "out", results_dir=res, progress=False)
    assert not list(res.rglob("results.json"))


def test_notebook_without_results_is_an_error(notebooks: Path, tmp_path: Path) -> None:
    with pytest.raises(RunError, match="without writing results.json"):
        run_study("silent", "default", output_dir=tmp_path / "out", results_dir=tmp_path / "r", progress=False)
    assert not (tmp_path / "out" / "silent.ipynb").exists()


def test_bad_parameter_refused_before_a_kernel_starts(notebooks: Path, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="valid parameters"):
        run_study("good", "default", {"nn": 1}, output_dir=tmp_path / "out", results_dir=tmp_path / "r")
    assert not (tmp_path / "out").exists()


def test_output_path_that_is_a_file(notebooks: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(ParameterError, match="output folder .* cannot be made: .*blocker is a file"):
        run_study("good", "default", output_dir=blocker / "out", results_dir=tmp_path / "r")
    with pytest.raises(ParameterError, match="results folder .*blocker is an existing file"):
        run_study("good", "default", output_dir=tmp_path / "made" / "out", results_dir=blocker)
    assert not (tmp_path / "made").exists()  # refused before any folder was made


def test_run_many_reports_every_failure(notebooks: Path, tmp_path: Path) -> None:
    with pytest.raises(RunError) as info:
        run_many(["good", "boom", "silent"], "default", jobs=2, output_dir=tmp_path / "o", results_dir=tmp_path / "r")
    assert "'boom'" in str(info.value) and "'silent'" in str(info.value)
    assert (tmp_path / "r" / "default" / "good" / "results.json").is_file()


def test_run_many_runs_the_others_when_a_notebook_does_not_load(notebooks: Path, tmp_path: Path) -> None:
    (notebooks / "cut.ipynb").write_text('{"cells": [')
    with pytest.raises(RunError, match=r"study 'cut' cannot be loaded: .*cut\.ipynb cannot be read as a notebook"):
        run_many(["good", "cut"], "ci", output_dir=tmp_path / "o", results_dir=tmp_path / "r")
    assert (tmp_path / "r" / "ci" / "good" / "results.json").is_file()


def test_abandoned_staging_is_recognised_by_its_lock(tmp_path: Path) -> None:
    import json
    import os
    import socket
    import subprocess

    from hepnb.book.runner import remove_abandoned

    child = subprocess.Popen(["true"])
    child.wait()
    dead, live = child.pid, os.getpid()
    res = tmp_path / "results"
    folders = {}
    for name, pid, host in (("dead", dead, socket.gethostname()), ("live", live, socket.gethostname()),
                            ("elsewhere", dead, "another-host")):
        folders[name] = res / f".staging-s-{pid}-{name}"
        folders[name].mkdir(parents=True)
        (folders[name] / "owner.json").write_text(json.dumps({"pid": pid, "host": host, "partial": ""}))
    folders["young"] = res / f".staging-s-{dead}-young"  # no lock yet: its run may be writing it
    folders["young"].mkdir()
    assert remove_abandoned(res) == [folders["dead"]]
    assert all(folders[n].is_dir() for n in ("live", "elsewhere", "young"))


def test_the_executed_notebook_never_replaces_the_study_notebook(notebooks: Path, tmp_path: Path) -> None:
    before = (notebooks / "good.ipynb").read_bytes()
    with pytest.raises(ParameterError, match="would put the executed notebook over the study's own notebook"):
        run_study("good", "ci", output_dir=notebooks, results_dir=tmp_path / "r", progress=False)
    assert (notebooks / "good.ipynb").read_bytes() == before


def test_an_output_folder_inside_the_published_results_is_refused_before_any_work(notebooks: Path,
                                                                                  tmp_path: Path) -> None:
    """Hardening bad case 1: --output res/ci/good with --results-dir res would have the run replace the folder
    holding its own executed notebook; it is refused before any folder is made, the earlier results intact."""
    res = tmp_path / "res"
    run_study("good", "ci", output_dir=tmp_path / "out", results_dir=res, progress=False)
    before = (res / "ci" / "good" / "results.json").read_text()
    for output in (res / "ci" / "good", res / "ci" / "good" / "nb"):
        with pytest.raises(ParameterError, match="inside .* the folder the run's results replace"):
            run_study("good", "ci", output_dir=output, results_dir=res, progress=False)
    assert (res / "ci" / "good" / "results.json").read_text() == before
    assert not (res / "ci" / "good" / "nb").exists()
