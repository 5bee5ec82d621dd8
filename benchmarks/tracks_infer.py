"""ns/track of every extrapolator of the leaderboard — learned models, the LHCb-style polynomial of each degree,
RK4-N, the single kick and the straight line — at several batch sizes in one run, written as JSON.

Usage: python benchmarks/tracks_infer.py [--profile default] [--leg ut_t] [--batches 1 16384 1048576]
       [--n-fit 30000] [--n-test 10000] [--only 'rk4_*' 'mlp_*'] [--output benchmarks/results/tracks_infer.json]

Learned models are the checkpoints the leaderboard notebook wrote under
``results/<profile>/rkpinn_leaderboard/checkpoints/<leg>/<name>`` (with their test accuracy here); without
them, one untrained head per zoo size on its base is timed (the cost does not depend on the weights) and its
accuracy is left out. The polynomials are fitted here on ``--n-fit`` tracks; RK4-N runs in float32 through
the study's map. Timings are wall clock on the default JAX device (CPU, or a GPU when JAX sees one),
compilation excluded, best of repeats. Each row is judged at each batch size by the study's rule (below the
RK4 curve and the polynomial curve at its cost, :mod:`hepnb.tracks.evaluate`).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.book.results import device_description, package_versions
from hepnb.tracks import baselines, evaluate, export
from hepnb.tracks.bases import RK4Base, kick_base
from hepnb.tracks.data import TrackSample, field_function, make_dataset
from hepnb.tracks.models import SIZES, LearnedExtrapolator, build_head


def _learned(results_dir: Path, profile: str, leg: str, dataset: dict) -> tuple[dict, bool]:
    """The notebook's checkpoints of this leg, or untrained heads of every size (timing only)."""
    st = dataset["setting"]
    field32 = field_function(st)
    root = results_dir / profile / "rkpinn_leaderboard" / "checkpoints" / leg
    found = {f.name: export.load_extrapolator(f, field32) for f in sorted(root.glob("*"))
             if (f / "config.json").is_file()} if root.is_dir() else {}
    if found:
        return found, True
    stats = {"in_mean": np.zeros(5), "in_std": np.ones(5), "out_mean": np.zeros(4), "out_std": np.ones(4),
             "qop_rms": 0.1}
    kick = kick_base(field32, st.z0_mm, st.z1_mm, st.kappa)
    rk4_2 = RK4Base(2, st.z0_mm, st.z1_mm, field32, st.kappa)
    out = {}
    for size in SIZES:
        out[f"mlp_{size}_kick"] = LearnedExtrapolator(f"mlp_{size}_kick", build_head("mlp", size, stats=stats), kick)
        out[f"rkpinn_{size}"] = LearnedExtrapolator(f"rkpinn_{size}", build_head("rkpinn", size, stats=stats), rk4_2)
    return out, False


def _judge(rows: list[dict], key: str) -> None:
    """Mark each row below the RK4 curve / the polynomial curve at its cost measured at this batch."""
    timed = [r for r in rows if np.isfinite(r.get(key, np.nan)) and np.isfinite(r.get("pos_median_um", np.nan))]
    if not any(r["family"] == "rk4" for r in timed):
        return
    rk4 = {c["model"]: c["below"] for c in evaluate.compare_with_rk4(timed, timed, key)}
    poly_rows = [r for r in timed if r["family"] == "poly"]
    poly = ({c["model"]: c["below"] for c in evaluate.compare_with_curve(timed, evaluate.cost_error_curve(poly_rows, key), key)}
            if poly_rows else {})
    suffix = key.removeprefix("ns_per_track_")
    for r in timed:
        r[f"below_rk4_{suffix}"] = bool(rk4[r["model"]]) and r["family"] != "rk4"
        r[f"below_poly_{suffix}"] = bool(poly.get(r["model"], False)) and r["family"] != "poly"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default", help="whose checkpoints to time (results/<profile>/...)")
    parser.add_argument("--results-dir", type=Path, default=REPO / "results", help="root of the results tree")
    parser.add_argument("--leg", default="ut_t", choices=["ut_t", "velo_t"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16384, 1 << 20])
    parser.add_argument("--n-fit", type=int, default=30_000, help="tracks the polynomials are fitted on")
    parser.add_argument("--n-test", "--n-tracks", dest="n_test", type=int, default=10_000,
                        help="tracks the accuracy is measured on (and timed: batches larger repeat them)")
    parser.add_argument("--min-time-s", type=float, default=0.1, help="time per timing (best of 3 parts)")
    parser.add_argument("--only", nargs="+", default=["*"], metavar="PATTERN",
                        help="time only the models whose names match (shell patterns; default: all)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "tracks_infer.json")
    args = parser.parse_args(argv)
    if min(args.batches) < 1 or args.n_fit < 4100 or args.n_test < 100:
        parser.error("batches must be >= 1, --n-fit >= 4100 (a degree-9 fit) and --n-test >= 100")

    t0 = time.perf_counter()
    dataset = make_dataset(args.n_fit, 100, args.n_test, sample=TrackSample(leg=args.leg), seed=123)
    predictors, info = baselines.baseline_predictors(dataset, n_fit_max=args.n_fit)
    learned, trained = _learned(args.results_dir, args.profile, args.leg, dataset)
    setup_s = time.perf_counter() - t0
    test = dataset["test"]
    states = test["start"]
    rows = []
    chosen = {name: fn for name, fn in {**predictors, **learned}.items()
              if any(fnmatch.fnmatch(name, pattern) for pattern in args.only)}
    for name, fn in chosen.items():
        meta = info.get(name, {"family": getattr(fn, "family", "learned"), "params": None})
        row = {"model": name, "family": meta["family"], "params": meta.get("params")}
        if name in predictors or trained:
            pred = np.asarray(jax.jit(fn)(jnp.asarray(states)))
            row.update(evaluate.accuracy(pred, test["end"], n_boot=50))
        for batch in args.batches:
            try:
                row[f"ns_per_track_b{batch}"] = evaluate.ns_per_track(fn, states, batch=batch, repeats=3,
                                                                      min_time_s=args.min_time_s)
            except Exception as err:  # noqa: BLE001 - out of memory at 1 M is recorded, not fatal
                row[f"ns_per_track_b{batch}"] = float("nan")
                row[f"error_b{batch}"] = f"{type(err).__name__}: {str(err)[:200]}"
        rows.append(row)
        print(f"{name:26s} {row.get('pos_median_um', float('nan')):10.3f} um  " +
              "  ".join(f"b{b}: {row[f'ns_per_track_b{b}']:9.2f} ns" for b in args.batches), flush=True)
    for batch in args.batches:
        _judge(rows, f"ns_per_track_b{batch}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    record = {"device": device_description(), "jax_backend": jax.default_backend(), "versions": package_versions(),
              "leg": args.leg, "profile": args.profile, "trained_models": trained, "n_fit": args.n_fit,
              "n_test": args.n_test, "batches": args.batches, "setup_s": setup_s,
              "total_s": time.perf_counter() - t0, "rows": rows}
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=float))
    tmp.replace(args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
