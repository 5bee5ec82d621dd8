"""Flat tables in ROOT (uproot TTree) or Parquet, with schema checks before any work starts.

The file type is taken from the file's first bytes (``root`` or ``PAR1``), not from its name, so a
mislabelled file gets a clear error instead of a decoder traceback; a truncated file, a column that is not
numeric or a jagged branch is named with its file.

:func:`check_finite_rows` names the rows of a result that are NaN/inf before anything is written. The checks
on the paths themselves (inputs, outputs, writability) are in :mod:`hepnb.paths`.

Files written here follow the process's umask (``0o666 & ~umask``, as ``open()`` would), not the ``0600`` of a
temporary file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import AfterValidator

from hepnb.paths import file_mode, why_missing

__all__ = [
    "FiniteFloat",
    "check_columns",
    "check_finite",
    "check_finite_rows",
    "check_flat_numeric",
    "check_unique_columns",
    "file_format",
    "naming_write_errors",
    "open_npz",
    "read_json",
    "read_table",
    "validate_json",
    "write_table",
]

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
    if p.is_dir():
        msg = f"input {p} is a folder, expected a ROOT or Parquet file"
        raise ValueError(msg)
    if not p.is_file():
        msg = f"input file {p} {why_missing(p)}"
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


def check_unique_columns(names: Sequence[str], *, source: str = "input") -> None:
    """Refuse a table whose column names repeat (Parquet allows it; no reader can tell the columns apart).

    Raises
    ------
    ValueError
        Naming ``source`` and the repeated names.
    """
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        msg = f"{source}: the columns {repeated} appear more than once; expected one column per name"
        raise ValueError(msg)


def check_flat_numeric(table: Mapping[str, NDArray[np.generic]], *, source: str = "input") -> None:
    """Refuse columns that are not one number per row: text (also text that looks like numbers) or jagged.

    Every command reads its tables through this check, so that a column of strings is refused alike everywhere
    rather than parsed by one reader and refused by another.

    Raises
    ------
    ValueError
        Naming ``source``, the column and what it holds.
    """
    for name, values in table.items():
        values = np.asarray(values)
        if values.dtype == object or not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
            shape = "jagged (a variable number of values per row)" if values.dtype == object else f"{values.dtype}"
            if values.dtype.kind in "USO" and values.size and isinstance(values.flat[0], str):
                shape = "text"
            msg = f"{source}: column {name!r} is {shape}, expected a flat numeric column (one number per row)"
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


def check_finite_rows(
    columns: Mapping[str, NDArray[np.generic]] | NDArray[np.generic],
    *,
    what: str = "output",
    hint: str = "",
) -> None:
    """Raise one error naming the rows of a result that hold NaN or inf, before it is written.

    Parameters
    ----------
    columns
        Columns of equal length, or one array whose first axis is the row.
    what
        What the rows are, for the message (``"propagated end states"``).
    hint
        A likely cause, appended to the message.

    Raises
    ------
    ValueError
        Naming the number of bad rows, the first of them and the columns involved.
    """
    table = columns if isinstance(columns, Mapping) else {"values": columns}
    bad_rows: NDArray[np.bool_] | None = None
    per_column = {}
    for name, values in table.items():
        arr = np.asarray(values)
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1) if arr.ndim else ~np.isfinite(arr)[None]
        if bad.any():
            per_column[name] = int(bad.sum())
            bad_rows = bad if bad_rows is None else bad_rows | bad
    if bad_rows is None:
        return
    rows = np.flatnonzero(bad_rows)
    n_rows = len(bad_rows)
    shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if rows.size > 10 else "")
    cols = "" if list(per_column) == ["values"] else f" (column: rows {per_column})"
    msg = (f"{rows.size} of {n_rows} rows of the {what} are NaN/inf{cols}: rows {shown} (counted from 0); "
           f"nothing was written" + (f"; {hint}" if hint else ""))
    raise ValueError(msg)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        msg = f"must be finite, found {value}"
        raise ValueError(msg)
    return value


#: A number a schema requires to be finite (Python's json reads and writes NaN and Infinity).
FiniteFloat = Annotated[float, AfterValidator(_finite)]


def validate_json(record: Any, schema: Any, path: str | os.PathLike[str], *, what: str = "JSON file") -> Any:
    """``record`` (read from ``path``) validated by a pydantic model ``schema``; returns the model instance.

    Raises
    ------
    ValueError
        The first field that breaks the schema, named with the file, what was expected and what was found.
    """
    from pydantic import ValidationError

    try:
        return schema.model_validate(record)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the top level"
        message = first["msg"][0].lower() + first["msg"][1:] if first["msg"] else "is not valid"
        found = type(first.get("input")).__name__
        msg = f"{what} {path}: {where}: {message.removeprefix('input ')} (found a {found})"
        raise ValueError(msg) from None


def read_json(path: str | os.PathLike[str], *, what: str = "JSON file") -> Any:
    """Read a JSON file; a missing, non-UTF-8, truncated or malformed file is named in the error.

    Raises
    ------
    FileNotFoundError
        A missing file.
    ValueError
        A file that is not UTF-8 text or not valid JSON (with the line and column where it breaks).
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{what} {p} {why_missing(p)}"
        raise FileNotFoundError(msg)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        msg = f"{what} {p} is not UTF-8 text (byte {err.start})"
        raise ValueError(msg) from None
    except json.JSONDecodeError as err:
        truncated = " (truncated?)" if not err.doc.rstrip().endswith(("}", "]")) else ""
        msg = f"{what} {p} is not valid JSON{truncated}: {err.msg} (line {err.lineno}, column {err.colno})"
        raise ValueError(msg) from None


