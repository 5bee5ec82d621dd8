"""Items 8 and 10 (files): damaged inputs, models and caches are named in one line, never a traceback; a cache chunk
that was truncated or replaced by other data is made again, not used."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uproot

from hepnb.tracks.data import write_states
from tests.faults.conftest import Hepnb, hidden_leftovers, last_line, snapshot


def _damaged_input(folder: Path, case: str) -> tuple[Path, str]:
    states = np.random.default_rng(1).normal(0.0, 0.05, (2000, 5))  # random: the file does not compress away
    if case in ("truncated ROOT", "truncated Parquet"):
        whole = write_states(folder / f"whole{'.root' if 'ROOT' in case else '.parquet'}", states)
        path = folder / f"cut{whole.suffix}"
        path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        return path, f"{path}" + (": the TTree 'tracks' cannot be read" if "ROOT" in case
                                  else " cannot be read as a Parquet file (truncated or damaged?)")
    if case == "text column":
        path = folder / "text.parquet"
        pq.write_table(pa.table({"x_mm": ["1.0"], "y_mm": [0.0], "tx": [0.0], "ty": [0.0], "qop_per_gev": [0.1]}), path)
        return path, f"{path}: column 'x_mm' is string, expected a flat numeric column (one number per row)"
    path = folder / "jagged.root"
    with uproot.recreate(path) as f:
        f.mktree("tracks", {"x_mm": "var * float64", **{c: "float64" for c in ("y_mm", "tx", "ty", "qop_per_gev")}})
        f["tracks"].extend({"x_mm": ak.Array([[0.0, 1.0], [2.0]]), "y_mm": np.zeros(2), "tx": np.zeros(2),
                            "ty": np.zeros(2), "qop_per_gev": np.full(2, 0.1)})
    return path, f"{path}:tracks: column 'x_mm' is jagged (a variable number of values per row)"


@pytest.mark.parametrize("case", ["truncated ROOT", "truncated Parquet", "text column", "jagged branch"])
def test_damaged_inputs_are_named(hepnb: Hepnb, case: str) -> None:
    path, message = _damaged_input(hepnb.root, case)
    out = hepnb.root / "end.parquet"
    proc = hepnb("tracks", "propagate", "--input", path, "--output", out, "--leg", "ut_t")
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc).startswith(f"hepnb: error: {message}"), last_line(proc)
    assert "Traceback" not in proc.stderr
    assert not out.exists() and hidden_leftovers(hepnb.root) == []


def test_a_text_file_named_npz_is_named(hepnb: Hepnb) -> None:
    table = write_states(hepnb.root / "states.parquet", np.array([[0.0, 0.0, 0.05, 0.0, 0.1]]))
    field_map = hepnb.root / "map.npz"
    field_map.write_text("x_mm,y_mm,z_mm,Bx,By,Bz\n0,0,0,0,1,0\n")
    proc = hepnb("tracks", "propagate", "--input", table, "--output", hepnb.root / "end.parquet", "--leg", "ut_t",
                 "--field-map", field_map)
    assert proc.returncode == 2
    assert last_line(proc).startswith(f"hepnb: error: field map {field_map} is not an npz archive")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hepnb.pid.export import save_deployable
    from hepnb.pid.models import build_network
    from hepnb.pid.transforms import IDENTITY

    scaling = SimpleNamespace(protocol="corrected", mean=np.zeros(22), std=np.ones(22), transform=IDENTITY)
    return save_deployable(tmp_path_factory.mktemp("model") / "dnn", "dnn", build_network("dnn"),
                           scaling)  # type: ignore[arg-type]


@pytest.mark.parametrize("damage", ["model.json", "checkpoint"])
def test_a_truncated_model_is_named(hepnb: Hepnb, model_folder: Path, damage: str) -> None:
    from hepnb.pid.data import simulate_tracks, write_tracks

    model = shutil.copytree(model_folder, hepnb.root / "model")
    if damage == "model.json":
        meta = model / "model.json"
        meta.write_text(meta.read_text()[:50])
        message = f"model metadata {meta} is not valid JSON (truncated?)"
    else:
        for f in (model / "checkpoint").rglob("*"):
            if f.is_file() and f.stat().st_size > 100:
                f.write_bytes(f.read_bytes()[:40])
        message = f"checkpoint at {model / 'checkpoint'} is damaged"
    table = write_tracks(hepnb.root / "tracks.parquet", simulate_tracks(50))
    out = hepnb.root / "pred.parquet"
    proc = hepnb("pid", "predict", "--model", model, "--input", table, "--output", out)
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc).startswith(f"hepnb: error: {message}"), last_line(proc)
    assert "Traceback" not in proc.stderr and not out.exists()


def test_a_replaced_or_truncated_cache_chunk_is_made_again(hepnb: Hepnb) -> None:
    cache, out = hepnb.root / "cache", hepnb.root / "tracks.parquet"
    args = ("pid", "generate", "--n", "3000", "--tracks-per-chunk", "1000", "--workers", "1", "--cache-dir", cache,
            "--output", out)
    assert hepnb(*args).returncode == 0
    reference = snapshot(hepnb.root / "cache")
    first = pq.read_table(out)
    chunks = sorted(cache.glob("*/chunk-*.parquet"))
    assert [c.name for c in chunks] == ["chunk-00000.parquet", "chunk-00001.parquet", "chunk-00002.parquet"]
    shutil.copyfile(chunks[0], chunks[1])  # another chunk's data: whole and readable, but not chunk 1
    chunks[2].write_bytes(chunks[2].read_bytes()[:500])  # truncated
    proc = hepnb(*args)
    assert proc.returncode == 0, proc.stderr
    for name in ("chunk-00001.parquet", "chunk-00002.parquet"):
        assert f"{name} does not have the content hash stored when it was written" in proc.stderr
    assert "chunk-00000.parquet does not" not in proc.stderr
    assert pq.read_table(out).equals(first)
    assert snapshot(hepnb.root / "cache") == reference


def _pid_tracks(folder: Path) -> Path:
    from hepnb.pid.data import simulate_tracks, write_tracks

    return write_tracks(folder / "tracks.parquet", simulate_tracks(50))


@pytest.mark.parametrize("column", ["tpc_signal", "event_id"])
def test_pid_predict_refuses_a_text_column_as_propagate_does(hepnb: Hepnb, model_folder: Path, column: str) -> None:
    """A column of numbers written as text was parsed by ``pid predict`` and refused by ``tracks propagate``:
    every command now refuses it, naming the file and the column."""
    table = pq.read_table(_pid_tracks(hepnb.root))
    texts = pa.array([str(v) for v in table[column].to_pylist()])
    path = hepnb.root / "text.parquet"
    pq.write_table(table.set_column(table.column_names.index(column), column, texts), path)
    out = hepnb.root / "pred.parquet"
    proc = hepnb("pid", "predict", "--model", model_folder, "--input", path, "--output", out)
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc) == (f"hepnb: error: {path}: column {column!r} is text, expected a flat numeric column "
                               "(one number per row)")
    assert not out.exists()


def test_pid_predict_refuses_a_bad_input_before_loading_the_weights(hepnb: Hepnb, model_folder: Path) -> None:
    """With damaged weights and a bad input, the input is named: it is checked before the weights are loaded."""
    model = shutil.copytree(model_folder, hepnb.root / "model")
    for f in (model / "checkpoint").rglob("*"):
        if f.is_file():
            f.write_bytes(b"\0")
    table = pq.read_table(_pid_tracks(hepnb.root))
    path = hepnb.root / "short.parquet"
    pq.write_table(table.drop(["tpc_signal"]), path)
    proc = hepnb("pid", "predict", "--model", model, "--input", path, "--output", hepnb.root / "pred.parquet")
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc).startswith(f"hepnb: error: {path} lacks 1 required column(s): ")
    assert "tpc_signal" in last_line(proc) and "checkpoint" not in last_line(proc)


def test_a_symbolic_link_loop_is_called_one(hepnb: Hepnb, model_folder: Path) -> None:
    loop = hepnb.root / "loop"
    loop.symlink_to(loop)
    dangling = hepnb.root / "dangling.parquet"
    dangling.symlink_to(hepnb.root / "gone.parquet")
    cases = [
        (("tracks", "propagate", "--input", loop, "--output", hepnb.root / "e.parquet", "--leg", "ut_t"),
         f"input file {loop} is a symbolic link loop (it leads back to itself)"),
        (("pid", "predict", "--model", model_folder, "--input", loop, "--output", hepnb.root / "p.parquet"),
         f"input file {loop} is a symbolic link loop (it leads back to itself)"),
        (("pid", "predict", "--model", loop, "--input", _pid_tracks(hepnb.root), "--output", hepnb.root / "p.parquet"),
         f"model folder {loop} is a symbolic link loop (it leads back to itself)"),
        (("tracks", "propagate", "--input", dangling, "--output", hepnb.root / "e.parquet", "--leg", "ut_t"),
         f"input file {dangling} is a symbolic link to {hepnb.root / 'gone.parquet'}, which does not exist"),
    ]
    for args, message in cases:
        proc = hepnb(*args)
        assert proc.returncode == 2, proc.stderr
        assert last_line(proc) == f"hepnb: error: {message}", args


def test_a_file_size_limit_names_the_output(hepnb: Hepnb) -> None:
    """``ulimit -f`` gave ``[Errno 27] Error writing bytes to file`` without the file's name."""
    states = write_states(hepnb.root / "states.parquet", np.random.default_rng(1).normal(0.0, 0.05, (200_000, 5)))
    out = hepnb.root / "end.parquet"
    argv = ["sh", "-c", 'ulimit -f 100 && exec "$0" "$@"',
            *hepnb.argv("tracks", "propagate", "--input", states, "--output", out, "--leg", "ut_t")]
    proc = subprocess.run(argv, cwd=hepnb.root, env=hepnb.env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 1, proc.stderr
    assert last_line(proc) == f"hepnb: error: writing {out} failed: the file size limit (ulimit -f) was reached"
    assert not out.exists() and hidden_leftovers(hepnb.root) == []
