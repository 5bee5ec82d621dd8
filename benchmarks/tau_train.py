"""Training throughput (jets/s) and model FLOPs utilisation of MultiParTau and a single-task ParT at the
fcc-tau model-card size (embed [256, 512, 256], pair [64, 64, 64], 8 heads, 2 + 2 layers, 20 candidates),
through the shared ``hepnb.train`` loop. Writes JSON.

FLOPs per jet are XLA's count for one compiled training step (forward, backward, optimiser) divided by the
batch size; MFU is achieved FLOP/s over the GPU's dense bf16 peak (H100 SXM: 989 TFLOP/s).

Usage: python benchmarks/tau_train.py [--batch 12288] [--batches 20] [--epochs 3] [--dtype auto]
       [--output benchmarks/results/tau_train.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.book.results import device_description, package_versions
from hepnb.tau.losses import MultiTaskLoss, SingleTaskLoss
from hepnb.tau.models import MODEL_CARD, MultiParTau, SingleParTau, count_params
from hepnb.tau.pcgrad import PCGrad
from hepnb.train import fit

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def synthetic_jets(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Jets with the study's shapes: 20 candidate slots, 3 to 20 filled, physical four-vectors."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 21, size=n)
    mask = np.arange(20)[None, :] < counts[:, None]
    p3 = rng.normal(size=(n, 20, 3)).astype(np.float32) * 4
    p4 = np.concatenate([p3, np.linalg.norm(p3, axis=-1, keepdims=True) + 0.14], axis=-1) * mask[..., None]
    return {"features": (rng.normal(size=(n, 20, 17)).astype(np.float32) * mask[..., None]),
            "p4": p4.astype(np.float32), "mask": mask, "is_tau": rng.integers(0, 2, n).astype(np.int32),
            "charge": rng.integers(0, 2, n).astype(np.int32), "decay_mode": rng.integers(0, 6, n).astype(np.int32),
            "kin_targets": rng.normal(size=(n, 5)).astype(np.float32) * 0.1, "weight": np.ones(n, np.float32)}


def step_flops(model: nnx.Module, loss_fn, grad_fn, tx, batch: dict[str, np.ndarray]) -> float:
    """XLA's FLOP count of one training step."""
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def step(state, batch):
        m, opt = nnx.merge(graphdef, state)
        if grad_fn is None:
            (_, _), grads = nnx.value_and_grad(loss_fn, has_aux=True)(m, batch)
        else:
            _, grads, _ = grad_fn(m, batch)
        opt.update(m, grads)
        return nnx.state((m, opt))

    compiled = jax.jit(step).lower(state, jax.tree.map(jnp.asarray, batch)).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", float("nan")))


def measure(name: str, make_model, loss_fn, grad_fn, data, batch: int, epochs: int) -> dict:
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(1e-3, weight_decay=1e-2))
    flops = step_flops(make_model(), loss_fn, grad_fn, tx, {k: v[:batch] for k, v in data.items()})
    model = make_model()
    res = fit(model, tx, loss_fn, data, batch_size=batch, n_epochs=epochs, grad_fn=grad_fn, progress=False)
    jets_per_s = res.n_steps * batch / res.train_time_s
    return {"model": name, "parameters": count_params(model), "batch": batch, "steps": res.n_steps,
            "train_time_s": res.train_time_s, "compile_time_s": res.compile_time_s, "jets_per_s": jets_per_s,
            "flops_per_jet_step": flops / batch, "achieved_tflops": flops / batch * jets_per_s / 1e12}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gpu = jax.default_backend() == "gpu"
    parser.add_argument("--batch", type=int, default=12288 if gpu else 256)
    parser.add_argument("--batches", type=int, default=20 if gpu else 4, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dtype", default="auto", help="computation dtype; auto: bfloat16 on a GPU")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "tau_train.json")
    args = parser.parse_args()
    dtype = ("bfloat16" if gpu else "float32") if args.dtype == "auto" else args.dtype
    cfg = MODEL_CARD.with_(dtype=dtype)
    data = synthetic_jets(args.batch * args.batches)
    multi_loss = MultiTaskLoss()
    runs = [
        ("SingleParTau (tau_id)", lambda: SingleParTau("tau_id", cfg, rngs=nnx.Rngs(0)), SingleTaskLoss("tau_id"), None),
        ("MultiParTau (plain sum)", lambda: MultiParTau(cfg, rngs=nnx.Rngs(0)), multi_loss, None),
        ("MultiParTau (PCGrad)", lambda: MultiParTau(cfg, rngs=nnx.Rngs(0)), multi_loss, PCGrad(multi_loss)),
    ]
    device = device_description()
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device), None) if gpu else None
    rows = []
    for name, make, loss_fn, grad_fn in runs:
        t0 = time.perf_counter()
        row = measure(name, make, loss_fn, grad_fn, data, args.batch, args.epochs)
        row["mfu_bf16"] = row["achieved_tflops"] / peak if peak else None
        rows.append(row)
        print(f"{name}: {row['jets_per_s']:,.0f} jets/s, {row['flops_per_jet_step'] / 1e6:.0f} MFLOP/jet/step, "
              f"{row['achieved_tflops']:.1f} TFLOP/s, MFU {row['mfu_bf16'] if peak else 'n/a'} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    anchor = {"weaver_torch_compile_jets_per_s": 223_000, "weaver_torch_eager_jets_per_s": 122_000,
              "note": "weaver-core ParticleTransformer, single task, bf16 autocast, H100 (issue 5)"}
    out = {"device": device, "backend": jax.default_backend(), "dtype": dtype, "peak_bf16_tflops": peak,
           "versions": package_versions(["jax", "jaxlib", "flax", "optax"]), "runs": rows, "anchor": anchor}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1))
    print(args.output)


if __name__ == "__main__":
    main()
