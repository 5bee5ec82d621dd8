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
    from hepnb.io import check_output

    assert check_output(tmp_path / "a.ROOT").name == "a.ROOT"
    with pytest.raises(ValueError, match=r"must end in \.root or \.parquet, found 'a\.csv'"):
        check_output(tmp_path / "a.csv")
