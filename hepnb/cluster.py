"""One way to get a Dask client: an existing scheduler when an address is given, else a local cluster.

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
    from dask.distributed import Client

__all__ = [
    "ENV_VAR",
    "SchedulerError",
    "add_cluster_arguments",
    "available_cores",
    "check_reachable",
    "close_client",
    "get_client",
    "local_client",
    "local_workers",
    "open_client",
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


def get_client(scheduler: str | None = None, *, profile: str = "default", n_workers: int | None = None,
               timeout_s: float = 5.0) -> Client:
    """A :class:`dask.distributed.Client` on the given scheduler, or on a new local cluster.

    Parameters
    ----------
    scheduler
        ``tcp://HOST:PORT`` of an existing scheduler (dask-jobqueue, dask-gateway, ``dask scheduler``);
        ``None`` falls back to ``$HEPNB_SCHEDULER`` and then to a local cluster.
    profile
        ``ci`` starts the local cluster in-process (threads), other profiles one process per core.
    n_workers
        Local worker processes (default: the CPUs this process may use).
    timeout_s
        How long to wait for a remote scheduler.
    """
    from dask.distributed import Client

    address = scheduler_address(scheduler)
    if address is not None:
        check_reachable(address, timeout_s)
        return Client(address, timeout=f"{timeout_s}s")
    return local_client(n_workers, profile=profile)


def available_cores() -> int:
    """The CPUs this process may use (its affinity mask where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def local_client(n_workers: int | None = None, *, profile: str = "default") -> Client:
    """A :class:`dask.distributed.Client` on a new :class:`~dask.distributed.LocalCluster` (never a remote one).

    ``profile="ci"`` runs one in-process worker with ``n_workers`` threads; other profiles start ``n_workers``
    single-threaded worker processes (default: :func:`available_cores`). Close it with :func:`close_client`.
    """
    from dask.distributed import Client, LocalCluster

    if n_workers is not None and n_workers < 1:
        msg = f"n_workers must be >= 1, found {n_workers}"
        raise ValueError(msg)
    cores = available_cores()
    # no dashboard, and the scheduler's HTTP endpoint on a free port (8787 may belong to another cluster)
    quiet = {"dashboard_address": None, "scheduler_kwargs": {"dashboard_address": ":0"}}
    if profile == "ci":
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=n_workers or cores, **quiet)
    else:
        cluster = LocalCluster(n_workers=n_workers or cores, threads_per_worker=1, **quiet)
    return Client(cluster)


def close_client(client: Client) -> None:
    """Close a client and, when it runs on a local cluster of its own, that cluster too."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


@contextmanager
def open_client(scheduler: str | None = None, *, workers: int = 1, profile: str = "default",
                timeout_s: float = 5.0) -> Iterator[Client | None]:
    """The client for one piece of work, closed afterwards; ``None`` where the work should run in-process.

    With a scheduler address (the argument, else ``$HEPNB_SCHEDULER``) the scheduler is checked first and a
    :class:`SchedulerError` raised within ``timeout_s`` if it cannot be reached. Without one, ``workers > 1``
    starts a temporary local cluster of that many processes and ``workers <= 1`` yields ``None``.
    """
    address = scheduler_address(scheduler)
    if address is None and workers <= 1:
        yield None
        return
    client = get_client(address, timeout_s=timeout_s) if address else local_client(workers, profile=profile)
    try:
        yield client
    finally:
        close_client(client)


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
