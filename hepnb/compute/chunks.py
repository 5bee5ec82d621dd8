"""Generation in independent, seeded, cached chunks.

Simulated datasets are built from chunks. Each chunk has its own seed derived from ``(base_seed,
chunk_index)`` with :class:`numpy.random.SeedSequence`, so the dataset does not depend on how many
processes made it or in which order. Each chunk is one task, on a Dask cluster (:func:`hepnb.compute.client.dask_client`) or
in this process. Each chunk is written under a temporary name and renamed when complete, so an
interrupted run or a lost worker leaves only whole chunks, and a rerun with the same parameters reuses
them (the cache folder is named by a hash of the parameters). Beside each chunk its SHA-256 is stored
(``chunk-00000.parquet.sha256``, the format of ``sha256sum``); a chunk is reused only if it still has that
hash, so a chunk that was truncated or replaced by other data is made again, not used.

The generator commands built on this (:mod:`hepnb.compute.generate`) first check the size of what they make.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from hepnb.compute.client import dask_client
from hepnb.io import read_table, write_table
from hepnb.paths import file_mode

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = [
    "ChunkRun",
    "TableChunks",
    "cache_folder",
    "cache_root",
    "chunk_seed",
    "generate_chunks",
    "generate_table",
    "load_chunks",
    "missing_chunks",
]

_log = logging.getLogger(__name__)

#: ``make_chunk(seed, index, **params) -> dict of equal-length numpy arrays``
ChunkFn = Callable[..., Any]
#: ``write(path, chunk) -> path``, atomic (temporary name, then rename)
WriteFn = Callable[[Path, Any], Path]


@dataclass(frozen=True)
class ChunkRun:
    """How the chunks of a dataset are run: where, how often a failed chunk is retried, with a progress bar.

    Attributes
    ----------
    client
        A :class:`dask.distributed.Client` (see :func:`hepnb.compute.client.dask_client`); it is not closed here.
    workers
        Without a client: ``> 1`` runs the chunks on a temporary :class:`~dask.distributed.LocalCluster` of
        that many processes, closed afterwards; ``<= 1`` runs them one after the other in this process.
    retries
        Times Dask re-runs a chunk whose function raised (a chunk whose worker died is rescheduled by the
        scheduler, up to its ``allowed-failures``).
    progress
        tqdm bar over chunks.
    """

    client: Client | None = None
    workers: int = 1
    retries: int = 2
    progress: bool = True


@dataclass(frozen=True)
class TableChunks:
    """How a flat table is cut into chunks and where they are cached (:func:`generate_table`).

    Attributes
    ----------
    name
        The dataset's name, the start of its cache folder's name (``pid-tracks``).
    rows_per_chunk
        Rows per chunk (one chunk: one task, one file).
    version
        Part of the cache key: bump it when the chunk function changes.
    cache_dir
        Root of the chunk cache (``None``: a temporary folder, removed afterwards); on a remote cluster, a
        folder the workers share.
    """

    name: str
    rows_per_chunk: int
    version: int = 1
    cache_dir: str | os.PathLike[str] | None = None


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
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({"name": name, "params": dict(params)}, sort_keys=True, indent=1, default=str))
        os.replace(tmp, meta)
    return folder


def _chunk_path(folder: Path, index: int, suffix: str = ".parquet") -> Path:
    return folder / f"chunk-{index:05d}{suffix}"


def missing_chunks(folder: str | os.PathLike[str], n_chunks: int, suffix: str = ".parquet") -> list[int]:
    """Indices of the chunks of ``folder`` not yet written."""
    return [i for i in range(n_chunks) if not _chunk_path(Path(folder), i, suffix).exists()]


def _temporaries(path: Path) -> list[Path]:
    """Temporary files of a chunk (``.<name>.<random>.tmp``, as the atomic writers name them)."""
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def _hash_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_hash(path: Path) -> None:
    """Store the chunk's SHA-256 beside it, atomically, as ``sha256sum`` writes it."""
    target = _hash_path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{_digest(path)}  {path.name}\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _intact(path: Path) -> bool:
    """Whether a chunk exists and still has the hash stored when it was written."""
    try:
        stored = _hash_path(path).read_text(encoding="ascii").split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return False
    return path.is_file() and _digest(path) == stored


