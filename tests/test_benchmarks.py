"""The benchmark scripts run against the package as it is now, at tiny sizes, and write JSON with both sides of
every ratio. They run on a GPU machine only when one is lent, in one command that cannot be debugged there: a
script that drifted from the package's API (as ``scaling.py`` once did, twice) must fail here first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(script: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / f"{Path(script).stem}.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args, "--output", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text())


def test_scaling_generation_and_sweep(tmp_path: Path) -> None:
    result = _run("scaling.py", tmp_path, "--events", "8", "--events-per-chunk", "4", "--counts", "1", "2",
                  "--sweep", "--sweep-tracks", "800", "--sweep-epochs", "1", "--sweep-seeds", "1",
                  "--sweep-folds", "2", "--sweep-sizes", "tiny")
    gen = result["generation"]["runs"]
    assert [r["workers"] for r in gen] == [1, 2]
    assert all(r["events"] == 8 and r["chunks"] == 2 and r["wall_s"] > 0 for r in gen)
    sweep = result["sweep"]["runs"]
    assert [r["tasks"] for r in sweep] == [2, 2]
    for rows in (gen, sweep):
        base = rows[0]["wall_s"]
        for r in rows:
            assert r["speedup"] == pytest.approx(base / r["wall_s"])
            assert r["efficiency"] == pytest.approx(r["speedup"] / r["workers"])
    for r in sweep:
        assert len(r["task_s"]) == 2 and 0 < r["efficiency_bound"] <= 1
        assert r["largest_task_s"] == pytest.approx(max(r["task_s"]))


def test_pid_train_fit_against_bare_scan(tmp_path: Path) -> None:
    result = _run("pid_train.py", tmp_path, "--steps", "10", "--epochs", "2", "--repeats", "1", "--no-torch")
    fit, bare = result["fit"]["median_steps_per_s"], result["bare_scan"]["median_steps_per_s"]
    assert fit > 0 and bare > 0
    assert result["fit_over_bare"] == pytest.approx(fit / bare)
    assert result["val_rows"] == 10 * 256 // 5  # 1/5 of the training set
    assert result["goal_fit_over_bare"] == 0.9


def test_tau_generation_per_core(tmp_path: Path) -> None:
    result = _run("tau_generation.py", tmp_path, "--events", "20")
    for process in ("zqq", "ztautau"):
        row = result["results"][process]
        assert row["events"] == 20
        assert row["pythia_events_per_cpu_s"] > 0



@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="thread affinity is Linux-only")
def test_worker_pinning_covers_every_thread() -> None:
    """A pinned worker's threads, those already running and those started later (XLA's pools), run on its core."""
    code = """
import os, sys, threading, time
sys.path.insert(0, "benchmarks")
import scaling
before = threading.Thread(target=time.sleep, args=(1.0,))
before.start()
core = max(os.sched_getaffinity(0))
scaling.pin_this_process(core)
seen = {}
later = threading.Thread(target=lambda: seen.update(later=os.sched_getaffinity(0)))
later.start()
later.join()
assert os.sched_getaffinity(0) == {core}, os.sched_getaffinity(0)
assert os.sched_getaffinity(before.native_id) == {core}
assert seen["later"] == {core}, seen
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
