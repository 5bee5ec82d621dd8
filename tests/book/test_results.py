from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hepnb.book.results import load_results, results_path, save_results, to_jsonable


def test_roundtrip_with_provenance(tmp_path: Path) -> None:
    path = save_results("demo", "ci", params={"n": np.int64(3)}, metrics={"auc": np.float32(0.875),
                        "curve": np.arange(3), "nan": float("nan")}, timings_s={"fit": 1.5}, results_dir=tmp_path)
    assert path == tmp_path / "ci" / "demo" / "results.json"
    record = load_results("demo", "ci", tmp_path)
    assert record["metrics"] == {"auc": 0.875, "curve": [0, 1, 2], "nan": None}
    assert record["params"] == {"n": 3}
    assert record["versions"]["numpy"] == np.__version__
    assert record["device"] == "cpu"
    assert len(record["git_commit"].split("-")[0]) in (40, 7)  # a sha, or "unknown"


def test_unserialisable_value_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot store a value of type object"):
        save_results("demo", "ci", params={}, metrics={"bad": object()}, timings_s={}, results_dir=tmp_path)
    assert not list(tmp_path.rglob("*.json*"))


def test_existing_file_replaced_atomically(tmp_path: Path) -> None:
    save_results("demo", "ci", params={}, metrics={"v": 1}, timings_s={}, results_dir=tmp_path)
    save_results("demo", "ci", params={}, metrics={"v": 2}, timings_s={}, results_dir=tmp_path)
    assert load_results("demo", "ci", tmp_path)["metrics"] == {"v": 2}
    assert [p.name for p in (tmp_path / "ci" / "demo").iterdir()] == ["results.json"]


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no results for study 'x'"):
        load_results("x", "ci", tmp_path)
    folder = results_path("x", "ci", tmp_path)
    (folder / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results("x", "ci", tmp_path)
    (folder / "results.json").write_text(json.dumps({"study": "x"}))
    with pytest.raises(ValueError, match="lacks the required keys"):
        load_results("x", "ci", tmp_path)


@pytest.mark.parametrize("bad", ["", "../up", ".hidden", "a/b"])
def test_bad_names(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="plain name"):
        results_path(bad, "ci", tmp_path)


def test_to_jsonable_nested() -> None:
    assert to_jsonable({"a": (np.float64(1.0), [np.bool_(True)]), 2: Path("/x")}) == {"a": [1.0, [True]], "2": "/x"}


@pytest.mark.parametrize(("change", "message"), [
    ({"metrics": [1, 2]}, "results.json: metrics: should be a valid dictionary (found a list)"),
    ({"timings_s": {"total": "fast"}}, "timings_s.total: should be a valid number (found a str)"),
    ({"device": 3}, "device: should be a valid string (found a int)"),
])
def test_a_results_file_breaking_the_schema_is_refused_with_its_field(tmp_path: Path, change: dict,
                                                                     message: str) -> None:
    path = save_results("s", "ci", params={}, metrics={"a": 1.0}, timings_s={"total": 1.0}, results_dir=tmp_path)
    record = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=re.escape(message)):
        load_results("s", "ci", tmp_path)
