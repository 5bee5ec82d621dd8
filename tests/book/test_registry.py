from __future__ import annotations

from pathlib import Path

import pytest

from hepnb.book.registry import (
    RUNNER_PARAMETERS,
    ParameterError,
    StudyError,
    broken_studies,
    coerce_cli_value,
    get_study,
    list_studies,
    resolve_parameters,
)
from tests.conftest import REPO, make_notebook

NOTEBOOKS = REPO / "notebooks"


def test_parameters_come_from_the_notebook_cell(notebooks: Path) -> None:
    study = get_study("good")
    assert study.title == "good title"
    types = {name: p.type_name for name, p in study.parameters.items()}
    assert types == {"profile": "str", "results_dir": "str", "n": "int", "scale": "float", "label": "str",
                     "flags": "list", "verbose": "bool"}
    assert study.parameters["n"].default == 3


def test_profile_overrides_merge_under_cli_values(notebooks: Path) -> None:
    study = get_study("good")
    assert resolve_parameters(study, "ci") == {"n": 1}
    assert resolve_parameters(study, "ci", {"n": 7, "scale": 2}) == {"n": 7, "scale": 2.0}
    assert resolve_parameters(study, "default") == {}


def test_unknown_study_lists_the_valid_ones(notebooks: Path) -> None:
    with pytest.raises(StudyError, match=r"unknown study 'nope'.*\['boom', 'good', 'silent'\]"):
        get_study("nope")


def test_unknown_parameter_lists_the_valid_ones(notebooks: Path) -> None:
    with pytest.raises(ParameterError, match=r"no parameter 'm'.*\['flags', 'label', 'n', 'scale', 'verbose'\]"):
        resolve_parameters(get_study("good"), "default", {"m": 1})


@pytest.mark.parametrize(("name", "value"), [("n", 1.5), ("n", "3"), ("n", True), ("verbose", 1),
                                              ("flags", "a"), ("scale", "fast")])
def test_wrong_types_are_refused(notebooks: Path, name: str, value: object) -> None:
    with pytest.raises(ParameterError, match=f"parameter '{name}' must be"):
        resolve_parameters(get_study("good"), "default", {name: value})


def test_runner_parameters_cannot_be_overridden(notebooks: Path) -> None:
    with pytest.raises(ParameterError, match="no parameter 'profile'"):
        resolve_parameters(get_study("good"), "default", {"profile": "ci"})


def test_cli_values_are_typed_like_yaml(notebooks: Path) -> None:
    study = get_study("good")
    assert coerce_cli_value(study, "n", "5") == 5
    assert coerce_cli_value(study, "scale", "1e-3") == pytest.approx(1e-3)
    assert coerce_cli_value(study, "flags", "[1, 2, 3]") == [1, 2, 3]
    assert coerce_cli_value(study, "verbose", "true") is True
    assert coerce_cli_value(study, "label", "007") == "007"


