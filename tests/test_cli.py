from __future__ import annotations

from pathlib import Path

import pytest

from hepnb.cli import main


def test_list_shows_parameters_types_and_profiles(notebooks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "good  (good.ipynb)  good title" in out
    assert "n: int = 3" in out and "scale: float = 0.5" in out
    assert "profiles: ci, default" in out


def test_run_with_typed_overrides(notebooks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "good", "--profile", "ci", "-p", "n", "6", "-p", "label", "42",
                 "--output", str(tmp_path / "o"), "--results-dir", str(tmp_path / "r")])
    assert code == 0
    assert "results.json" in capsys.readouterr().out
    import json

    params = json.loads((tmp_path / "r" / "ci" / "good" / "results.json").read_text())["params"]
    assert params == {"n": 6, "scale": 0.5, "label": "42"}


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "nope"], "unknown study 'nope'"),
    (["run", "good", "-p", "nn", "1"], "has no parameter 'nn'"),
    (["run", "good", "-p", "n", "1.5"], "parameter 'n' must be int"),
])
def test_bad_input_exits_non_zero_with_message(notebooks: Path, capsys: pytest.CaptureFixture[str],
                                               argv: list[str], message: str) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_notebook_error_exits_one(notebooks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "boom", "--output", str(tmp_path / "o"), "--results-dir", str(tmp_path / "r")])
    assert code == 1
    assert "detector on fire" in capsys.readouterr().err
    assert not (tmp_path / "r" / "default" / "boom").exists()


def test_unknown_profile_is_refused_by_the_parser(notebooks: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "good", "--profile", "huge"])
    assert info.value.code == 2
