from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_lab_serves_its_status_api_on_loopback() -> None:
    port, token = _free_port(), "hepnb-test-token"
    proc = subprocess.Popen([sys.executable, "-m", "hepnb.cli", "lab", "--port", str(port), "--token", token],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        status, deadline = None, time.monotonic() + 90
        while status is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
            try:
                status = _get(f"http://127.0.0.1:{port}/api/status?token={token}")
            except OSError:
                time.sleep(0.5)
        assert status is not None, "JupyterLab did not answer within 90 s"
        assert "started" in status
        specs = _get(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}")
        assert "hepnb" in specs["kernelspecs"]  # type: ignore[operator]
        contents = _get(f"http://127.0.0.1:{port}/api/contents?token={token}")
        assert "environment.ipynb" in [item["name"] for item in contents["content"]]  # type: ignore[index]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
