"""One way to get a Dask client: an existing scheduler when an address is given, else a local cluster.

The address comes from, in order: the ``scheduler`` argument (``--scheduler`` on the command line, the
``scheduler`` notebook parameter), then the ``HEPNB_SCHEDULER`` environment variable. Without one, a
:class:`dask.distributed.LocalCluster` sized to the machine is started (in-process threads for the ``ci``
profile). An address that cannot be reached fails within seconds with a clear message, not a hang.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlparse

__all__ = ["ENV_VAR", "SchedulerError", "check_reachable", "close_client", "get_client", "scheduler_address"]

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
               timeout_s: float = 5.0) -> Any:
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
    from dask.distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address is not None:
        check_reachable(address, timeout_s)
        return Client(address, timeout=f"{timeout_s}s")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if profile == "ci":
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=n_workers or cores,
                               dashboard_address=None)
    else:
        cluster = LocalCluster(n_workers=n_workers or cores, threads_per_worker=1, dashboard_address=None)
    return Client(cluster)


def close_client(client: Any) -> None:
    """Close a client and, when it runs on a local cluster of its own, that cluster too."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()
