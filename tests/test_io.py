from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import uproot

from hepnb.io import read_table, write_table


def _table(n: int = 50) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {"pt": rng.exponential(1.0, n), "charge": rng.choice([-1, 1], n).astype(np.int32),
            "eta": rng.uniform(-0.8, 0.8, n).astype(np.float32)}


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_roundtrip(tmp_path: Path, suffix: str) -> None:
    table = _table()
    path = write_table(tmp_path / f"t{suffix}", table)
    back = read_table(path, ["pt", "charge"])
    np.testing.assert_array_equal(back["pt"], table["pt"])
    np.testing.assert_array_equal(back["charge"], table["charge"])
    assert set(read_table(path)) == {"pt", "charge", "eta"}
    assert [p.name for p in tmp_path.iterdir()] == [f"t{suffix}"]
    if suffix == ".root":
        assert uproot.open(path).classnames() == {"tracks;1": "TTree"}


def test_reads_a_tree_written_by_uproot_directly(tmp_path: Path) -> None:
    path = tmp_path / "user.root"
    with uproot.recreate(path) as f:
        f.mktree("O2tracks", {k: v.dtype for k, v in _table(10).items()})
        f["O2tracks"].extend(_table(10))
    assert read_table(path, ["eta"], tree="O2tracks")["eta"].shape == (10,)
    with pytest.raises(ValueError, match=r"no TTree named 'tracks'; it has \['O2tracks'\]"):
        read_table(path, ["eta"])


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_missing_columns_are_all_named(tmp_path: Path, suffix: str) -> None:
    path = write_table(tmp_path / f"t{suffix}", _table())
    with pytest.raises(ValueError, match=r"lacks 2 required column\(s\): \['phi', 'tof_beta'\]"):
        read_table(path, ["pt", "phi", "tof_beta"])


