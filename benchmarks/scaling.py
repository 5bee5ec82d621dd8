"""Parallel efficiency of chunked generation as Dask tasks: Pythia 8 Z → ττ jets (through the CLD-like detector)
at 1, 2, 4, … workers, each a fresh LocalCluster of single-threaded worker processes, each pinned to a core of its
own (Linux), and a fresh chunk folder.
Writes JSON.

For each worker count: ``startup_s`` (cluster start and imports on every worker, not counted), ``wall_s`` (all
chunks generated and written), events/s, speedup over one worker and parallel efficiency = speedup / workers,
and the 1-minute load average before the run (other work on the machine skews the efficiency).
The goal is an efficiency of at least 0.8 at 16 workers on 16 cores; keep several chunks per worker (the
default is 64 chunks) so that the last chunks do not leave workers idle.

With ``--sweep``, a second section times a sweep as Dask tasks of equal cost: seeds × folds tasks, each training
every listed size of the extrapolation leaderboard's MLP on its cross-validation split, and reports beside the
efficiency the bound that the tasks' own durations set (the largest task, whole tasks per worker).

Usage: python benchmarks/scaling.py [--events 16000] [--events-per-chunk 250] [--max-workers N | --counts 1 4 16]
       [--no-generation]
       [--sweep [--sweep-tracks N] [--sweep-epochs N] [--sweep-seeds 4] [--sweep-folds 4] [--sweep-sizes ...]]
       [--output benchmarks/results/scaling.json]
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

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.book.results import package_versions
from hepnb.compute.chunks import ChunkRun, generate_chunks
from hepnb.compute.client import available_cores
from hepnb.tau.data import jet_chunk, write_chunk

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
        _pin_workers(client)
        yield client


def _pin_workers(client: Any) -> None:
    """Pin each worker process, every thread of it, to a core of its own (Linux), before it imports anything
    that starts threads. Without it one JAX worker spreads over 1.5 of 2 cores (XLA's CPU thread pools, even with
    Eigen single-threaded), so "1 worker" is not one core and the efficiency is understated."""
    if not hasattr(os, "sched_getaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    workers = sorted(client.scheduler_info()["workers"])
    plan = {address: cores[i % len(cores)] for i, address in enumerate(workers)}
    for address, core in plan.items():
        client.run(pin_this_process, core, workers=[address])


def pin_this_process(core: int) -> int:
    """Set the affinity of every thread of this process to ``core`` (threads started later inherit it)."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {core})
        except (ProcessLookupError, PermissionError):  # a thread that just exited
            continue
    return core


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
                            params={"process": "ztautau", "n_events": events_per_chunk},
                            run=ChunkRun(client=client, progress=False), write=write_chunk, suffix=".parquet")
            wall = time.perf_counter() - t1
    return {"workers": n_workers, "chunks": n_chunks, "events": n_chunks * events_per_chunk,
            "startup_s": startup, "wall_s": wall, "events_per_s": n_chunks * events_per_chunk / wall,
            "load_avg_1min_before": load_before}