def _make_and_write(make_chunk: ChunkFn, folder: Path, base_seed: int, params: Mapping[str, Any], write: WriteFn,
                    suffix: str, index: int) -> Path:
    """Make and write chunk ``index`` and its hash unless both exist (the index comes last, for
    :func:`functools.partial`)."""
    path = _chunk_path(folder, index, suffix)
    if path.exists() and _hash_path(path).exists():
        return path
    table = make_chunk(chunk_seed(base_seed, index), index, **params)
    try:
        write(path, table)
    except FileNotFoundError:
        # a concurrent attempt of the same chunk finished first and its clean-up took our temporary file:
        # the chunk is whole (same seed, same content), nothing is lost
        if not path.exists():
            raise
    _write_hash(path)
    return path


def _unusable_chunks(folder: Path, n_chunks: int, suffix: str) -> list[int]:
    """Chunks that are missing, or present but without their hash or with another content; the latter are
    removed (and named in the log) so that they are made again."""
    todo = []
    for i in range(n_chunks):
        path = _chunk_path(folder, i, suffix)
        if not path.exists():
            todo.append(i)
        elif not _intact(path):
            _log.warning("chunk %s does not have the content hash stored when it was written (truncated, replaced "
                         "or written by an older hepnb): it is made again", path)
            path.unlink(missing_ok=True)
            _hash_path(path).unlink(missing_ok=True)
            todo.append(i)
    return todo


def _remove_stale_temporaries(folder: Path, n_chunks: int, suffix: str) -> None:
    """Remove the temporary files of chunks that exist (left by attempts killed while writing)."""
    for i in range(n_chunks):
        path = _chunk_path(folder, i, suffix)
        if path.exists():
            for tmp in _temporaries(path):
                tmp.unlink(missing_ok=True)


def _note(err: BaseException, index: int, folder: Path) -> None:
    err.add_note(f"while generating chunk {index} in {folder}")


def _run_serial(todo: list[int], run: Callable[[int], Path], folder: Path, bar: Any) -> None:
    for index in todo:
        try:
            run(index)
        except Exception as err:
            _note(err, index, folder)
            raise
        bar.update()


def _run_dask(client: Client, todo: list[int], run: Callable[[int], Path], folder: Path, bar: Any,
              retries: int) -> None:
    from dask.distributed import as_completed

    prefix = f"{folder.name}-{uuid.uuid4().hex[:8]}"  # readable on the dashboard, unique to this call
    futures = {client.submit(run, i, key=f"{prefix}-chunk-{i:05d}", retries=retries, pure=False): i for i in todo}
    try:
        for future in as_completed(futures):
            try:
                future.result()
            except Exception as err:
                _note(err, futures[future], folder)
                raise
            bar.update()
    finally:
        client.cancel(list(futures))


def generate_chunks(
    make_chunk: ChunkFn,
    n_chunks: int,
    *,
    base_seed: int,
    folder: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    run: ChunkRun = ChunkRun(),
    write: WriteFn = write_table,
    suffix: str = ".parquet",
) -> list[Path]:
    """Make the missing chunks of a dataset in ``folder`` and return all chunk paths in order.

    Each missing chunk is one task: on a Dask cluster when ``run.client`` is given (or ``run.workers > 1``,
    which starts a temporary local cluster), else in this process. The content of chunk ``i`` depends only on
    ``(base_seed, i)`` and ``params``, never on the number of workers or on the order the chunks finish in.
    A chunk is written under a temporary name and renamed when whole, so a task that is retried or rerun
    on another worker after its worker was lost cannot leave a partial or duplicate chunk; temporary files
    of killed attempts are removed at the end. Each chunk's SHA-256 is stored beside it; an existing chunk
    whose content no longer has that hash (truncated, or replaced by other data) is made again.

    Parameters
    ----------
    make_chunk
        A module-level function (it is pickled to the workers) ``make_chunk(seed, index, **params)``
        returning what ``write`` writes (by default a dict of equal-length numpy arrays).
    n_chunks
        Number of chunks.
    base_seed
        Seed of the dataset; chunk ``i`` uses :func:`chunk_seed` ``(base_seed, i)``.
    folder
        Where the chunks live (use :func:`cache_folder` to key it by parameters); on a remote cluster it must
        be a folder that the workers and this process share.
    params
        Keyword arguments for ``make_chunk``.
    run
        Where and how the chunks run (:class:`ChunkRun`: client or local workers, retries, progress bar).
    write, suffix
        How a chunk is written (default: a flat table, :func:`hepnb.io.write_table`) and its file suffix;
        ``write`` must be a module-level function and write atomically (a temporary ``.<name>.<random>.tmp``
        in the same folder, then a rename).

    Raises
    ------
    ValueError
        For ``n_chunks < 1``.
    Exception
        The first error of a chunk, as raised by ``make_chunk`` or ``write`` (or Dask's ``KilledWorker``),
        with a note naming the chunk; the chunks not yet started are cancelled.
    """
    if n_chunks < 1:
        msg = f"n_chunks must be >= 1, found {n_chunks}"
        raise ValueError(msg)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    make = functools.partial(_make_and_write, make_chunk, out, base_seed, dict(params or {}), write, suffix)
    todo = _unusable_chunks(out, n_chunks, suffix)
    bar = tqdm(total=n_chunks, initial=n_chunks - len(todo), desc=f"chunks {out.name}", disable=not run.progress)
    try:
        with dask_client(run.client, workers=max(1, min(run.workers, len(todo))), from_env=False) as active:
            if active is None:
                _run_serial(todo, make, out, bar)
            else:
                _run_dask(active, todo, make, out, bar, run.retries)
    finally:
        bar.close()
    paths = [_chunk_path(out, i, suffix) for i in range(n_chunks)]
    missing = [p.name for p in paths if not (p.exists() and _hash_path(p).exists())]
    if missing:
        msg = (f"generation finished but {len(missing)} chunk(s) of {out} are missing: {missing}; on a remote "
               f"cluster the folder must be one that the workers and this process share")
        raise RuntimeError(msg)
    _remove_stale_temporaries(out, n_chunks, suffix)
    return paths


