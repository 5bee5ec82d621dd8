"""PID DNN training at batch 256: ``hepnb.train.fit`` (shuffling and per-epoch validation on a set 1/5 the
size of the training set included) against a bare ``lax.scan`` of the same step, side by side in one run;
with torch installed (the ``bench`` extra), the same network in PyTorch eager and ``torch.compile``. Writes JSON.

Both JAX sides take the same optimiser steps of the same network, loss and optimiser. The bare scan is the
floor: pre-batched data in a fixed order, one jitted call per epoch with the state donated, no validation, no
shuffling, no host work between epochs. The two sides are run alternately ``--repeats`` times (the machine
may be shared); the ratio is that of the median rates, and every repeat's rates are in the JSON. Beside the
wall-clock ratio, the ratio of steps per second of process CPU time (on a machine shared with other work, wall
time measures the other tenants too).

Usage: python benchmarks/pid_train.py [--steps 2000] [--epochs 3] [--repeats 3] [--torch|--no-torch]
       [--torch-modes eager compile]
       [--output benchmarks/results/pid_train.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.book.results import device_description, package_versions
from hepnb.pid.models import build_network
from hepnb.pid.training import network_loss
from hepnb.train import FitConfig, fit

#: The issue's goal: fit's steps/s over the bare scan's.
GOAL_RATIO = 0.9
N_FEATURES, N_CLASSES = 22, 4


def synthetic_tracks(n: int, seed: int) -> dict[str, np.ndarray]:
    """Inputs of the PID networks' shapes (22 standardised features, 4 detector-availability flags)."""
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(n, N_FEATURES)).astype(np.float32), "mask": np.ones((n, 4), np.float32),
            "mode": np.full(n, 3, np.int32), "y": rng.integers(0, N_CLASSES, n).astype(np.int32)}


def _loss() -> Any:
    return network_loss(0.5, 2.5)


def _tx() -> optax.GradientTransformation:
    return optax.adam(5e-5)


def bare_scan(train: dict[str, np.ndarray], batch: int, epochs: int) -> dict[str, float]:
    """The floor: the same step in a ``lax.scan`` over pre-batched data, state donated, nothing else."""
    model = build_network("dnn")
    optimizer = nnx.Optimizer(model, _tx(), wrt=nnx.Param)
    model.train()
    graphdef, state = nnx.split((model, optimizer))
    loss_fn = _loss()
    n_batches = len(train["y"]) // batch
    batches = {k: jnp.asarray(v[: n_batches * batch].reshape(n_batches, batch, *v.shape[1:]))
               for k, v in train.items()}

    def step(carry: Any, b: dict[str, jax.Array]) -> tuple[Any, jax.Array]:
        m, opt = nnx.merge(graphdef, carry)
        (loss, _), grads = nnx.value_and_grad(loss_fn, has_aux=True)(m, b)
        opt.update(m, grads)
        return nnx.state((m, opt)), loss

    epoch = jax.jit(lambda s, b: jax.lax.scan(step, s, b), donate_argnums=0)
    t0 = time.perf_counter()
    compiled = epoch.lower(state, batches).compile()
    compile_s = time.perf_counter() - t0
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        state, losses = compiled(state, batches)
    float(losses[-1])
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"steps": epochs * n_batches, "wall_s": wall, "cpu_s": cpu, "compile_s": compile_s,
            "steps_per_s": epochs * n_batches / wall, "steps_per_cpu_s": epochs * n_batches / cpu}


def hepnb_fit(train: dict[str, np.ndarray], val: dict[str, np.ndarray], batch: int, epochs: int) -> dict[str, float]:
    """``hepnb.train.fit`` with per-epoch validation; wall clock measured around the call, compile excluded."""
    model = build_network("dnn")
    t0 = time.perf_counter()
    res = fit(model, _tx(), _loss(), train, val,
              config=FitConfig(batch_size=batch, n_epochs=epochs, monitor="val_err", progress=False))
    outer, cpu = time.perf_counter() - t0 - res.compile_time_s, res.train_cpu_time_s
    return {"steps": res.n_steps, "wall_s": outer, "cpu_s": cpu, "train_time_s": res.train_time_s,
            "compile_s": res.compile_time_s, "compiled_reused": res.compiled_reused,
            "steps_per_s": res.n_steps / outer, "steps_per_cpu_s": res.n_steps / cpu,
            "fit_reported_steps_per_s": res.steps_per_s, "val_rows": len(val["y"])}


