"""Track tables on disk (ROOT TTree ``tracks`` or Parquet): the documented column names.

Start states use ``x_mm, y_mm, tx, ty, qop_per_gev`` (q/p in 1/GeV); propagated states add the same
names with the suffix ``_end`` (``x_mm_end``, …, ``ty_end``). Generated samples also carry ``p_gev``
and the planes ``z0_mm`` and ``z1_mm`` (constant columns).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.io import read_table, write_table

__all__ = ["END_COLUMNS", "STATE_COLUMNS", "read_states", "states_table", "write_states"]

#: Columns of a state, in the order of the (N, 5) arrays.
STATE_COLUMNS: tuple[str, ...] = ("x_mm", "y_mm", "tx", "ty", "qop_per_gev")
#: Columns of a propagated state (q/p is conserved and not repeated).
END_COLUMNS: tuple[str, ...] = ("x_mm_end", "y_mm_end", "tx_end", "ty_end")


def states_table(start: np.ndarray, end: np.ndarray | None = None, **extra: Any) -> dict[str, np.ndarray]:
    """Columns of start states (N, 5), optionally their end states (N, 5), plus extra (N,) columns."""
    table = {name: np.asarray(start[:, i], np.float64) for i, name in enumerate(STATE_COLUMNS)}
    if end is not None:
        table.update({name: np.asarray(end[:, i], np.float64) for i, name in enumerate(END_COLUMNS)})
    for name, value in extra.items():
        table[name] = np.broadcast_to(np.asarray(value, np.float64), (len(start),)).copy()
    return table


def read_states(path: str | os.PathLike[str]) -> np.ndarray:
    """Read start states (N, 5) from a ROOT or Parquet track table; missing columns and NaN/inf are refused."""
    table = read_table(Path(path), STATE_COLUMNS)
    return np.stack([np.asarray(table[c], np.float64) for c in STATE_COLUMNS], axis=1)


def write_states(path: str | os.PathLike[str], start: np.ndarray, end: np.ndarray | None = None,
                 **extra: Any) -> Path:
    """Write a track table (atomic; ``.root`` or ``.parquet``)."""
    return write_table(Path(path), states_table(start, end, **extra))
