"""Items 4 and 9: results that are not finite are refused naming the rows; sizes beyond the limit are refused
before any work for every generator."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.tracks.data import write_states
from tests.faults.conftest import Hepnb, hidden_leftovers, last_line


def test_propagate_refuses_non_finite_end_states_naming_the_rows(hepnb: Hepnb) -> None:
    states = np.tile([0.0, 0.0, 0.05, 0.01, 0.1], (6, 1))
    states[[1, 4], 4] = 1e4  # |q/p| = 1e4 / GeV: 100 keV, curls up inside a step
    table = write_states(hepnb.root / "states.parquet", states)
    out = hepnb.root / "end.parquet"
    proc = hepnb("tracks", "propagate", "--input", table, "--output", out, "--leg", "ut_t")
    assert proc.returncode == 2, proc.stderr
    assert last_line(proc).startswith("hepnb: error: 2 of 6 rows of the propagated end states are NaN/inf: rows 1, 4 "
                                      "(counted from 0); nothing was written; RK4 gave no finite answer for them")
    assert not out.exists() and hidden_leftovers(hepnb.root) == []


def test_propagate_refuses_what_an_absurd_field_map_gives(hepnb: Hepnb) -> None:
    from hepnb.tracks.fieldmap import FieldMap

    absurd = FieldMap.from_function(lambda x, y, z: (0 * x, 0 * x + 1e300, 0 * x), spacing_mm=1000.0,
                                    x_mm=(-4000, 4000), y_mm=(-3000, 3000), z_mm=(0, 10000))
    field_map = absurd.save_npz(hepnb.root / "absurd.npz")
    table = write_states(hepnb.root / "states.parquet", np.array([[0.0, 0.0, 0.05, 0.0, 0.1]] * 3))
    out = hepnb.root / "end.root"
    proc = hepnb("tracks", "propagate", "--input", table, "--output", out, "--leg", "ut_t", "--field-map", field_map)
    assert proc.returncode == 2, proc.stderr
    assert "the largest |B| is 1e+300 T, outside the 0.01–20 T of a detector magnet" in last_line(proc)
    assert not out.exists() and hidden_leftovers(hepnb.root) == []


@pytest.mark.parametrize(("args", "estimate"), [
    (["pid", "generate", "--n", "1000000000000"], "about 224 TB"),
    (["tracks", "generate", "--n", "1000000000000"], "about 128 TB"),  # 16 float64 columns
    (["tau", "generate", "--tau-events", "1000000000000", "--qq-events", "1"], "about 2e+03 TB"),
])
def test_generators_refuse_sizes_beyond_the_limit_before_any_work(hepnb: Hepnb, args: list[str],
                                                                   estimate: str) -> None:
    out = hepnb.root / "big.parquet"
    proc = hepnb(*args, "--output", out)
    assert proc.returncode == 2, proc.stderr
    message = last_line(proc)
    assert estimate in message and "above the limit of 8.59 GB for a generated table" in message, message
    assert message.endswith("nothing was started. Ask for fewer, or pass --yes to start anyway")
    assert not out.exists() and hepnb.tmp_leftovers() == []
