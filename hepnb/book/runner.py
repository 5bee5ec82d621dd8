"""Papermill execution of study notebooks into the book tree.

A run is all-or-nothing. Parameters are validated before a kernel starts; the notebook writes its
results into a private staging folder, and only a run that finishes moves them into
``results/<profile>/<study>`` and its executed notebook into the book tree. A run that raises, or whose kernel
dies, leaves the previous results untouched and keeps the failed notebook beside the output as
``<study>.failed.ipynb`` (a later success removes it).

Each run owns its staging folder ``results/.staging-<study>-<pid>-<random>`` and its partial notebook
``<output>/.<study>.<pid>.partial.ipynb``; the staging folder holds ``owner.json`` (host, PID, the partial
notebook), the run's lock. A run removes both when it ends, also on Ctrl-C and SIGTERM (``hepnb`` turns SIGTERM
into the same exception); a run killed outright (SIGKILL, power loss) leaves them, and the next run removes
those whose owner is no longer alive on this host, never those of a live concurrent run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hepnb.book.pages import clean_executed, shown_results_dir
from hepnb.book.registry import (
    ParameterError,
    Study,
    broken_studies,
    get_study,
    repo_root,
    resolve_parameters,
)
from hepnb.book.results import load_results
from hepnb.compute.client import ENV_VAR, check_reachable, scheduler_address
from hepnb.paths import check_output_folder, probe_writable, same_file

__all__ = [
    "RunError",
    "RunResult",
    "default_output_dir",
    "default_results_dir",
    "remove_abandoned",
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


def _check_folder(folder: Path, what: str) -> None:
    """Refuse (exit status 2, nothing made) a folder :func:`hepnb.paths.check_output_folder` refuses."""
    try:
        check_output_folder(folder, what)
    except ValueError as err:
        raise ParameterError(str(err)) from None


def _ensure_writable(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe_writable(folder)
    except OSError as err:
        msg = f"the {what} folder {folder} cannot be written: {err.strerror or err}"
        raise RunError(msg) from err


#: The lock file of a run, inside its staging folder.
OWNER_FILE = "owner.json"
#: A staging folder without a lock file is left alone for this long (its run may be about to write it).
_GRACE_S = 60.0
_STAGING = re.compile(r"^\.staging-.+-(?P<pid>\d+)-[a-z0-9_]+$")
_TRASH = re.compile(r"^\..+\.old-(?P<pid>\d+)-\d+$")


def _pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _abandoned(folder: Path, pattern: re.Pattern[str]) -> int | None:
    """The owner PID of a staging or trash folder whose owner is dead on this host, else ``None``."""
    match = pattern.match(folder.name)
    if match is None or not folder.is_dir():
        return None
    pid = int(match["pid"])
    owner = folder / OWNER_FILE
    if owner.is_file():
        try:
            record = json.loads(owner.read_text(encoding="utf-8"))
            pid, host = int(record["pid"]), str(record["host"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a lock being written, or not ours: leave it
        if host != socket.gethostname():
            return None
    elif pattern is _STAGING and time.time() - folder.stat().st_mtime < _GRACE_S:
        return None
    return None if _pid_alive(pid) else pid


def remove_abandoned(res_root: Path) -> list[Path]:
    """Remove what runs killed outright left under ``res_root``: staging folders whose owner process is dead
    (with the partial notebook their lock names) and half-published old results. Returns what was removed."""
    removed: list[Path] = []
    if not res_root.is_dir():
        return removed
    for folder in res_root.glob(".staging-*"):
        if _abandoned(folder, _STAGING) is None:
            continue
        try:
            partial = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8")).get("partial")
        except (OSError, ValueError, AttributeError):
            partial = None
        if partial and Path(partial).name.endswith(".partial.ipynb"):
            Path(partial).unlink(missing_ok=True)
            removed.append(Path(partial))
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    for folder in res_root.glob("*/.*.old-*"):
        if _abandoned(folder, _TRASH) is not None:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _new_staging(res_root: Path, study: str, partial: Path) -> Path:
    """A private staging folder with its lock file (``owner.json``: host, PID, partial notebook)."""
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{study}-{os.getpid()}-", dir=res_root))
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "study": study, "partial": str(partial),
             "started": time.time()}
    (staging / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")
    return staging


def _failed_cell(notebook: Path) -> str:
    """``cell N`` for the last cell papermill started (the one a dead kernel was running), or ``a cell``."""
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # noqa: BLE001 - a description only
        return "a cell"
    started = [(i, c) for i, c in enumerate(nb.cells)
               if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return "a cell"
    index, cell = started[-1]
    return f"cell {cell.get('execution_count') or index}"


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
    published = res_root / profile / spec.name
    if out_dir == published or published in out_dir.parents:
        msg = (f"--output {out_dir} is inside {published}, the folder the run's results replace when it ends: the "
               f"executed notebook would be deleted with the earlier results; choose an output folder outside it")
        raise ParameterError(msg)
    _check_folder(out_dir, "output")  # both checked before either is made
    _check_folder(res_root, "results")
    _ensure_writable(out_dir, "output")
    _ensure_writable(res_root, "results")
    remove_abandoned(res_root)

    target = out_dir / f"{spec.name}.ipynb"
    if same_file(target, spec.notebook):
        msg = (f"--output {out_dir} would put the executed notebook over the study's own notebook {spec.notebook}; "
               f"choose another output folder")
        raise ParameterError(msg)
    partial = out_dir / f".{spec.name}.{os.getpid()}.partial.ipynb"
    failed = out_dir / f"{spec.name}.failed.ipynb"
    staging = _new_staging(res_root, spec.name, partial)
    params.update(profile=profile, results_dir=str(staging))
    started = time.perf_counter()
    try:
        try:
            with _environment(ENV_VAR, address):
                pm.execute_notebook(
                    str(spec.notebook), str(partial), parameters=params, kernel_name=KERNEL_NAME,
                    cwd=str(spec.notebook.parent), progress_bar=progress, log_output=log_output,
                )
        except pm.PapermillExecutionError as err:
            if _STOPPING.is_set():
                raise
            if partial.exists():
                partial.replace(failed)
            msg = (f"study {spec.name!r} (profile {profile!r}) raised in cell {err.exec_count}: "
                   f"{err.ename}: {err.evalue}\nthe executed notebook is kept at {failed}; "
                   f"no results were written")
            raise RunError(msg) from err
        except Exception as err:  # a dead kernel, a cell time-out, a kernel that does not start
            from nbclient.exceptions import DeadKernelError

            if _STOPPING.is_set():  # run_many is stopping this run: no failure to keep, only clean-up
                raise
            where = _failed_cell(partial) if partial.exists() else "a cell"
            if partial.exists():
                partial.replace(failed)
            kept = f"the executed notebook is kept at {failed}" if failed.exists() else "no notebook was saved"
            if isinstance(err, DeadKernelError):
                msg = (f"study {spec.name!r} (profile {profile!r}): the kernel died while running {where}; the "
                       f"likely cause is memory (the system stops the largest process when memory runs out): "
                       f"try a smaller profile or smaller sizes with -p\n{kept}; no results were written")
            else:
                msg = (f"study {spec.name!r} (profile {profile!r}) stopped in {where}: {type(err).__name__}: "
                       f"{err}\n{kept}; no results were written")
            raise RunError(msg) from err
        produced = staging / profile / spec.name
        if not (produced / "results.json").is_file():
            msg = (f"study {spec.name!r} finished without writing results.json (it must call "
                   f"hepnb.book.results.save_results with results_dir=results_dir)")
            raise RunError(msg)
        final_results = res_root / profile / spec.name
        clean_executed(partial, shown_results_dir(res_root, spec.notebook.parent), staging_dir=staging,
                       study=spec.name, results=load_results(spec.name, profile, staging))  # the page
        _publish(produced, final_results)
        partial.replace(target)
        failed.unlink(missing_ok=True)  # a failure of an earlier run is stale now
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return RunResult(study=spec.name, profile=profile, notebook=target, results=final_results,
                     duration_s=time.perf_counter() - started)


#: Set when the runs of :func:`run_many` are being stopped (Ctrl-C, SIGTERM): a run whose kernel is then stopped
#: keeps no failed notebook, it just cleans up.
_STOPPING = threading.Event()


def _stop_runs(pool: ThreadPoolExecutor) -> None:
    """Cancel the runs not started and stop the kernels of those running (children of this process), so that
    their threads clean up (staging folder, partial notebook) and end now rather than when their notebooks do."""
    import psutil

    _STOPPING.set()
    pool.shutdown(wait=False, cancel_futures=True)
    kernels = [child for child in psutil.Process().children(recursive=True)
               if "ipykernel_launcher" in " ".join(_cmdline(child))]
    for kernel in kernels:
        kernel.terminate()
    _, alive = psutil.wait_procs(kernels, timeout=10)
    for kernel in alive:
        kernel.kill()


def _cmdline(process: Any) -> list[str]:
    try:
        return list(process.cmdline())
    except Exception:  # noqa: BLE001 - a process that ended meanwhile
        return []


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
    :func:`run_study`), are checked before the first kernel starts. All studies run even if one fails, or if
    the notebook of one cannot be loaded (:func:`hepnb.book.registry.broken_studies`); the failures are then
    raised together.
    """
    if jobs < 1:
        msg = f"jobs must be >= 1, found {jobs}"
        raise ValueError(msg)
    _STOPPING.clear()
    broken = broken_studies()
    errors = [f"study {name!r} cannot be loaded: {broken[name]}" for name in studies if name in broken]
    specs = [get_study(name) for name in studies if name not in broken]
    for spec in specs:
        resolve_parameters(spec, profile)
    address = scheduler_address(scheduler)
    if address is not None:
        check_reachable(address)
    results: list[RunResult] = []
    # set once around the pool, so that no thread restores the variable while another starts a kernel
    with _environment(ENV_VAR, address), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_study, spec, profile, output_dir=output_dir, results_dir=results_dir,
                               progress=False, scheduler=address): spec.name for spec in specs}
        bar = tqdm(as_completed(futures), total=len(futures), desc=f"studies ({profile})")
        try:
            for future in bar:
                name = futures[future]
                try:
                    results.append(future.result())
                    bar.write(f"  {name}: done in {results[-1].duration_s:.0f} s")
                except Exception as err:  # noqa: BLE001 - collected and re-raised below
                    errors.append(str(err))
                    bar.write(f"  {name}: FAILED")
        except BaseException:  # Ctrl-C or SIGTERM in this thread: stop the runs in the others, then go
            _stop_runs(pool)
            raise
    if errors:
        raise RunError("\n".join(errors))
    return sorted(results, key=lambda r: r.study)
