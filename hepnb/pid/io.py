"""Reading and writing track tables with the feature-extractor schema (ROOT TTree or Parquet).

One file, a list of files or a glob pattern (``"runs/*.root"``) may be given. :func:`read_tracks` reads
them into memory; :func:`read_selected` applies a track selection and builds the 22 features on a Dask
cluster with ``uproot.dask`` (dask-awkward), so that only the selected tracks come back.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from hepnb.io import check_columns, read_table, write_table
from hepnb.pid.selection import FEATURES, feature_columns, select, stack_features
from hepnb.pid.simulate import COLUMNS

__all__ = ["TREE", "Selected", "input_files", "read_selected", "read_tracks", "write_tracks"]

TREE = "O2pidtracks"
_GLOB_CHARS = frozenset("*?[")

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


class Selected(NamedTuple):
    """What :func:`read_selected` returns."""

    #: The selected tracks, column by column (as :func:`hepnb.pid.report.selected` gives).
    tracks: dict[str, NDArray]
    #: Their 22 raw features (N, 22), as :func:`hepnb.pid.selection.features` gives.
    features: NDArray[np.float32]
    #: Tracks read before the selection.
    n_read: int


def input_files(paths: Paths) -> list[Path]:
    """The files named by ``paths``: one path, a glob pattern (sorted matches) or a list of either.

    Raises
    ------
    FileNotFoundError
        If a glob pattern matches no file (the error names the pattern).
    ValueError
        If the list is empty.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        msg = "no input files given (an empty list)"
        raise ValueError(msg)
    files: list[Path] = []
    for item in items:
        text = os.path.expanduser(os.fspath(item))
        if _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text))
            if not matches:
                msg = f"no file matches the pattern {text!r}"
                raise FileNotFoundError(msg)
            files.extend(Path(m) for m in matches)
        else:
            files.append(Path(text))
    return files


def _columns(path: Path) -> tuple[str, list[str]]:
    """The format of a track file and the names of its columns (the TTree's branches for ROOT)."""
    from hepnb.io import file_format

    kind = file_format(path)
    if kind == "root":
        import uproot

        with uproot.open(path) as f:
            names = list(f[TREE].keys()) if TREE in [k.split(";")[0] for k in f] else []
        if not names:
            msg = f"{path} has no TTree named {TREE!r} (the feature-extractor table)"
            raise ValueError(msg)
        return kind, names
    import pyarrow.parquet as pq

    return kind, list(pq.read_schema(path).names)


def _check_files(files: Sequence[Path], require_labels: bool) -> tuple[set[str], list[str]]:
    """Check every file's schema before reading any; return the formats seen and the columns to read."""
    schemas = {p: _columns(p) for p in files}
    with_labels = require_labels or all("mc_pdg" in names for _, names in schemas.values())
    wanted = list(COLUMNS) + (["mc_pdg"] if with_labels else [])
    for p, (_, names) in schemas.items():
        check_columns(names, wanted, source=str(p))
    return {kind for kind, _ in schemas.values()}, wanted


def read_tracks(paths: Paths, *, require_labels: bool = True) -> dict[str, NDArray]:
    """Read a user's (or a simulated) track table, from one or many files, checking every schema first.

    Parameters
    ----------
    paths
        A ROOT (TTree ``O2pidtracks``) or Parquet file, a glob pattern, or a list of them; the files'
        tables are concatenated in order (a pattern's matches sorted by name).
    require_labels
        Require the ``mc_pdg`` column (simulation); without it ``mc_pdg`` is read only if every file has it.

    Raises
    ------
    FileNotFoundError
        A missing file, or a pattern that matches none.
    ValueError
        Not ROOT/Parquet, missing columns (all named, with the file), NaN/inf values, or no tracks at all.
    """
    files = input_files(paths)
    _, wanted = _check_files(files, require_labels)
    return _read_checked(files, wanted)


