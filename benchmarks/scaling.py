"""Parallel efficiency of chunked generation as Dask tasks: Pythia 8 Z → ττ jets (through the CLD-like detector)
at 1, 2, 4, … workers, each a fresh LocalCluster of single-threaded worker processes and a fresh chunk folder.
Writes JSON.

For each worker count: ``startup_s`` (cluster start and imports on every worker, not counted), ``wall_s`` (all
chunks generated and written), events/s, speedup over one worker and parallel efficiency = speedup / workers,
and the 1-minute load average before the run (other work on the machine skews the efficiency).
The goal is an efficiency of at least 0.8 at 16 workers on 16 cores; keep several chunks per worker (the
default is 64 chunks) so that the last chunks do not leave workers idle.

A second section, the extrapolation sweep at N workers, plugs in through :func:`sweep_section` (``--sweep``).

Usage: python benchmarks/scaling.py [--events 16000] [--events-per-chunk 250] [--max-workers N]
       [--sweep] [--output benchmarks/results/scaling.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.chunks import generate_chunks
from hepnb.cluster import available_cores, close_client, local_client
from hepnb.results import package_versions
from hepnb.tau.dataset import _jet_chunk, _write_chunk

#: The issue's goal: this efficiency at this many workers (on as many cores).
GOAL = {"workers": 16, "efficiency": 0.8}


def worker_counts(max_workers: int) -> list[int]:
    """1, 2, 4, … below ``max_workers``, then ``max_workers`` itself."""
    counts, w = [], 1
    while w < max_workers:
        counts.append(w)
        w *= 2
    return [*counts, max_workers]


def _warm_up() -> bool:
    import hepnb.tau.dataset  # noqa: F401 - imports Pythia, FastJet and awkward on the worker

    return True


def time_generation(n_workers: int, events: int, events_per_chunk: int, seed: int) -> dict[str, Any]:
    """Generate ``events`` Z → ττ events in chunks on a new local cluster of ``n_workers`` processes."""
    n_chunks = -(-events // events_per_chunk)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # other work on the machine
    t0 = time.perf_counter()
    client = local_client(n_workers)
    try:
        client.run(_warm_up)
        startup = time.perf_counter() - t0
        with tempfile.TemporaryDirectory(prefix="hepnb-scaling-") as folder:
            t1 = time.perf_counter()
            generate_chunks(_jet_chunk, n_chunks, base_seed=seed, folder=folder,
                            params={"process": "ztautau", "n_events": events_per_chunk}, client=client,
                            progress=False, write=_write_chunk)
            wall = time.perf_counter() - t1
    finally:
        close_client(client)
    return {"workers": n_workers, "chunks": n_chunks, "events": n_chunks * events_per_chunk,
            "startup_s": startup, "wall_s": wall, "events_per_s": n_chunks * events_per_chunk / wall,
            "load_avg_1min_before": load_before}


def generation_section(counts: list[int], events: int, events_per_chunk: int, seed: int) -> dict[str, Any]:
    """Scaling of Z → ττ generation over ``counts`` workers, with speedup and efficiency against one worker."""
    rows = []
    for n in counts:
        row = time_generation(n, events, events_per_chunk, seed)
        base = rows[0]["wall_s"] if rows else row["wall_s"]
        row["speedup"] = base / row["wall_s"]
        row["efficiency"] = row["speedup"] / n
        rows.append(row)
        print(f"generation, {n:3d} workers: {row['wall_s']:7.1f} s, {row['events_per_s']:7.1f} events/s, "
              f"speedup {row['speedup']:5.2f}, efficiency {row['efficiency']:.2f} "
              f"(startup {row['startup_s']:.1f} s)", flush=True)
    return {"process": "ztautau", "events_per_chunk": events_per_chunk, "seed": seed, "runs": rows}


def sweep_section(counts: list[int]) -> dict[str, Any] | None:
    """Hook for the second section: the extrapolation sweep at each of ``counts`` workers.

    Return ``{"runs": [{"workers": n, "wall_s": …, "speedup": …, "efficiency": …}, …], …}`` in the layout of
    :func:`generation_section`, or ``None`` while the sweep has no Dask entry point to time (the section
    is then written as ``null``).
    """
    del counts
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=16_000, help="Z -> tau tau events per worker count")
    parser.add_argument("--events-per-chunk", type=int, default=250)
    parser.add_argument("--max-workers", type=int, default=available_cores(), help="default: the cores available")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="also time the extrapolation sweep (sweep_section)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "scaling.json")
    args = parser.parse_args()
    if args.events < 1 or args.events_per_chunk < 1 or args.max_workers < 1:
        parser.error(f"--events, --events-per-chunk and --max-workers must be >= 1, found {args.events}, "
                     f"{args.events_per_chunk} and {args.max_workers}")
    counts = worker_counts(args.max_workers)
    out = {
        "host": {"cpu": platform.processor() or platform.machine(), "cores_available": available_cores(),
                 "python": platform.python_version()},
        "versions": package_versions(("dask", "distributed", "pythia8mc", "fastjet", "awkward")),
        "goal": GOAL,
        "generation": generation_section(counts, args.events, args.events_per_chunk, args.seed),
        "sweep": sweep_section(counts) if args.sweep else None,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1))
    print(args.output)


if __name__ == "__main__":
    main()