def torch_rates(train: dict[str, np.ndarray], batch: int, n_steps: int,
                modes: tuple[str, ...] = ("eager", "compile")) -> dict[str, Any] | None:
    """The original's DNN in PyTorch (eager and torch.compile), same widths, focal loss and optimiser."""
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    layers: list[Any] = []
    for a, b in itertools.pairwise([N_FEATURES, 1024, 512, 256, 128, 64]):
        layers += [torch.nn.Linear(a, b), torch.nn.BatchNorm1d(b), torch.nn.ReLU(), torch.nn.Dropout(0.5)]
    x = torch.as_tensor(train["x"][: n_steps * batch].reshape(n_steps, batch, N_FEATURES), device=device)
    y = torch.as_tensor(train["y"][: n_steps * batch].reshape(n_steps, batch).astype(np.int64), device=device)
    out: dict[str, Any] = {"version": torch.__version__, "device": device}
    for mode in modes:
        net = torch.nn.Sequential(*layers, torch.nn.Linear(64, N_CLASSES)).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=5e-5)

        def train_step(xb: Any, yb: Any, net: Any = net, opt: Any = opt) -> None:
            opt.zero_grad(set_to_none=True)
            logp = torch.log_softmax(net(xb), -1)
            logp_t = logp.gather(1, yb[:, None])[:, 0]
            loss = (0.5 * (1 - logp_t.exp()) ** 2.5 * -logp_t).mean()
            loss.backward()
            opt.step()

        fn: Callable[..., None] = torch.compile(train_step) if mode == "compile" else train_step
        try:
            for i in range(10):
                fn(x[i % len(x)], y[i % len(y)])
        except Exception as exc:  # noqa: BLE001 - torch.compile needs a C++ compiler; record why it did not run
            out[f"{mode}_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            continue
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(n_steps):
            fn(x[i], y[i])
        if device == "cuda":
            torch.cuda.synchronize()
        out[f"{mode}_steps_per_s"] = n_steps / (time.perf_counter() - t0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimiser steps per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats of the two JAX sides")
    parser.add_argument("--torch", action=argparse.BooleanOptionalAction, default=True,
                        help="also time PyTorch (if installed)")
    parser.add_argument("--torch-modes", nargs="+", default=["eager", "compile"], choices=["eager", "compile"])
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "pid_train.json")
    args = parser.parse_args()
    if min(args.steps, args.epochs, args.batch, args.repeats) < 1:
        parser.error("--steps, --epochs, --batch and --repeats must be >= 1")
    n_train = args.steps * args.batch
    train = synthetic_tracks(n_train, 0)
    val = synthetic_tracks(n_train // 5, 1)
    bare_runs, fit_runs = [], []
    for i in range(args.repeats):
        bare_runs.append(bare_scan(train, args.batch, args.epochs))
        fit_runs.append(hepnb_fit(train, val, args.batch, args.epochs))
        print(f"repeat {i}: bare scan {bare_runs[-1]['steps_per_s']:,.0f} steps/s, "
              f"fit {fit_runs[-1]['steps_per_s']:,.0f} steps/s", flush=True)
    bare_rate = statistics.median(r["steps_per_s"] for r in bare_runs)
    fit_rate = statistics.median(r["steps_per_s"] for r in fit_runs)
    bare_cpu_rate = statistics.median(r["steps_per_cpu_s"] for r in bare_runs)
    fit_cpu_rate = statistics.median(r["steps_per_cpu_s"] for r in fit_runs)
    torch_side = torch_rates(train, args.batch, min(args.steps, 500), tuple(args.torch_modes)) if args.torch else None
    record = {
        "device": device_description(), "backend": jax.default_backend(),
        "versions": package_versions(["jax", "jaxlib", "flax", "optax", "torch"]),
        "command": " ".join(sys.argv), "batch": args.batch, "steps_per_epoch": args.steps, "epochs": args.epochs,
        "val_rows": len(val["y"]), "goal_fit_over_bare": GOAL_RATIO,
        "bare_scan": {"median_steps_per_s": bare_rate, "runs": bare_runs},
        "fit": {"median_steps_per_s": fit_rate, "runs": fit_runs},
        "fit_over_bare": fit_rate / bare_rate,
        # on a shared machine wall time also measures the other tenants; process CPU time measures the work
        "fit_over_bare_cpu_time": fit_cpu_rate / bare_cpu_rate,
        "fit_over_bare_per_repeat": [f["steps_per_s"] / b["steps_per_s"] for b, f in zip(bare_runs, fit_runs, strict=True)],
        "torch": torch_side,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=1))
    print(json.dumps({k: record[k] for k in ("device", "fit_over_bare", "fit_over_bare_cpu_time",
                                             "fit_over_bare_per_repeat")}, indent=1))
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
