"""Reading users' track tables: the original's extractor's table as written, AO2D-style labels, O2 derived data.

What is accepted:

- ROOT or Parquet (found from the file's first bytes); one file, a list, or a glob pattern (a path that exists is
  taken as it is, even with ``[`` in its name).
- In a ROOT file: the one TTree it holds, whatever its name, or the one named by ``tree``; or O2's derived-data
  layout, the same tree in each ``DF_<n>/`` folder — every folder of every file is read and concatenated in
  order.
- Columns under the study's names (those of the original's ``PIDFeatureExtractor``, :data:`hepnb.pid.data.EXTRACTOR_COLUMNS`)
  or under AO2D labels (``fPt``, ``fTPCSignal``, ``fTPCNSigmaPi``, ``fBeta``, ``fTOFNSigmaKa``, …;
  :data:`AO2D_LABELS`). ``its_nclusters`` is optional (only the ``o2`` selection needs it). Columns that can be
  derived are derived when absent: ``p`` = pT cosh η, ``has_tpc``, ``has_tof``, the extractor's Bayes
  probabilities, ``event_id`` and ``track_id``.
- A missing TOF value as −999 (the extractor) or NaN (AO2D, O2's PIDML): NaN in a TOF column becomes −999 and
  the track has no TOF. NaN or inf anywhere else is refused, naming the column.

Every file's schema is checked before any is read; errors say what was expected and what was found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from hepnb.io import check_flat_numeric, check_unique_columns, file_format
from hepnb.paths import resolve_inputs
from hepnb.pid.bayes import extractor_bayes_columns
from hepnb.pid.constants import MISSING, SPECIES
from hepnb.pid.data import EXTRACTOR_COLUMNS
from hepnb.pid.selection import FEATURES, SELECTION_COLUMNS, feature_columns, select, stack_features

__all__ = [
    "AO2D_LABELS",
    "REQUIRED",
    "TOF_COLUMNS",
    "Selected",
    "input_files",
    "read_selected",
    "read_tracks",
    "tree_paths",
]

#: AO2D column labels (O2 data model and PIDML tables) and the study's names they map to.
AO2D_LABELS: dict[str, str] = {
    "fPt": "pt", "fP": "p", "fEta": "eta", "fPhi": "phi", "fPx": "px", "fPy": "py", "fPz": "pz", "fSign": "charge",
    "fTrackType": "track_type", "fTPCSignal": "tpc_signal", "fTPCNClsFound": "tpc_nclusters",
    "fTPCChi2NCl": "tpc_chi2", "fITSNCls": "its_nclusters", "fBeta": "tof_beta", "fMass": "tof_mass",
    "fDcaXY": "dca_xy", "fDcaZ": "dca_z", "fPdgCode": "mc_pdg", "fHasTPC": "has_tpc", "fHasTOF": "has_tof",
    "fIndexCollisions": "event_id", "fGlobalIndex": "track_id",
    **{f"fTPCNSigma{s.capitalize()}": f"tpc_nsigma_{s}" for s in SPECIES},
    **{f"fTOFNSigma{s.capitalize()}": f"tof_nsigma_{s}" for s in SPECIES},
}
#: Columns every input needs (under the study's name or its AO2D label); the rest are derived or optional.
REQUIRED: tuple[str, ...] = ("pt", "eta", "phi", "tpc_signal", *(f"tpc_nsigma_{s}" for s in SPECIES), "tof_beta",
                             *(f"tof_nsigma_{s}" for s in SPECIES), "dca_xy", "dca_z")
#: TOF columns, where NaN means "no TOF" and becomes −999.
TOF_COLUMNS: tuple[str, ...] = ("tof_beta", "tof_mass", *(f"tof_nsigma_{s}" for s in SPECIES))
_OPTIONAL = tuple(c for c in (*EXTRACTOR_COLUMNS, "its_nclusters") if c not in (*REQUIRED, "mc_pdg"))
_LABELS = ("mc_pdg",)
_TREE_CLASSES = ("TTree", "ROOT::RNTuple")

Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


class Selected(NamedTuple):
    """What :func:`read_selected` returns."""

    #: The selected tracks, column by column (the study's names).
    tracks: dict[str, NDArray]
    #: Their 22 raw features (N, 22), as :func:`hepnb.pid.selection.features` gives.
    features: NDArray[np.float32]
    #: Tracks read before the selection.
    n_read: int


def input_files(paths: Paths) -> list[Path]:
    """The files named by ``paths``: one path, a glob pattern (sorted matches) or a list of either; a path that
    exists is used as given even if its name holds ``[`` or ``*`` (:func:`hepnb.paths.resolve_inputs`).

    Raises
    ------
    FileNotFoundError
        If a path does not exist and, as a pattern, matches no file (the error names it).
    ValueError
        If the list is empty, or names a folder.
    """
    return resolve_inputs(paths)


def tree_paths(path: str | os.PathLike[str], tree: str | None = None) -> list[str]:
    """The object paths of the track tree(s) in a ROOT file: ``[name]``, or ``["DF_1/name", "DF_2/name", …]``.

    Parameters
    ----------
    path
        A ROOT file.
    tree
        The tree's name; ``None`` takes the file's only tree (at the top, or the only one in its ``DF_`` folders).

    Raises
    ------
    ValueError
        No tree of that name, no tree at all, or several trees and no ``tree`` (all listed).
    """
    import uproot

    with uproot.open(path) as handle:
        found = [k.rsplit(";", 1)[0] for k, cls in handle.classnames().items() if cls in _TREE_CLASSES]
    top = sorted({k for k in found if "/" not in k})
    in_df: dict[str, list[str]] = {}
    for k in found:
        folder, _, name = k.rpartition("/")
        if folder.startswith("DF_") and "/" not in folder:
            in_df.setdefault(name, []).append(k)
    if tree is not None:
        if tree in top:
            return [tree]
        if tree in in_df:
            return in_df[tree]
        msg = (f"{path} has no TTree named {tree!r}; it has {top or 'no top-level tree'}"
               + (f" and, in DF_ folders, {sorted(in_df)}" if in_df else ""))
        raise ValueError(msg)
    if len(top) == 1:
        return top
    if not top and len(in_df) == 1:
        return next(iter(in_df.values()))
    if not top and not in_df:
        msg = f"{path} holds no TTree (expected one track table, or O2 DF_<n>/ folders holding one)"
        raise ValueError(msg)
    names = top or sorted(in_df)
    msg = (f"{path} holds several trees {names}{' (in its DF_ folders)' if not top else ''}; "
           "name the track table with tree= (--tree on the command line)")
    raise ValueError(msg)


def _file_columns(path: Path, tree: str | None) -> tuple[str, list[str], list[str]]:
    """Format, column names and tree paths (ROOT) of one file."""
    kind = file_format(path)
    if kind == "root":
        import uproot

        trees = tree_paths(path, tree)
        with uproot.open(path) as handle:
            names = list(handle[trees[0]].keys())
            for other in trees[1:]:
                if set(handle[other].keys()) != set(names):
                    msg = f"{path}: {other} has other columns than {trees[0]}; every DF_ folder must hold the same table"
                    raise ValueError(msg)
        return kind, names, trees
    import pyarrow.parquet as pq

    names = list(pq.read_schema(path).names)
    check_unique_columns(names, source=str(path))
    return kind, names, []


def _name_map(available: Sequence[str]) -> dict[str, str]:
    """Study name → column name in the file (the study's own name first, else its AO2D label)."""
    out: dict[str, str] = {}
    for label, name in AO2D_LABELS.items():
        if label in available:
            out.setdefault(name, label)
    for name in available:
        if name in (*REQUIRED, *_OPTIONAL, *_LABELS):
            out[name] = name
    return out


def _required(selection: str | None, require_labels: bool) -> list[str]:
    extra = list(SELECTION_COLUMNS[selection]) if selection is not None else []
    return list(dict.fromkeys([*REQUIRED, *extra, *(_LABELS if require_labels else ())]))


def _check(path: Path, names: Sequence[str], required: Sequence[str]) -> dict[str, str]:
    mapping = _name_map(names)
    missing = [c for c in required if c not in mapping]
    if missing:
        labels = {v: k for k, v in AO2D_LABELS.items()}
        wanted = [f"{c} (AO2D {labels[c]})" if c in labels else c for c in missing]
        msg = f"{path} lacks {len(missing)} required column(s): {wanted}; it has {sorted(names)}"
        raise ValueError(msg)
    return mapping


class _Plan(NamedTuple):
    kind: str
    mapping: dict[str, str]
    trees: list[str]


def _plan(files: Sequence[Path], tree: str | None, selection: str | None, require_labels: bool
          ) -> tuple[dict[Path, _Plan], bool]:
    """Check every file's schema before reading any; whether labels are read (all files have them)."""
    found = {p: _file_columns(p, tree) for p in files}
    labelled = require_labels or all("mc_pdg" in _name_map(names) for _, names, _ in found.values())
    required = _required(selection, labelled)
    return {p: _Plan(kind, _check(p, names, required), trees) for p, (kind, names, trees) in found.items()}, labelled


def _wanted(mapping: Mapping[str, str], labelled: bool) -> list[str]:
    return [c for c in (*REQUIRED, *_OPTIONAL, *(_LABELS if labelled else ())) if c in mapping]


def _read_one(path: Path, plan: _Plan, labelled: bool) -> dict[str, NDArray]:
    cols = _wanted(plan.mapping, labelled)
    src = [plan.mapping[c] for c in cols]
    if plan.kind == "root":
        import uproot

        parts = []
        with uproot.open(path) as handle:
            for obj in plan.trees:
                arrays = handle[obj].arrays(src, library="np")
                part = {c: np.asarray(arrays[s]) for c, s in zip(cols, src, strict=True)}
                check_flat_numeric(part, source=f"{path}:{obj}")
                parts.append(part)
        return {c: np.concatenate([p[c] for p in parts]) for c in cols}
    import pyarrow.parquet as pq

    data = pq.read_table(path, columns=src)
    table = {c: data.column(s).to_numpy() for c, s in zip(cols, src, strict=True)}
    check_flat_numeric({s: table[c] for c, s in zip(cols, src, strict=True)}, source=str(path))
    return table


def _normalise(table: dict[str, NDArray], source: str) -> dict[str, NDArray]:
    """NaN TOF → −999 and no TOF; other non-finite values refused; derived columns added."""
    n = len(table["pt"])
    tof_nan = np.zeros(n, dtype=bool)
    for c in TOF_COLUMNS:
        if c in table:
            values = np.asarray(table[c])
            bad = ~np.isfinite(values)
            tof_nan |= bad & (c == "tof_beta")
            table[c] = np.where(bad, np.asarray(MISSING, dtype=values.dtype), values)
    bad = {c: int(np.count_nonzero(~np.isfinite(v))) for c, v in table.items()
           if np.issubdtype(np.asarray(v).dtype, np.floating) and c not in TOF_COLUMNS}
    bad = {c: k for c, k in bad.items() if k}
    if bad:
        msg = (f"{source} has NaN/inf values (column: count): {bad}; only TOF columns may be NaN "
               "(meaning no TOF), every other value must be finite")
        raise ValueError(msg)
    beta = np.asarray(table["tof_beta"])
    has_tof = (beta > 0) & ~tof_nan
    table["has_tof"] = (np.asarray(table["has_tof"]).astype(bool) & has_tof) if "has_tof" in table else has_tof
    for c in TOF_COLUMNS:  # a track without TOF carries the sentinels, whatever the file had
        if c in table:
            table[c] = np.where(table["has_tof"], table[c], np.asarray(MISSING, dtype=np.asarray(table[c]).dtype))
    if "has_tpc" in table:
        table["has_tpc"] = np.asarray(table["has_tpc"]).astype(bool)
    else:
        table["has_tpc"] = np.asarray(table["tpc_signal"]) > 0
    if "p" not in table:
        table["p"] = (np.asarray(table["pt"], dtype=np.float64) * np.cosh(np.asarray(table["eta"], np.float64))
                      ).astype(np.float32)
    if any(f"bayes_prob_{s}" not in table for s in SPECIES):
        probs = extractor_bayes_columns([np.asarray(table[f"tpc_nsigma_{s}"]) for s in SPECIES],
                                        [np.asarray(table[f"tof_nsigma_{s}"]) for s in SPECIES])
        table.update({f"bayes_prob_{s}": p for s, p in zip(SPECIES, probs, strict=True)})
    table.setdefault("event_id", np.full(n, -1, dtype=np.int64))
    return table


def read_tracks(paths: Paths, *, require_labels: bool = True, tree: str | None = None,
                selection: str | None = None) -> dict[str, NDArray]:
    """Read a user's (or a simulated) track table, from one or many files, checking every schema first.

    Parameters
    ----------
    paths
        ROOT or Parquet files: one, a glob pattern, or a list; their tables are concatenated in order (a
        pattern's matches sorted by name, the ``DF_`` folders of a file in the file's order).
    require_labels
        Require ``mc_pdg`` (simulation); without it ``mc_pdg`` is read only if every file has it.
    tree
        The TTree to read in ROOT files; ``None`` takes each file's only tree.
    selection
        Also require the columns this selection needs (``"o2"`` needs ``its_nclusters``), so a missing one is
        found before anything is read.

    Returns
    -------
    dict
        The study's columns (:data:`REQUIRED`, derived and optional ones, ``mc_pdg`` when read).

    Raises
    ------
    FileNotFoundError
        A missing file, or a pattern that matches none.
    ValueError
        Not ROOT/Parquet, no or several trees, missing columns (all named, with the file and the AO2D label),
        NaN/inf outside the TOF columns, or no tracks at all.
    """
    files = input_files(paths)
    plans, labelled = _plan(files, tree, selection, require_labels)
    return _read_planned(files, plans, labelled)


def _read_planned(files: Sequence[Path], plans: Mapping[Path, _Plan], labelled: bool) -> dict[str, NDArray]:
    parts = [_normalise(_read_one(p, plans[p], labelled), str(p)) for p in files]
    common = [c for c in parts[0] if all(c in t for t in parts)]
    table = parts[0] if len(parts) == 1 else {c: np.concatenate([t[c] for t in parts]) for c in common}
    if len(table["pt"]) == 0:
        msg = f"{files[0] if len(files) == 1 else f'{len(files)} files ({[str(f) for f in files]})'} holds no tracks"
        raise ValueError(msg)
    if "track_id" not in table:  # the row number among all tracks read
        table["track_id"] = np.arange(len(table["pt"]), dtype=np.int64)
    return table


def read_selected(paths: Paths, *, selection: str = "o2", client: Any = None, require_labels: bool = True,
                  tree: str | None = None) -> Selected:
    """The tracks passing ``selection`` and their 22 features, computed on a Dask cluster for ROOT inputs.

    With a client and ROOT files, the trees are opened lazily with ``uproot.dask`` (one partition per tree),
    and the label mapping, the NaN-TOF handling, the derived columns, the selection
    (:func:`hepnb.pid.selection.select`) and the features (:func:`hepnb.pid.selection.feature_columns`) are
    dask-awkward expressions computed on the cluster: only the selected tracks travel back. Parquet files, or no
    client, are read in this process. Either way the result equals ``select`` and ``features`` applied to
    :func:`read_tracks`.

    Parameters
    ----------
    paths, require_labels, tree
        As for :func:`read_tracks` (local paths); on a remote cluster the files must lie on a shared file system.
    selection
        ``"o2"`` or ``"original"`` (:data:`hepnb.pid.selection.SELECTIONS`).
    client
        A :class:`dask.distributed.Client`, or ``None``.

    Raises
    ------
    FileNotFoundError, ValueError
        As for :func:`read_tracks`; every file's schema is checked before the cluster does any work.
    """
    from hepnb.pid.selection import selected

    files = input_files(paths)
    plans, labelled = _plan(files, tree, selection, require_labels)
    lazy = client is not None and {p.kind for p in plans.values()} == {"root"}
    if not lazy or any(c not in p.mapping for p in plans.values() for c in ("track_id", "event_id")):  # numbered here
        table = _read_planned(files, plans, labelled)
        tracks = selected(table, selection)
        return Selected(tracks, stack_features(feature_columns(tracks)), len(table["pt"]))
    return _read_selected_dask(files, plans, labelled, selection, client)


def _lazy_normalise(cols: dict[str, Any]) -> dict[str, Any]:
    """:func:`_normalise` on dask-awkward columns (the finite check is done separately)."""
    import dask_awkward as dak

    beta = cols["tof_beta"]
    has_tof = (beta > 0) & np.isfinite(beta)
    if "has_tof" in cols:
        has_tof = has_tof & (cols["has_tof"] > 0)
    cols["has_tof"] = has_tof
    for c in TOF_COLUMNS:
        if c in cols:
            cols[c] = dak.where(has_tof, cols[c], np.float32(MISSING))
    cols["has_tpc"] = (cols["has_tpc"] > 0) if "has_tpc" in cols else cols["tpc_signal"] > 0
    if "p" not in cols:
        cols["p"] = cols["pt"] * np.cosh(cols["eta"])
    if any(f"bayes_prob_{s}" not in cols for s in SPECIES):
        probs = extractor_bayes_columns([cols[f"tpc_nsigma_{s}"] for s in SPECIES],
                                        [cols[f"tof_nsigma_{s}"] for s in SPECIES])
        cols.update({f"bayes_prob_{s}": p for s, p in zip(SPECIES, probs, strict=True)})
    return cols


def _read_selected_dask(files: Sequence[Path], plans: Mapping[Path, _Plan], labelled: bool, selection: str,
                        client: Any) -> Selected:
    import awkward as ak
    import dask
    import uproot

    first = plans[files[0]].mapping
    if any(plans[p].mapping != first for p in files):
        msg = "the files name their columns differently (study names in some, AO2D labels in others); read them apart"
        raise ValueError(msg)
    cols_wanted = _wanted(first, labelled)
    sources = [f"{p.absolute()}:{obj}" for p in files for obj in plans[p].trees]
    # dask-awkward's column optimisation does not yet work with the expression graphs of recent dask; the
    # columns are chosen explicitly with filter_name instead. open_files=False: tasks open their file
    # themselves, so the graph holds only paths and can be shipped to any worker.
    with dask.config.set({"awkward.optimization.enabled": False}):
        events = uproot.dask(sources, filter_name=[first[c] for c in cols_wanted], open_files=False)
        raw = {c: events[first[c]] for c in cols_wanted}
        n_bad = {c: ak.sum(~np.isfinite(v), axis=0) for c, v in raw.items() if c not in TOF_COLUMNS}
        cols = _lazy_normalise(dict(raw))
        keep = select(cols, selection)
        tracks = {k: v[keep] for k, v in cols.items()}
        feats = feature_columns(tracks)
        n_read = ak.num(raw["pt"], axis=0)
        out_tracks, out_feats, n, bad = dask.compute(tracks, feats, n_read, n_bad, scheduler=client)
    bad = {k: int(v) for k, v in bad.items() if v}
    if bad:
        msg = (f"{len(files)} ROOT file(s) have NaN/inf values (column: count): {bad}; only TOF columns may be NaN "
               "(meaning no TOF), every other value must be finite")
        raise ValueError(msg)
    table = {k: ak.to_numpy(v) for k, v in out_tracks.items()}
    return Selected(table, stack_features({k: ak.to_numpy(out_feats[k]) for k in FEATURES}), int(n))