def open_npz(path: str | os.PathLike[str], *, what: str = "npz file") -> Any:
    """``numpy.load`` of an ``.npz`` archive (no pickles), with the file named if it is not one.

    Returns
    -------
    numpy.lib.npyio.NpzFile
        Use it as a context manager.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, or one that is not a (whole) npz archive.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{what} {p} {why_missing(p)}"
        raise FileNotFoundError(msg)
    with p.open("rb") as handle:
        head = handle.read(4)
    if head != b"PK\x03\x04":
        msg = f"{what} {p} is not an npz archive (numpy.savez writes a zip file, starting with b'PK'); its first bytes are {head!r}"
        raise ValueError(msg)
    try:
        return np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        msg = f"{what} {p} cannot be read as an npz archive (truncated?): {err}"
        raise ValueError(msg) from None


def _root_tree(path: Path, tree: str) -> object:
    import uproot

    try:
        handle = uproot.open(path)
        classes = handle.classnames()
        trees = [k.split(";")[0] for k, cls in classes.items() if cls in _TREE_CLASSES]
        if tree not in trees:
            msg = f"{path} has no TTree named {tree!r}; it has {sorted(set(trees))}"
            raise LookupError(msg)
        ttree = handle[tree]
        ttree.keys()
    except LookupError as err:
        raise ValueError(str(err)) from None
    except Exception as err:  # noqa: BLE001 - uproot raises many kinds on a damaged file
        msg = f"{path} cannot be read as a ROOT file (truncated or damaged?): {type(err).__name__}: {_one_line(err)}"
        raise ValueError(msg) from None
    return ttree


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:200]

#: Why a write failed, for the errors whose own message names no file.
_WRITE_REASONS = {errno.EFBIG: "the file size limit (ulimit -f) was reached",
                  errno.ENOSPC: "no space is left on the device", errno.EDQUOT: "the disk quota is exceeded",
                  errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied"}


@contextmanager
def naming_write_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Inside the block, an :class:`OSError` that names no file (pyarrow's ``[Errno 27] Error writing bytes``,
    uproot's) is raised again naming ``path`` and the reason in words (a size limit, a full disk)."""
    try:
        yield
    except OSError as err:
        if getattr(err, "filename", None):
            raise
        code = err.errno
        reason = _WRITE_REASONS.get(code) if code is not None else None
        msg = f"writing {os.fspath(path)} failed: {reason or ' '.join(str(err).split())}"
        failure = OSError(msg)
        failure.errno = code
        raise failure from None


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
        try:
            arrays = ttree.arrays(list(columns) if columns is not None else names,  # type: ignore[attr-defined]
                                  library="np")
        except Exception as err:  # noqa: BLE001 - uproot raises many kinds on a damaged file
            msg = (f"{p}: the TTree {tree!r} cannot be read (truncated or damaged file?): {type(err).__name__}: "
                   f"{_one_line(err)}")
            raise ValueError(msg) from None
        table = {name: np.asarray(arrays[name]) for name in (columns or names)}
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(p).names
            check_unique_columns(names, source=str(p))
            if columns is not None:
                check_columns(names, columns, source=str(p))
            data = pq.read_table(p, columns=list(columns) if columns is not None else None)
        except (pa.ArrowException, OSError) as err:
            msg = f"{p} cannot be read as a Parquet file (truncated or damaged?): {err}"
            raise ValueError(msg) from None
        table = {}
        for name in (columns or names):
            if not _flat_numeric(data.schema.field(name).type):
                msg = (f"{p}: column {name!r} is {data.schema.field(name).type}, expected a flat numeric "
                       f"column (one number per row)")
                raise ValueError(msg)
            table[name] = data.column(name).to_numpy()
    check_flat_numeric(table, source=f"{p}:{tree}" if kind == "root" else str(p))
    n_rows = len(next(iter(table.values()))) if table else 0
    if n_rows == 0:
        msg = f"{p} holds no rows{f' in its TTree {tree!r}' if kind == 'root' else ''}: expected at least one"
        raise ValueError(msg)
    if finite:
        check_finite(table, source=str(p))
    return table


def _flat_numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
                or pa.types.is_boolean(arrow_type))


def write_table(
    path: str | os.PathLike[str],
    table: Mapping[str, NDArray[np.generic]],
    *,
    tree: str = "tracks",
) -> Path:
    """Write flat columns to ``.root`` (a TTree named ``tree``) or ``.parquet``, atomically.

    The file is written under a temporary name in the same folder and renamed when complete; it gets the
    permissions of the umask (:func:`hepnb.paths.file_mode`).

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
    os.fchmod(fd, file_mode())  # a temporary file is 0600; the output follows the umask
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with naming_write_errors(p):
            _write_columns(tmp, {k: np.ascontiguousarray(v) for k, v in table.items()}, kind, tree)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def _write_columns(path: Path, columns: Mapping[str, NDArray[np.generic]], kind: str, tree: str) -> None:
    if kind == "root":
        import uproot

        with uproot.recreate(path) as out:  # a TTree, as O2/ROOT tools expect (not an RNTuple)
            out.mktree(tree, {k: v.dtype for k, v in columns.items()})
            out[tree].extend(columns)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(dict(columns)), path)
