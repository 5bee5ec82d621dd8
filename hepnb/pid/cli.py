"""``hepnb pid generate``, ``hepnb pid predict`` and ``hepnb pid export``.

``generate`` simulates the tracks in seeded chunks, one Dask task each (:func:`hepnb.pid.data.simulate_chunked`,
through :func:`hepnb.compute.generate.generate_file`): on the scheduler of ``--scheduler``/``$HEPNB_SCHEDULER``,
else on a local cluster of ``--workers`` processes.
``predict`` applies a saved model to a track table (:func:`hepnb.pid.export.predict_table`), flagging the tracks
outside its training domain. ``export --o2`` writes the O2Physics PIDML folder of a saved network
(:func:`hepnb.pid.o2export.export_o2`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.arguments import non_negative_int, positive_int
from hepnb.compute.generate import GeneratorSpec, add_chunk_arguments, generate_file
from hepnb.io import check_finite_rows
from hepnb.paths import check_output, resolve_inputs

__all__ = ["COMMANDS", "HELP"]

#: The family\'s line in ``hepnb --help``.
HELP = "PID study tools (generate, predict, export)"

#: Bytes per simulated track in memory (the 31 columns of the table with ``mc_pdg``), for the size check.
TRACK_BYTES = 224


def _generate(args: argparse.Namespace) -> int:
    from hepnb.pid.data import LABEL_COLUMNS, ChunkedRun, simulate_chunked, write_tracks

    n_chunks = -(-args.n // args.tracks_per_chunk)

    def make(cache: Path, client: Any) -> dict[str, Any]:
        table = simulate_chunked(args.n, seed=args.seed, data_like=args.data_like,
                                 tracks_per_chunk=args.tracks_per_chunk, client=client,
                                 run=ChunkedRun(cache_dir=cache, progress=n_chunks > 1))
        if args.data_like:  # stands in for real data: no labels
            for name in LABEL_COLUMNS:
                table.pop(name)
        return table

    spec = GeneratorSpec(name="pid", n_rows=args.n, row_bytes=TRACK_BYTES, what=f"--n {args.n} tracks",
                         n_chunks=n_chunks, make=make, write=write_tracks, finite_rows="simulated tracks")
    path, _ = generate_file(args, spec)
    print(f"{args.n} tracks{' (data-like, unlabelled)' if args.data_like else ''} written to {path}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from hepnb.io import write_table
    from hepnb.pid.export import predict_table, read_model_meta
    from hepnb.pid.reader import read_tracks

    inputs = resolve_inputs(args.input)
    check_output(args.output, inputs=inputs)
    read_model_meta(args.model)  # a wrong folder or feature set fails before the input is read,
    table = read_tracks(inputs, require_labels=False, tree=args.tree)  # a wrong input before the weights load
    result = predict_table(args.model, table)
    inside = result["in_domain"] == 1  # tracks outside the training domain are NaN by design (not predicted)
    check_finite_rows({k: np.asarray(v)[inside] for k, v in result.items()}, what="predictions")
    path = write_table(args.output, result, tree="pid")
    n, outside = len(table["pt"]), int(np.sum(~inside))
    if outside:
        print(f"{n} tracks predicted or flagged: {n - outside} inside the model's training domain, {outside} outside "
              f"(in_domain = 0, probabilities NaN, not predicted); written to {path}")
    else:
        print(f"{n} tracks predicted, written to {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from hepnb.pid.export import load_deployable
    from hepnb.pid.o2export import export_o2

    model_dir, out = Path(args.model).resolve(), Path(args.o2).resolve()
    if out == model_dir or model_dir in out.parents:
        msg = (f"--o2 {args.o2} overlaps the model folder {args.model} (it is that folder or lies inside it): "
               "write the O2Physics folder elsewhere")
        raise ValueError(msg)
    if out.exists() and not out.is_dir():
        msg = f"--o2 {args.o2} is an existing file, expected a folder"
        raise ValueError(msg)
    meta, model = load_deployable(args.model)
    folder = export_o2(model, meta, args.o2)
    print(f"{meta['name']} ({meta['protocol']}, {meta['range']}) exported for O2Physics PIDML to {folder}")
    return 0


def _add_generate(sub: Any) -> None:
    sim = sub.add_parser("generate", help="simulate tracks into a ROOT or Parquet table")
    sim.add_argument("--n", type=positive_int, required=True, help="tracks to simulate (before selections)")
    sim.add_argument("--seed", type=non_negative_int, default=0)
    sim.add_argument("--data-like", action="store_true", help="shifted detector response, no labels")
    sim.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    add_chunk_arguments(sim, unit="tracks", per_chunk=100_000)
    sim.set_defaults(func=_generate)


def _add_predict(sub: Any) -> None:
    pred = sub.add_parser("predict", help="apply a saved model to a track table")
    pred.add_argument("--model", type=Path, required=True, help="model folder written by the notebook")
    pred.add_argument("--input", type=Path, required=True, help="ROOT or Parquet track table (labels optional)")
    pred.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    pred.add_argument("--tree", default=None, help="TTree of the input (default: the file's only tree, also in DF_ folders)")
    pred.set_defaults(func=_predict)


def _add_export(sub: Any) -> None:
    exp = sub.add_parser("export", help="export a saved network for O2Physics' Tools/PIDML")
    exp.add_argument("--model", type=Path, required=True, help="network folder written by the notebook")
    exp.add_argument("--o2", type=Path, required=True, metavar="OUTDIR",
                     help="folder for attention_model_<pdg>.onnx, columns_for_training.json, scaling_params.json")
    exp.set_defaults(func=_export)


#: The ``hepnb pid …`` commands: each adds its parser to the family's subparsers (see :mod:`hepnb.cli`).
COMMANDS: tuple[Callable[[Any], None], ...] = (_add_generate, _add_predict, _add_export)