def load_chunks(paths: list[Path], columns: list[str] | None = None) -> dict[str, np.ndarray]:
    """Concatenate chunk tables in order."""
    if not paths:
        msg = "no chunks to load"
        raise ValueError(msg)
    tables = [read_table(p, columns) for p in paths]
    return {name: np.concatenate([t[name] for t in tables]) for name in tables[0]}


@contextmanager
def cache_root(cache_dir: str | os.PathLike[str] | None = None, prefix: str = "hepnb-chunks-") -> Iterator[Path]:
    """``cache_dir`` (kept), or a temporary folder removed on exit when it is ``None``."""
    if cache_dir is not None:
        yield Path(cache_dir)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def generate_table(
    make_chunk: ChunkFn,
    n_rows: int,
    *,
    seed: int,
    params: Mapping[str, Any],
    chunks: TableChunks,
    run: ChunkRun = ChunkRun(),
) -> dict[str, np.ndarray]:
    """A flat table of ``n_rows`` rows made in chunks of ``chunks.rows_per_chunk`` (:func:`generate_chunks`).

    Every chunk has ``rows_per_chunk`` rows (``make_chunk(seed, index, n_rows=rows_per_chunk, **params)``;
    ``n_rows`` itself when smaller, so a small sample costs no whole chunk) and the table is their concatenation
    cut to ``n_rows``, so for a given chunk size the first rows do not depend on ``n_rows``, and a larger sample
    reuses the cached chunks of a smaller one. The chunks are cached under
    ``chunks.cache_dir/<name>-<hash of params, seed, rows_per_chunk and version>`` (a temporary folder, removed
    afterwards, when ``cache_dir`` is ``None``).

    Parameters
    ----------
    make_chunk
        As :func:`generate_chunks`.
    n_rows
        Rows of the table.
    seed
        Seed of the dataset.
    params
        Keyword arguments for ``make_chunk`` (besides ``n_rows``).
    chunks
        Chunk size, name, version and cache folder (:class:`TableChunks`).
    run
        Where and how the chunks run (:class:`ChunkRun`).
    """
    rows_per_chunk = chunks.rows_per_chunk
    if n_rows < 1 or rows_per_chunk < 1:
        msg = f"n_rows and rows_per_chunk must be >= 1, found n_rows={n_rows}, rows_per_chunk={rows_per_chunk}"
        raise ValueError(msg)
    rows_per_chunk = min(rows_per_chunk, n_rows)
    n_chunks = -(-n_rows // rows_per_chunk)
    chunk_params = {**params, "n_rows": rows_per_chunk}
    with cache_root(chunks.cache_dir, prefix=f"hepnb-{chunks.name}-") as root:
        folder = cache_folder(root, chunks.name, {**chunk_params, "seed": seed, "version": chunks.version})
        paths = generate_chunks(make_chunk, n_chunks, base_seed=seed, folder=folder, params=chunk_params, run=run)
        table = load_chunks(paths)
    return {k: v[:n_rows] for k, v in table.items()}
