from __future__ import annotations

from pathlib import Path

import pytest

from hepnb.book.registry import (
    ParameterError,
    StudyError,
    coerce_cli_value,
    get_study,
    list_studies,
    resolve_parameters,
)


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


def test_non_literal_default_is_refused(notebooks: Path) -> None:
    from tests.conftest import make_notebook

    make_notebook(notebooks / "computed.ipynb", "x = 1", "n = 2 * 3\n")
    with pytest.raises(StudyError, match="must default to a literal"):
        list_studies()
