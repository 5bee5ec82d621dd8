"""``hepnb tracks generate`` and ``hepnb tracks propagate``.

``generate`` simulates tracks and their float64 RK4 reference on a leg, in seeded chunks that run as Dask tasks
(``--scheduler``/``$HEPNB_SCHEDULER``, else a local cluster of ``--workers`` processes), and writes a track table
(:func:`hepnb.compute.generate.generate_file`);
``propagate`` applies the float64 RK4 reference (steps that end on the map's z planes, at most ``--step-mm``)
to a user's track table, or, with ``--model DIR``, a saved extrapolator (:mod:`hepnb.tracks.modelcli`, which also
holds ``export``). Both take ``--field-map``: LHCb's four quadrant files (``c1 … c4``, or one pattern
with ``{q}``), an npz map (:meth:`hepnb.tracks.fieldmap.FieldMap.load_npz`), or nothing for the study's dipole.
Column names: :mod:`hepnb.tracks.data`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hepnb.arguments import finite_float, non_negative_int, positive_float, positive_int
from hepnb.compute.generate import GeneratorSpec, add_chunk_arguments, generate_file
from hepnb.io import check_finite_rows, file_format
from hepnb.paths import check_output
from hepnb.tracks.modelcli import add_export, propagate_model

#: The reference's largest step, mm (:data:`hepnb.tracks.data.REFERENCE_STEP_MM`, not imported: it loads JAX).
_REFERENCE_STEP_MM = 10.0

__all__ = ["COMMANDS", "HELP"]

#: The family\'s line in ``hepnb --help``.
HELP = "track-extrapolation tools (generate, propagate, export)"

#: Bytes per generated track in memory (the 16 float64 columns of the table), for the size check.
TRACK_BYTES = 128


def _generate(args: argparse.Namespace) -> int:
    from hepnb.compute.chunks import ChunkRun
    from hepnb.io import write_table
    from hepnb.tracks.data import TrackSample, generate_tracks_chunked, setting

    spec = _field_spec(args.field_map)
    st = setting(args.physics, args.leg, spec or None)  # an unknown leg, physics or a bad map fails before any work
    n_chunks = -(-args.n // args.tracks_per_chunk)

    def make(cache: Path, client: Any) -> dict[str, Any]:
        return generate_tracks_chunked(args.n, sample=TrackSample(leg=args.leg, physics=args.physics,
                                                                   p_range_gev=(args.p_min_gev, args.p_max_gev),
                                                                   displaced_fraction=args.displaced_fraction,
                                                                   field_map=spec),
                                       seed=args.seed, tracks_per_chunk=args.tracks_per_chunk, cache_dir=cache,
                                       run=ChunkRun(client=client, progress=n_chunks > 1))

    generator = GeneratorSpec(name="tracks", n_rows=args.n, row_bytes=TRACK_BYTES, what=f"--n {args.n} tracks",
                              n_chunks=n_chunks, make=make, write=write_table, finite_rows="generated tracks",
                              inputs=_field_files(args.field_map))
    path, _ = generate_file(args, generator)
    print(f"{args.n} tracks on leg {st.leg} (z {st.z0_mm:g} -> {st.z1_mm:g} mm, physics {st.physics}) "
          f"written to {path}")
    return 0


def _field_files(paths: list[str] | None) -> list[str]:
    """The files ``--field-map`` names (a ``{q}`` pattern stands for four), for the output-path checks."""
    if not paths:
        return []
    if len(paths) == 1 and "{q}" in paths[0]:
        return [paths[0].format(q=q) for q in (1, 2, 3, 4)]
    return list(paths)


def _field_spec(paths: list[str] | None) -> str:
    """``--field-map`` as one spec for :func:`hepnb.tracks.fieldmap.load_field_map`: a path, or four quadrant files
    written as a pattern (they must differ only in c1 … c4)."""
    if not paths:
        return ""
    if len(paths) == 1:
        return paths[0]
    if len(paths) != 4:
        msg = f"--field-map takes one file (npz, or a quadrant pattern with {{q}}) or four quadrant files, found {len(paths)}"
        raise ValueError(msg)
    pattern = paths[0].replace("c1", "c{q}")
    if "{q}" not in pattern or [pattern.format(q=q) for q in (1, 2, 3, 4)] != list(paths):
        msg = f"the four quadrant files must be named alike with c1, c2, c3, c4 in this order, found {paths}"
        raise ValueError(msg)
    return pattern


def _propagate(args: argparse.Namespace) -> int:
    from hepnb.tracks.constants import LEGS_MM

    if args.model is not None:
        return propagate_model(args, _field_spec(args.field_map), _field_files(args.field_map))
    file_format(args.input)  # a missing input, a folder or a file that is not ROOT/Parquet fails at once
    check_output(args.output, inputs=[args.input, *_field_files(args.field_map)])
    if args.leg is not None:
        if args.leg not in LEGS_MM:
            msg = f"unknown leg {args.leg!r}; choose one of {sorted(LEGS_MM)}"
            raise ValueError(msg)
        z0, z1 = LEGS_MM[args.leg]
    elif args.z0_mm is not None and args.z1_mm is not None:
        z0, z1 = args.z0_mm, args.z1_mm
    else:
        msg = "give either --leg or both --z0-mm and --z1-mm"
        raise ValueError(msg)
    step_mm = _REFERENCE_STEP_MM if args.step_mm is None else args.step_mm
    if not step_mm > 0:
        msg = f"--step-mm must be > 0, found {step_mm}"
        raise ValueError(msg)
    from hepnb.tracks.data import read_states, write_states  # JAX is imported only once the arguments are good
    from hepnb.tracks.fieldmap import load_field_map
    from hepnb.tracks.propagate import check_states, plane_aligned_nodes, reference

    fmap = load_field_map(_field_spec(args.field_map))
    states = read_states(args.input)
    check_states(states, field_map=fmap, z0_mm=z0, z1_mm=z1)  # all checks before the integration
    n_steps = len(plane_aligned_nodes(z0, z1, step_mm, fmap)) - 1
    end = reference(states, z0, z1, field=fmap, step_mm=step_mm)
    check_finite_rows(end, what="propagated end states",
                      hint="RK4 gave no finite answer for them: check q/p (|q/p| in 1/GeV) and the field map's values")
    path = write_states(args.output, states, end, z0_mm=z0, z1_mm=z1)
    print(f"{len(states)} tracks propagated z {z0:g} -> {z1:g} mm in {n_steps} RK4 steps, written to {path}")
    return 0


def _add_generate(sub: Any) -> None:
    gen = sub.add_parser("generate", help="simulate tracks and their float64 RK4 reference on a leg")
    gen.add_argument("--n", type=positive_int, required=True, help="number of tracks (inside the T acceptance)")
    gen.add_argument("--leg", default="ut_t", help="ut_t (2648.2 -> 7826 mm) or velo_t (751 -> 7826 mm)")
    gen.add_argument("--physics", default="correct", help="correct, or original (the original study's units bug and ranges)")
    gen.add_argument("--seed", type=non_negative_int, default=0)
    gen.add_argument("--p-min-gev", type=positive_float, default=2.0)
    gen.add_argument("--p-max-gev", type=positive_float, default=500.0)
    gen.add_argument("--displaced-fraction", type=finite_float, default=0.2,
                     help="fraction of tracks from displaced decay vertices, 0..1 (default 0.2)")
    gen.add_argument("--field-map", nargs="+", default=None, metavar="FILE",
                     help="LHCb quadrant files c1..c4 (or one pattern with {q}), or an npz map; default: the study's dipole")
    gen.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    add_chunk_arguments(gen, unit="tracks", per_chunk=20_000)
    gen.set_defaults(func=_generate)


def _add_propagate(sub: Any) -> None:
    prop = sub.add_parser("propagate", help="float64 RK4 through the field map for a table of start states")
    prop.add_argument("--input", type=Path, required=True, help="ROOT or Parquet table with x_mm, y_mm, tx, ty, "
                                                                 "qop_per_gev")
    prop.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    prop.add_argument("--leg", default=None, help="ut_t or velo_t (or give --z0-mm and --z1-mm)")
    prop.add_argument("--z0-mm", type=finite_float, default=None)
    prop.add_argument("--z1-mm", type=finite_float, default=None)
    prop.add_argument("--step-mm", type=positive_float, default=None,
                      help="largest RK4 step; steps end on the map's z planes (default 10 mm: the reference)")
    prop.add_argument("--model", type=Path, default=None, metavar="DIR",
                      help="a saved extrapolator (a folder with model.json, under the study's results/…/models) "
                           "instead of RK4; --leg, --z0-mm, --z1-mm and --field-map, when given, must be the model's")
    prop.add_argument("--field-map", nargs="+", default=None, metavar="FILE",
                      help="LHCb quadrant files c1..c4 (or one pattern with {q}), or an npz map (x_mm, y_mm, z_mm, B_T); "
                           "default: the study's dipole map")
    prop.set_defaults(func=_propagate)


#: The ``hepnb tracks …`` commands: each adds its parser to the family's subparsers (see :mod:`hepnb.cli`).
COMMANDS: tuple[Callable[[Any], None], ...] = (_add_generate, _add_propagate, add_export)
