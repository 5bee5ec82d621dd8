"""Papermill execution of study notebooks into the book tree.

A run is all-or-nothing. Parameters are validated before a kernel starts; the notebook writes its
results into a private staging folder, and only a run that finishes moves them into
``results/<profile>/<study>`` and its executed notebook into the book tree. A run that raises leaves the
previous results untouched and keeps the failed notebook beside the output as ``<study>.failed.ipynb``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hepnb.book.pages import clean_executed, shown_results_dir
from hepnb.book.registry import ParameterError, Study, get_study, repo_root, resolve_parameters
from hepnb.compute.client import ENV_VAR, check_reachable, scheduler_address

__all__ = [
    "RunError",
    "RunResult",
    "default_output_dir",
    "default_results_dir",
    "run_many",
    "run_study",
]

KERNEL_NAME = "python3"
#: The notebook parameter that receives the scheduler address, where a study declares it.
SCHEDULER_PARAMETER = "scheduler"


class RunError(RuntimeError):
    """A notebook that raised, or an output location that cannot be written."""


@dataclass(frozen=True)
class RunResult:
    """Where one executed study landed."""

    study: str
    profile: str
    notebook: Path
    results: Path
    duration_s: float


def default_output_dir() -> Path:
    """Where executed notebooks go for the book: ``book/executed`` (git-ignored)."""
    return repo_root() / "book" / "executed"


def default_results_dir() -> Path:
    """Root of the results tree: ``results/`` at the repository root."""
    return repo_root() / "results"


def _ensure_writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".hepnb-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        msg = f"the {what} folder {folder} cannot be written: {err.strerror or err}"
        raise RunError(msg) from err


def _publish(staged: Path, final: Path) -> None:
    """Replace ``final`` by the complete folder ``staged`` (old content removed only afterwards)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = None
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        final.rename(trash)
    staged.rename(final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


@contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """``os.environ[name] = value`` inside the block (kernels started there inherit it); nothing for ``None``."""
    if value is None:
        yield
        return
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _scheduler(spec: Study, params: dict[str, Any], scheduler: str | None) -> str | None:
    """The scheduler address for a run, checked to answer; injected as the study's ``scheduler`` parameter.

    The address is ``scheduler`` (``--scheduler``), else the study's ``-p scheduler`` value, else
    ``$HEPNB_SCHEDULER``; ``None`` lets the notebook start a local cluster.
    """
    declared = SCHEDULER_PARAMETER in spec.parameters
    given = params.get(SCHEDULER_PARAMETER) if declared else None
    if scheduler and given and given != scheduler:
        msg = (f"the scheduler is given twice with different addresses: --scheduler {scheduler} and "
               f"-p {SCHEDULER_PARAMETER} {given}; give it once")
        raise ParameterError(msg)
    address = scheduler_address(scheduler or given or None)
    if address is None:
        return None
    check_reachable(address)
    if declared:
        params[SCHEDULER_PARAMETER] = address
    return address


def run_study(
    study: str | Study,
    profile: str = "default",
    overrides: Mapping[str, Any] | None = None,
    *,
    output_dir: str | os.PathLike[str] | None = None,
    results_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    log_output: bool = False,
    scheduler: str | None = None,
) -> RunResult:
    """Execute one study notebook with papermill.

    Parameters
    ----------
    study
        Study name or :class:`~hepnb.book.registry.Study`.
    profile
        ``ci``, ``default`` or ``full``; its YAML overrides are merged under ``overrides``.
    overrides
        Typed parameter values (validated before anything runs).
    output_dir
        Folder of the executed notebook (default: the book tree, ``book/executed``).
    results_dir
        Root of the results tree (default ``results/``).
    progress, log_output
        Papermill's cell progress bar and streaming of cell output to the log.
    scheduler
        Dask scheduler ``tcp://HOST:PORT`` for the notebook (default: ``$HEPNB_SCHEDULER``, else the notebook
        starts a local cluster). It is checked before the kernel starts, set as ``$HEPNB_SCHEDULER`` in the
        kernel's environment and, where the notebook declares a ``scheduler`` parameter, injected there.

    Returns
    -------
    RunResult

    Raises
    ------
    StudyError, ParameterError
        Before execution, for an unknown study/profile or a bad parameter.
    hepnb.compute.client.SchedulerError
        Before execution, for a scheduler that cannot be reached.
    RunError
        For an unwritable output folder, or a notebook that raised (the message names the cell).
    """
    import papermill as pm

    spec = study if isinstance(study, Study) else get_study(study)
    params = resolve_parameters(spec, profile, overrides)
    address = _scheduler(spec, params, scheduler)
    out_dir = Path(output_dir).resolve() if output_dir is not None else default_output_dir()
    res_root = Path(results_dir).resolve() if results_dir is not None else default_results_dir()
    _ensure_writable(out_dir, "output")
    _ensure_writable(res_root, "results")

    staging = Path(tempfile.mkdtemp(prefix=f".staging-{spec.name}-", dir=res_root))
    params.update(profile=profile, results_dir=str(staging))
    target = out_dir / f"{spec.name}.ipynb"
    partial = out_dir / f".{spec.name}.partial.ipynb"
    started = time.perf_counter()
    try:
        try:
            with _environment(ENV_VAR, address):
                pm.execute_notebook(
                    str(spec.notebook), str(partial), parameters=params, kernel_name=KERNEL_NAME,
                    cwd=str(spec.notebook.parent), progress_bar=progress, log_output=log_output,
                )
        except pm.PapermillExecutionError as err:
            failed = out_dir / f"{spec.name}.failed.ipynb"
            if partial.exists():
                partial.replace(failed)
            msg = (f"study {spec.name!r} (profile {profile!r}) raised in cell {err.exec_count}: "
                   f"{err.ename}: {err.evalue}\nthe executed notebook is kept at {failed}; "
                   f"no results were written")
            raise RunError(msg) from err
        produced = staging / profile / spec.name
        if not (produced / "results.json").is_file():
            msg = (f"study {spec.name!r} finished without writing results.json (it must call "
                   f"hepnb.book.results.save_results with results_dir=results_dir)")
            raise RunError(msg)
        final_results = res_root / profile / spec.name
        clean_executed(partial, shown_results_dir(res_root, spec.notebook.parent), staging_dir=staging)  # page
        _publish(produced, final_results)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return RunResult(study=spec.name, profile=profile, notebook=target, results=final_results,
                     duration_s=time.perf_counter() - started)


def run_many(
    studies: Sequence[str],
    profile: str = "default",
    *,
    jobs: int = 1,
    output_dir: str | os.PathLike[str] | None = None,
    results_dir: str | os.PathLike[str] | None = None,
    scheduler: str | None = None,
) -> list[RunResult]:
    """Run several studies in a bounded thread pool (each notebook in its own kernel process).

    Every study's parameters, and the scheduler (``scheduler``, else ``$HEPNB_SCHEDULER``; see
    :func:`run_study`), are checked before the first kernel starts. All studies run even if one fails; the
    failures are then raised together.
    """
    if jobs < 1:
        msg = f"jobs must be >= 1, found {jobs}"
        raise ValueError(msg)
    specs = [get_study(name) for name in studies]
    for spec in specs:
        resolve_parameters(spec, profile)
    address = scheduler_address(scheduler)
    if address is not None:
        check_reachable(address)
    results: list[RunResult] = []
    errors: list[str] = []
    # set once around the pool, so that no thread restores the variable while another starts a kernel
    with _environment(ENV_VAR, address), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_study, spec, profile, output_dir=output_dir, results_dir=results_dir,
                               progress=False, scheduler=address): spec.name for spec in specs}
        bar = tqdm(as_completed(futures), total=len(futures), desc=f"studies ({profile})")
        for future in bar:
            name = futures[future]
            try:
                results.append(future.result())
                bar.write(f"  {name}: done in {results[-1].duration_s:.0f} s")
            except Exception as err:  # noqa: BLE001 - collected and re-raised below
                errors.append(str(err))
                bar.write(f"  {name}: FAILED")
    if errors:
        raise RunError("\n".join(errors))
    return sorted(results, key=lambda r: r.study)
