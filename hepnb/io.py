"""Flat tables in ROOT (uproot TTree) or Parquet, with schema checks before any work starts.

The file type is taken from the file's first bytes (``root`` or ``PAR1``), not from its name, so a
mislabelled file gets a clear error instead of a decoder traceback.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["check_columns", "check_finite", "check_output", "file_format", "read_table", "write_table"]

_MAGIC = {b"root": "root", b"PAR1": "parquet"}
_TREE_CLASSES = ("TTree", "ROOT::RNTuple")
_SUFFIX = {".root": "root", ".parquet": "parquet", ".pq": "parquet"}


def file_format(path: str | os.PathLike[str]) -> str:
    """``"root"`` or ``"parquet"`` from the file's magic bytes.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is neither ROOT nor Parquet.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"input file {p} does not exist"
        raise FileNotFoundError(msg)
    with p.open("rb") as handle:
        head = handle.read(4)
    if head not in _MAGIC:
        msg = (f"{p} is neither a ROOT file (starts with b'root') nor a Parquet file (starts with "
               f"b'PAR1'); its first bytes are {head!r}")
        raise ValueError(msg)
    return _MAGIC[head]


def check_columns(available: Iterable[str], required: Iterable[str], *, source: str = "input") -> None:
    """Raise one error that names every required column missing from ``available``."""
    have = set(available)
    missing = [c for c in required if c not in have]
    if missing:
        msg = (f"{source} lacks {len(missing)} required column(s): {missing}; "
               f"it has {sorted(have)}")
        raise ValueError(msg)


def check_finite(table: Mapping[str, NDArray[np.generic]], *, source: str = "input") -> None:
    """Raise one error that names every floating column holding NaN or inf, with counts."""
    bad = {}
    for name, values in table.items():
        arr = np.asarray(values)
        if np.issubdtype(arr.dtype, np.floating):
            n_bad = int(np.count_nonzero(~np.isfinite(arr)))
            if n_bad:
                bad[name] = n_bad
    if bad:
        msg = f"{source} has NaN/inf values (column: count): {bad}; all values must be finite"
        raise ValueError(msg)


def check_output(path: str | os.PathLike[str], suffixes: Sequence[str] = (".root", ".parquet")) -> Path:
    """Refuse, before any work, an output path whose suffix is not one of ``suffixes``."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        msg = f"output must end in {' or '.join(suffixes)}, found {p.name!r}"
        raise ValueError(msg)
    return p


def _root_tree(path: Path, tree: str) -> object:
    import uproot

    handle = uproot.open(path)
    trees = [k.split(";")[0] for k, cls in handle.classnames().items() if cls in _TREE_CLASSES]
    if tree not in trees:
        msg = f"{path} has no TTree named {tree!r}; it has {sorted(set(trees))}"
        raise ValueError(msg)
    return handle[tree]


def read_table(
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    *,
    tree: str = "tracks",
    finite: bool = True,
) -> dict[str, NDArray[np.generic]]:
    """Read flat columns from a ROOT TTree or a Parquet file.

    Parameters
    ----------
    path
        The file; its type is found from its first bytes.
    columns
        Columns to read; all are checked to exist before any is read. ``None`` reads every column.
    tree
        TTree name inside a ROOT file.
    finite
        Refuse NaN/inf in floating columns (the error names the columns).

    Returns
    -------
    dict of numpy arrays
    """
    p = Path(path)
    kind = file_format(p)
    if kind == "root":
        ttree = _root_tree(p, tree)
        names = list(ttree.keys())  # type: ignore[attr-defined]
        if columns is not None:
            check_columns(names, columns, source=f"{p}:{tree}")
        arrays = ttree.arrays(list(columns) if columns is not None else names,  # type: ignore[attr-defined]
                              library="np")
        table = {name: np.asarray(arrays[name]) for name in (columns or names)}
    else:
        import pyarrow.parquet as pq

        names = pq.read_schema(p).names
        if columns is not None:
            check_columns(names, columns, source=str(p))
        data = pq.read_table(p, columns=list(columns) if columns is not None else None)
        table = {name: data.column(name).to_numpy() for name in (columns or names)}
    if finite:
        check_finite(table, source=str(p))
    return table


def write_table(
    path: str | os.PathLike[str],
    table: Mapping[str, NDArray[np.generic]],
    *,
    tree: str = "tracks",
) -> Path:
    """Write flat columns to ``.root`` (a TTree named ``tree``) or ``.parquet``, atomically.

    The file is written under a temporary name in the same folder and renamed when complete.

    Raises
    ------
    ValueError
        For an unknown suffix, an empty table or columns of different lengths.
    """
    p = Path(path)
    kind = _SUFFIX.get(p.suffix.lower())
    if kind is None:
        msg = f"output {p} must end in one of {sorted(_SUFFIX)}, found {p.suffix!r}"
        raise ValueError(msg)
    if not table:
        msg = "cannot write an empty table"
        raise ValueError(msg)
    lengths = {k: len(v) for k, v in table.items()}
    if len(set(lengths.values())) != 1:
        msg = f"columns must all have the same length, found {lengths}"
        raise ValueError(msg)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        columns = {k: np.ascontiguousarray(v) for k, v in table.items()}
        if kind == "root":
            import uproot

            with uproot.recreate(tmp) as out:  # a TTree, as O2/ROOT tools expect (not an RNTuple)
                out.mktree(tree, {k: v.dtype for k, v in columns.items()})
                out[tree].extend(columns)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table(columns), tmp)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p
