"""One way to get a Dask client, :func:`dask_client`: an existing scheduler when an address is given, else a
local cluster.

The address comes from, in order: the ``scheduler`` argument (``--scheduler`` on the command line, the
``scheduler`` notebook parameter), then the ``HEPNB_SCHEDULER`` environment variable. Without one, a
:class:`dask.distributed.LocalCluster` sized to the machine is started (in-process threads for the ``ci``
profile). An address that cannot be reached fails within seconds with a clear message, not a hang.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from dask.distributed import Client, LocalCluster

__all__ = [
    "ENV_VAR",
    "SchedulerError",
    "add_cluster_arguments",
    "available_cores",
    "check_reachable",
    "dask_client",
    "local_workers",
    "scheduler_address",
]

ENV_VAR = "HEPNB_SCHEDULER"


class SchedulerError(ConnectionError):
    """The Dask scheduler at the given address cannot be reached."""


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler address to use: the argument, else ``$HEPNB_SCHEDULER``, else ``None`` (local)."""
    address = scheduler or os.environ.get(ENV_VAR) or None
    return address.strip() if address else None


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Open a TCP connection to the scheduler's host and port, failing fast if nobody answers.

    Raises
    ------
    SchedulerError
        For a malformed address or one where no scheduler listens.
    """
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname or parsed.port is None:
        msg = f"scheduler address must look like tcp://HOST:PORT (or tls://), found {address!r}"
        raise SchedulerError(msg)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout_s):
            pass
    except OSError as err:
        msg = (f"cannot reach the Dask scheduler at {address} within {timeout_s:.0f} s: {err.strerror or err}; "
               f"check the address, or unset --scheduler/{ENV_VAR} to use a local cluster")
        raise SchedulerError(msg) from err


def available_cores() -> int:
    """The CPUs this process may use (its affinity mask where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _local_cluster(n_workers: int | None, profile: str) -> LocalCluster:
    from dask.distributed import LocalCluster

    cores = available_cores()
    # no dashboard, and the scheduler's HTTP endpoint on a free port (8787 may belong to another cluster)
    quiet = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}
    if profile == "ci":
        return LocalCluster(processes=False, n_workers=1, threads_per_worker=n_workers or cores, **quiet)
    return LocalCluster(n_workers=n_workers or cores, threads_per_worker=1, **quiet)


@contextmanager
def dask_client(
    scheduler: str | Client | None = None,
    *,
    workers: int | None = None,
    profile: str = "default",
    from_env: bool = True,
    timeout_s: float = 5.0,
) -> Iterator[Client | None]:
    """The Dask client for a piece of work, as a context manager: the one way hepnb gets a client.

    In order of precedence:

    1. ``scheduler`` is a :class:`dask.distributed.Client`: it is used as it is and left open.
    2. A scheduler address, ``scheduler`` or else (with ``from_env``) ``$HEPNB_SCHEDULER``: it is checked to
       answer within ``timeout_s`` (:class:`SchedulerError` otherwise), connected to, and disconnected on exit
       (the scheduler keeps running).
    3. ``workers == 1``: ``None``, meaning "run in this process" (every hepnb function taking a ``client``
       accepts ``None``).
    4. Otherwise a new :class:`~dask.distributed.LocalCluster`, closed on exit: ``profile="ci"`` runs one
       in-process worker with ``workers`` threads; other profiles ``workers`` single-threaded processes
       (``None``: :func:`available_cores`).

    Parameters
    ----------
    scheduler
        An existing client, ``tcp://HOST:PORT`` (or ``tls://``) of a running scheduler, or ``None``.
    workers
        Local workers when no scheduler is given (``None``: all cores; ``1``: in this process).
    profile
        The study profile; ``ci`` keeps a local cluster in-process.
    from_env
        Read ``$HEPNB_SCHEDULER`` when ``scheduler`` is ``None``. Library functions that must not depend on
        the environment pass ``False``.
    timeout_s
        How long to wait for a remote scheduler.

    Examples
    --------
    >>> with dask_client(workers=2) as client:  # doctest: +SKIP
    ...     table = generate_table(..., client=client)

    In a notebook, where a ``with`` block cannot span cells, enter it on a :class:`contextlib.ExitStack` and
    close the stack in the last cell.
    """
    from dask.distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if workers is not None and workers < 1:
        msg = f"workers must be >= 1, found {workers}"
        raise ValueError(msg)
    address = scheduler_address(scheduler) if from_env else (scheduler.strip() if scheduler else None)
    if address is not None:
        check_reachable(address, timeout_s)
        client = Client(address, timeout=f"{timeout_s}s")
        try:
            yield client
        finally:
            client.close()
        return
    if workers == 1:
        yield None
        return
    cluster = _local_cluster(workers, profile)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def local_workers(requested: int, n_tasks: int) -> int:
    """Worker processes for ``n_tasks`` independent tasks: ``requested`` (``0``: all cores), at most ``n_tasks``."""
    if requested < 0:
        msg = f"workers must be >= 0 (0: all cores), found {requested}"
        raise ValueError(msg)
    return max(1, min(requested or available_cores(), n_tasks))


def add_cluster_arguments(parser: argparse.ArgumentParser, *, workers: bool = True) -> None:
    """Add ``--scheduler ADDRESS`` (and ``--workers N``) to a command's parser."""
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help=f"Dask scheduler tcp://HOST:PORT (default: ${ENV_VAR}, else a local cluster); "
                             "checked before any work")
    if workers:
        parser.add_argument("--workers", type=int, default=0,
                            help="local worker processes without a scheduler (0: all cores; 1: in this process)")
