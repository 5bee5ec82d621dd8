"""The results contract: ``results/<profile>/<study>/results.json``.

Every study notebook ends with one call to :func:`save_results`. The file carries the metrics and the
provenance needed to trust them (git commit, package versions, device, parameters, timings) and is
written atomically, so a failed run never leaves a half-written file behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from hepnb.paths import file_mode

__all__ = [
    "TRACKED_PACKAGES",
    "ResultsRecord",
    "check_record",
    "device_description",
    "git_commit",
    "load_results",
    "package_versions",
    "results_path",
    "save_results",
    "to_jsonable",
]

#: Packages whose versions go into every results file.
TRACKED_PACKAGES: tuple[str, ...] = (
    "hepnb",
    "numpy",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "orbax-checkpoint",
    "xgboost",
    "scikit-learn",
    "uproot",
    "awkward",
    "pythia8mc",
    "fastjet",
    "papermill",
)


class ResultsRecord(BaseModel):
    """The schema of a ``results.json`` (``DESIGN.md``'s contract): provenance strings, the run's parameters, its
    timings in seconds and its metrics (any JSON object); keys beyond these are allowed."""

    model_config = ConfigDict(extra="allow", strict=True)

    study: str
    profile: str
    created: str
    git_commit: str
    versions: dict[str, Any]
    device: str
    params: dict[str, Any]
    timings_s: dict[str, float | None]
    metrics: dict[str, Any]


#: The keys every results.json has: the schema's fields, in its order.
_REQUIRED_KEYS = tuple(ResultsRecord.model_fields)


def results_path(study: str, profile: str, results_dir: str | os.PathLike[str] = "results") -> Path:
    """Return the folder that holds ``results.json`` and the figures of one study run.

    Parameters
    ----------
    study
        Study name, e.g. ``"pid_ranges"``.
    profile
        Profile name (``"ci"``, ``"default"``, ``"full"``).
    results_dir
        Root of the results tree.

    Returns
    -------
    pathlib.Path
        ``results_dir/<profile>/<study>``; created if missing.
    """
    for label, value in (("study", study), ("profile", profile)):
        if not value or "/" in value or value.startswith("."):
            msg = f"{label} must be a plain name without '/', found {value!r}"
            raise ValueError(msg)
    folder = Path(results_dir) / profile / study
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def to_jsonable(value: Any) -> Any:
    """Convert numpy/JAX scalars and arrays, paths and tuples into plain JSON types.

    Non-finite floats become ``None`` (JSON has no NaN), so the file stays strict JSON.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "__array__"):
        arr = np.asarray(value)
        return to_jsonable(arr.item() if arr.ndim == 0 else arr.tolist())
    msg = f"cannot store a value of type {type(value).__name__} in results.json: {value!r}"
    raise TypeError(msg)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (packages that are not installed are left out)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(repo: str | os.PathLike[str] | None = None) -> str:
    """The commit of the checkout that produced the results, with ``-dirty`` if it has changes.

    Returns ``"unknown"`` outside a git checkout.
    """
    cwd = Path(repo) if repo is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def device_description() -> str:
    """``"cpu"`` or the accelerator's name as JAX reports it (e.g. ``"gpu: NVIDIA H100"``)."""
    try:
        import jax

        dev = jax.devices()[0]
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        return "cpu"
    if dev.platform == "cpu":
        return "cpu"
    return f"{dev.platform}: {getattr(dev, 'device_kind', str(dev))}"


def save_results(
    study: str,
    profile: str,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    timings_s: Mapping[str, float],
    results_dir: str | os.PathLike[str] = "results",
) -> Path:
    """Write ``results.json`` for one study run, atomically, with provenance.

    Parameters
    ----------
    study, profile
        Which study and profile produced the numbers.
    params
        The parameters the notebook ran with.
    metrics
        Study-specific metrics (documented on the study's book page). Numpy/JAX values are converted.
    timings_s
        Wall-clock timings in seconds.
    results_dir
        Root of the results tree.

    Returns
    -------
    pathlib.Path
        The path of the written file.

    Raises
    ------
    TypeError
        If a value cannot be represented in JSON; nothing is written then.
    """
    record = {
        "study": study,
        "profile": profile,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "versions": package_versions(),
        "device": device_description(),
        "params": to_jsonable(dict(params)),
        "timings_s": to_jsonable(dict(timings_s)),
        "metrics": to_jsonable(dict(metrics)),
    }
    text = json.dumps(record, indent=2, allow_nan=False)
    folder = results_path(study, profile, results_dir)
    target = folder / "results.json"
    fd, tmp = tempfile.mkstemp(prefix=".results.", suffix=".json.tmp", dir=folder)
    os.fchmod(fd, file_mode())  # the umask's permissions, not the temporary file's 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_results(
    study: str, profile: str, results_dir: str | os.PathLike[str] = "results"
) -> dict[str, Any]:
    """Read one ``results.json`` back and check that it follows the contract.

    Raises
    ------
    FileNotFoundError
        If the study has no results for that profile.
    ValueError
        If the file is not valid JSON or lacks a required key.
    """
    path = Path(results_dir) / profile / study / "results.json"
    if not path.is_file():
        msg = f"no results for study {study!r} at profile {profile!r}: {path} does not exist"
        raise FileNotFoundError(msg)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        msg = f"{path} is not valid JSON: {err}"
        raise ValueError(msg) from err
    if isinstance(record, dict):
        missing = [key for key in _REQUIRED_KEYS if key not in record]
        if missing:
            msg = f"{path} lacks the required keys {missing}; expected all of {list(_REQUIRED_KEYS)}"
            raise ValueError(msg)
    check_record(record, path)
    return record


def check_record(record: Any, path: str | os.PathLike[str]) -> None:
    """Validate a ``results.json`` record against :class:`ResultsRecord`.

    Raises
    ------
    ValueError
        The first field that breaks the schema, named with the file, what was expected and what was found.
    """
    from hepnb.io import validate_json

    validate_json(record, ResultsRecord, path, what="results file")
