"""Generation in independent, seeded, cached chunks.

Simulated datasets are built from chunks. Each chunk has its own seed derived from ``(base_seed,
chunk_index)`` with :class:`numpy.random.SeedSequence`, so the dataset does not depend on how many
processes made it or in which order. Each chunk is written under a temporary name and renamed when
complete, so an interrupted run leaves only whole chunks, and a rerun with the same parameters reuses
them (the cache folder is named by a hash of the parameters).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hepnb.io import read_table, write_table

__all__ = ["cache_folder", "chunk_seed", "generate_chunks", "load_chunks"]

#: ``make_chunk(seed, index, **params) -> dict of equal-length numpy arrays``
ChunkFn = Callable[..., Any]
#: ``write(path, chunk) -> path``, atomic (temporary name, then rename)
WriteFn = Callable[[Path, Any], Path]


def chunk_seed(base_seed: int, index: int) -> int:
    """A 63-bit seed for chunk ``index`` that depends only on ``(base_seed, index)``."""
    if base_seed < 0 or index < 0:
        msg = f"seeds and chunk indices must be >= 0, found base_seed={base_seed}, index={index}"
        raise ValueError(msg)
    state = np.random.SeedSequence([base_seed, index]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def cache_folder(root: str | os.PathLike[str], name: str, params: Mapping[str, Any]) -> Path:
    """``root/name-<hash of params>``, with the parameters stored beside the chunks as ``params.json``."""
    text = json.dumps(dict(params), sort_keys=True, default=str)
    digest = hashlib.sha256(f"{name}:{text}".encode()).hexdigest()[:16]
    folder = Path(root) / f"{name}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "params.json"
    if not meta.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".params.")
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({"name": name, "params": dict(params)}, sort_keys=True, indent=1, default=str))
        os.replace(tmp, meta)
    return folder


def _chunk_path(folder: Path, index: int, suffix: str = ".parquet") -> Path:
    return folder / f"chunk-{index:05d}{suffix}"


def _make_and_write(make_chunk: ChunkFn, folder: Path, base_seed: int, index: int,
                    params: Mapping[str, Any], write: WriteFn = write_table, suffix: str = ".parquet") -> Path:
    path = _chunk_path(folder, index, suffix)
    if path.exists():
        return path
    table = make_chunk(chunk_seed(base_seed, index), index, **params)
    return write(path, table)


def generate_chunks(
    make_chunk: ChunkFn,
    n_chunks: int,
    *,
    base_seed: int,
    folder: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    workers: int = 1,
    progress: bool = True,
    write: WriteFn = write_table,
    suffix: str = ".parquet",
) -> list[Path]:
    """Make the missing chunks of a dataset in ``folder`` and return all chunk paths in order.

    Parameters
    ----------
    make_chunk
        A module-level function (it is pickled to worker processes) ``make_chunk(seed, index, **params)``
        returning a dict of equal-length numpy arrays.
    n_chunks
        Number of chunks.
    base_seed
        Seed of the dataset; chunk ``i`` uses :func:`chunk_seed` ``(base_seed, i)``.
    folder
        Where the chunks live (use :func:`cache_folder` to key it by parameters).
    params
        Keyword arguments for ``make_chunk``.
    workers
        Processes; ``1`` runs in this process.
    progress
        tqdm bar over chunks.
    write, suffix
        How a chunk is written (default: a flat table, :func:`hepnb.io.write_table`) and its file suffix;
        ``write`` must be a module-level function and write atomically.
    """
    if n_chunks < 1:
        msg = f"n_chunks must be >= 1, found {n_chunks}"
        raise ValueError(msg)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    params = dict(params or {})
    todo = [i for i in range(n_chunks) if not _chunk_path(out, i, suffix).exists()]
    bar = tqdm(total=n_chunks, initial=n_chunks - len(todo), desc=f"chunks {out.name}", disable=not progress)
    if workers <= 1 or len(todo) <= 1:
        for index in todo:
            _make_and_write(make_chunk, out, base_seed, index, params, write, suffix)
            bar.update()
    else:
        # spawn, not fork: forking a process that runs JAX's thread pools can deadlock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context) as pool:
            futures = [pool.submit(_make_and_write, make_chunk, out, base_seed, i, params, write, suffix) for i in todo]
            for future in as_completed(futures):
                future.result()
                bar.update()
    bar.close()
    return [_chunk_path(out, i, suffix) for i in range(n_chunks)]


def load_chunks(paths: list[Path], columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Concatenate chunk tables in order."""
    if not paths:
        msg = "no chunks to load"
        raise ValueError(msg)
    tables = [read_table(p, columns) for p in paths]
    return {name: np.concatenate([t[name] for t in tables]) for name in tables[0]}
