"""Repository hygiene: stripped notebooks, profiles that validate, TOC, packaging, the two commands."""

from __future__ import annotations

import ast
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
    assert len(readme.splitlines()) <= 70, "the README says what hepnb is and where to read on; details go to the book"
    assert "CONTRIBUTING.md" in readme and "book/using.md" in readme
    run = (REPO / ".ci" / "run").read_text()
    assert run.rstrip().endswith("exec make test")
    makefile = (REPO / "Makefile").read_text()
    for target in ("book:", "test:", "lab:"):
        assert target in makefile


def test_the_command_line_contract_is_a_book_page() -> None:
    """The contract (exit codes, parameter grammar, runs, files, sizes, commands) is "Using hepnb", in the TOC."""
    page = (REPO / "book" / "using.md").read_text()
    assert page.startswith("# Using hepnb\n")
    for section in ("## The commands", "## Exit status", "## Parameters and their allowed values", "## Runs",
                    "## Files", "## Sizes", "## On a cluster"):
        assert section in page, section
    assert "file: book/using\n" in (REPO / "_toc.yml").read_text()


def _layout_entries() -> dict[str, str]:
    """CONTRIBUTING.md's layout block: each ``hepnb/...`` entry and its text (continuation lines included)."""
    block = (REPO / "CONTRIBUTING.md").read_text().split("## Layout", 1)[1].split("```")[1]
    entries: dict[str, str] = {}
    key = ""
    for line in block.splitlines():
        if line.startswith("hepnb/"):
            key = line.split()[0]
            entries[key] = line
        elif line.startswith(" ") and key:
            entries[key] += " " + line.strip()
        else:
            key = ""
    return entries


def test_contributing_layout_names_every_module() -> None:
    entries = _layout_entries()
    missing = []
    for package in sorted(p for p in (REPO / "hepnb").iterdir() if (p / "__init__.py").is_file()):
        words = set(re.findall(r"[a-z_][a-z0-9_]*", entries.get(f"hepnb/{package.name}/", "")))
        missing += [f"{package.name}/{m.stem}" for m in package.glob("*.py")
                    if m.stem != "__init__" and m.stem not in words]
    top = " ".join(text for key, text in entries.items() if key.endswith(".py"))
    missing += [m.name for m in (REPO / "hepnb").glob("*.py") if m.stem != "__init__" and m.name not in top]
    assert not missing, f"modules the layout section of CONTRIBUTING.md does not name: {missing}"


def test_config_builds_from_executed_notebooks() -> None:
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True


def _notebook_code(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code" and not c.source.lstrip().startswith("%"))


def _import_aliases(tree: ast.AST) -> list[str]:
    return [f"{a.name} as {a.asname}" for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
            for a in node.names if a.asname is not None and len(a.asname) == 1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_modules_by_name_without_one_letter_aliases(path: Path) -> None:
    assert _import_aliases(ast.parse(_notebook_code(path))) == []


def test_package_has_no_one_letter_aliases_and_no_reexporting_init() -> None:
    for path in sorted((REPO / "hepnb").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert _import_aliases(tree) == [], path
        if path.name == "__init__.py" and path.parent != REPO / "hepnb":
            assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], \
                f"{path} re-exports names: import them from the module that defines them"


def _import_graph() -> dict[str, set[str]]:
    modules = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (REPO / "hepnb").rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name and modules[t].name != "__init__.py"}
    return graph


def test_no_import_cycle_among_the_package_modules() -> None:
    graph, state, cycles = _import_graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
