from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from hepnb.compute.client import SchedulerError, dask_client, scheduler_address


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # released on exit: nothing listens there


def test_unreachable_scheduler_fails_fast_with_a_clear_message() -> None:
    start = time.monotonic()
    with pytest.raises(SchedulerError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+"), \
            dask_client(f"tcp://127.0.0.1:{_closed_port()}", timeout_s=2):
        pass
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("bad", ["localhost", "http://host:8786", "tcp://:8786"])
def test_malformed_addresses(bad: str) -> None:
    with pytest.raises(SchedulerError, match="must look like tcp://HOST:PORT"), dask_client(bad):
        pass


def test_environment_variable_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEPNB_SCHEDULER", "tcp://10.1.2.3:8786")
    assert scheduler_address(None) == "tcp://10.1.2.3:8786"
    assert scheduler_address("tcp://h:1") == "tcp://h:1"
    monkeypatch.delenv("HEPNB_SCHEDULER")
    assert scheduler_address(None) is None


def test_local_in_process_cluster_for_ci() -> None:
    with dask_client(profile="ci", workers=2, from_env=False) as client:
        assert client is not None
        assert client.submit(sum, [1, 2, 3]).result() == 6
        assert len(client.scheduler_info()["workers"]) == 1
        cluster = client.cluster
    assert client.status == "closed"
    assert cluster.status.name == "closed"


def test_one_worker_means_in_this_process_and_a_client_is_passed_through() -> None:
    with dask_client(workers=1, from_env=False) as none:
        assert none is None
    with dask_client(profile="ci", workers=1, from_env=False) as outer:
        assert outer is None
    with dask_client(profile="ci", workers=2, from_env=False) as outer, dask_client(outer) as inner:
        assert inner is outer
        assert inner.status == "running"  # the inner block does not close a client it was given


def _server(reply: bytes | None) -> tuple[socket.socket, str]:
    """A TCP server that, on each connection, sends ``reply`` (and closes) or nothing (and holds it)."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if reply is None:
                held.append(conn)
            else:
                conn.sendall(reply)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, f"tcp://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize(("reply", "message"), [
    (None, r"accepted the connection but sent no Dask greeting within 1 s"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", r"answered with bytes that are not the Dask protocol \(b'HTTP/1\.1'\)"),
    (b"\x05\x00\x00\x00\x00\x00\x00\x00hello", r"answered with bytes that are not a Dask greeting"),
    (b"", r"closed the connection without a Dask greeting"),
])
def test_a_server_that_does_not_speak_dask_is_refused_within_the_deadline(reply: bytes | None, message: str) -> None:
    server, address = _server(reply)
    start = time.monotonic()
    with pytest.raises(SchedulerError, match=rf"{address} is not a usable Dask scheduler: it {message}"), \
            dask_client(address, timeout_s=1):
        pass
    assert time.monotonic() - start < 30  # a guard against a hang
    server.close()


def test_a_scheduler_is_accepted_and_a_worker_refused() -> None:
    import distributed

    from hepnb.compute.client import check_reachable

    with distributed.LocalCluster(n_workers=1, processes=False, protocol="tcp://", dashboard_address=":0") as cluster:
        check_reachable(cluster.scheduler_address, 5)
        worker = next(iter(cluster.workers.values())).address
        with pytest.raises(SchedulerError, match=rf"{worker} is not a usable Dask scheduler: it is a Dask Worker"):
            check_reachable(worker, 5)
        with dask_client(cluster.scheduler_address, timeout_s=5) as client:
            assert client.submit(sum, [1, 2]).result() == 3


@pytest.mark.parametrize("bad", ["0", "-1", "inf", "soon"])
def test_the_deadline_must_be_a_positive_number(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    from hepnb.compute.client import scheduler_timeout

    monkeypatch.setenv("HEPNB_SCHEDULER_TIMEOUT", bad)
    with pytest.raises(SchedulerError, match=r"\$HEPNB_SCHEDULER_TIMEOUT must be a"):
        scheduler_timeout()
    monkeypatch.setenv("HEPNB_SCHEDULER_TIMEOUT", "3.5")
    assert scheduler_timeout() == 3.5 and scheduler_timeout(1) == 1.0


def test_a_local_cluster_keeps_its_scratch_in_a_folder_it_removes(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' spill space is a temporary folder of this process, gone when the cluster closes, also when
    the cluster fails to start (as after a signal during its start-up); no dask-scratch-space in $TMPDIR."""
    import tempfile

    from hepnb.compute import client as client_module

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with dask_client(workers=2, profile="ci", from_env=False) as client:
        scratch = [p for p in tmp_path.iterdir() if p.name.startswith(client_module.SCRATCH_PREFIX)]
        assert len(scratch) == 1 and client is not None
    assert not scratch[0].exists() and not (tmp_path / "dask-scratch-space").exists()

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(client_module, "local_cluster", interrupted)
    with pytest.raises(KeyboardInterrupt), dask_client(workers=2, from_env=False):
        pass
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(client_module.SCRATCH_PREFIX)]
