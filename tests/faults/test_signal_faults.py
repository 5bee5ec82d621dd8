"""Item 5: SIGTERM (and SIGINT) clean up as a finished command would; a run removes what dead runs left behind,
never what a live concurrent run holds."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.faults.conftest import Hepnb, hidden_leftovers, snapshot


def _wait_for(predicate, timeout_s: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _gone(pids: list[int], timeout_s: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    return alive


def _dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_sigterm_during_simulation_removes_the_chunk_cache_and_the_workers(hepnb: Hepnb) -> None:
    out = hepnb.root / "tracks.root"
    proc = hepnb.start("pid", "generate", "--n", "2000000", "--tracks-per-chunk", "20000", "--workers", "2",
                       "--output", out)
    try:
        _wait_for(lambda: any(hepnb.tmp.glob("hepnb-*/*/chunk-00000.parquet")) or proc.poll() is not None,
                  what="the first chunk")
        assert proc.poll() is None, proc.communicate()[1]
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.rstrip().endswith("hepnb: terminated (SIGTERM); temporary files were removed")
    assert hepnb.tmp_leftovers() == []  # the chunk cache (hundreds of MB at full size) is gone
    assert not out.exists() and hidden_leftovers(hepnb.root) == []
    assert _gone(children) == [], "local Dask workers outlived the command"


def _cluster_starting(hepnb: Hepnb) -> bool:
    return any(hepnb.tmp.glob("hepnb-dask-*"))


def _workers_starting(hepnb: Hepnb) -> bool:
    return any(hepnb.tmp.glob("hepnb-dask-*/**/worker-*"))


@pytest.mark.parametrize("moment", [_cluster_starting, _workers_starting], ids=["scheduler", "workers"])
def test_sigterm_while_the_local_cluster_starts_prints_one_line_and_leaves_nothing(hepnb: Hepnb, moment) -> None:
    """The Hardening v2 case: SIGTERM 3-8 s after ``pid generate`` started, while Dask's workers were still
    starting, printed an ``AssertionError: Status.init`` traceback after the clean-up line."""
    out = hepnb.root / "tracks.parquet"
    proc = hepnb.start("pid", "generate", "--n", "300000", "--workers", "2", "--output", out)
    try:
        _wait_for(lambda: moment(hepnb) or proc.poll() is not None, what=moment.__name__)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    lines = [line for line in stderr.splitlines() if line.strip() and "chunks" not in line]  # the progress bar
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert lines == ["hepnb: terminated (SIGTERM); temporary files were removed"], stderr
    assert hepnb.tmp_leftovers() == [] and not out.exists() and hidden_leftovers(hepnb.root) == []


def test_a_memory_limit_too_small_for_a_worker_is_refused_before_it_starts(hepnb: Hepnb) -> None:
    """``ulimit -v`` below what a worker process needs made the workers fail to start their threads and the
    command hang (or an ImportError in a worker); now one line, exit 2, before any worker starts."""
    out = hepnb.root / "tracks.parquet"
    argv = ["sh", "-c", 'ulimit -v 800000 && exec "$0" "$@"',
            *hepnb.argv("pid", "generate", "--n", "300000", "--workers", "2", "--output", out)]
    proc = subprocess.run(argv, cwd=hepnb.root, env=hepnb.env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    expected = ("hepnb: error: the virtual memory limit (ulimit -v) is 781 MiB, but a worker process needs at least "
                "1465 MiB: raise the limit, or run in this process with --workers 1")
    assert proc.stderr.strip().splitlines() == [expected]
    assert hepnb.tmp_leftovers() == [] and not out.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_run_leaves_nothing_and_keeps_earlier_results(hepnb: Hepnb, sig: signal.Signals) -> None:
    book, results = hepnb.root / "book", hepnb.root / "results"
    common = ("--profile", "ci", "--output", book, "--results-dir", results)
    assert hepnb("run", "faulty", *common).returncode == 0
    before, executed = snapshot(results), snapshot(book)
    pid_file = hepnb.root / "kernel.pid"
    proc = hepnb.start("run", "faulty", *common, "-p", "mode", "sleep", "-p", "pid_file", pid_file)
    try:
        _wait_for(lambda: (pid_file.exists() and pid_file.read_text()) or proc.poll() is not None, what="the kernel")
        assert proc.poll() is None, proc.communicate()[1]
        assert any(results.glob(".staging-faulty-*")) and any(book.glob(".faulty.*.partial.ipynb"))
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, stderr
    assert snapshot(results) == before and snapshot(book) == executed
    assert hidden_leftovers(hepnb.root) == [] and hepnb.tmp_leftovers() == []
    assert _gone([int(pid_file.read_text())]) == [], "the kernel outlived the run"


def test_a_run_removes_staging_of_dead_runs_but_not_of_a_live_one(hepnb: Hepnb) -> None:
    book, results = hepnb.root / "book", hepnb.root / "results"
    book.mkdir()
    (results / "ci").mkdir(parents=True)
    dead, live = _dead_pid(), psutil.Process().pid  # this test process stands for a concurrent run
    host = socket.gethostname()
    left = {}
    for name, pid in (("dead", dead), ("live", live)):
        staging = results / f".staging-faulty-{pid}-abcd{name}"
        staging.mkdir()
        partial = book / f".faulty.{pid}.partial.ipynb"
        partial.write_text("{}")
        (staging / "owner.json").write_text(json.dumps({"pid": pid, "host": host, "partial": str(partial)}))
        left[name] = (staging, partial)
    trash = results / "ci" / f".faulty.old-{dead}-12345"
    trash.mkdir()
    proc = hepnb("run", "faulty", "--profile", "ci", "--output", book, "--results-dir", results)
    assert proc.returncode == 0, proc.stderr
    assert not left["dead"][0].exists() and not left["dead"][1].exists() and not trash.exists()
    assert left["live"][0].is_dir() and left["live"][1].is_file()
    assert (results / "ci" / "faulty" / "results.json").is_file()


def test_sigterm_stops_every_run_of_hepnb_book(hepnb: Hepnb, notebooks: Path) -> None:
    from hepnb.book.runner import default_output_dir
    from tests.conftest import make_notebook
    from tests.faults.conftest import FAULTY_BODY, FAULTY_PARAMS

    for path in notebooks.iterdir():
        path.unlink()
    pid_file = hepnb.root / "kernel.pid"
    params = FAULTY_PARAMS.replace('mode = "ok"', 'mode = "sleep"').replace('pid_file = ""', f'pid_file = "{pid_file}"')
    make_notebook(notebooks / "hepnb_fault_sleeper.ipynb", FAULTY_BODY, params)
    executed, results = default_output_dir(), hepnb.root / "results"
    before = sorted(p.name for p in executed.iterdir()) if executed.is_dir() else []
    proc = hepnb.start("book", "--jobs", "2", "--results-dir", results)
    try:
        _wait_for(lambda: (pid_file.exists() and pid_file.read_text()) or proc.poll() is not None, what="the kernel")
        assert proc.poll() is None, proc.communicate()[1]
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert time.monotonic() - start < 60, "the runs in the pool must stop, not finish their notebooks"
    assert sorted(p.name for p in executed.iterdir()) == before  # no partial, no failed notebook
    assert hidden_leftovers(results) == [] and not list(results.glob("*/hepnb_fault_sleeper"))
    assert _gone([int(pid_file.read_text())]) == [], "the kernel outlived the run"
