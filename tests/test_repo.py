"""Repository hygiene: stripped notebooks, profiles that validate, TOC, packaging, the two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from hepnb.book.registry import PROFILES, RUNNER_PARAMETERS, list_studies

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS].count("environment") == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them (nbstripout)"
    assert "papermill" not in nb.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_one_parameters_cell_and_a_title(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("study", sorted(list_studies(REPO / "notebooks")))
def test_every_profile_validates(study: str) -> None:
    spec = list_studies(REPO / "notebooks")[study]
    for name in RUNNER_PARAMETERS:
        assert name in spec.parameters
    assert spec.parameters["profile"].default == "default"
    for profile in PROFILES:
        spec.profile_overrides(profile)  # raises on an unknown name or a wrong type
    assert spec.profile_file("ci").is_file() and spec.profile_file("full").is_file()


def test_toc_lists_every_notebook() -> None:
    toc = (REPO / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"file: book/executed/{path.stem}\n" in toc, f"_toc.yml does not list {path.stem}"


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def test_environment_yml_lists_the_same_packages_as_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = _names(conda + pip) - {"python", "pip"}
    assert listed == declared, f"only in environment.yml: {listed - declared}; only in pyproject: {declared - listed}"
    assert "torch" in _names(project["optional-dependencies"]["bench"])
    assert "torch" not in declared, "torch belongs in the bench extra only"


def test_pins_that_matter() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "jupyter-book>=1.0.4.post1,<2" in deps
    assert "pythia8mc==8.317.2" in deps


def test_readme_commands_and_ci_entry_point() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    run = (REPO / ".ci" / "run").read_text()
    assert run.rstrip().endswith("exec make test")
    makefile = (REPO / "Makefile").read_text()
    for target in ("book:", "test:", "lab:"):
        assert target in makefile


def test_config_builds_from_executed_notebooks() -> None:
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
