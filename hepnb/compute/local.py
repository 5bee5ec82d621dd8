"""A local Dask cluster that starts under a deadline and closes cleanly at any moment.

:func:`local_cluster` starts the scheduler alone, then asks for the workers and waits for them under one
deadline (``HEPNB_WORKER_START_TIMEOUT`` seconds, default 120). A worker process that cannot start (a memory
limit set with ``ulimit -v``, too many processes) becomes one :class:`StartError` naming the cause that the
workers logged, never a hang. On the way out, after an error or a signal (SIGINT, or SIGTERM turned into an
exception by the command line), the workers still starting are waited for (bounded) before the cluster is
closed, so that Dask's own exit hook finds nothing to close and prints no ``AssertionError: Status.init``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dask.distributed import Client, LocalCluster

__all__ = [
    "DEFAULT_START_TIMEOUT_S",
    "MIN_ADDRESS_SPACE_BYTES",
    "START_TIMEOUT_ENV_VAR",
    "StartError",
    "check_address_space",
    "local_cluster",
    "start_timeout",
]

#: Seconds the workers of a local cluster may take to start (all of them, together).
START_TIMEOUT_ENV_VAR = "HEPNB_WORKER_START_TIMEOUT"
DEFAULT_START_TIMEOUT_S = 120.0
#: Longest wait, on the way out, for workers that were still starting.
SETTLE_TIMEOUT_S = 30.0
#: Address space a worker process needs (``ulimit -v``): measured on ``hepnb pid generate --n 300000``, 0.8 GB
#: leaves the workers unable to start their threads (the run hangs), 1.5 GB runs.
MIN_ADDRESS_SPACE_BYTES = 1_500_000 * 1024


class StartError(ConnectionError):
    """The workers of a local Dask cluster did not start."""


def start_timeout() -> float:
    """The worker start-up deadline: ``$HEPNB_WORKER_START_TIMEOUT`` seconds, else 120.

    Raises
    ------
    ValueError
        A value that is not a positive, finite number (the variable is named).
    """
    text = os.environ.get(START_TIMEOUT_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_START_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        msg = f"${START_TIMEOUT_ENV_VAR} must be a positive, finite number of seconds, found {text!r}"
        raise ValueError(msg)
    return value


class _ErrorLog(logging.Handler):
    """Keeps the first error messages that Dask logs while the workers start."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            err = record.exc_info[1]
            text = f"{text}: {type(err).__name__}: {err}"
        if len(self.messages) < 3:
            self.messages.append(" ".join(text.split())[:300])


@contextmanager
def _errors_logged_by_dask() -> Iterator[_ErrorLog]:
    handler = _ErrorLog()
    logger = logging.getLogger("distributed")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def check_address_space(limit_bytes: int | None = None) -> None:
    """Refuse a virtual-memory limit (``ulimit -v``) too small for a worker process, before any starts.

    Parameters
    ----------
    limit_bytes
        The soft limit to check (default: this process's ``RLIMIT_AS``, which worker processes inherit).

    Raises
    ------
    StartError
        A finite limit below :data:`MIN_ADDRESS_SPACE_BYTES`.
    """
    if limit_bytes is None:
        try:
            import resource
        except ImportError:  # not POSIX: no such limit
            return
        limit_bytes = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit_bytes == resource.RLIM_INFINITY:
            return
    if limit_bytes < MIN_ADDRESS_SPACE_BYTES:
        msg = (f"the virtual memory limit (ulimit -v) is {limit_bytes / 2**20:.0f} MiB, but a worker process needs at "
               f"least {MIN_ADDRESS_SPACE_BYTES / 2**20:.0f} MiB: raise the limit, or run in this process with "
               "--workers 1")
        raise StartError(msg)


def _cause(messages: list[str]) -> str:
    if not messages:
        return ""
    hint = ""
    if any("can't start new thread" in m or "Cannot allocate memory" in m or "MemoryError" in m for m in messages):
        hint = " (is a memory or process limit set, such as ulimit -v or ulimit -u?)"
    return f"; the workers reported: {' | '.join(messages)}{hint}"


def _settle(cluster: LocalCluster, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until every worker the cluster asked for has finished starting (or failed), at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not set(cluster.worker_spec) <= set(cluster.workers):
        time.sleep(0.1)


def _close(cluster: LocalCluster, client: Client | None) -> None:
    _settle(cluster)
    if client is not None:
        client.close()
    with suppress(AssertionError, TimeoutError):  # a worker that never started cannot be closed twice
        cluster.close()


@contextmanager
def local_cluster(n_workers: int, *, processes: bool, threads_per_worker: int, scratch: str,
                  timeout_s: float | None = None) -> Iterator[Client]:
    """A client of a new local cluster whose workers have all started; the cluster is closed on exit.

    Parameters
    ----------
    n_workers
        Workers to start.
    processes
        Worker processes (``True``) or in-process workers (``False``).
    threads_per_worker
        Threads of each worker.
    scratch
        The workers' spill folder (the caller owns and removes it).
    timeout_s
        Deadline for the workers to start (default: :func:`start_timeout`).

    Raises
    ------
    StartError
        The workers did not all start within the deadline; the message quotes what they logged.
    """
    from dask.distributed import Client, LocalCluster

    timeout_s = start_timeout() if timeout_s is None else timeout_s
    if processes:
        check_address_space()
    # no dashboard, and the scheduler's HTTP endpoint on a free port (8787 may belong to another cluster)
    options: dict[str, Any] = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"},
                               "local_directory": scratch, "processes": processes,
                               "threads_per_worker": threads_per_worker}
    cluster = LocalCluster(n_workers=0, **options)
    client: Client | None = None
    try:
        client = Client(cluster)
        with _errors_logged_by_dask() as log:
            cluster.scale(n_workers)
            try:
                client.wait_for_workers(n_workers, timeout=timeout_s)
            except TimeoutError:
                msg = (f"the local Dask cluster did not start its {n_workers} worker(s) within {timeout_s:g} s "
                       f"(${START_TIMEOUT_ENV_VAR}){_cause(log.messages)}; --workers 1 runs in this process")
                raise StartError(msg) from None
        yield client
    finally:
        _close(cluster, client)
