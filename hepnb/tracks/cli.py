"""``hepnb tracks generate`` and ``hepnb tracks propagate``.

``generate`` simulates tracks and their float64 RK4 reference on a leg, in seeded chunks that run as Dask tasks
(``--scheduler``/``$HEPNB_SCHEDULER``, else a local cluster of ``--workers`` processes), and writes a track table;
``propagate`` applies the float64 RK4 reference (or RK4 with a given step) to a user's track table, through
the study's grid map or a user's map in the npz layout of :meth:`hepnb.tracks.field.FieldMap.load_npz`.
Column names: :mod:`hepnb.tracks.data`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from hepnb.arguments import finite_float, non_negative_int, positive_float, positive_int
from hepnb.compute.chunks import add_chunk_arguments, cache_root, check_size
from hepnb.io import check_finite_rows, check_output, file_format

__all__ = ["HELP", "register"]

#: The family\'s line in ``hepnb --help``.
HELP = "track-extrapolation tools (generate, propagate)"

#: Bytes per generated track in memory (the 12 float64 columns of the table), for :func:`check_size`.
TRACK_BYTES = 96


def _generate(args: argparse.Namespace) -> int:
    from hepnb.compute.client import dask_client, local_workers
    from hepnb.io import write_table
    from hepnb.tracks.data import generate_tracks_chunked, setting

    check_output(args.output)
    st = setting(args.physics, args.leg)  # an unknown leg or physics fails before any work
    check_size(args.n, TRACK_BYTES, what=f"--n {args.n} tracks", yes=args.yes, output=args.output,
               cache_dir=args.cache_dir)
    n_chunks = -(-args.n // args.tracks_per_chunk)
    # the cache outlives the cluster: on Ctrl-C or SIGTERM the workers stop before the cache is removed
    with (cache_root(args.cache_dir, prefix="hepnb-tracks-") as cache,
          dask_client(args.scheduler, workers=local_workers(args.workers, n_chunks)) as client):
        table = generate_tracks_chunked(args.n, leg=args.leg, physics=args.physics, seed=args.seed,
                                        p_range_gev=(args.p_min_gev, args.p_max_gev),
                                        tracks_per_chunk=args.tracks_per_chunk, cache_dir=cache,
                                        client=client, progress=n_chunks > 1)
    check_finite_rows(table, what="generated tracks")
    path = write_table(args.output, table)
    print(f"{args.n} tracks on leg {st.leg} (z {st.z0_mm:g} -> {st.z1_mm:g} mm, physics {st.physics}) "
          f"written to {path}")
    return 0


def _propagate(args: argparse.Namespace) -> int:
    from hepnb.tracks.constants import LEGS_MM

    file_format(args.input)  # a missing input, a folder or a file that is not ROOT/Parquet fails at once
    check_output(args.output, inputs=[args.input, *([args.field_map] if args.field_map is not None else [])])
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
    if not args.step_mm > 0:
        msg = f"--step-mm must be > 0, found {args.step_mm}"
        raise ValueError(msg)
    from hepnb.tracks.data import read_states, write_states  # JAX is imported only once the arguments are good
    from hepnb.tracks.field import FieldMap, default_field_map
    from hepnb.tracks.propagate import check_states, rk4

    states = read_states(args.input)
    fmap = FieldMap.load_npz(args.field_map) if args.field_map is not None else default_field_map()
    check_states(states, field_map=fmap, z0_mm=z0, z1_mm=z1)  # all checks before the integration
    n_steps = max(1, math.ceil(abs(z1 - z0) / args.step_mm))
    end = rk4(states, z0, z1, n_steps, field=fmap)
    check_finite_rows(end, what="propagated end states",
                      hint="RK4 gave no finite answer for them: check q/p (|q/p| in 1/GeV) and the field map's values")
    path = write_states(args.output, states, end, z0_mm=z0, z1_mm=z1)
    print(f"{len(states)} tracks propagated z {z0:g} -> {z1:g} mm in {n_steps} RK4 steps, written to {path}")
    return 0


def _add_generate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gen = sub.add_parser("generate", help="simulate tracks and their float64 RK4 reference on a leg")
    gen.add_argument("--n", type=positive_int, required=True, help="number of tracks (inside the T acceptance)")
    gen.add_argument("--leg", default="ut_t", help="ut_t (2648.2 -> 7826 mm) or velo_t (751 -> 7826 mm)")
    gen.add_argument("--physics", default="correct", help="correct, or seed (the seed's units bug and ranges)")
    gen.add_argument("--seed", type=non_negative_int, default=0)
    gen.add_argument("--p-min-gev", type=positive_float, default=2.0)
    gen.add_argument("--p-max-gev", type=positive_float, default=100.0)
    gen.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    add_chunk_arguments(gen, unit="tracks", per_chunk=20_000)
    gen.set_defaults(func=_generate)


def _add_propagate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    prop = sub.add_parser("propagate", help="float64 RK4 through the field map for a table of start states")
    prop.add_argument("--input", type=Path, required=True, help="ROOT or Parquet table with x_mm, y_mm, tx, ty, "
                                                                 "qop_per_gev")
    prop.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    prop.add_argument("--leg", default=None, help="ut_t or velo_t (or give --z0-mm and --z1-mm)")
    prop.add_argument("--z0-mm", type=finite_float, default=None)
    prop.add_argument("--z1-mm", type=finite_float, default=None)
    prop.add_argument("--step-mm", type=positive_float, default=5.0, help="RK4 step (default 5 mm: the reference)")
    prop.add_argument("--field-map", type=Path, default=None, help="npz map (x_mm, y_mm, z_mm, B_T); default: "
                                                                    "the study's dipole map")
    prop.set_defaults(func=_propagate)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``hepnb tracks …`` commands to the family's subparsers (made by :mod:`hepnb.cli`)."""
    _add_generate(sub)
    _add_propagate(sub)
