from __future__ import annotations

import socket
import time

import pytest

from hepnb.cluster import SchedulerError, get_client, scheduler_address


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # released on exit: nothing listens there


def test_unreachable_scheduler_fails_fast_with_a_clear_message() -> None:
    start = time.monotonic()
    with pytest.raises(SchedulerError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+"):
        get_client(f"tcp://127.0.0.1:{_closed_port()}", timeout_s=2)
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("bad", ["localhost", "http://host:8786", "tcp://:8786"])
def test_malformed_addresses(bad: str) -> None:
    with pytest.raises(SchedulerError, match="must look like tcp://HOST:PORT"):
        get_client(bad)


def test_environment_variable_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEPNB_SCHEDULER", "tcp://10.1.2.3:8786")
    assert scheduler_address(None) == "tcp://10.1.2.3:8786"
    assert scheduler_address("tcp://h:1") == "tcp://h:1"
    monkeypatch.delenv("HEPNB_SCHEDULER")
    assert scheduler_address(None) is None


def test_local_in_process_cluster_for_ci() -> None:
    client = get_client(profile="ci", n_workers=2)
    try:
        assert client.submit(sum, [1, 2, 3]).result() == 6
        assert len(client.scheduler_info()["workers"]) == 1
    finally:
        client.close()
