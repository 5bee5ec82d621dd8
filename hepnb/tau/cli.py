"""``hepnb tau generate``: Pythia 8 Z → ττ and Z → qq̄ jets through the CLD-like detector, to a jet file.

The file has the fields of :mod:`hepnb.tau.data` (``FILE_FIELDS``) and is read back, like a user's own jets,
by :func:`hepnb.tau.data.read_jets` and the notebook's ``input_file`` parameter. The events are made in
seeded chunks, one Dask task each: on the scheduler of ``--scheduler``/``$HEPNB_SCHEDULER``, else on a local
cluster of ``--workers`` processes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hepnb.arguments import non_negative_int, positive_int
from hepnb.compute.chunks import add_chunk_arguments, check_size
from hepnb.io import check_output

__all__ = ["HELP", "register"]

#: The family\'s line in ``hepnb --help``.
HELP = "tau-study tools (generate)"

#: Bytes per generated event in memory (about 1.5 kB measured: the jets' candidates and labels), for check_size.
EVENT_BYTES = 2000


def _generate(args: argparse.Namespace) -> int:
    from hepnb.compute.chunks import cache_root
    from hepnb.compute.client import dask_client, local_workers
    from hepnb.tau.data import simulate, write_jets

    check_output(args.output)
    check_size(args.tau_events + args.qq_events, EVENT_BYTES, yes=args.yes, output=args.output,
               cache_dir=args.cache_dir, what=f"--tau-events {args.tau_events} and --qq-events {args.qq_events} events")
    n_chunks = -(-args.tau_events // args.events_per_chunk) + -(-args.qq_events // args.events_per_chunk)
    # the cache outlives the cluster: on Ctrl-C or SIGTERM the workers stop before the cache is removed
    with (cache_root(args.cache_dir, prefix="hepnb-tau-") as cache,
          dask_client(args.scheduler, workers=local_workers(args.workers, n_chunks)) as client):
        jets = simulate(args.tau_events, args.qq_events, seed=args.seed, cache_dir=cache,
                        events_per_chunk=args.events_per_chunk, workers=1, client=client)
    path = write_jets(args.output, jets)
    n_tau = int(sum(jets.is_tau))
    print(f"{len(jets)} jets ({n_tau} tau, {len(jets) - n_tau} q/g) written to {path}")
    return 0


def _add_generate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gen = sub.add_parser("generate", help="Pythia 8 Z -> tau tau and Z -> q qbar jets to a Parquet or ROOT file")
    gen.add_argument("--tau-events", type=positive_int, required=True, help="Z -> tau tau events")
    gen.add_argument("--qq-events", type=positive_int, required=True, help="Z -> q qbar events")
    gen.add_argument("--seed", type=non_negative_int, default=0)
    add_chunk_arguments(gen, unit="events", per_chunk=1000)
    gen.add_argument("--output", type=Path, required=True, help="FILE.parquet or FILE.root")
    gen.set_defaults(func=_generate)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``hepnb tau …`` commands to the family's subparsers (made by :mod:`hepnb.cli`)."""
    _add_generate(sub)
