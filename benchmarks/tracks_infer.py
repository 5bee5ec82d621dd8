"""ns/track of the deployed extrapolators and of RK4-N, in one run, written as JSON.

Usage: python benchmarks/tracks_infer.py [--profile default] [--n-tracks 100000] [--batches 1 1024 65536]
       [--output benchmarks/results/tracks_infer.json]

Models are the orbax checkpoints the leaderboard notebook wrote under
results/<profile>/rkpinn_leaderboard/checkpoints/<family>_<size>; RK4-N runs in float32 through the
same grid map. Timings are wall clock, compilation excluded, best of several repeats.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.checkpoint import load_model
from hepnb.book.results import device_description, package_versions
from hepnb.tracks import pipeline
from hepnb.tracks.data import generate_tracks
from hepnb.tracks.models import SIZES, build_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--n-tracks", type=int, default=100_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 1024, 65536])
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "tracks_infer.json")
    args = parser.parse_args()

    data = generate_tracks(args.n_tracks, seed=123)
    st = data["setting"]
    states = data["start"].astype(np.float32)
    ref = data["end"]
    predictors = dict(pipeline.baseline_predictors(st))
    ckpt_root = REPO / "results" / args.profile / "rkpinn_leaderboard" / "checkpoints"
    dummy = {"in_mean": np.zeros(5), "in_std": np.ones(5), "qop_rms": 1.0, "mlp_scale": np.ones(4),
             "rkpinn_scale": np.ones(4)}
    for folder in sorted(ckpt_root.glob("*_*")) if ckpt_root.is_dir() else []:
        config_file = folder / "config.json"
        if not config_file.is_file():
            continue
        config = json.loads(config_file.read_text())
        family, size, n_coarse = config["family"], config["size"], config["n_coarse"]
        if size not in SIZES:
            continue
        model = load_model(lambda f=family, s=size, n=n_coarse: build_model(
            f, s, stats=dummy, z0_mm=st.z0_mm, z1_mm=st.z1_mm, field_fn=pipeline.field_function(st),
            kappa=st.kappa, n_coarse=n), folder)
        predictors[folder.name] = model
    rows = []
    for name, fn in predictors.items():
        pred = np.asarray(jax.jit(fn)(states))
        row = {"model": name, **pipeline.accuracy(pred, ref)}
        for batch in args.batches:
            row[f"ns_per_track_b{batch}"] = pipeline.ns_per_track(fn, states, batch=min(batch, len(states)))
        rows.append(row)
        print(f"{name:24s} median {row['pos_median_um']:10.2f} um  " +
              "  ".join(f"b{b}: {row[f'ns_per_track_b{b}']:.1f} ns" for b in args.batches))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"device": device_description(), "versions": package_versions(),
                                       "n_tracks": args.n_tracks, "leg": st.leg, "rows": rows}, indent=2))
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