def test_not_root_or_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.root"
    path.write_text("event,pt\n1,2.0\n")
    with pytest.raises(ValueError, match="neither a ROOT file .* nor a Parquet file"):
        read_table(path, ["pt"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_table(tmp_path / "absent.parquet", ["pt"])


def test_nan_and_inf_are_refused(tmp_path: Path) -> None:
    table = _table()
    table["pt"][3] = np.nan
    table["eta"][[1, 2]] = np.inf
    path = write_table(tmp_path / "t.parquet", table)
    with pytest.raises(ValueError, match=r"NaN/inf values .*'pt': 1, 'eta': 2"):
        read_table(path)


def test_write_errors_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must end in one of"):
        write_table(tmp_path / "t.csv", _table())
    with pytest.raises(ValueError, match="same length"):
        write_table(tmp_path / "t.root", {"a": np.zeros(3), "b": np.zeros(4)})
    assert not list(tmp_path.iterdir())


def test_check_output_names_the_allowed_suffixes(tmp_path) -> None:
    from hepnb.paths import check_output

    assert check_output(tmp_path / "a.ROOT").name == "a.ROOT"
    with pytest.raises(ValueError, match=r"must end in \.root or \.parquet, found 'a\.csv'"):
        check_output(tmp_path / "a.csv")


def test_inputs_existing_paths_are_names_and_only_missing_ones_patterns(tmp_path: Path) -> None:
    from hepnb.paths import resolve_inputs

    for name in ("run[1].parquet", "run1.parquet", "run2.parquet"):
        (tmp_path / name).write_bytes(b"PAR1")
    assert resolve_inputs(tmp_path / "run[1].parquet") == [tmp_path / "run[1].parquet"]
    assert resolve_inputs(str(tmp_path / "run[12].parquet")) == [tmp_path / "run1.parquet", tmp_path / "run2.parquet"]
    assert resolve_inputs([tmp_path / "run2.parquet", tmp_path / "run*.parquet"])[0] == tmp_path / "run2.parquet"
    with pytest.raises(FileNotFoundError, match=r"no file matches the pattern '.*run\[3\]\.parquet'"):
        resolve_inputs(tmp_path / "run[3].parquet")
    with pytest.raises(FileNotFoundError, match=r"input file .*absent\.parquet does not exist"):
        resolve_inputs(tmp_path / "absent.parquet")
    with pytest.raises(ValueError, match="is a folder, expected a file"):
        resolve_inputs(tmp_path)
    with pytest.raises(ValueError, match="empty list"):
        resolve_inputs([])


def test_check_output_refuses_unwritable_places(tmp_path: Path) -> None:
    from hepnb.paths import check_output

    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    (tmp_path / "dir.parquet").mkdir()
    (tmp_path / "f").write_text("")
    for path, message in [
        (tmp_path / "dir.parquet", "is an existing folder"),
        (tmp_path / "f" / "t.parquet", "which is a file, not a folder"),
        (tmp_path / ("y" * 300) / "t.parquet", "output path is too long"),
        (tmp_path / ("y" * 250 + ".root"), "output file name is too long"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_output(path)
    (tmp_path / "link.parquet").symlink_to(tmp_path / "t.parquet")
    for alias in (tmp_path / "t.parquet", tmp_path / "sub" / ".." / "t.parquet", tmp_path / "link.parquet"):
        with pytest.raises(ValueError, match="is the input"):
            check_output(alias, inputs=[tmp_path / "t.parquet"])
    (tmp_path / "link.parquet").unlink()
    assert check_output(tmp_path / "new" / "deeper" / "t.root") == tmp_path / "new" / "deeper" / "t.root"
    assert not (tmp_path / "new").exists()  # checking makes no folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.parquet", "f", "t.parquet"]


def test_finite_rows_are_named(tmp_path: Path) -> None:
    from hepnb.io import check_finite_rows

    check_finite_rows({"a": np.zeros(3), "n": np.arange(3)})
    end = np.zeros((30, 5))
    end[[2, 17], 1] = np.nan
    end[29, 4] = np.inf
    with pytest.raises(ValueError, match=r"3 of 30 rows of the end states are NaN/inf: rows 2, 17, 29 \(counted"):
        check_finite_rows(end, what="end states")
    with pytest.raises(ValueError, match=r"rows of the table are NaN/inf \(column: rows \{'b': 1\}\): rows 1 "):
        check_finite_rows({"a": np.zeros(2), "b": np.array([0.0, np.nan])}, what="table")


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    import os

    old = os.umask(umask)
    try:
        for suffix in (".root", ".parquet"):
            path = write_table(tmp_path / f"t{suffix}", _table())
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.umask(old)


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_damaged_files_and_wrong_columns_are_named(tmp_path: Path, suffix: str) -> None:
    import awkward as ak

    path = write_table(tmp_path / f"t{suffix}", _table(2000))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"{cut}.* \(truncated or damaged"):
        read_table(cut, ["pt"])
    odd = tmp_path / f"odd{suffix}"
    if suffix == ".root":
        with uproot.recreate(odd) as f:
            f.mktree("tracks", {"pt": "float64", "hits": "var * float64"})
            f["tracks"].extend({"pt": np.ones(2), "hits": ak.Array([[1.0, 2.0], [3.0]])})
        with pytest.raises(ValueError, match=rf"{odd}:tracks: column 'hits' is jagged"):
            read_table(odd, ["pt", "hits"])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"pt": [1.0, 2.0], "hits": ["a", "b"]}), odd)
        with pytest.raises(ValueError, match=rf"{odd}: column 'hits' is string, expected a flat numeric column"):
            read_table(odd, ["pt", "hits"])


def test_json_and_npz_errors_name_the_file(tmp_path: Path) -> None:
    from hepnb.io import open_npz, read_json

    (tmp_path / "model.json").write_text('{"kind": "network", "na')
    with pytest.raises(ValueError, match=r"model metadata .*model\.json is not valid JSON \(truncated\?\)"):
        read_json(tmp_path / "model.json", what="model metadata")
    (tmp_path / "map.npz").write_text("x_mm,y_mm\n1,2\n")
    with pytest.raises(ValueError, match=r"field map .*map\.npz is not an npz archive"):
        open_npz(tmp_path / "map.npz", what="field map")
    np.savez(tmp_path / "whole.npz", a=np.arange(3))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:40])
    with pytest.raises(ValueError, match=r"cut\.npz cannot be read as an npz archive"):
        open_npz(tmp_path / "cut.npz")
    with open_npz(tmp_path / "whole.npz") as data:
        np.testing.assert_array_equal(data["a"], np.arange(3))


@pytest.mark.parametrize("suffix", [".root", ".parquet"])
def test_a_table_without_rows_is_refused(tmp_path: Path, suffix: str) -> None:
    path = write_table(tmp_path / f"empty{suffix}", {"x": np.zeros(0), "y": np.zeros(0)})
    with pytest.raises(ValueError, match="holds no rows"):
        read_table(path)


def test_a_parquet_file_with_a_repeated_column_is_refused_in_one_line(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "twice.parquet"
    pq.write_table(pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0])], names=["x", "x"]), path)
    with pytest.raises(ValueError, match=r"the columns \['x'\] appear more than once") as caught:
        read_table(path)
    assert "\n" not in str(caught.value)
