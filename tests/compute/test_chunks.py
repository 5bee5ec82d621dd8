from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepnb.compute.chunks import ChunkRun, cache_folder, chunk_seed, generate_chunks, load_chunks


def gaussian_chunk(seed: int, index: int, n: int = 100) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=n), "chunk": np.full(n, index, dtype=np.int32)}


def test_seeds_are_distinct_and_stable() -> None:
    seeds = [chunk_seed(7, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert chunk_seed(7, 3) == seeds[3]
    assert chunk_seed(8, 3) != seeds[3]
    with pytest.raises(ValueError, match=">= 0"):
        chunk_seed(-1, 0)


def test_dataset_independent_of_worker_count(tmp_path: Path) -> None:
    serial = load_chunks(generate_chunks(gaussian_chunk, 4, base_seed=5, folder=tmp_path / "a",
                                         run=ChunkRun(progress=False)))
    parallel = load_chunks(generate_chunks(gaussian_chunk, 4, base_seed=5, folder=tmp_path / "b",
                                           run=ChunkRun(workers=2, progress=False)))
    np.testing.assert_array_equal(serial["x"], parallel["x"])
    np.testing.assert_array_equal(serial["chunk"], np.repeat(np.arange(4), 100))


def test_existing_chunks_are_reused_and_missing_ones_made(tmp_path: Path) -> None:
    folder = cache_folder(tmp_path, "gauss", {"n": 100})
    paths = generate_chunks(gaussian_chunk, 3, base_seed=1, folder=folder, run=ChunkRun(progress=False))
    first = load_chunks(paths)
    paths[1].unlink()
    stamp = paths[0].stat().st_mtime_ns
    again = load_chunks(generate_chunks(gaussian_chunk, 3, base_seed=1, folder=folder, run=ChunkRun(progress=False)))
    np.testing.assert_array_equal(first["x"], again["x"])
    assert paths[0].stat().st_mtime_ns == stamp
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_cache_folder_depends_on_parameters(tmp_path: Path) -> None:
    a = cache_folder(tmp_path, "gauss", {"n": 100, "seed": 1})
    assert a == cache_folder(tmp_path, "gauss", {"seed": 1, "n": 100})
    assert a != cache_folder(tmp_path, "gauss", {"n": 101, "seed": 1})
    assert (a / "params.json").is_file()
