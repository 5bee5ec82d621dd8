"""Chunk functions for the Dask tests; module-level so that worker processes import them by name."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np


def gaussian_chunk(seed: int, index: int, *, n_rows: int = 100) -> dict[str, np.ndarray]:
    """A cheap chunk whose content depends only on the seed and index."""
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=n_rows), "chunk": np.full(n_rows, index, dtype=np.int32)}


def slow_chunk(seed: int, index: int, *, n_rows: int, delay_s: float, folder: str, markers: str) -> dict:
    """:func:`gaussian_chunk` after ``delay_s`` seconds, holding a half-written temporary file meanwhile (as a
    writer killed mid-write would leave) and announcing ``<index>-<pid>`` in ``markers`` when it starts."""
    tmp = None
    if delay_s > 0:
        fd, tmp = tempfile.mkstemp(prefix=f".chunk-{index:05d}.parquet.", suffix=".tmp", dir=folder)
        os.write(fd, b"PAR1 half a chunk")
        os.close(fd)
        Path(markers, f"{index}-{os.getpid()}").touch()
        time.sleep(delay_s)
        os.unlink(tmp)
    return gaussian_chunk(seed, index, n_rows=n_rows)


def failing_chunk(seed: int, index: int, *, bad: int) -> dict[str, np.ndarray]:
    """A chunk function that raises for chunk ``bad``."""
    if index == bad:
        msg = f"detector on fire in chunk {index}"
        raise ValueError(msg)
    return gaussian_chunk(seed, index, n_rows=10)
