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
    (["run", "good", "-p", "n", "10", "-p", "n", "20"], "parameter 'n' is given twice with -p ('10' and '20')"),
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


@pytest.mark.parametrize(("argv", "message"), [
    (["lab", "--port", "99999"], "argument --port: must be a TCP port from 1 to 65535, found '99999'"),
    (["lab", "--port", "0"], "argument --port: must be a TCP port from 1 to 65535"),
    (["lab", "--ip", "not an ip"], "argument --ip: must be an IP address"),
])
def test_lab_refuses_a_port_or_address_it_cannot_listen_on(argv: list[str], message: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_unless_debugging(notebooks: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The error boundary: an exception no command expects becomes one line naming its type, exit 1; --debug (or
    HEPNB_DEBUG=1) shows the traceback instead; a huge message is cut in its middle."""
    from hepnb import cli

    def broken(args: object) -> int:
        raise KeyError("kind " + "x" * 5000)

    monkeypatch.setattr(cli, "_cmd_list", broken)
    monkeypatch.delenv("HEPNB_DEBUG", raising=False)
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hepnb: error: unexpected KeyError: 'kind xxx") and "--debug" in err
    assert err.count("\n") == 1 and len(err) < 1200 and "[…]" in err
    with pytest.raises(KeyError):
        main(["--debug", "list"])
    monkeypatch.setenv("HEPNB_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["list"])


def test_a_missing_notebooks_folder_is_an_error_not_an_empty_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HEPNB_NOTEBOOKS", str(tmp_path / "nonexistent"))
    assert main(["list"]) == 2
    assert "nonexistent (from $HEPNB_NOTEBOOKS) does not exist or is not a folder" in capsys.readouterr().err
