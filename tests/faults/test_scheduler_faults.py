"""Item 1: a scheduler address that accepts TCP but does not speak Dask is refused within the deadline, naming it."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import Hepnb, hidden_leftovers, last_line


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def http_server() -> Iterator[str]:
    """A real HTTP server (as a Dask dashboard is): it answers requests, and a Dask handshake with a 400."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", ["silent", "http"])
@pytest.mark.parametrize("command", ["pid generate", "run"])
def test_a_server_that_is_not_a_scheduler_is_refused_within_the_deadline(
        hepnb: Hepnb, request: pytest.FixtureRequest, kind: str, command: str) -> None:
    address = request.getfixturevalue(f"{kind}_server")
    out = hepnb.root / "tracks.parquet"
    args = (["pid", "generate", "--n", "100000", "--output", out] if command == "pid generate"
            else ["run", "faulty", "--output", hepnb.root / "book", "--results-dir", hepnb.root / "results"])
    start = time.monotonic()
    proc = hepnb(*args, "--scheduler", address, timeout=90)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    assert elapsed < 60  # HEPNB_SCHEDULER_TIMEOUT=2: a guard against a hang, not a speed measurement
    message = last_line(proc)
    assert message.startswith(f"hepnb: error: {address} is not a usable Dask scheduler: it accepted the connection "
                              "but sent no Dask greeting within 2 s"), message
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (hepnb.root / "results").exists()
    assert hepnb.tmp_leftovers() == [] and hidden_leftovers(hepnb.root) == []


def test_a_closed_port_and_a_malformed_address(hepnb: Hepnb, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = hepnb("pid", "generate", "--n", "10", "--output", tmp_path / "t.parquet",
                 "--scheduler", f"tcp://127.0.0.1:{port}")
    assert proc.returncode == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 2 s" in last_line(proc)
    proc = hepnb("pid", "generate", "--n", "10", "--output", tmp_path / "t.parquet", "--scheduler", "localhost:80x")
    assert proc.returncode == 2
    assert "scheduler address must look like tcp://HOST:PORT (or tls://), found 'localhost:80x'" in last_line(proc)
    proc = hepnb("pid", "generate", "--n", "10", "--output", tmp_path / "t.parquet", "--scheduler", address_of(port),
                 env={"HEPNB_SCHEDULER_TIMEOUT": "soon"})
    assert proc.returncode == 2
    assert last_line(proc) == "hepnb: error: $HEPNB_SCHEDULER_TIMEOUT must be a number of seconds, found 'soon'"
    assert not (tmp_path / "t.parquet").exists() and hepnb.tmp_leftovers() == []


def address_of(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"
