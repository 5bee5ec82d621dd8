"""``hepnb tau generate``: Pythia 8 Z → ττ and Z → qq̄ jets through the CLD-like detector, to a jet file.

The file has the fields of :mod:`hepnb.tau.dataset` (``FILE_FIELDS``) and is read back, like a user's own jets,
by :func:`hepnb.tau.dataset.read_jets` and the notebook's ``input_file`` parameter.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from hepnb.io import check_output

__all__ = ["register"]


def _generate(args: argparse.Namespace) -> int:
    from hepnb.tau.dataset import simulate, write_jets

    check_output(args.output)
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="hepnb-tau-"))
    jets = simulate(args.tau_events, args.qq_events, seed=args.seed, cache_dir=cache,
                    events_per_chunk=args.events_per_chunk, workers=args.workers or os.cpu_count())
    path = write_jets(args.output, jets)
    n_tau = int(sum(jets.is_tau))
    print(f"{len(jets)} jets ({n_tau} tau, {len(jets) - n_tau} q/g) written to {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``hepnb tau …`` to the main parser."""
    tau = subparsers.add_parser("tau", help="tau-study tools (generate)")
    sub = tau.add_subparsers(dest="tau_command", required=True)
    gen = sub.add_parser("generate", help="Pythia 8 Z -> tau tau and Z -> q qbar jets to a Parquet or ROOT file")
    gen.add_argument("--tau-events", type=int, required=True, help="Z -> tau tau events")
    gen.add_argument("--qq-events", type=int, required=True, help="Z -> q qbar events")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--events-per-chunk", type=int, default=1000)
    gen.add_argument("--workers", type=int, default=0, help="processes (0: all cores)")
    gen.add_argument("--cache-dir", type=Path, default=None, help="chunk cache (default: a temporary folder)")
    gen.add_argument("--output", type=Path, required=True, help="FILE.parquet or FILE.root")
    gen.set_defaults(func=_generate)
