"""One way to get a Dask client, :func:`dask_client`: an existing scheduler when an address is given, else a
local cluster.

The address comes from, in order: the ``scheduler`` argument (``--scheduler`` on the command line, the
``scheduler`` notebook parameter), then the ``HEPNB_SCHEDULER`` environment variable. Without one, a
:class:`dask.distributed.LocalCluster` sized to the machine is started (in-process threads for the ``ci``
profile).

An address is checked before any work, under one hard deadline (``HEPNB_SCHEDULER_TIMEOUT`` seconds, default
10): something must listen there, it must greet in the Dask protocol (a Dask server speaks first; a dashboard,
a web server or any other service does not, or not in Dask's framing), and it must say that it is a scheduler.
Every failure becomes one :class:`SchedulerError` that names the address and what was found, never a hang.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from hepnb.arguments import non_negative_int
from hepnb.compute.local import local_cluster

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ENV_VAR",
    "TIMEOUT_ENV_VAR",
    "SchedulerError",
    "add_cluster_arguments",
    "available_cores",
    "check_reachable",
    "dask_client",
    "local_workers",
    "scheduler_address",
    "scheduler_timeout",
]

ENV_VAR = "HEPNB_SCHEDULER"
#: Seconds the whole check of a scheduler address may take (connection, greeting, identity).
TIMEOUT_ENV_VAR = "HEPNB_SCHEDULER_TIMEOUT"
DEFAULT_TIMEOUT_S = 10.0
#: A Dask greeting (the handshake message) is a few hundred bytes; a length field above this is not Dask.
_MAX_GREETING_BYTES = 1 << 16


class SchedulerError(ConnectionError):
    """The Dask scheduler at the given address cannot be reached."""


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler address to use: the argument, else ``$HEPNB_SCHEDULER``, else ``None`` (local)."""
    address = scheduler or os.environ.get(ENV_VAR) or None
    return address.strip() if address else None


def scheduler_timeout(timeout_s: float | None = None) -> float:
    """The deadline for checking a scheduler: ``timeout_s``, else ``$HEPNB_SCHEDULER_TIMEOUT``, else 10 s.

    Raises
    ------
    SchedulerError
        A deadline that is not a positive, finite number of seconds.
    """
    source = "timeout_s"
    if timeout_s is None:
        text = os.environ.get(TIMEOUT_ENV_VAR, "").strip()
        if not text:
            return DEFAULT_TIMEOUT_S
        source = f"${TIMEOUT_ENV_VAR}"
        try:
            timeout_s = float(text)
        except ValueError:
            msg = f"{source} must be a number of seconds, found {text!r}"
            raise SchedulerError(msg) from None
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        msg = f"{source} must be a positive, finite number of seconds, found {timeout_s!r}"
        raise SchedulerError(msg)
    return float(timeout_s)


def _refuse(address: str, what: str) -> SchedulerError:
    return SchedulerError(f"{address} is not a usable Dask scheduler: {what}; check the address (the scheduler's "
                          f"port, usually 8786, not its dashboard), or unset --scheduler/{ENV_VAR} to use a local "
                          f"cluster")


def _recv_exactly(sock: socket.socket, n: int, deadline: float) -> bytes:
    """``n`` bytes from ``sock`` before ``deadline`` (``time.monotonic``); ``TimeoutError`` or ``EOFError``."""
    parts, have = [], 0
    while have < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        data = sock.recv(min(n - have, 1 << 16))
        if not data:
            raise EOFError(b"".join(parts))
        parts.append(data)
        have += len(data)
    return b"".join(parts)


def _check_greeting(sock: socket.socket, address: str, deadline: float, timeout_s: float) -> None:
    """Read the handshake a Dask server sends first on a plain TCP connection, and check that it is one."""
    from distributed.protocol import loads
    from distributed.protocol.utils import unpack_frames

    try:
        header = _recv_exactly(sock, 8, deadline)
    except TimeoutError:
        what = (f"it accepted the connection but sent no Dask greeting within {timeout_s:g} s (a Dask scheduler "
                f"speaks first; a web server or a dashboard waits for a request)")
        raise _refuse(address, what) from None
    except EOFError as err:
        raise _refuse(address, f"it closed the connection without a Dask greeting (after {err.args[0]!r})") from None
    (length,) = struct.unpack("Q", header)
    if length > _MAX_GREETING_BYTES:
        raise _refuse(address, f"it answered with bytes that are not the Dask protocol ({header!r})")
    try:
        payload = _recv_exactly(sock, length, deadline)
        frames, missing = unpack_frames(payload, partial=True)
        if missing:
            raise ValueError(missing)
        greeting = loads(frames, deserialize=False)
    except TimeoutError:
        raise _refuse(address, f"its greeting did not arrive whole within {timeout_s:g} s") from None
    except Exception:  # noqa: BLE001 - whatever does not decode is not a Dask greeting
        raise _refuse(address, f"it answered with bytes that are not a Dask greeting ({header!r}...)") from None
    if not isinstance(greeting, dict) or "compression" not in greeting:
        raise _refuse(address, f"its greeting is not a Dask handshake ({str(greeting)[:80]})")


