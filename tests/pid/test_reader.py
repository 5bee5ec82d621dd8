"""The reader of users' tables: the original's extractor's table as written, any tree, O2 DF_ folders, AO2D labels,
NaN for a missing TOF, bad inputs named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import uproot

from hepnb.pid.constants import MISSING, SPECIES
from hepnb.pid.data import COLUMNS, EXTRACTOR_COLUMNS, LABEL_COLUMNS, simulate_tracks, write_tracks
from hepnb.pid.reader import AO2D_LABELS, input_files, read_selected, read_tracks, tree_paths
from hepnb.pid.selection import features, select, selected


@pytest.fixture(scope="module")
def table() -> dict[str, np.ndarray]:
    return simulate_tracks(3000, seed=3)


def _write_tree(path: Path, tree: str, cols: dict[str, np.ndarray]) -> None:
    """A TTree as ROOT/O2 tools write it (uproot's mktree; a plain assignment would write an RNTuple)."""
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: v.dtype for k, v in cols.items()})
        f[tree].extend(cols)


def _extractor_file(path: Path, table: dict[str, np.ndarray], rows: slice = slice(None)) -> dict[str, np.ndarray]:
    """Exactly the original's extractor's TTree: ``pid_features``, its 37 columns in order and types, no its_nclusters."""
    cols = {k: np.asarray(table[k])[rows] for k in EXTRACTOR_COLUMNS}
    _write_tree(path, "pid_features", cols)
    return cols


def test_simulation_writes_the_extractors_columns_and_types(table: dict[str, np.ndarray]) -> None:
    assert list(table)[: len(EXTRACTOR_COLUMNS)] == list(EXTRACTOR_COLUMNS)
    assert table["has_tof"].dtype == np.bool_ and table["tpc_signal"].dtype == np.float32
    assert table["tpc_nclusters"].dtype == np.int32 and table["mc_pdg"].dtype == np.int32


