from __future__ import annotations

import socket
import time

import pytest

from hepnb.compute.client import SchedulerError, dask_client, scheduler_address


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # released on exit: nothing listens there


def test_unreachable_scheduler_fails_fast_with_a_clear_message() -> None:
    start = time.monotonic()
    with pytest.raises(SchedulerError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+"):
        with dask_client(f"tcp://127.0.0.1:{_closed_port()}", timeout_s=2):
            pass
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("bad", ["localhost", "http://host:8786", "tcp://:8786"])
def test_malformed_addresses(bad: str) -> None:
    with pytest.raises(SchedulerError, match="must look like tcp://HOST:PORT"):
        with dask_client(bad):
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