async def _identity(address: str, timeout_s: float) -> dict[str, Any]:
    from distributed.comm import connect
    from distributed.security import Security

    comm = await connect(address, timeout=timeout_s, **Security().get_connection_args("client"))
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _ask_identity(address: str, deadline: float, timeout_s: float) -> dict[str, Any]:
    """The server's ``identity`` reply, asked on a thread of its own (a notebook's event loop may be running)
    under the deadline."""
    out: dict[str, Any] = {}

    def ask() -> None:
        left = max(deadline - time.monotonic(), 0.1)
        try:
            out["reply"] = asyncio.run(asyncio.wait_for(_identity(address, left), left))
        except BaseException as err:  # noqa: BLE001 - handed to the caller below
            out["error"] = err

    thread = threading.Thread(target=ask, name="hepnb-scheduler-check", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0.0) + 1.0)
    if thread.is_alive() or isinstance(out.get("error"), TimeoutError | asyncio.TimeoutError):
        raise _refuse(address, f"it did not answer Dask's identity request within {timeout_s:g} s")
    if "error" in out:
        err = out["error"]
        raise _refuse(address, f"the Dask identity request failed ({type(err).__name__}: {err})") from err
    return out["reply"]


def check_reachable(address: str, timeout_s: float | None = None) -> None:
    """Check, under one deadline, that a Dask scheduler answers at ``address``.

    Three steps: a TCP connection; on ``tcp://``, the greeting a Dask server sends first, read with a size
    limit (an HTTP reply read as a Dask frame asks for exabytes); and Dask's ``identity`` request, whose
    answer must come from a scheduler (not a worker or nanny).

    Parameters
    ----------
    address
        ``tcp://HOST:PORT`` (or ``tls://``; its greeting is encrypted, so only the identity is checked).
    timeout_s
        The deadline for all three steps (default: :func:`scheduler_timeout`).

    Raises
    ------
    SchedulerError
        A malformed address, nothing listening, or a server that is not a Dask scheduler; the message names
        the address and what was found.
    """
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname or port is None:
        msg = f"scheduler address must look like tcp://HOST:PORT (or tls://), found {address!r}"
        raise SchedulerError(msg)
    timeout_s = scheduler_timeout(timeout_s)
    deadline = time.monotonic() + timeout_s
    try:
        sock = socket.create_connection((parsed.hostname, port), timeout=timeout_s)
    except OSError as err:
        msg = (f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s: {err.strerror or err}; "
               f"check the address, or unset --scheduler/{ENV_VAR} to use a local cluster")
        raise SchedulerError(msg) from err
    with sock:
        if parsed.scheme == "tcp":
            _check_greeting(sock, address, deadline, timeout_s)
    reply = _ask_identity(address, deadline, timeout_s)
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        raise _refuse(address, f"it is a Dask {kind or 'server'}, not a scheduler")


def available_cores() -> int:
    """The CPUs this process may use (its affinity mask where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


#: Prefix of the temporary folder of a local cluster's workers (removed when the cluster closes).
SCRATCH_PREFIX = "hepnb-dask-"


@contextmanager
def dask_client(
    scheduler: str | Client | None = None,
    *,
    workers: int | None = None,
    profile: str = "default",
    from_env: bool = True,
    timeout_s: float | None = None,
) -> Iterator[Client | None]:
    """The Dask client for a piece of work, as a context manager: the one way hepnb gets a client.

    In order of precedence:

    1. ``scheduler`` is a :class:`dask.distributed.Client`: it is used as it is and left open.
    2. A scheduler address, ``scheduler`` or else (with ``from_env``) ``$HEPNB_SCHEDULER``: it is checked to be
       a Dask scheduler within ``timeout_s`` (:func:`check_reachable`; :class:`SchedulerError` otherwise),
       connected to, and disconnected on exit (the scheduler keeps running).
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
        How long to wait for a remote scheduler (default: :func:`scheduler_timeout`, ``$HEPNB_SCHEDULER_TIMEOUT``
        or 10 s).

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
        timeout_s = scheduler_timeout(timeout_s)
        check_reachable(address, timeout_s)
        try:
            client = Client(address, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as err:
            msg = f"cannot connect a Dask client to the scheduler at {address} within {timeout_s:g} s: {err}"
            raise SchedulerError(msg) from err
        try:
            yield client
        finally:
            client.close()
        return
    if workers == 1:
        yield None
        return
    import dask

    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    cores = available_cores()
    # ci: one in-process worker with threads; otherwise single-threaded worker processes
    shape = (1, False, workers or cores) if profile == "ci" else (workers or cores, True, 1)
    try:  # a signal while the cluster starts still removes what it made
        with dask.config.set({"temporary-directory": scratch}), local_cluster(
                shape[0], processes=shape[1], threads_per_worker=shape[2], scratch=scratch) as client:
            yield client
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
                             f"checked before any work, within ${TIMEOUT_ENV_VAR} seconds (default "
                             f"{DEFAULT_TIMEOUT_S:g})")
    if workers:
        parser.add_argument("--workers", type=non_negative_int, default=0,
                            help="local worker processes without a scheduler (0: all cores; 1: in this process)")
