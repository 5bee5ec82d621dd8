"""The local cluster's start-up guards (hepnb.compute.local): the deadline variable, the address-space floor,
and the start-up failure message; the signal cases run end to end in tests/faults/test_signal_faults.py."""

from __future__ import annotations

import pytest

from hepnb.compute import local


@pytest.mark.parametrize(("text", "expected"), [("", 120.0), ("7.5", 7.5), (" 30 ", 30.0)])
def test_the_start_deadline_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, text: str,
                                                       expected: float) -> None:
    monkeypatch.setenv(local.START_TIMEOUT_ENV_VAR, text)
    assert local.start_timeout() == expected


@pytest.mark.parametrize("text", ["0", "-3", "inf", "nan", "soon"])
def test_a_bad_start_deadline_is_named(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(local.START_TIMEOUT_ENV_VAR, text)
    with pytest.raises(ValueError, match=f"HEPNB_WORKER_START_TIMEOUT must be a positive, finite number of "
                                         f"seconds, found '{text}'"):
        local.start_timeout()


def test_the_address_space_floor() -> None:
    local.check_address_space(2 * local.MIN_ADDRESS_SPACE_BYTES)
    local.check_address_space(local.MIN_ADDRESS_SPACE_BYTES)
    with pytest.raises(local.StartError, match=r"ulimit -v\) is 781 MiB, but a worker process needs at least 1465"):
        local.check_address_space(800_000 * 1024)


def test_a_worker_that_cannot_start_is_explained() -> None:
    cause = local._cause(["Failed to start process: RuntimeError: can't start new thread"])
    assert "can't start new thread" in cause and "ulimit -v" in cause
    assert local._cause([]) == ""


def test_a_local_cluster_starts_its_workers_and_closes(tmp_path) -> None:
    with local.local_cluster(2, processes=False, threads_per_worker=1, scratch=str(tmp_path), timeout_s=60) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        assert client.submit(sum, [1, 2, 3]).result() == 6
    assert client.status == "closed"
