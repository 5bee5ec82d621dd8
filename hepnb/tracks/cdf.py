"""LHCb's field-map text format: four "cdf" quadrant files, as LHCb's ``MagneticFieldGridReader`` reads them.

A quadrant file holds a header and one line ``Bx By Bz`` (gauss) per grid point:

- lines are skipped up to the first one starting with ``P`` (``PARAMETER <npar>``), then up to one starting
  with ``G`` (``GEOMETRY``), then up to one starting with ``#``; the next line holds seven numbers
  ``dx dy dz nx ny nz zOffset`` (spacings and zOffset in **cm**, point counts of the quadrant);
- after it, every line that does not start with ``#`` and has exactly three space-separated numbers is a point;
  there must be ``(npar − 7) / 3`` of them, in the order ``nx·(ny·iz + iy) + ix`` (x fastest), at
  |x| = ix·dx, |y| = iy·dy, z = zOffset + iz·dz.

The four files cover (+x, +y), (−x, +y), (+x, −y) and (−x, −y), each mirrored into |x|, |y|. Before merging,
the components are brought into one frame: file 2 flips Bx, file 3 flips Bx and Bz, file 4 flips Bz (so
that for a dipole — By even in x and y, Bx odd in x and in y, Bz odd in y — the four files are equal). The
merged grid has (2nx − 1) × (2ny − 1) × nz points from (−(nx−1)dx, −(ny−1)dy, zOffset); the planes x = 0 and
y = 0 are in several files and, as in LHCb's reader, file 1 wins over 3, 3 over 2 and 2 over 4.

Reference: LHCb ``Det/Magnet`` ``MagneticFieldGridReader::readQuadrant`` and ``fillGridFromQuadrants``
(../shared/reference/tracks.md §6). This module reads and writes arrays; :class:`hepnb.tracks.fieldmap.FieldMap`
wraps it as ``FieldMap.load_cdf`` / ``FieldMap.save_cdf``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepnb.paths import why_missing

__all__ = ["GAUSS_PER_TESLA", "MM_PER_CM", "QUADRANT_SIGNS", "Quadrant", "merge_quadrants", "read_quadrant",
           "split_quadrants", "write_quadrant"]

#: Units of the format: lengths in cm, field in gauss.
MM_PER_CM = 10.0
GAUSS_PER_TESLA = 1e4
#: (sign of Bx, sign of Bz) applied to files 1–4 before merging (By never changes sign).
QUADRANT_SIGNS: tuple[tuple[int, int], ...] = ((1, 1), (-1, 1), (-1, -1), (1, -1))
#: Which side of x and y files 1–4 cover: (+x, +y), (−x, +y), (+x, −y), (−x, −y).
_QUADRANT_SIDES: tuple[tuple[int, int], ...] = ((1, 1), (-1, 1), (1, -1), (-1, -1))
#: LHCb's reader fills the merged grid from files 4, 2, 3, 1 in this order: the last write wins on shared planes.
_FILL_ORDER = (3, 1, 2, 0)


@dataclass(frozen=True)
class Quadrant:
    """One quadrant file's content, as stored (before the sign flips).

    Attributes
    ----------
    spacing_mm
        Grid spacing (dx, dy, dz).
    shape
        Points (nx, ny, nz) of the quadrant.
    z_offset_mm
        z of the first plane.
    values_t
        Array (nx·ny·nz, 3) of (Bx, By, Bz) in tesla, in file order (x fastest, then y, then z).
    """

    spacing_mm: tuple[float, float, float]
    shape: tuple[int, int, int]
    z_offset_mm: float
    values_t: np.ndarray


def _numbers(line: str, path: Path, line_no: int, what: str) -> list[float]:
    try:
        return [float(t) for t in line.split(" ") if t]
    except ValueError:
        msg = f"{path}:{line_no}: {what} must be numbers, found {line.strip()!r}"
        raise ValueError(msg) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _skip_to(lines: list[str], start: int, first_char: str, path: Path, what: str) -> int:
    """Index of the first line at or after ``start`` that starts with ``first_char``."""
    for i in range(start, len(lines)):
        if lines[i].startswith(first_char):
            return i
    msg = f"{path}: no line starting with {first_char!r} ({what}) in the header of this LHCb field-map file"
    raise ValueError(msg)


def read_quadrant(path: str | os.PathLike[str]) -> Quadrant:
    """Read one quadrant file (cm, gauss) into a :class:`Quadrant` (mm, tesla).

    Raises
    ------
    ValueError
        A header line missing, a geometry line without seven numbers, counts that do not match the
        number of points, or a point line that is not three numbers.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"LHCb field-map quadrant file {p} {why_missing(p)}"
        raise ValueError(msg)
    lines = p.read_text(encoding="ascii", errors="replace").splitlines()
    i_par = _skip_to(lines, 0, "P", p, "PARAMETER <npar>")
    words = lines[i_par].split()
    if len(words) != 2:
        msg = f"{p}:{i_par + 1}: expected 'PARAMETER <npar>', found {lines[i_par].strip()!r}"
        raise ValueError(msg)
    try:
        npar = int(words[1])
    except ValueError:
        msg = f"{p}:{i_par + 1}: the number of parameters must be an integer, found {words[1]!r}"
        raise ValueError(msg) from None
    if npar <= 7 or (npar - 7) % 3:
        msg = f"{p}:{i_par + 1}: PARAMETER must be 7 + 3 × (number of points), found {npar}"
        raise ValueError(msg)
    i_geo = _skip_to(lines, i_par + 1, "G", p, "GEOMETRY")
    i_hash = _skip_to(lines, i_geo + 1, "#", p, "the comment line before the geometry numbers")
    if i_hash + 1 >= len(lines):
        msg = f"{p}: the file ends before the geometry line (dx dy dz nx ny nz zOffset)"
        raise ValueError(msg)
    geometry = _numbers(lines[i_hash + 1], p, i_hash + 2, "the geometry line (dx dy dz nx ny nz zOffset)")
    if len(geometry) != 7:
        msg = (f"{p}:{i_hash + 2}: the geometry line must hold 7 numbers (dx dy dz [cm] nx ny nz zOffset [cm]), "
               f"found {len(geometry)}")
        raise ValueError(msg)
    if not all(math.isfinite(g) for g in geometry):
        msg = f"{p}:{i_hash + 2}: the geometry line (dx dy dz nx ny nz zOffset) must hold finite numbers, found {geometry}"
        raise ValueError(msg)
    spacing = tuple(MM_PER_CM * g for g in geometry[:3])
    counts = geometry[3:6]
    if any(c != int(c) or c < 2 for c in counts) or any(s <= 0 for s in spacing):
        msg = f"{p}:{i_hash + 2}: nx, ny, nz must be integers >= 2 and dx, dy, dz > 0, found {geometry}"
        raise ValueError(msg)
    shape = tuple(int(c) for c in counts)
    n_points = shape[0] * shape[1] * shape[2]
    if n_points != (npar - 7) // 3:
        msg = (f"{p}: PARAMETER {npar} announces {(npar - 7) // 3} points but the geometry "
               f"{shape[0]} × {shape[1]} × {shape[2]} has {n_points}")
        raise ValueError(msg)
    # LHCb's reader skips comment lines and lines that are not exactly three space-separated fields
    points = [(k, fields) for k in range(i_hash + 2, len(lines)) if not lines[k].startswith("#")
              and len(fields := [t for t in lines[k].split(" ") if t]) == 3]
    if len(points) != n_points:
        msg = f"{p}: expected {n_points} lines 'Bx By Bz' (gauss) after the geometry, found {len(points)}"
        raise ValueError(msg)
    try:
        arr = np.array([fields for _, fields in points], dtype=np.float64) / GAUSS_PER_TESLA
    except ValueError:
        k = next(k for k, fields in points if not all(_is_number(f) for f in fields))
        msg = f"{p}:{k + 1}: Bx By Bz must be numbers, found {lines[k].strip()!r}"
        raise ValueError(msg) from None
    if not np.all(np.isfinite(arr)):
        msg = f"{p}: the field values contain NaN/inf"
        raise ValueError(msg)
    return Quadrant(spacing, shape, MM_PER_CM * geometry[6], arr)  # type: ignore[arg-type]


