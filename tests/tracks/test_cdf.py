"""LHCb's field-map quadrant files: a hand-written set, LHCb's reader emulated on our writer, round trips,
the dipole symmetries and refused files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepnb.tracks.field import analytic_field
from hepnb.tracks.fieldmap import FieldMap, default_field_map, load_field_map

# --- a quadrant set typed by hand from the format description (../shared/reference/tracks.md §6) ---------
# 2 × 2 × 2 points per quadrant, dx = 10 cm, dy = 20 cm, dz = 50 cm, zOffset = -5 cm; point i of file k holds
# Bx = 1000 k + 10 i + 1, By = ... + 2, Bz = ... + 3 gauss. Points are ordered x fastest, then y, then z.
_HEADER = """# a hand-written quadrant file: cm and gauss
# (comment lines before PARAMETER are skipped)
PARAMETER 31
GEOMETRY
# dx dy dz nx ny nz zOffset
10.0 20.0 50.0 2 2 2 -5.0
# Bx By Bz
"""


def _quadrant_text(k: int) -> str:
    lines = [f"{1000 * k + 10 * i + 1} {1000 * k + 10 * i + 2} {1000 * k + 10 * i + 3}" for i in range(8)]
    # a comment and a line with four fields between the points: LHCb's reader skips both
    return _HEADER + "\n".join(lines[:4]) + "\n# half-way\n1 2 3 4\n" + "\n".join(lines[4:]) + "\n"


@pytest.fixture
def hand_written(tmp_path: Path) -> list[Path]:
    paths = []
    for k in (1, 2, 3, 4):
        path = tmp_path / f"field.test.c{k}.down.cdf"
        path.write_text(_quadrant_text(k))
        paths.append(path)
    return paths


def _at(fmap: FieldMap, x: float, y: float, z: float) -> np.ndarray:
    """The grid value at a node (mm), looked up by index, in gauss."""
    idx = [round((c - o) / s) for c, o, s in zip((x, y, z), fmap.origin_mm, fmap.spacing_mm, strict=True)]
    return 1e4 * np.asarray(fmap.values_t)[idx[0], idx[1], idx[2]]


def test_hand_written_quadrants_read_back_to_the_typed_values(hand_written: list[Path]) -> None:
    fmap = FieldMap.load_cdf(*hand_written)
    assert fmap.shape == (3, 3, 2)
    assert fmap.origin_mm == pytest.approx((-100.0, -200.0, -50.0))
    assert fmap.spacing_mm == pytest.approx((100.0, 200.0, 500.0))
    # file 1 (+x, +y), point 3 = (ix 1, iy 1, iz 0): as typed
    np.testing.assert_allclose(_at(fmap, 100, 200, -50), [1031, 1032, 1033])
    # file 2 (-x, +y), point 7 = (1, 1, 1): Bx flipped
    np.testing.assert_allclose(_at(fmap, -100, 200, 450), [-2071, 2072, 2073])
    # file 3 (+x, -y), point 3: Bx and Bz flipped
    np.testing.assert_allclose(_at(fmap, 100, -200, -50), [-3031, 3032, -3033])
    # file 4 (-x, -y), point 7: Bz flipped
    np.testing.assert_allclose(_at(fmap, -100, -200, 450), [4071, 4072, -4073])
    # shared planes: file 1 wins at x = y = 0 (point 0) and on x = 0, y > 0 (point 6: ix 0, iy 1, iz 1) ...
    np.testing.assert_allclose(_at(fmap, 0, 0, -50), [1001, 1002, 1003])
    np.testing.assert_allclose(_at(fmap, 0, 200, 450), [1061, 1062, 1063])
    # ... file 3 on x = 0, y < 0 (point 6 of file 3: ix 0, iy 1, iz 1), file 2 on y = 0, x < 0 (point 1)
    np.testing.assert_allclose(_at(fmap, 0, -200, 450), [-3061, 3062, -3063])
    np.testing.assert_allclose(_at(fmap, -100, 0, -50), [-2011, 2012, 2013])
    # and the map interpolates between nodes: halfway in z on the file-1 corner
    bx, by, bz = (float(np.asarray(b)) for b in fmap(np.array(100.0), np.array(200.0), np.array(200.0)))
    np.testing.assert_allclose(1e4 * np.array([bx, by, bz]), [(1031 + 1071) / 2, (1032 + 1072) / 2, (1033 + 1073) / 2])


def test_a_quadrant_pattern_names_the_four_files(hand_written: list[Path]) -> None:
    pattern = str(hand_written[0]).replace(".c1.", ".c{q}.")
    np.testing.assert_array_equal(load_field_map(pattern).values_t, FieldMap.load_cdf(*hand_written).values_t)


# --- LHCb's reader, emulated: the control flow of MagneticFieldGridReader::readQuadrant / fillGridFromQuadrants -
def _lhcb_read_quadrant(path: Path) -> dict:
    lines = iter(path.read_bytes().split(b"\n"))

    def getline() -> str:
        raw = next(lines)
        assert len(raw) < 255, "LHCb's reader reads lines into a 255-character buffer"
        return raw.decode()

    line = getline()
    while not line.startswith("P"):
        line = getline()
    npar = int([t for t in line.split(" ") if t][1])
    while not line.startswith("G"):
        line = getline()
    while not line.startswith("#"):
        line = getline()
    geometry = [t for t in getline().split(" ") if t]
    d = [float(g) * 10.0 for g in geometry[:3]]  # cm -> mm
    n = [int(g) for g in geometry[3:6]]
    z_offset = float(geometry[6]) * 10.0
    q = []
    for raw in lines:
        text = raw.decode()
        if text.startswith("#"):
            continue
        tokens = [t for t in text.split(" ") if t]
        if len(tokens) != 3:
            continue
        q.append([float(t) * 1e-4 for t in tokens])  # gauss -> tesla
    assert len(q) == (npar - 7) // 3
    return {"d": d, "n": n, "z_offset": z_offset, "q": np.array(q)}


def _lhcb_fill_grid(quads: list[dict]) -> tuple[list[float], np.ndarray]:
    for iquad, (sx, sz) in ((1, (-1, 1)), (2, (-1, -1)), (3, (1, -1))):
        quads[iquad]["q"] = quads[iquad]["q"] * np.array([sx, 1, sz])
    nxq, nyq, nzq = quads[0]["n"]
    nx, ny = 2 * nxq - 1, 2 * nyq - 1
    grid = np.zeros((nx * ny * nzq, 3))
    for iz in range(nzq):
        for iy in range(nyq):
            for ix in range(nxq):
                src = nxq * (nyq * iz + iy) + ix
                grid[nx * (ny * iz + (nyq - iy - 1)) + (nxq - ix - 1)] = quads[3]["q"][src]
                grid[nx * (ny * iz + (nyq + iy - 1)) + (nxq - ix - 1)] = quads[1]["q"][src]
                grid[nx * (ny * iz + (nyq - iy - 1)) + (nxq + ix - 1)] = quads[2]["q"][src]
                grid[nx * (ny * iz + (nyq + iy - 1)) + (nxq + ix - 1)] = quads[0]["q"][src]
    minimum = [-(nxq - 1) * quads[0]["d"][0], -(nyq - 1) * quads[0]["d"][1], quads[0]["z_offset"]]
    return minimum, grid.reshape(nzq, ny, nx, 3).transpose(2, 1, 0, 3)


@pytest.fixture(scope="module")
def study_quadrants(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("cdf")
    paths = [folder / f"field.hepnb.c{k}.down.cdf" for k in (1, 2, 3, 4)]
    default_field_map().save_cdf(*paths)
    return paths


def test_lhcb_reader_reads_what_we_write(tmp_path: Path) -> None:
    # the study's dipole on a coarse grid (LHCb's reader, emulated in Python, is slow on the full one)
    coarse = FieldMap.from_function(analytic_field, spacing_mm=500.0, x_mm=(-3000, 3000), y_mm=(-2500, 2500),
                                    z_mm=(-500, 14000))
    paths = coarse.save_cdf(*(tmp_path / f"c{k}.cdf" for k in (1, 2, 3, 4)))
    minimum, grid = _lhcb_fill_grid([_lhcb_read_quadrant(p) for p in paths])
    np.testing.assert_allclose(minimum, coarse.origin_mm)
    np.testing.assert_allclose(grid, coarse.values_t, rtol=1e-15, atol=1e-18)


def test_round_trip_of_the_study_map_is_exact(study_quadrants: list[Path]) -> None:
    fmap = default_field_map()
    back = FieldMap.load_cdf(*study_quadrants)
    assert back.shape == fmap.shape
    assert back.origin_mm == pytest.approx(fmap.origin_mm)
    assert back.spacing_mm == pytest.approx(fmap.spacing_mm)
    # 17 significant digits in gauss: equal up to the round-off of the tesla -> gauss -> tesla conversion
    np.testing.assert_allclose(back.values_t, fmap.values_t, rtol=4e-16, atol=1e-19)
    # and the four files of a dipole hold the same numbers (the sign flips absorb the symmetries)
    bodies = [p.read_text().split("# Bx By Bz\n", 1)[1] for p in study_quadrants]
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]


def test_the_study_map_has_the_dipole_symmetries() -> None:
    v = np.asarray(default_field_map().values_t)  # (x, y, z, 3) on a grid symmetric about x = 0 and y = 0
    mirror_x, mirror_y = v[::-1], v[:, ::-1]
    np.testing.assert_allclose(mirror_x[..., 1], v[..., 1], atol=1e-12)  # By even in x
    np.testing.assert_allclose(mirror_y[..., 1], v[..., 1], atol=1e-12)  # By even in y
    np.testing.assert_allclose(mirror_x[..., 0], -v[..., 0], atol=1e-12)  # Bx odd in x
    np.testing.assert_allclose(mirror_y[..., 0], -v[..., 0], atol=1e-12)  # Bx odd in y
    np.testing.assert_allclose(mirror_y[..., 2], -v[..., 2], atol=1e-12)  # Bz odd in y
    np.testing.assert_allclose(mirror_x[..., 2], v[..., 2], atol=1e-12)  # Bz even in x
    assert np.abs(v[..., 1]).max() > 0.5 and np.abs(v[..., 2]).max() > 0.05  # not trivially symmetric (zero)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("PARAMETER 31", "PARAMETER 34"), "announces 9 points but the geometry"),
    (lambda t: t.replace("PARAMETER 31\n", ""), "no line starting with 'P'"),
    (lambda t: t.replace("10.0 20.0 50.0 2 2 2 -5.0", "10.0 20.0 50.0 2 2 2"), "must hold 7 numbers"),
    (lambda t: t.replace("1071 1072 1073", "1071 x 1073"), "Bx By Bz must be numbers"),
    (lambda t: t.replace("1071 1072 1073\n", ""), "expected 8 lines 'Bx By Bz'"),
])
def test_broken_quadrant_files_are_refused(hand_written: list[Path], edit, message: str) -> None:  # type: ignore[no-untyped-def]
    hand_written[0].write_text(edit(hand_written[0].read_text()))
    with pytest.raises(ValueError, match=message):
        FieldMap.load_cdf(*hand_written)


def test_inconsistent_quadrants_and_asymmetric_grids_are_refused(hand_written: list[Path], tmp_path: Path) -> None:
    hand_written[3].write_text(hand_written[3].read_text().replace("-5.0\n", "-6.0\n"))
    with pytest.raises(ValueError, match="quadrant 4 has grid"):
        FieldMap.load_cdf(*hand_written)
    shifted = FieldMap((-50.0, -200.0, 0.0), (100.0, 100.0, 100.0), np.zeros((3, 5, 2, 3)))
    with pytest.raises(ValueError, match="symmetric about x = 0"):
        shifted.save_cdf(*(tmp_path / f"c{k}.cdf" for k in range(1, 5)))
    with pytest.raises(ValueError, match="four quadrant files"):
        load_field_map([str(p) for p in hand_written[:3]])
    with pytest.raises(ValueError, match="expected an .npz file or LHCb quadrant files"):
        load_field_map("field.txt")
