"""Generation as Dask tasks on a real LocalCluster of two worker processes, and the --scheduler plumbing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hepnb.cli import main
from hepnb.compute.chunks import ChunkRun, generate_chunks, load_chunks
from tests.conftest import make_notebook
from tests.dask_helpers import failing_chunk, gaussian_chunk, slow_chunk

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       scheduler_kwargs={"dashboard_address": ":0"})
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # released on exit: nothing listens there


def _hashes(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_pid_chunks_hash_like_a_serial_run(client: distributed.Client, tmp_path: Path) -> None:
    from hepnb.pid.data import ChunkedRun, make_chunk, simulate_chunked

    params = {"n_rows": 1500, "data_like": False, "tracks_per_event": 500}
    serial = generate_chunks(make_chunk, 5, base_seed=11, folder=tmp_path / "serial", params=params,
                             run=ChunkRun(progress=False))
    dask = generate_chunks(make_chunk, 5, base_seed=11, folder=tmp_path / "dask", params=params,
                           run=ChunkRun(client=client, progress=False))
    assert _hashes(serial) == _hashes(dask)
    table = load_chunks(dask)
    np.testing.assert_array_equal(table["track_id"], np.arange(7500))
    np.testing.assert_array_equal(table["event_id"], np.arange(7500) // 500)

    on_cluster = simulate_chunked(4000, seed=11, tracks_per_chunk=1500, tracks_per_event=500, client=client,
                                  run=ChunkedRun(progress=False))
    in_process = simulate_chunked(4000, seed=11, tracks_per_chunk=1500, tracks_per_event=500,
                                  run=ChunkedRun(progress=False))
    assert len(on_cluster["pt"]) == 4000
    for name, values in in_process.items():
        np.testing.assert_array_equal(on_cluster[name], values, err_msg=name)
    np.testing.assert_array_equal(on_cluster["pt"], table["pt"][:4000])  # a prefix of the larger sample


def test_track_chunks_with_reference_hash_like_a_serial_run(client: distributed.Client, tmp_path: Path) -> None:
    from hepnb.tracks.data import END_COLUMNS, STATE_COLUMNS, generate_tracks_chunked

    kwargs = {"seed": 4, "tracks_per_chunk": 30}
    dask = generate_tracks_chunked(100, cache_dir=tmp_path / "dask", run=ChunkRun(client=client, progress=False),
                                   **kwargs)
    serial = generate_tracks_chunked(100, cache_dir=tmp_path / "serial", run=ChunkRun(progress=False), **kwargs)
    assert set(dask) == {*STATE_COLUMNS, *END_COLUMNS, "p_gev", "displaced", "vx_mm", "vy_mm", "vz_mm", "z0_mm",
                         "z1_mm"}
    assert len(dask["x_mm"]) == 100
    folders = {name: next((tmp_path / name).iterdir()) for name in ("dask", "serial")}
    assert _hashes(sorted(folders["dask"].glob("chunk-*"))) == _hashes(sorted(folders["serial"].glob("chunk-*")))
    for name, values in serial.items():
        np.testing.assert_array_equal(dask[name], values, err_msg=name)


def test_a_killed_worker_leaves_a_complete_correct_dataset(client: distributed.Client, tmp_path: Path) -> None:
    folder, markers = tmp_path / "killed", tmp_path / "markers"
    folder.mkdir()
    markers.mkdir()
    params = {"n_rows": 50, "delay_s": 2.0, "folder": str(folder), "markers": str(markers)}
    result: dict[str, object] = {}

    def generate() -> None:
        try:
            result["paths"] = generate_chunks(slow_chunk, 4, base_seed=3, folder=folder, params=params,
                                              run=ChunkRun(client=client, progress=False))
        except Exception as err:  # noqa: BLE001 - re-raised in the test thread
            result["error"] = err

    thread = threading.Thread(target=generate)
    thread.start()
    deadline = time.monotonic() + 60
    while not list(markers.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = sorted(markers.iterdir())
    assert started, "no chunk started within 60 s"
    victim = int(started[0].name.split("-")[1])
    assert victim in client.run(os.getpid).values()
    os.kill(victim, signal.SIGKILL)  # mid-chunk, its half-written temporary file left behind
    thread.join(120)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    paths = result["paths"]
    assert isinstance(paths, list)
    assert [p.name for p in paths] == [f"chunk-{i:05d}.parquet" for i in range(4)]
    serial = generate_chunks(slow_chunk, 4, base_seed=3, folder=tmp_path / "serial",
                             params={**params, "delay_s": 0.0}, run=ChunkRun(progress=False))
    assert _hashes(paths) == _hashes(serial)
    assert _leftovers(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p in paths] +
                                                              [f"{p.name}.sha256" for p in paths])
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_a_failing_chunk_raises_its_own_error_naming_the_chunk(client: distributed.Client, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="detector on fire in chunk 2") as info:
        generate_chunks(failing_chunk, 4, base_seed=0, folder=tmp_path, params={"bad": 2},
                        run=ChunkRun(client=client, retries=0, progress=False))
    assert any("while generating chunk 2 in" in note for note in info.value.__notes__)
    assert not (tmp_path / "chunk-00002.parquet").exists()


def test_temporary_local_cluster_for_several_workers(tmp_path: Path) -> None:
    serial = generate_chunks(gaussian_chunk, 3, base_seed=5, folder=tmp_path / "a", run=ChunkRun(progress=False))
    local = generate_chunks(gaussian_chunk, 3, base_seed=5, folder=tmp_path / "b",
                            run=ChunkRun(workers=2, progress=False))
    assert _hashes(serial) == _hashes(local)


@pytest.mark.parametrize("command", [
    ["pid", "generate", "--n", "10"],
    ["tracks", "generate", "--n", "10"],
    ["tau", "generate", "--tau-events", "4", "--qq-events", "4"],
])
def test_generation_with_an_unreachable_scheduler_fails_fast(command: list[str], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    out, cache = tmp_path / "out.parquet", tmp_path / "cache"
    start = time.monotonic()
    code = main([*command, "--scheduler", address, "--cache-dir", str(cache), "--output", str(out)])
    assert code == 2
    assert time.monotonic() - start < 10
    assert f"cannot reach the Dask scheduler at {address}" in capsys.readouterr().err
    assert not out.exists()
    assert not cache.exists()


def test_generation_cli_on_a_scheduler(client: distributed.Client, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from hepnb.io import read_table
    from hepnb.pid.data import ChunkedRun, simulate_chunked

    out = tmp_path / "t.parquet"
    assert main(["pid", "generate", "--n", "2500", "--seed", "9", "--tracks-per-chunk", "1000",
                 "--scheduler", client.scheduler.address, "--output", str(out)]) == 0
    assert "2500 tracks" in capsys.readouterr().out
    expected = simulate_chunked(2500, seed=9, tracks_per_chunk=1000, run=ChunkedRun(progress=False))
    np.testing.assert_array_equal(read_table(out)["tpc_signal"], expected["tpc_signal"])


SCHEDULER_BODY = """
import os
from hepnb.book.results import save_results
save_results("sched", profile, params={"scheduler": scheduler},
             metrics={"env": os.environ.get("HEPNB_SCHEDULER", "")}, timings_s={"total": 0.0},
             results_dir=results_dir)
