"""Reading and writing track tables with the feature-extractor schema (ROOT TTree or Parquet)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hepnb.io import check_columns, read_table, write_table
from hepnb.pid.simulate import COLUMNS

__all__ = ["TREE", "read_tracks", "write_tracks"]

TREE = "O2pidtracks"


def read_tracks(path: str | os.PathLike[str], *, require_labels: bool = True) -> dict[str, NDArray]:
    """Read a user's (or a simulated) track table and check its schema before any work starts.

    Raises
    ------
    ValueError
        Not ROOT/Parquet, missing columns (all named), NaN/inf values, or an empty table.
    """
    from hepnb.io import file_format

    p = Path(path)
    kind = file_format(p)
    if kind == "root":
        import uproot

        with uproot.open(p) as f:
            names = list(f[TREE].keys()) if TREE in [k.split(";")[0] for k in f] else []
        if not names:
            msg = f"{p} has no TTree named {TREE!r} (the feature-extractor table)"
            raise ValueError(msg)
    else:
        import pyarrow.parquet as pq

        names = pq.read_schema(p).names
    wanted = list(COLUMNS) + (["mc_pdg"] if require_labels or "mc_pdg" in names else [])
    check_columns(names, wanted, source=str(p))
    table = read_table(p, wanted, tree=TREE)
    if len(table["pt"]) == 0:
        msg = f"{p} holds no tracks"
        raise ValueError(msg)
    return table


def write_tracks(path: str | os.PathLike[str], table: Mapping[str, NDArray]) -> Path:
    """Write the table as ``.root`` (TTree ``O2pidtracks``) or ``.parquet``."""
    check_columns(table.keys(), COLUMNS, source="track table")
    return write_table(path, {k: np.asarray(v) for k, v in table.items()}, tree=TREE)