def _against_one_worker(row: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
    """``row`` with its speedup over the first (one-worker) run of ``earlier`` and efficiency = speedup / workers."""
    base = earlier[0]["wall_s"] if earlier else row["wall_s"]
    return {**row, "speedup": base / row["wall_s"], "efficiency": base / row["wall_s"] / row["workers"]}


def generation_section(counts: list[int], events: int, events_per_chunk: int, seed: int) -> dict[str, Any]:
    """Scaling of Z → ττ generation over ``counts`` workers, with speedup and efficiency against one worker."""
    rows = []
    for n in counts:
        row = _against_one_worker(time_generation(n, events, events_per_chunk, seed), rows)
        rows.append(row)
        print(f"generation, {n:3d} workers: {row['wall_s']:7.1f} s, {row['events_per_s']:7.1f} events/s, "
              f"speedup {row['speedup']:5.2f}, efficiency {row['efficiency']:.2f} "
              f"(startup {row['startup_s']:.1f} s)", flush=True)
    return {"process": "ztautau", "events_per_chunk": events_per_chunk, "seed": seed, "runs": rows}


def _warm_up_jax() -> bool:
    import hepnb.tracks.training  # noqa: F401 - imports JAX and Flax on the worker

    return True


def _sweep_dataset(n_train: int, seed: int) -> dict[str, Any]:
    from hepnb.tracks.baselines import learned_bases
    from hepnb.tracks.data import TrackSample, make_dataset

    data = make_dataset(n_train, max(n_train // 4, 256), 256, seed=seed,
                        sample=TrackSample(leg="ut_t", physics="correct", p_range_gev=(2.0, 100.0)))
    slim = {k: data[k] for k in ("train", "val", "stats", "setting")}
    return {**slim, "poly5": learned_bases(slim)["poly5"]}  # fitted once, not in every task


def cv_task(item: tuple[int, int], dataset: dict[str, Any], *, sizes: tuple[str, ...], n_folds: int, epochs: int,
            batch_size: int, base: str = "rk4_2") -> dict[str, Any]:
    """One sweep task: every size of the MLP extrapolator on ``base`` (the tracks study's
    :func:`~hepnb.tracks.training.train_stack_member`), trained with seed ``item[0]`` on all folds but ``item[1]`` of
    the pooled training and validation tracks, validated on that fold. Every task trains the same sizes on as many
    rows, so all tasks cost the same. Returns the task's own wall time and the validation median error (µm) at
    each size's best step."""
    from hepnb.tracks.training import ZooConfig, train_stack_member

    t0 = time.perf_counter()
    seed, fold = item
    pooled = {k: np.concatenate([dataset["train"][k], dataset["val"][k]]) for k in dataset["train"]}
    folds = np.array_split(np.random.default_rng(0).permutation(len(pooled["start"])), n_folds)
    held = folds[fold]
    kept = np.concatenate([f for i, f in enumerate(folds) if i != fold])
    fold_data = {**dataset, "train": {k: v[kept] for k, v in pooled.items()},
                 "val": {k: v[held] for k, v in pooled.items()}}
    errors = {}
    for size in sizes:
        result = train_stack_member(("mlp", size), fold_data,
                                    ZooConfig(epochs=epochs, batch_size=batch_size, lr=2e-3, seed=seed, bases=(base,)))
        history = result["history"]
        best = int(np.flatnonzero(np.asarray(history["step"]) == int(result["best_step"][0]))[0])
        errors[size] = float(np.asarray(history["val_median_um"])[best, 0])
    return {"seed": seed, "fold": fold, "task_s": time.perf_counter() - t0, "val_median_um": errors}


def makespan_bound(task_s: list[float], n_workers: int) -> dict[str, float]:
    """The efficiency that tasks of these durations allow on ``n_workers``: the makespan is at least the longest
    task and at least the total over the workers (and, as whole tasks go to workers, at least the
    ``ceil(n / workers)`` longest tasks' mean times that many)."""
    total, longest = sum(task_s), max(task_s)
    per_worker = -(-len(task_s) // n_workers)
    whole_tasks = per_worker * sorted(task_s)[len(task_s) // 2]  # whole tasks of the median duration per worker
    floor = max(longest, total / n_workers, whole_tasks)
    return {"largest_task_s": longest, "total_task_s": total, "makespan_floor_s": floor,
            "efficiency_bound": total / (n_workers * floor)}


def time_sweep(n_workers: int, dataset: dict[str, Any], items: list[tuple[int, int]], sizes: tuple[str, ...],
               n_folds: int, epochs: int, batch_size: int) -> dict[str, Any]:
    """Run the sweep's tasks on a new local cluster of ``n_workers`` single-core processes."""
    from hepnb.compute.sweep import map_tasks

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    # one core per worker: XLA's CPU backend otherwise spreads one worker's matmuls over every core, and
    # "1 worker" would already use the whole machine (the worker processes inherit this environment)
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen=false".strip()
    kwargs = {"sizes": sizes, "n_folds": n_folds, "epochs": epochs, "batch_size": batch_size}
    with _cluster_client(n_workers, worker_env={"XLA_FLAGS": flags}) as client:
        client.run(_warm_up_jax)
        startup = time.perf_counter() - t0
        # every worker compiles the sweep's programs once (fit reuses them for every later task of the same
        # shapes): one task per worker before the clock starts, timed apart, so that the timed tasks cost the same
        t1 = time.perf_counter()
        client.run(cv_task, items[0], dataset, **kwargs)
        warmup = time.perf_counter() - t1
        t1 = time.perf_counter()
        results = map_tasks(cv_task, items, dataset, client=client, desc=f"sweep on {n_workers}", **kwargs)
        wall = time.perf_counter() - t1
    task_s = [r["task_s"] for r in results]
    return {"workers": n_workers, "tasks": len(items), "startup_s": startup, "compile_warmup_s": warmup, "wall_s": wall,
            "tasks_per_min": 60 * len(items) / wall, "task_s": task_s, **makespan_bound(task_s, n_workers),
            "load_avg_1min_before": load_before}


def sweep_section(counts: list[int], *, n_train: int, epochs: int, seeds: int, folds: int,
                  sizes: tuple[str, ...], batch_size: int = 512, seed: int = 0) -> dict[str, Any]:
    """A sweep of ``seeds × folds`` tasks of equal cost (each trains every size in ``sizes``) at each worker count.

    Each worker first runs one task untimed (``compile_warmup_s``: it compiles the sweep's programs, which the
    timed tasks then reuse; a sweep of many tasks per worker amortises that once-per-worker cost the same way).
    Efficiency is the one-worker wall time over ``workers ×`` this wall time; beside it, the bound that the
    tasks' own durations (measured in the same run) set: with whole tasks per worker, the efficiency cannot
    exceed total task time / (workers × max(largest task, total / workers, ceil(tasks / workers) × median task)).
    """
    dataset = _sweep_dataset(n_train, seed)
    items = [(s, f) for s in range(seeds) for f in range(folds)]
    rows = []
    for n in counts:
        row = _against_one_worker(time_sweep(n, dataset, items, sizes, folds, epochs, batch_size), rows)
        rows.append(row)
        print(f"sweep, {n:3d} workers: {row['wall_s']:7.1f} s for {row['tasks']} tasks, speedup "
              f"{row['speedup']:5.2f}, efficiency {row['efficiency']:.2f} (bound from the tasks' durations "
              f"{row['efficiency_bound']:.2f}, largest task {row['largest_task_s']:.1f} s; startup "
              f"{row['startup_s']:.1f} s)", flush=True)
    return {"n_train_plus_val": len(dataset["train"]["start"]) + len(dataset["val"]["start"]), "epochs": epochs,
            "seeds": seeds, "folds": folds, "sizes": list(sizes), "family": "mlp", "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=16_000, help="Z -> tau tau events per worker count")
    parser.add_argument("--events-per-chunk", type=int, default=250)
    parser.add_argument("--max-workers", type=int, default=available_cores(), help="default: the cores available")
    parser.add_argument("--counts", type=int, nargs="+", default=None,
                        help="worker counts to time, starting with 1 (default: 1, 2, 4, ... up to --max-workers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true",
                        help="also time a sweep of equal-cost tasks (seeds x folds, each training every size)")
    parser.add_argument("--sweep-tracks", type=int, default=20_000, help="training tracks of the sweep")
    parser.add_argument("--sweep-epochs", type=int, default=3)
    parser.add_argument("--sweep-seeds", type=int, default=4)
    parser.add_argument("--sweep-folds", type=int, default=4)
    parser.add_argument("--sweep-sizes", nargs="+", default=["tiny", "small", "balanced"],
                        help="MLP extrapolator sizes trained by every task")
    parser.add_argument("--no-generation", action="store_true", help="skip the generation section")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "scaling.json")
    args = parser.parse_args()
    if min(args.sweep_seeds, args.sweep_folds) < 1 or (args.sweep and args.sweep_folds < 2):
        parser.error(f"--sweep-seeds must be >= 1 and --sweep-folds >= 2, found {args.sweep_seeds} and "
                     f"{args.sweep_folds}")
    if args.events < 1 or args.events_per_chunk < 1 or args.max_workers < 1:
        parser.error(f"--events, --events-per-chunk and --max-workers must be >= 1, found {args.events}, "
                     f"{args.events_per_chunk} and {args.max_workers}")
    counts = worker_counts(args.max_workers) if args.counts is None else sorted(set(args.counts))
    if counts[0] != 1:
        parser.error(f"--counts must include 1 (the baseline of speedup and efficiency), found {args.counts}")
    out = {
        "host": {"cpu": platform.processor() or platform.machine(), "cores_available": available_cores(),
                 "python": platform.python_version(),
                 "workers_pinned_to_one_core": hasattr(os, "sched_getaffinity")},
        "versions": package_versions(("dask", "distributed", "pythia8mc", "fastjet", "awkward")),
        "goal": GOAL,
        "command": " ".join(sys.argv),
        "generation": None if args.no_generation else generation_section(counts, args.events, args.events_per_chunk,
                                                                          args.seed),
        "sweep": sweep_section(counts, n_train=args.sweep_tracks, epochs=args.sweep_epochs, seeds=args.sweep_seeds,
                               folds=args.sweep_folds, sizes=tuple(args.sweep_sizes), seed=args.seed)
        if args.sweep else None,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1))
    print(args.output)


if __name__ == "__main__":
    main()
