"""Parallel efficiency of chunked generation as Dask tasks: Pythia 8 Z → ττ jets (through the CLD-like detector)
at 1, 2, 4, … workers, each a fresh LocalCluster of single-threaded worker processes and a fresh chunk folder.
Writes JSON.

For each worker count: ``startup_s`` (cluster start and imports on every worker, not counted), ``wall_s`` (all
chunks generated and written), events/s, speedup over one worker and parallel efficiency = speedup / workers,
and the 1-minute load average before the run (other work on the machine skews the efficiency).
The goal is an efficiency of at least 0.8 at 16 workers on 16 cores; keep several chunks per worker (the
default is 64 chunks) so that the last chunks do not leave workers idle.

With ``--sweep``, a second section times the extrapolation leaderboard's model zoo (16 models, one Dask task
each) the same way.

Usage: python benchmarks/scaling.py [--events 16000] [--events-per-chunk 250] [--max-workers N]
       [--sweep [--sweep-tracks N] [--sweep-epochs N]] [--output benchmarks/results/scaling.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.book.results import package_versions
from hepnb.compute.chunks import generate_chunks
from hepnb.compute.client import available_cores
from hepnb.tau.data import jet_chunk, write_jets

#: The issue's goal: this efficiency at this many workers (on as many cores).
GOAL = {"workers": 16, "efficiency": 0.8}


def worker_counts(max_workers: int) -> list[int]:
    """1, 2, 4, … below ``max_workers``, then ``max_workers`` itself."""
    counts, w = [], 1
    while w < max_workers:
        counts.append(w)
        w *= 2
    return [*counts, max_workers]


@contextmanager
def _cluster_client(n_workers: int, worker_env: dict[str, str] | None = None) -> Iterator[Any]:
    """A client on a new local cluster of ``n_workers`` single-threaded processes (one worker included: the
    baseline of a scaling curve is one worker process, not this process), with ``worker_env`` set in the
    workers' environment."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": ":0"}, env=worker_env or {}) as cluster, \
            Client(cluster) as client:
        yield client


def _warm_up() -> bool:
    import hepnb.tau.data  # noqa: F401 - imports Pythia, FastJet and awkward on the worker

    return True


def time_generation(n_workers: int, events: int, events_per_chunk: int, seed: int) -> dict[str, Any]:
    """Generate ``events`` Z → ττ events in chunks on a new local cluster of ``n_workers`` processes."""
    n_chunks = -(-events // events_per_chunk)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # other work on the machine
    t0 = time.perf_counter()
    with _cluster_client(n_workers) as client:
        client.run(_warm_up)
        startup = time.perf_counter() - t0
        with tempfile.TemporaryDirectory(prefix="hepnb-scaling-") as folder:
            t1 = time.perf_counter()
            generate_chunks(jet_chunk, n_chunks, base_seed=seed, folder=folder,
                            params={"process": "ztautau", "n_events": events_per_chunk}, client=client,
                            progress=False, write=write_jets)
            wall = time.perf_counter() - t1
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


def _warm_up_jax() -> bool:
    import hepnb.tracks.pipeline  # noqa: F401 - imports JAX and Flax on the worker

    return True


def _sweep_dataset(n_train: int, seed: int) -> dict[str, Any]:
    from hepnb.tracks.pipeline import make_dataset

    data = make_dataset(n_train, max(n_train // 6, 256), 256, leg="ut_t", physics="correct", seed=seed,
                        p_range_gev=(2.0, 100.0), n_coarse=3, n_colloc=2)
    return {k: data[k] for k in ("train", "val", "stats", "setting")}


def time_sweep(n_workers: int, dataset: dict[str, Any], members: list[tuple[str, str]], epochs: int,
               seed: int) -> dict[str, Any]:
    """Train the zoo ``members`` one per task (:func:`hepnb.tracks.pipeline.train_member`) on ``n_workers``."""
    from hepnb.compute.sweep import map_tasks
    from hepnb.tracks.pipeline import train_member

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    # one core per worker: XLA's CPU backend otherwise spreads one worker's matmuls over every core, and
    # "1 worker" would already use the whole machine (the worker processes inherit this environment)
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen=false".strip()
    with _cluster_client(n_workers, worker_env={"XLA_FLAGS": flags}) as client:
        client.run(_warm_up_jax)
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        map_tasks(train_member, members, dataset, client=client, desc=f"sweep on {n_workers}", epochs=epochs,
                  batch_size=512, lr=2e-3, seed=seed, n_coarse=3, pde_weight=0.01)
        wall = time.perf_counter() - t1
    return {"workers": n_workers, "models": len(members), "startup_s": startup, "wall_s": wall,
            "models_per_min": 60 * len(members) / wall, "load_avg_1min_before": load_before}


def sweep_section(counts: list[int], *, n_train: int = 20_000, epochs: int = 3, seed: int = 0) -> dict[str, Any]:
    """The extrapolation leaderboard's zoo (MLP and RK-PINN, eight sizes each: 16 tasks) at each worker count.

    Each task compiles and trains one model on the scattered training set, with XLA held to one core per
    worker process (``--xla_cpu_multi_thread_eigen=false``); per-model cost differs by size,
    so the last tasks can leave workers idle (the efficiency at many workers is bounded by the largest model).
    """
    from hepnb.tracks.models import FAMILIES, SIZES

    dataset = _sweep_dataset(n_train, seed)
    members = [(f, s) for f in FAMILIES for s in SIZES]
    rows = []
    for n in counts:
        row = time_sweep(n, dataset, members, epochs, seed)
        base = rows[0]["wall_s"] if rows else row["wall_s"]
        row["speedup"] = base / row["wall_s"]
        row["efficiency"] = row["speedup"] / n
        rows.append(row)
        print(f"sweep, {n:3d} workers: {row['wall_s']:7.1f} s for {row['models']} models, speedup "
              f"{row['speedup']:5.2f}, efficiency {row['efficiency']:.2f} (startup {row['startup_s']:.1f} s)",
              flush=True)
    return {"n_train": n_train, "epochs": epochs, "members": [list(m) for m in members], "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=16_000, help="Z -> tau tau events per worker count")
    parser.add_argument("--events-per-chunk", type=int, default=250)
    parser.add_argument("--max-workers", type=int, default=available_cores(), help="default: the cores available")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="also time the extrapolation zoo as Dask tasks")
    parser.add_argument("--sweep-tracks", type=int, default=20_000, help="training tracks of the sweep")
    parser.add_argument("--sweep-epochs", type=int, default=3)
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
        "sweep": sweep_section(counts, n_train=args.sweep_tracks, epochs=args.sweep_epochs, seed=args.seed)
        if args.sweep else None,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1))
    print(args.output)


if __name__ == "__main__":
    main()
