"""Items 2, 3 and 8 (paths): an output that is an input, file names with glob characters, and output paths that
cannot be written are refused before any work, leaving the inputs byte-identical and nothing behind."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.faults.conftest import Hepnb, hidden_leftovers, last_line, snapshot


@pytest.fixture(scope="module")
def pid_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployable PID model folder (untrained weights: these tests are about files, not about PID)."""
    from hepnb.pid.export import save_deployable
    from hepnb.pid.models import build_network
    from hepnb.pid.transforms import IDENTITY

    scaling = SimpleNamespace(protocol="corrected", mean=np.zeros(22), std=np.ones(22), transform=IDENTITY)
    return save_deployable(tmp_path_factory.mktemp("model") / "simple_nn", "simple_nn", build_network("simple_nn"),
                           scaling)  # type: ignore[arg-type]


def _tracks(path: Path, n: int, seed: int = 0) -> Path:
    from hepnb.pid.data import simulate_tracks, write_tracks

    return write_tracks(path, simulate_tracks(n, seed=seed))


def test_predict_refuses_an_output_that_is_its_input(hepnb: Hepnb, pid_model: Path) -> None:
    data = hepnb.root / "data"
    table = _tracks(data / "tracks.parquet", 20)
    (data / "alias.parquet").symlink_to(table)
    before = snapshot(data)
    proc = hepnb("pid", "predict", "--model", pid_model, "--input", data / "alias.parquet", "--output", table)
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc) == (f"hepnb: error: output {table} is the input {data / 'alias.parquet'}: refusing to "
                               f"overwrite an input; choose another output path")
    assert snapshot(data) == before and hidden_leftovers(hepnb.root) == []


def test_propagate_refuses_an_output_that_is_its_input_or_its_field_map(hepnb: Hepnb) -> None:
    from hepnb.tracks.data import write_states

    table = write_states(hepnb.root / "states.parquet", np.array([[0.0, 0.0, 0.1, 0.0, 0.1]]))
    before = snapshot(hepnb.root)
    proc = hepnb("tracks", "propagate", "--input", table, "--output", table, "--leg", "ut_t")
    assert proc.returncode == 2
    assert "is the input" in last_line(proc) and "refusing to overwrite an input" in last_line(proc)
    assert snapshot(hepnb.root) == before


def test_a_file_name_with_brackets_is_a_name_not_a_pattern(hepnb: Hepnb, pid_model: Path) -> None:
    _tracks(hepnb.root / "run[1].parquet", 7, seed=1)
    _tracks(hepnb.root / "run1.parquet", 3, seed=2)  # what the pattern run[1].parquet would match
    proc = hepnb("pid", "predict", "--model", pid_model, "--input", "run[1].parquet", "--output", "pred.parquet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("7 tracks predicted")
    proc = hepnb("pid", "predict", "--model", pid_model, "--input", "run[2].parquet", "--output", "pred2.parquet")
    assert proc.returncode == 2
    assert last_line(proc) == ("hepnb: error: no file matches the pattern 'run[2].parquet' (and no file has that "
                               "name)")
    assert not (hepnb.root / "pred2.parquet").exists()


@pytest.mark.parametrize("case", ["folder", "under a file", "name too long", "not writable"])
def test_unwritable_outputs_are_refused_before_simulating(hepnb: Hepnb, case: str) -> None:
    (hepnb.root / "existing").mkdir()
    (hepnb.root / "a_file").write_text("not a folder")
    output, message = {
        "folder": (hepnb.root / "existing", "is an existing folder; give a file name such as"),
        "under a file": (hepnb.root / "a_file" / "t.parquet", f"lies under {hepnb.root / 'a_file'}, which is a file"),
        "name too long": (hepnb.root / ("x" * 250 + ".parquet"), "output file name is too long: 258 bytes, at most 241"),
        "not writable": (Path("/sys/hepnb-fault-test.parquet"), "its folder /sys refuses new files"),
    }[case]
    if case == "not writable" and os.access("/sys", os.W_OK) and not Path("/sys").is_dir():
        pytest.skip("no read-only folder here")
    proc = hepnb("pid", "generate", "--n", "500000", "--output", output)
    assert proc.returncode == 2, proc.stderr
    assert message in last_line(proc), last_line(proc)
    assert "Traceback" not in proc.stderr
    assert hepnb.tmp_leftovers() == []  # no chunk cache: nothing was simulated
    assert sorted(p.name for p in hepnb.root.iterdir()) == ["a_file", "existing", "tmpdir"]


@pytest.mark.parametrize(("args", "message"), [
    (["tracks", "generate", "--n", "10", "--p-max-gev", "inf"], "argument --p-max-gev: must be a finite number"),
    (["tracks", "generate", "--n", "0"], "argument --n: must be an integer >= 1, found '0'"),
    (["pid", "generate", "--n", "0x10"], "argument --n: must be a decimal integer, found '0x10'"),
])
def test_values_outside_their_type_are_refused_by_the_parser(hepnb: Hepnb, args: list[str], message: str) -> None:
    proc = hepnb(*args, "--output", hepnb.root / "t.parquet")
    assert proc.returncode == 2
    assert message in last_line(proc)
    assert not (hepnb.root / "t.parquet").exists()