def _read_checked(files: Sequence[Path], wanted: Sequence[str]) -> dict[str, NDArray]:
    """The ``wanted`` columns of files whose schemas :func:`_check_files` has checked, concatenated."""
    parts = [read_table(p, list(wanted), tree=TREE) for p in files]
    table = parts[0] if len(parts) == 1 else {k: np.concatenate([t[k] for t in parts]) for k in wanted}
    if len(table["pt"]) == 0:
        msg = f"{files[0] if len(files) == 1 else f'{len(files)} files ({[str(f) for f in files]})'} holds no tracks"
        raise ValueError(msg)
    return table


def read_selected(paths: Paths, *, selection: str = "o2", client: Any = None,
                  require_labels: bool = True) -> Selected:
    """The tracks passing ``selection`` and their 22 features, computed on a Dask cluster for ROOT inputs.

    With a client and ROOT files, the files are opened lazily with ``uproot.dask`` (one partition per
    file), and the selection (:func:`hepnb.pid.selection.select`) and the features
    (:func:`hepnb.pid.selection.feature_columns`) are dask-awkward expressions computed on the cluster:
    only the selected tracks travel back. Parquet files, or no client, are read in this process. Either
    way the result equals ``select`` and ``features`` applied to :func:`read_tracks`.

    Parameters
    ----------
    paths
        As for :func:`read_tracks` (local paths); a pattern is resolved here, and the workers open the
        files under the same absolute paths, so on a remote cluster they must lie on a shared file system.
    selection
        ``"o2"`` or ``"seed"`` (:data:`hepnb.pid.selection.SELECTIONS`).
    client
        A :class:`dask.distributed.Client`, or ``None``.
    require_labels
        As for :func:`read_tracks`.

    Raises
    ------
    FileNotFoundError, ValueError
        As for :func:`read_tracks`; every file's schema is checked before the cluster does any work.
    """
    files = input_files(paths)
    kinds, wanted = _check_files(files, require_labels)
    if client is None or kinds != {"root"}:
        table = _read_checked(files, wanted)  # the schemas were checked just above
        keep = select(table, selection)
        tracks = {k: np.asarray(v)[keep] for k, v in table.items()}
        return Selected(tracks, stack_features(feature_columns(tracks)), len(keep))
    return _read_selected_dask(files, wanted, selection, client)


def _read_selected_dask(files: Sequence[Path], wanted: Sequence[str], selection: str, client: Any) -> Selected:
    import awkward as ak
    import dask
    import uproot

    # dask-awkward's column optimisation does not yet work with the expression graphs of recent dask; the
    # columns are chosen explicitly with filter_name instead. open_files=False: tasks open their file
    # themselves, so the graph holds only paths and can be shipped to any worker.
    with dask.config.set({"awkward.optimization.enabled": False}):
        events = uproot.dask({str(p.absolute()): TREE for p in files}, filter_name=list(wanted), open_files=False)
        cols = {k: events[k] for k in wanted}
        keep = select(cols, selection)
        tracks = {k: v[keep] for k, v in cols.items()}
        feats = feature_columns(tracks)
        n_read = ak.num(cols["pt"], axis=0)
        n_bad = {k: ak.sum(~np.isfinite(v), axis=0) for k, v in cols.items()}  # as read_table checks
        out_tracks, out_feats, n, bad = dask.compute(tracks, feats, n_read, n_bad, scheduler=client)
    bad = {k: int(v) for k, v in bad.items() if v}
    if bad:
        msg = f"{len(files)} ROOT file(s) have NaN/inf values (column: count): {bad}; all values must be finite"
        raise ValueError(msg)
    table = {k: ak.to_numpy(v) for k, v in out_tracks.items()}
    return Selected(table, stack_features({k: ak.to_numpy(out_feats[k]) for k in FEATURES}), int(n))


def write_tracks(path: str | os.PathLike[str], table: Mapping[str, NDArray]) -> Path:
    """Write the table as ``.root`` (TTree ``O2pidtracks``) or ``.parquet``."""
    check_columns(table.keys(), COLUMNS, source="track table")
    return write_table(path, {k: np.asarray(v) for k, v in table.items()}, tree=TREE)
