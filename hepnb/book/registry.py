"""The study registry: which notebooks exist, their parameters and their profiles.

Nothing here keeps a second copy of a notebook's parameters: they are read from the notebook's
``parameters`` cell with papermill's inspection, their types are those of the default literals, and their
allowed values are declared in each line's comment (:mod:`hepnb.book.parameters`). Profiles are YAML files next
to the notebook, ``notebooks/<study>.<profile>.yaml``, holding overrides.

A notebook that cannot be read (truncated JSON, no parameters cell, a broken declaration) blocks only itself:
the other studies are listed and run, and asking for it names the file and what is wrong with it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from hepnb.book.parameters import MAX_YAML_BYTES, Constraint, ConstraintError, load_yaml, parse_comment, yaml_message

__all__ = [
    "PROFILES",
    "Parameter",
    "ParameterError",
    "Study",
    "StudyError",
    "broken_studies",
    "coerce_cli_value",
    "get_study",
    "list_studies",
    "notebooks_dir",
    "repo_root",
    "resolve_parameters",
]

#: The three parameter profiles; ``default`` is the notebook's own defaults.
PROFILES: tuple[str, ...] = ("ci", "default", "full")

#: Parameters every notebook has; the runner sets them, a user does not.
RUNNER_PARAMETERS: tuple[str, ...] = ("profile", "results_dir")


class StudyError(ValueError):
    """An unknown study or profile, or a broken profile file."""


class ParameterError(ValueError):
    """A parameter that does not exist or has the wrong type."""


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter as declared in its ``parameters`` cell."""

    name: str
    type: type
    default: Any
    help: str = ""
    #: The allowed values its comment declares (``Constraint()``: none declared).
    allowed: Constraint = field(default_factory=Constraint)

    @property
    def type_name(self) -> str:
        """The Python type name, e.g. ``"int"``."""
        return self.type.__name__


@dataclass(frozen=True)
class Study:
    """A study: its notebook, title, declared parameters and profile files."""

    name: str
    notebook: Path
    title: str
    parameters: Mapping[str, Parameter]

    def profile_file(self, profile: str) -> Path:
        """Path of the YAML file of ``profile`` (it may not exist for ``default``)."""
        return self.notebook.with_name(f"{self.name}.{profile}.yaml")

    def profile_overrides(self, profile: str) -> dict[str, Any]:
        """The overrides a profile file sets, checked against the declared parameters.

        Raises
        ------
        StudyError
            Unknown profile, missing file (for ``ci``/``full``), or a file that does not parse.
        ParameterError
            A name or type in the file that the notebook does not declare.
        """
        if profile not in PROFILES:
            msg = f"unknown profile {profile!r}; choose one of {list(PROFILES)}"
            raise StudyError(msg)
        path = self.profile_file(profile)
        if not path.is_file():
            if profile == "default":
                return {}
            msg = f"study {self.name!r} has no {profile!r} profile: {path} does not exist"
            raise StudyError(msg)
        try:
            if path.stat().st_size > MAX_YAML_BYTES:
                msg = (f"profile file {path} has {path.stat().st_size} bytes, more than the {MAX_YAML_BYTES} a "
                       "profile may have")
                raise StudyError(msg)
            data = load_yaml(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as err:
            msg = f"profile file {path} is not UTF-8 text (byte {err.start} is {err.object[err.start:err.start + 1]!r})"
            raise StudyError(msg) from err
        except yaml.YAMLError as err:
            msg = f"profile file {path} does not parse as YAML: {yaml_message(err)}"
            raise StudyError(msg) from err
        if data is None:
            return {}
        if not isinstance(data, dict):
            msg = f"profile file {path} must hold a mapping of parameter: value, found {type(data).__name__}"
            raise StudyError(msg)
        return {name: self.check(name, value, source=str(path)) for name, value in data.items()}

    def check(self, name: str, value: Any, *, source: str = "parameter") -> Any:
        """Validate one parameter value against its type and declared allowed values; return it (ints widened
        to float).

        Raises
        ------
        ParameterError
            Unknown name (the valid names are listed), wrong type, or a value outside the declared ones (the
            message names the study, the parameter, the allowed values and the value found).
        """
        declared = self.parameters.get(name)
        if declared is None or name in RUNNER_PARAMETERS:
            valid = sorted(n for n in self.parameters if n not in RUNNER_PARAMETERS)
            msg = f"{source}: study {self.name!r} has no parameter {name!r}; valid parameters: {valid}"
            raise ParameterError(msg)
        value = _check_type(declared, value, source)
        try:
            declared.allowed.check(value)
        except ConstraintError as err:
            msg = f"{source}: study {self.name!r}: parameter {name!r} {err}"
            raise ParameterError(msg) from None
        return value


def _check_type(declared: Parameter, value: Any, source: str) -> Any:
    want = declared.type
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is type(None) or (isinstance(value, want) and not (want is int and isinstance(value, bool))):
        return value
    msg = (f"{source}: parameter {declared.name!r} must be {want.__name__} "
           f"(default {declared.default!r}), found {type(value).__name__} {value!r}")
    raise ParameterError(msg)


def repo_root() -> Path:
    """The repository (book) root: the folder holding ``_config.yml``."""
    return Path(__file__).resolve().parents[2]


def notebooks_dir() -> Path:
    """The folder of the study notebooks (``HEPNB_NOTEBOOKS`` overrides the repository's)."""
    env = os.environ.get("HEPNB_NOTEBOOKS")
    if env:
        return Path(env).resolve()
    return repo_root() / "notebooks"


def _title(notebook: Path) -> str:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return notebook.stem


def _parameters(notebook: Path) -> dict[str, Parameter]:
    import papermill as pm

    inspected = pm.inspect_notebook(str(notebook))
    params = {}
    for name, info in inspected.items():
        try:
            default = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError) as err:
            msg = (f"{notebook}: parameter {name!r} must default to a literal (number, string, bool, "
                   f"list), found {info['default']!r}")
            raise StudyError(msg) from err
        try:
            allowed, help_text = parse_comment(str(info.get("help") or ""), default)
        except ConstraintError as err:
            msg = f"{notebook}: parameter {name!r}: {err}"
            raise StudyError(msg) from err
        params[name] = Parameter(name=name, type=type(default), default=default, help=help_text, allowed=allowed)
    missing = [n for n in RUNNER_PARAMETERS if n not in params]
    if missing:
        msg = f"{notebook}: the parameters cell must declare {missing}"
        raise StudyError(msg)
    return params


