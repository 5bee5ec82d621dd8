"""``hepnb pid simulate`` and ``hepnb pid predict``."""

from __future__ import annotations

import argparse
from pathlib import Path

from hepnb.io import check_output

__all__ = ["register"]


def _simulate(args: argparse.Namespace) -> int:
    from hepnb.pid.io import write_tracks
    from hepnb.pid.simulate import simulate_tracks

    check_output(args.output)
    if args.n < 1:
        msg = f"--n must be >= 1, found {args.n}"
        raise ValueError(msg)
    table = simulate_tracks(args.n, seed=args.seed, data_like=args.data_like)
    if args.data_like:
        table.pop("mc_pdg")  # stands in for real data: no labels
    path = write_tracks(args.output, table)
    print(f"{args.n} tracks{' (data-like, unlabelled)' if args.data_like else ''} written to {path}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from hepnb.io import write_table
    from hepnb.pid.deploy import load_model, predict_table
    from hepnb.pid.io import read_tracks

    check_output(args.output)
    load_model(args.model)  # a wrong folder or feature set fails before the input is read
    table = read_tracks(args.input, require_labels=False)
    path = write_table(args.output, predict_table(args.model, table), tree="pid")
    print(f"{len(table['pt'])} tracks predicted, written to {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``hepnb pid …`` to the main parser."""
    pid = subparsers.add_parser("pid", help="PID study tools (simulate, predict)")
    sub = pid.add_subparsers(dest="pid_command", required=True)
    sim = sub.add_parser("simulate", help="simulate tracks into a ROOT or Parquet table")
    sim.add_argument("--n", type=int, required=True, help="tracks to simulate (before selections)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--data-like", action="store_true", help="shifted detector response, no labels")
    sim.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    sim.set_defaults(func=_simulate)
    pred = sub.add_parser("predict", help="apply a saved model to a track table")
    pred.add_argument("--model", type=Path, required=True, help="model folder written by the notebook")
    pred.add_argument("--input", type=Path, required=True, help="ROOT or Parquet track table (labels optional)")
    pred.add_argument("--output", type=Path, required=True, help="FILE.root or FILE.parquet")
    pred.set_defaults(func=_predict)
