"""The checks every command makes on the paths it reads and writes, before any long work starts.

* :func:`resolve_inputs`: an existing path is used as given (``run[1].parquet`` is a file name); only a path
  that does not exist is read as a glob pattern.
* :func:`check_output`: the output's suffix, and that it can be written: not a folder, not under a file, a
  name the file system accepts (its limits read with ``os.pathconf``), a folder that is writable
  (:func:`probe_writable`); and that it is none of the command's inputs (:func:`same_file`).
* :func:`file_mode`: the permission bits a new file gets from the umask (``0o666 & ~umask``, as ``open()``
  would), not the ``0600`` of a temporary file.

The rows of a result that are NaN/inf are checked by :func:`hepnb.io.check_finite_rows`, with the tables.
"""

from __future__ import annotations

import errno
import glob
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "check_output",
    "check_output_folder",
    "file_mode",
    "probe_writable",
    "resolve_inputs",
    "same_file",
    "why_missing",
]


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


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (``os.path.exists``: False also for a name too long)."""
    while not os.path.exists(path):
        path = path.parent
    return path


def check_output_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Refuse, before any folder is made, an output folder that is an existing file, lies under a file, or would be
    made in a place this process may not write.

    Raises
    ------
    ValueError
        Naming the ``what`` folder and the place that refuses it.
    """
    p = Path(folder)
    if p.exists() and not p.is_dir():
        msg = f"the {what} folder {p} is an existing file, expected a folder"
        raise ValueError(msg)
    existing = _nearest_existing(p.absolute())
    if not existing.is_dir():
        msg = f"the {what} folder {p} cannot be made: {existing} is a file"
        raise ValueError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"the {what} folder {p} cannot be written: {existing} is not writable"
        raise ValueError(msg)
    return p


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
    ancestor = _nearest_existing(p.absolute().parent)
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


def why_missing(path: str | os.PathLike[str]) -> str:
    """Why ``path`` cannot be opened, as the end of a sentence: ``"does not exist"``, or, for a symbolic link,
    ``"is a symbolic link loop"`` / ``"is a symbolic link to X, which does not exist"``."""
    text = os.fspath(path)
    if not os.path.islink(text):
        return "does not exist"
    try:
        os.stat(text)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symbolic link loop (it leads back to itself)"
    return f"is a symbolic link to {os.readlink(text)}, which does not exist"


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
        if os.path.exists(text):
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
        msg = f"input file {text} {why_missing(text)}"
        raise FileNotFoundError(msg)
    return files