@cache
def _load(notebook: Path, mtime_ns: int) -> Study:  # mtime in the key: an edited notebook reloads
    return Study(name=notebook.stem, notebook=notebook, title=_title(notebook),
                 parameters=_parameters(notebook))


def _scan(folder: Path | None) -> tuple[dict[str, Study], dict[str, str]]:
    """Every ``*.ipynb`` of the folder: the studies that load, and for the others why not."""
    folder = folder or notebooks_dir()
    if not folder.is_dir():
        source = " (from $HEPNB_NOTEBOOKS)" if os.environ.get("HEPNB_NOTEBOOKS") else ""
        msg = f"the notebooks folder {folder}{source} does not exist or is not a folder"
        raise StudyError(msg)
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    studies, broken = {}, {}
    for path in found:
        try:
            studies[path.stem] = _load(path.resolve(), path.stat().st_mtime_ns)
        except StudyError as err:
            broken[path.stem] = str(err)
        except Exception as err:  # noqa: BLE001 - any unreadable notebook blocks only itself
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            broken[path.stem] = f"{path} cannot be read as a notebook: {reason}"
    return studies, broken


def list_studies(folder: Path | None = None) -> dict[str, Study]:
    """All studies that load, one per ``*.ipynb`` in the notebooks folder, sorted by name
    (:func:`broken_studies` lists the notebooks that do not)."""
    return _scan(folder)[0]


def broken_studies(folder: Path | None = None) -> dict[str, str]:
    """The notebooks of the folder that cannot be loaded as studies, each with what is wrong with it."""
    return _scan(folder)[1]


def get_study(name: str, folder: Path | None = None) -> Study:
    """The study called ``name``; an unknown name is refused with the list of studies, a broken notebook with
    what is wrong with it."""
    studies, broken = _scan(folder)
    if name in broken:
        msg = f"study {name!r} cannot be loaded: {broken[name]}"
        raise StudyError(msg)
    if name not in studies:
        msg = f"unknown study {name!r}; available studies: {sorted(studies)}"
        if broken:
            msg += f" (notebooks that do not load: {sorted(broken)})"
        raise StudyError(msg)
    return studies[name]


def coerce_cli_value(study: Study, name: str, text: str) -> Any:
    """Turn the text of ``-p NAME VALUE`` into a typed value (YAML 1.2 rules, integers decimal; strings stay
    strings)."""
    declared = study.parameters.get(name)
    if declared is not None and declared.type is str:
        return text
    try:
        value = load_yaml(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and declared is not None and declared.type is float:
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            return float(text)
        except ValueError:
            return value
    return value


def resolve_parameters(study: Study, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Profile values merged under the user's overrides, every value checked.

    Returns
    -------
    dict
        The parameters to inject (without ``profile``/``results_dir``, which the runner adds).
    """
    params = study.profile_overrides(profile)
    for name, value in (overrides or {}).items():
        params[name] = study.check(name, value, source="-p")
    return params