"""


def test_run_with_an_unreachable_scheduler_fails_before_the_kernel(notebooks: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    code = main(["run", "good", "--scheduler", address, "--output", str(tmp_path / "out"),
                 "--results-dir", str(tmp_path / "results")])
    assert code == 2
    assert time.monotonic() - start < 10
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "out" / "good.ipynb").exists()


def test_run_passes_the_scheduler_to_the_notebook(client: distributed.Client, notebooks: Path,
                                                  tmp_path: Path) -> None:
    make_notebook(notebooks / "sched.ipynb", SCHEDULER_BODY, 'scheduler = ""\n')
    address = client.scheduler.address
    assert main(["run", "sched", "--scheduler", address, "--output", str(tmp_path / "out"),
                 "--results-dir", str(tmp_path / "results")]) == 0
    saved = json.loads((tmp_path / "results" / "default" / "sched" / "results.json").read_text())
    assert saved["params"]["scheduler"] == address
    assert saved["metrics"]["env"] == address
    assert "HEPNB_SCHEDULER" not in os.environ


def test_book_checks_the_scheduler_before_any_kernel(notebooks: Path, tmp_path: Path) -> None:
    from hepnb.book.runner import run_many
    from hepnb.compute.client import SchedulerError

    start = time.monotonic()
    with pytest.raises(SchedulerError, match="cannot reach the Dask scheduler"):
        run_many(["good", "silent"], scheduler=f"tcp://127.0.0.1:{_closed_port()}",
                 output_dir=tmp_path / "out", results_dir=tmp_path / "results")
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out").exists()


def test_book_refuses_a_scheduler_without_a_run(capsys: pytest.CaptureFixture[str]) -> None:
    from hepnb.cli import main

    assert main(["book", "--no-run", "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "--scheduler has nothing to do with --no-run" in capsys.readouterr().err


def test_tau_jets_on_the_cluster_match_a_serial_run(client: distributed.Client, tmp_path: Path) -> None:
    import awkward as ak

    from hepnb.compute.chunks import ChunkRun
    from hepnb.tau.data import EventCounts, simulate

    events = EventCounts(12, 6, per_chunk=6)
    dask = simulate(events, seed=2, cache_dir=tmp_path / "dask", run=ChunkRun(client=client, progress=False))
    serial = simulate(events, seed=2, cache_dir=tmp_path / "serial", run=ChunkRun(workers=1, progress=False))
    chunks = {name: sorted((tmp_path / name).glob("*/chunk-*.parquet")) for name in ("dask", "serial")}
    assert len(chunks["dask"]) == 3
    assert _hashes(chunks["dask"]) == _hashes(chunks["serial"])
    assert ak.to_list(dask.jets.cand_features) == ak.to_list(serial.jets.cand_features)
    assert ak.to_list(dask.taus.vis_p4) == ak.to_list(serial.taus.vis_p4)