def merge_quadrants(quadrants: Sequence[Quadrant]) -> tuple[tuple[float, float, float], tuple[float, float, float],
                                                             np.ndarray]:
    """Merge four quadrants as LHCb does: sign flips, mirroring, shared planes from file 1, then 3, 2, 4.

    Returns
    -------
    origin_mm, spacing_mm, values_t
        The merged grid: first point, spacing, and (2nx − 1, 2ny − 1, nz, 3) values in tesla.

    Raises
    ------
    ValueError
        Not four quadrants, or quadrants with different spacing, counts or zOffset.
    """
    if len(quadrants) != 4:
        msg = f"an LHCb field map has four quadrant files, found {len(quadrants)}"
        raise ValueError(msg)
    first = quadrants[0]
    for k, q in enumerate(quadrants[1:], start=2):
        if (q.shape != first.shape or not np.allclose(q.spacing_mm, first.spacing_mm)
                or not np.isclose(q.z_offset_mm, first.z_offset_mm)):
            msg = (f"quadrant {k} has grid {q.shape} at {q.spacing_mm} mm from z = {q.z_offset_mm} mm, quadrant 1 "
                   f"{first.shape} at {first.spacing_mm} mm from z = {first.z_offset_mm} mm: they must agree")
            raise ValueError(msg)
    nx, ny, nz = first.shape
    merged = np.zeros((2 * nx - 1, 2 * ny - 1, nz, 3))
    for k in _FILL_ORDER:
        q = quadrants[k]
        sx, sz = QUADRANT_SIGNS[k]
        side_x, side_y = _QUADRANT_SIDES[k]
        block = q.values_t.reshape(nz, ny, nx, 3).transpose(2, 1, 0, 3) * np.array([sx, 1.0, sz])
        ix = nx - 1 + side_x * np.arange(nx)
        iy = ny - 1 + side_y * np.arange(ny)
        merged[np.ix_(ix, iy)] = block
    dx, dy, dz = first.spacing_mm
    return (-(nx - 1) * dx, -(ny - 1) * dy, first.z_offset_mm), (dx, dy, dz), merged