def test_the_original_extractors_table_is_read_as_written(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    cols = _extractor_file(tmp_path / "pid_features.root", table)
    back = read_tracks(tmp_path / "pid_features.root")
    for k in cols:
        np.testing.assert_array_equal(back[k], cols[k], err_msg=k)
    assert "its_nclusters" not in back
    keep = select(back, "original")
    assert 0 < keep.sum() < len(keep)
    with pytest.raises(ValueError, match=r"'o2' selection needs the column\(s\) \['its_nclusters'\].*use the 'original'"):
        select(back, "o2")
    with pytest.raises(ValueError, match="its_nclusters"):  # refused before anything is read
        read_tracks(tmp_path / "pid_features.root", selection="o2")
    got = read_selected(tmp_path / "pid_features.root", selection="original")
    np.testing.assert_array_equal(got.features, features(selected({k: cols[k] for k in cols}, "original")))


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_written_tables_read_back(table: dict[str, np.ndarray], tmp_path: Path, suffix: str) -> None:
    small = {k: v[:500] for k, v in table.items()}
    path = write_tracks(tmp_path / f"tracks{suffix}", small)
    back = read_tracks(path)
    np.testing.assert_array_equal(back["tpc_signal"], small["tpc_signal"])
    assert {*COLUMNS, "mc_pdg"} <= set(back)


def test_one_tree_of_any_name_or_the_one_named(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    cols = {k: table[k][:200] for k in COLUMNS}
    _write_tree(tmp_path / "one.root", "MyTracks", cols)
    assert len(read_tracks(tmp_path / "one.root", require_labels=False)["pt"]) == 200
    path = tmp_path / "two.root"
    with uproot.recreate(path) as f:
        for name, part in (("tracksA", slice(0, 200)), ("tracksB", slice(200, 350))):
            f.mktree(name, {k: v.dtype for k, v in cols.items()})
            f[name].extend({k: table[k][part] for k in COLUMNS})
    with pytest.raises(ValueError, match=r"several trees \['tracksA', 'tracksB'\].*--tree"):
        read_tracks(path, require_labels=False)
    assert len(read_tracks(path, require_labels=False, tree="tracksB")["pt"]) == 150
    with pytest.raises(ValueError, match="no TTree named 'tracksC'"):
        read_tracks(path, require_labels=False, tree="tracksC")
    with pytest.raises(ValueError, match=r"lacks 1 required column\(s\): \['mc_pdg \(AO2D fPdgCode\)'\]"):
        read_tracks(tmp_path / "one.root")


def test_o2_derived_data_df_folders_over_many_files(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    """The same tree in each DF_<n>/ folder of each file (beside other tables), concatenated in order."""
    parts = []
    for i, f_rows in enumerate(((slice(0, 100), slice(100, 250)), (slice(250, 400),))):
        path = tmp_path / f"AO2D_{i}.root"
        with uproot.recreate(path) as f:
            for j, rows in enumerate(f_rows):
                cols = {k: table[k][rows] for k in (*COLUMNS, "mc_pdg")}
                f.mktree(f"DF_{100 + j}/O2pidfeatures", {k: v.dtype for k, v in cols.items()})
                f[f"DF_{100 + j}/O2pidfeatures"].extend(cols)
                parts.append(cols)
        if i == 0:
            assert tree_paths(path) == ["DF_100/O2pidfeatures", "DF_101/O2pidfeatures"]
    back = read_tracks(str(tmp_path / "AO2D_*.root"))
    for k in ("pt", "tpc_signal", "mc_pdg"):
        np.testing.assert_array_equal(back[k], np.concatenate([p[k] for p in parts]))
    with uproot.recreate(tmp_path / "mixed.root") as f:  # two tables per DF folder: the reader asks which
        for name in ("O2pidfeatures", "O2collision"):
            f.mktree(f"DF_1/{name}", {"x": np.float32})
            f[f"DF_1/{name}"].extend({"x": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r"several trees \['O2collision', 'O2pidfeatures'\] \(in its DF_ folders\)"):
        read_tracks(tmp_path / "mixed.root")


def test_ao2d_labels_and_nan_tof(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    """AO2D-style labels are mapped; NaN marks a missing TOF like −999; p, has_*, Bayes and ids are derived."""
    study_to_label = {v: k for k, v in AO2D_LABELS.items()}
    n = 300
    wanted = ("pt", "eta", "phi", "tpc_signal", *(f"tpc_nsigma_{s}" for s in SPECIES), "tof_beta",
              *(f"tof_nsigma_{s}" for s in SPECIES), "dca_xy", "dca_z", "tpc_nclusters", "its_nclusters", "mc_pdg")
    cols = {study_to_label[k]: np.asarray(table[k][:n]) for k in wanted}
    no_tof = ~table["has_tof"][:n]
    for s in SPECIES:
        cols[f"fTOFNSigma{s.capitalize()}"] = np.where(no_tof, np.nan, cols[f"fTOFNSigma{s.capitalize()}"])
    cols["fBeta"] = np.where(no_tof, np.nan, cols["fBeta"]).astype(np.float32)
    _write_tree(tmp_path / "ao2d.root", "O2pidml", cols)
    back = read_tracks(tmp_path / "ao2d.root", selection="o2")
    np.testing.assert_array_equal(back["has_tof"], table["has_tof"][:n])
    np.testing.assert_array_equal(back["tof_beta"], table["tof_beta"][:n])  # NaN became the −999 sentinel
    assert np.all(back["tof_nsigma_ka"][no_tof] == MISSING)
    np.testing.assert_allclose(back["p"], table["p"][:n], rtol=2e-6)
    for s in SPECIES:  # the extractor's Bayes probabilities, recomputed exactly
        np.testing.assert_array_equal(back[f"bayes_prob_{s}"], table[f"bayes_prob_{s}"][:n])
    np.testing.assert_array_equal(back["track_id"], np.arange(n))
    np.testing.assert_array_equal(features(back), features({k: v[:n] for k, v in table.items()}))


def test_nan_outside_tof_and_bad_files_are_named(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    from hepnb.io import write_table

    bad = tmp_path / "notes.parquet"
    bad.write_text("not a table")
    with pytest.raises(ValueError, match="neither a ROOT file"):
        read_tracks(bad)
    partial = {k: table[k][:50] for k in COLUMNS if k not in ("tof_beta", "dca_z")}
    path = write_table(tmp_path / "partial.parquet", partial)
    with pytest.raises(ValueError, match=r"\['tof_beta \(AO2D fBeta\)', 'dca_z \(AO2D fDcaZ\)', 'mc_pdg"):
        read_tracks(path)
    nan = {k: table[k][:50].copy() for k in (*COLUMNS, *LABEL_COLUMNS)}
    nan["tpc_signal"][3] = np.nan
    path = write_table(tmp_path / "nan.parquet", nan)
    with pytest.raises(ValueError, match=r"NaN/inf values .*'tpc_signal': 1.*only TOF columns may be NaN"):
        read_tracks(path)
    nan["tpc_signal"][3] = 50.0
    nan["tof_beta"][:5] = np.nan
    back = read_tracks(write_table(tmp_path / "tof_nan.parquet", nan))
    assert not back["has_tof"][:5].any() and np.all(back["tof_beta"][:5] == MISSING)


def test_a_path_with_glob_characters_is_used_as_given(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    path = write_tracks(tmp_path / "run[1].parquet", {k: v[:40] for k, v in table.items()})
    write_tracks(tmp_path / "run1.parquet", {k: v[:10] for k, v in table.items()})
    assert input_files(path) == [path]
    assert len(read_tracks(path)["pt"]) == 40
    with pytest.raises(FileNotFoundError, match="no file matches the pattern"):
        read_tracks(str(tmp_path / "nothing*.root"))
