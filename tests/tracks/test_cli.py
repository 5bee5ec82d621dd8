"""``hepnb tracks generate`` / ``propagate``: round trip against the reference, and refused inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepnb.cli import main
from hepnb.io import read_table
from hepnb.tracks.data import END_COLUMNS, STATE_COLUMNS, write_states
from hepnb.tracks.fieldmap import FieldMap


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tracks") / "sample.parquet"
    assert main(["tracks", "generate", "--n", "40", "--seed", "5", "--output", str(path)]) == 0
    return path


def test_generate_then_propagate_reproduces_the_reference(generated: Path, tmp_path: Path) -> None:
    table = read_table(generated)
    assert set(STATE_COLUMNS) | set(END_COLUMNS) | {"p_gev", "z0_mm", "z1_mm"} <= set(table)
    assert len(table["x_mm"]) == 40
    np.testing.assert_allclose(table["p_gev"], 1.0 / np.abs(table["qop_per_gev"]))
    # the bend is physical: tens of mrad or more for p <= 100 GeV
    assert np.median(np.abs(table["tx_end"] - table["tx"])) > 0.01
    out = tmp_path / "again.root"
    assert main(["tracks", "propagate", "--input", str(generated), "--output", str(out), "--leg", "ut_t"]) == 0
    again = read_table(out)
    for name in END_COLUMNS:
        np.testing.assert_allclose(again[name], table[name], rtol=0, atol=1e-9)
    # a coarser step differs, but by less than a micrometre at 50 mm (its steps still end on the map's planes)
    coarse = tmp_path / "coarse.parquet"
    assert main(["tracks", "propagate", "--input", str(generated), "--output", str(coarse), "--z0-mm", "2648.2",
                 "--z1-mm", "7826.0", "--step-mm", "50"]) == 0
    dx_um = 1e3 * np.abs(read_table(coarse)["x_mm_end"] - table["x_mm_end"])
    assert 0 < dx_um.max() < 1.0


def _run_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_bad_inputs_are_refused_and_nothing_is_written(generated: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.parquet"
    base = ["tracks", "propagate", "--input", str(generated), "--output", str(out)]
    assert "unknown leg 'ut_x'" in _run_error([*base, "--leg", "ut_x"], capsys)
    assert "either --leg or both" in _run_error(base, capsys)
    assert "must end in .root or .parquet" in _run_error(
        ["tracks", "propagate", "--input", str(generated), "--output", str(tmp_path / "x.csv"), "--leg", "ut_t"], capsys)
    assert "z1_mm = 20000 mm lies outside" in _run_error([*base, "--z0-mm", "2648.2", "--z1-mm", "20000"], capsys)
    assert "makes 5.18e+10 RK4 steps, more than the 10,000,000 allowed" in _run_error(
        [*base, "--leg", "ut_t", "--step-mm", "1e-7"], capsys)  # refused before any allocation
    assert "unknown physics 'bogus'" in _run_error(
        ["tracks", "generate", "--n", "5", "--physics", "bogus", "--output", str(out)], capsys)
    nan_input = tmp_path / "nan.parquet"
    write_states(nan_input, np.array([[0.0, 0.0, 0.1, 0.0, 0.1], [np.nan, 0.0, 0.1, 0.0, 0.1]]))
    assert "NaN/inf" in _run_error(["tracks", "propagate", "--input", str(nan_input), "--output", str(out),
                                    "--leg", "ut_t"], capsys)
    steep = tmp_path / "steep.parquet"
    write_states(steep, np.array([[0.0, 0.0, 0.95, 0.0, 0.1]]))
    assert "slopes too large" in _run_error(["tracks", "propagate", "--input", str(steep), "--output", str(out),
                                             "--leg", "ut_t"], capsys)
    bad_map = tmp_path / "bad_map.npz"
    np.savez(bad_map, x_mm=np.arange(3.0), y_mm=np.arange(3.0), z_mm=np.arange(4.0), B_T=np.zeros((3, 3, 3, 3)))
    assert "B_T must have shape (3, 3, 4, 3)" in _run_error([*base, "--leg", "ut_t", "--field-map", str(bad_map)],
                                                            capsys)
    in_tesla_read_as_gauss = FieldMap.from_function(lambda x, y, z: (0 * x, 0 * x + 1.1e-4, 0 * x), spacing_mm=1000.0,
                                                    x_mm=(-4000, 4000), y_mm=(-3000, 3000), z_mm=(0, 10000))
    weak = in_tesla_read_as_gauss.save_npz(tmp_path / "weak.npz")
    assert "largest |B| is 0.00011 T" in _run_error([*base, "--leg", "ut_t", "--field-map", str(weak)], capsys)
    quadrants = in_tesla_read_as_gauss.save_cdf(*(tmp_path / f"weak.c{k}.cdf" for k in (1, 2, 3, 4)))
    assert "tesla written where gauss is expected" in _run_error(
        [*base, "--leg", "ut_t", "--field-map", *map(str, quadrants)], capsys)
    assert not out.exists()


def test_user_field_map_is_used(generated: Path, tmp_path: Path) -> None:
    # a map with the field switched off gives straight lines
    zero = FieldMap.from_function(lambda x, y, z: (0 * x, 0 * x, 0 * x), spacing_mm=1000.0,
                                  x_mm=(-4000, 4000), y_mm=(-3000, 3000), z_mm=(0, 10000))
    path = zero.save_npz(tmp_path / "zero.npz")
    out = tmp_path / "line.parquet"
    assert main(["tracks", "propagate", "--input", str(generated), "--output", str(out), "--leg", "ut_t",
                 "--field-map", str(path)]) == 0
    t = read_table(out)
    np.testing.assert_allclose(t["x_mm_end"], t["x_mm"] + t["tx"] * (7826.0 - 2648.2), atol=1e-9)
    np.testing.assert_allclose(t["tx_end"], t["tx"], atol=1e-12)
    # the same map as LHCb's four quadrant files, named one by one
    quadrants = zero.save_cdf(*(tmp_path / f"field.zero.c{k}.down.cdf" for k in (1, 2, 3, 4)))
    out_cdf = tmp_path / "line_cdf.parquet"
    assert main(["tracks", "propagate", "--input", str(generated), "--output", str(out_cdf), "--leg", "ut_t",
                 "--field-map", *map(str, quadrants)]) == 0
    np.testing.assert_allclose(read_table(out_cdf)["x_mm_end"], t["x_mm_end"], rtol=0, atol=1e-9)