def split_quadrants(origin_mm: Sequence[float], spacing_mm: Sequence[float], values_t: np.ndarray) -> list[Quadrant]:
    """The four quadrants of a grid symmetric about x = 0 and y = 0 (the inverse of :func:`merge_quadrants`).

    Raises
    ------
    ValueError
        A grid without a node at x = 0 and y = 0 in its middle (LHCb's layout needs one).
    """
    values = np.asarray(values_t, dtype=np.float64)
    mx, my, nz = values.shape[:3]
    for name, n, o, s in (("x", mx, origin_mm[0], spacing_mm[0]), ("y", my, origin_mm[1], spacing_mm[1])):
        if n % 2 == 0 or not np.isclose(o, -(n - 1) // 2 * s, atol=1e-6 * s):
            msg = (f"LHCb's quadrant files need a grid symmetric about {name} = 0 with a node at 0 "
                   f"(an odd number of points from -(n-1)/2·d{name}); found {n} points from {o:g} mm at {s:g} mm")
            raise ValueError(msg)
    nx, ny = (mx + 1) // 2, (my + 1) // 2
    out = []
    for k in range(4):
        sx, sz = QUADRANT_SIGNS[k]
        side_x, side_y = _QUADRANT_SIDES[k]
        ix = nx - 1 + side_x * np.arange(nx)
        iy = ny - 1 + side_y * np.arange(ny)
        block = values[np.ix_(ix, iy)] * np.array([sx, 1.0, sz])  # (nx, ny, nz, 3); the flips are involutions
        out.append(Quadrant(tuple(float(s) for s in spacing_mm), (nx, ny, nz), float(origin_mm[2]),  # type: ignore[arg-type]
                            block.transpose(2, 1, 0, 3).reshape(-1, 3)))
    return out


def write_quadrant(path: str | os.PathLike[str], quadrant: Quadrant, *, index: int, title: str = "hepnb") -> Path:
    """Write one quadrant file (cm, gauss; values with 17 significant digits), atomically.

    ``index`` (1–4) only labels the file's comment line.
    """
    sides = {1: "+x, +y", 2: "-x, +y", 3: "+x, -y", 4: "-x, -y"}
    nx, ny, nz = quadrant.shape
    dx, dy, dz = (s / MM_PER_CM for s in quadrant.spacing_mm)
    n_points = nx * ny * nz
    head = [f"# {title}: LHCb field map, quadrant {index} ({sides[index]}), mirrored into |x|, |y|",
            "# lengths in cm, field in gauss; points ordered x fastest, then y, then z",
            f"PARAMETER {7 + 3 * n_points}",
            "GEOMETRY",
            "# dx dy dz nx ny nz zOffset",
            f"{dx!r} {dy!r} {dz!r} {nx} {ny} {nz} {quadrant.z_offset_mm / MM_PER_CM!r}",
            "# Bx By Bz"]
    gauss = np.asarray(quadrant.values_t, dtype=np.float64) * GAUSS_PER_TESLA + 0.0  # + 0.0: no "-0.0"
    body = "\n".join(f"{bx!r} {by!r} {bz!r}" for bx, by, bz in gauss.tolist())
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("\n".join(head) + "\n" + body + "\n", encoding="ascii")
    tmp.replace(target)
    return target
