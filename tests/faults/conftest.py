"""Fault tests drive ``hepnb`` as a user would: a subprocess, real files, real signals, real servers.

Each test asserts the exit status, that the message names the problem, that no partial or temporary file is
left (the command runs with its own ``TMPDIR``), and that earlier results are byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PARAMS, REPO, WRITES_RESULTS, make_notebook

#: A study whose parameters declare their allowed values, that writes results, and that can be made to die,
#: raise or sleep (its kernel PID is written to ``pid_file`` first).
FAULTY_PARAMS = (PARAMS.replace("n = 3", "n = 3  # range: 1..1000")
                 + 'mode = "ok"  # choices: ok|die|raise|sleep\npid_file = ""  # any\n')
FAULTY_BODY = """
import os, signal, time
if pid_file:
    open(pid_file, "w").write(str(os.getpid()))
if mode == "die":
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel out of memory is killed
if mode == "raise":
    raise RuntimeError("detector on fire")
if mode == "sleep":
    time.sleep(120)
""" + WRITES_RESULTS.format(name="faulty")


class Hepnb:
    """Runs ``python -m hepnb.cli`` in a folder of its own, with its own ``TMPDIR`` and notebooks folder."""

    def __init__(self, root: Path, notebooks: Path) -> None:
        self.root = root
        self.tmp = root / "tmpdir"
        self.tmp.mkdir()
        self.env = {**os.environ, "TMPDIR": str(self.tmp), "HEPNB_NOTEBOOKS": str(notebooks),
                    "PYTHONPATH": str(REPO), "HEPNB_SCHEDULER_TIMEOUT": "2"}
        self.env.pop("HEPNB_SCHEDULER", None)

    def argv(self, *args: object) -> list[str]:
        return [sys.executable, "-m", "hepnb.cli", *(str(a) for a in args)]

    def __call__(self, *args: object, timeout: float = 240, umask: int | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        argv = self.argv(*args)
        if umask is not None:  # through the shell: a preexec_fn would fork this (JAX-threaded) process
            argv = ["sh", "-c", f'umask {umask:03o} && exec "$0" "$@"', *argv]
        return subprocess.run(argv, cwd=self.root, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self, *args: object) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def tmp_leftovers(self) -> list[str]:
        """What the command left in its ``TMPDIR``; Dask's ``dask-scratch-space`` counts only if it holds more than
        its lock files (the workers' folders)."""
        def dask_locks_only(p: Path) -> bool:
            return p.name == "dask-scratch-space" and all(q.suffix == ".lock" for q in p.iterdir())

        return sorted(str(p.relative_to(self.tmp)) for p in self.tmp.iterdir() if not dask_locks_only(p))


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden_leftovers(folder: Path) -> list[str]:
    """Temporary, staging and partial files under ``folder``."""
    marks = (".tmp", ".staging-", ".partial", ".old-", ".hepnb-write-test")
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if any(m in p.name for m in marks))


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(folder / "faulty.ipynb", FAULTY_BODY, FAULTY_PARAMS)
    (folder / "faulty.ci.yaml").write_text("n: 1\n")
    return folder


@pytest.fixture
def hepnb(tmp_path: Path, notebooks: Path) -> Iterator[Hepnb]:
    work = tmp_path / "work"
    work.mkdir()
    yield Hepnb(work, notebooks)
