"""Flat tables in ROOT (uproot TTree) or Parquet, with schema checks before any work starts, and the checks every
command that reads or writes files makes.

The file type is taken from the file's first bytes (``root`` or ``PAR1``), not from its name, so a
mislabelled file gets a clear error instead of a decoder traceback; a truncated file, a column that is not
numeric or a jagged branch is named with its file.

Paths, for every command (call these at the top of a command, before any long work):

* :func:`resolve_inputs`: an existing path is used as given (``run[1].parquet`` is a file name); only a path
  that does not exist is read as a glob pattern.
* :func:`check_output`: the output's suffix, and that it can be written: not a folder, not under a file, a
  name the file system accepts, a folder that is writable; and that it is none of the command's inputs.
* :func:`check_finite_rows`: the rows of a result that are NaN/inf, named, before anything is written.

Files written here follow the process's umask (``0o666 & ~umask``, as ``open()`` would), not the ``0600`` of a
temporary file.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "check_columns",
    "check_finite",
    "check_finite_rows",
    "check_output",
    "file_format",
    "file_mode",
    "open_npz",
    "probe_writable",
    "read_json",
    "read_table",
    "resolve_inputs",
    "same_file",
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


def file_mode() -> int:
    """The permission bits a new file gets from ``open()`` in this process: ``0o666`` less the umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no other way to read it: set and restore at once
    os.umask(mask)
    return 0o666 & ~mask


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (through links, ``..`` and case-folding file systems alike)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(folder, name))
    except (OSError, ValueError, AttributeError):
        return default


#: A temporary name in the output's folder, ``.<name>.<8 random>.tmp``, adds this many bytes to the name.
_TMP_EXTRA = 14


def probe_writable(folder: str | os.PathLike[str]) -> None:
    """Create and remove a temporary file in ``folder``: the one test of writability that ACLs, read-only
    mounts and full disks cannot fool. Raises the ``OSError`` the file system gave."""
    fd, probe = tempfile.mkstemp(prefix=".hepnb-write-test.", dir=folder)
    os.close(fd)
    os.unlink(probe)


def check_output(
    path: str | os.PathLike[str],
    suffixes: Sequence[str] = (".root", ".parquet"),
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Refuse, before any work, an output path that cannot be written or would overwrite an input.

    Parameters
    ----------
    path
        The output file.
    suffixes
        The suffixes it may have (``()``: any).
    inputs
        The files the command reads; the output may not be any of them (compared after resolving links).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        A wrong suffix, an output that is an input, an existing folder, a path under a file, a name longer
        than the file system allows, or a folder where this process may not create files (permissions, a
        read-only file system).
    """
    p = Path(path)
    ancestor = p.absolute().parent
    while not os.path.exists(ancestor):  # os.path.exists: False also for a name too long
        ancestor = ancestor.parent
    name_max = _limit(ancestor, "PC_NAME_MAX", 255)
    path_max = _limit(ancestor, "PC_PATH_MAX", 4096)
    if len(os.fsencode(p.name)) + _TMP_EXTRA > name_max:
        msg = (f"output file name is too long: {len(os.fsencode(p.name))} bytes, at most {name_max - _TMP_EXTRA} "
               f"here (the file system allows {name_max}, and the temporary name adds {_TMP_EXTRA})")
        raise ValueError(msg)
    long_parts = [part for part in p.absolute().parts if len(os.fsencode(part)) > name_max]
    if long_parts or len(os.fsencode(str(p.absolute()))) + _TMP_EXTRA >= path_max:
        msg = (f"output path is too long for the file system (a folder name above {name_max} bytes, or a path "
               f"above {path_max}): {str(p)[:80]}...")
        raise ValueError(msg)
    if os.path.isdir(p):
        example = p / ("out" + (suffixes[0] if suffixes else ""))
        msg = f"output {p} is an existing folder; give a file name such as {example}"
        raise ValueError(msg)
    if suffixes and p.suffix.lower() not in suffixes:
        msg = f"output must end in {' or '.join(suffixes)}, found {p.name!r}"
        raise ValueError(msg)
    for source in inputs:
        if same_file(p, source):
            msg = f"output {p} is the input {source}: refusing to overwrite an input; choose another output path"
            raise ValueError(msg)
    if not os.path.isdir(ancestor):
        msg = f"output {p} lies under {ancestor}, which is a file, not a folder"
        raise ValueError(msg)
    if ancestor == p.absolute().parent:
        try:
            probe_writable(ancestor)
        except OSError as err:
            msg = f"cannot write the output {p}: its folder {ancestor} refuses new files ({err.strerror or err})"
            raise ValueError(msg) from None
    elif not os.access(ancestor, os.W_OK | os.X_OK):
        msg = f"cannot write the output {p}: its folder would be made in {ancestor}, which is not writable"
        raise ValueError(msg)
    return p


def resolve_inputs(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files named by ``paths``: a path, a glob pattern, or a list of either.

    A path that exists is used as given, even if its name holds ``*``, ``?`` or ``[`` (``run[1].parquet``);
    only a path that does not exist is read as a glob pattern, whose matches are sorted.

    Raises
    ------
    FileNotFoundError
        A path that does not exist and matches nothing as a pattern (the message names it).
    ValueError
        An empty list, or a folder instead of a file.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        msg = "no input files given (an empty list)"
        raise ValueError(msg)
    files: list[Path] = []
    for item in items:
        text = os.path.expanduser(os.fspath(item))
        if os.path.lexists(text):
            if os.path.isdir(text):
                msg = f"input {text} is a folder, expected a file (or a pattern such as {os.path.join(text, '*.root')})"
                raise ValueError(msg)
            files.append(Path(text))
            continue
        if glob.has_magic(text):
            matches = sorted(m for m in glob.glob(text) if not os.path.isdir(m))
            if not matches:
                msg = f"no file matches the pattern {text!r} (and no file has that name)"
                raise FileNotFoundError(msg)
            files.extend(Path(m) for m in matches)
            continue
        msg = f"input file {text} does not exist"
        raise FileNotFoundError(msg)
    return files


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
        msg = f"{what} {p} does not exist"
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
        msg = f"{what} {p} does not exist"
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
    for name, values in table.items():
        if values.dtype == object or not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
            where = f"{p}:{tree}" if kind == "root" else str(p)
            shape = "jagged (a variable number of values per row)" if values.dtype == object else f"{values.dtype}"
            msg = f"{where}: column {name!r} is {shape}, expected a flat numeric column (one number per row)"
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
    permissions of the umask (:func:`file_mode`).

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