def test_bad_profile_files(notebooks: Path) -> None:
    study = get_study("good")
    (notebooks / "good.full.yaml").write_text("n: [1, 2\n")
    with pytest.raises(StudyError, match="does not parse as YAML"):
        study.profile_overrides("full")
    (notebooks / "good.full.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(StudyError, match="must hold a mapping"):
        study.profile_overrides("full")
    (notebooks / "good.full.yaml").write_text("n: many\n")
    with pytest.raises(ParameterError, match="good.full.yaml: parameter 'n' must be int"):
        study.profile_overrides("full")
    with pytest.raises(StudyError, match="no 'ci' profile"):
        get_study("boom").profile_overrides("ci")
    with pytest.raises(StudyError, match="unknown profile 'huge'"):
        study.profile_overrides("huge")


def test_non_literal_default_blocks_only_its_own_notebook(notebooks: Path) -> None:
    make_notebook(notebooks / "computed.ipynb", "x = 1", "n = 2 * 3\n")
    assert "computed" not in list_studies() and "good" in list_studies()
    assert "must default to a literal" in broken_studies()["computed"]
    with pytest.raises(StudyError, match=r"study 'computed' cannot be loaded: .*computed.ipynb.*must default"):
        get_study("computed")


def test_truncated_and_stray_notebooks_are_named_and_block_nothing_else(notebooks: Path) -> None:
    text = (notebooks / "good.ipynb").read_text()
    (notebooks / "cut.ipynb").write_text(text[: len(text) // 2])
    (notebooks / "Untitled.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    broken = broken_studies()
    assert set(broken) == {"cut", "Untitled"}
    assert "cut.ipynb cannot be read as a notebook" in broken["cut"]
    assert "must declare ['profile', 'results_dir']" in broken["Untitled"]
    assert get_study("good").name == "good"
    with pytest.raises(StudyError, match=r"unknown study 'nope'.*do not load: \['Untitled', 'cut'\]"):
        get_study("nope")


def test_declared_allowed_values_are_enforced_before_anything_runs(notebooks: Path) -> None:
    make_notebook(notebooks / "ranged.ipynb", "x = 1",
                  'n_steps = 3000  # range: 1..; steps\nmode = "o2"  # choices: o2|seed\n'
                  'rate = 0.1  # range: 0<..<1\nsizes = [1, 2]  # range: 1..; length: 1..3\n')
    study = get_study("ranged")
    assert study.parameters["n_steps"].help == "steps"
    assert str(study.parameters["mode"].allowed) == "choices: o2|seed"
    for name, value, message in [
        ("n_steps", 0, r"-p: study 'ranged': parameter 'n_steps' must be >= 1 \(range: 1\.\.\), found 0"),
        ("mode", "O3", r"parameter 'mode' must be one of o2\|seed, found 'O3'"),
        ("rate", 1, r"parameter 'rate' must be > 0 and < 1 \(range: 0<\.\.<1\), found 1\.0"),
        ("rate", float("inf"), "must be a finite number"),
        ("sizes", [1, 0], "parameter 'sizes' element 1 must be >= 1"),
        ("sizes", [1, 2, 3, 4], "must have a length >= 1 and <= 3"),
    ]:
        with pytest.raises(ParameterError, match=message):
            resolve_parameters(study, "default", {name: value})
    (notebooks / "ranged.ci.yaml").write_text("n_steps: -1\n")
    with pytest.raises(ParameterError, match=r"ranged\.ci\.yaml: study 'ranged': parameter 'n_steps' must be >= 1"):
        resolve_parameters(study, "ci")


def test_a_default_outside_its_declaration_breaks_the_notebook(notebooks: Path) -> None:
    make_notebook(notebooks / "liar.ipynb", "x = 1", "n = 0  # range: 1..\n")
    assert "parameter 'n': the default 0 breaks its own declaration (range: 1..)" in broken_studies()["liar"]


def test_integers_are_decimal_on_the_command_line_and_in_profiles(notebooks: Path) -> None:
    study = get_study("good")
    assert coerce_cli_value(study, "n", "010") == 10
    with pytest.raises(ParameterError, match=r"parameter 'n' must be int .* found str '0x10'"):
        resolve_parameters(study, "default", {"n": coerce_cli_value(study, "n", "0x10")})
    (notebooks / "good.full.yaml").write_text("n: 010\nflags: [08, 09]\n")
    assert resolve_parameters(study, "full") == {"n": 10, "flags": [8, 9]}


def test_non_utf8_profile_is_named(notebooks: Path) -> None:
    (notebooks / "good.full.yaml").write_bytes(b"n: 1\nlabel: caf\xe9\n")
    with pytest.raises(StudyError, match=r"good\.full\.yaml is not UTF-8 text \(byte 15 is b'\\xe9'\)"):
        get_study("good").profile_overrides("full")


def test_the_repository_notebooks_all_load() -> None:
    assert broken_studies(NOTEBOOKS) == {}


@pytest.mark.parametrize("study", sorted(list_studies(NOTEBOOKS)))
def test_every_parameter_declares_its_allowed_values(study: str) -> None:
    """The convention of hepnb.book.parameters: each parameter's comment says which values it takes
    (``range:``, ``choices:``, ``length:`` or ``any``); bools and the runner's parameters are exempt."""
    spec = list_studies(NOTEBOOKS)[study]
    undeclared = [p.name for p in spec.parameters.values()
                  if p.name not in RUNNER_PARAMETERS and p.type is not bool and not p.allowed.declared]
    assert not undeclared, (f"{spec.notebook.name}: parameters without declared allowed values (add e.g. "
                            f"'# range: 1..' or '# choices: a|b' or '# any'): {undeclared}")
