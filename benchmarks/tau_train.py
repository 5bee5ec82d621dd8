"""Training throughput of the tau networks at the fcc-tau model-card size (embed [256, 512, 256], pair
[64, 64, 64], 8 heads, 2 + 2 layers, 20 candidates), side by side in one run, written as JSON:

* ``single``: SingleParTau (tau ID) through ``hepnb.train.fit``, against weaver-core's ``ParticleTransformer``
  (the PyPI release; its version is recorded) built at the same size and trained on the same random jets in
  PyTorch, eager and ``torch.compile`` (bf16 autocast on a GPU);
* ``multi``: MultiParTau with the plain weighted sum of the task losses, with PCGrad (backbone VJP once, only its
  backward pass vmapped over the tasks) and with the straightforward PCGrad (the whole backward pass vmapped):
  step times and their ratios.

FLOPs per jet are XLA's count for one compiled training step (forward, backward, optimiser) over the batch size;
MFU is achieved FLOP/s over the GPU's dense bf16 peak, both the datasheet's and, on a GPU, a bf16 matrix
product measured in the same run. JAX sides are repeated alternately (``--repeats``) and their medians compared.

Usage: python benchmarks/tau_train.py [--batch 12288] [--batches 20] [--epochs 3] [--repeats 2] [--dtype auto]
       [--sections single multi] [--attention xla cudnn] [--no-torch] [--torch-modes eager compile]
       [--no-full-vmap] [--small] [--output benchmarks/results/tau_train.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
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
from hepnb.tau.losses import MultiTaskLoss, SingleTaskLoss
from hepnb.tau.models import MODEL_CARD, MultiParTau, ParTConfig, SingleParTau, count_params
from hepnb.tau.pcgrad import PCGrad
from hepnb.train import FitConfig, fit

#: Dense bf16 peak by the vendors' datasheets, TFLOP/s.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}
#: The issue's goals.
GOALS = {"jax_over_weaver_best": 2.0, "pcgrad_over_plain_step_time": 2.3}


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


def _tx() -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(1e-3, weight_decay=1e-2))


def step_flops(model: nnx.Module, loss_fn: Any, grad_fn: Any, batch: dict[str, np.ndarray]) -> float:
    """XLA's FLOP count of one compiled training step (forward, backward, optimiser update)."""
    optimizer = nnx.Optimizer(model, _tx(), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def step(state: Any, batch: Any) -> Any:
        m, opt = nnx.merge(graphdef, state)
        if grad_fn is None:
            _, grads = nnx.value_and_grad(loss_fn, has_aux=True)(m, batch)
        else:
            _, grads, _ = grad_fn(m, batch)
        opt.update(m, grads)
        return nnx.state((m, opt))

    cost = jax.jit(step).lower(state, jax.tree.map(jnp.asarray, batch)).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", float("nan")))


def time_fit(make_model: Callable[[], nnx.Module], loss_fn: Any, grad_fn: Any, data: dict[str, np.ndarray],
             batch: int, epochs: int) -> dict[str, float]:
    """One ``fit`` (no validation set): step time and jets/s, compilation excluded."""
    res = fit(make_model(), _tx(), loss_fn, data, config=FitConfig(batch_size=batch, n_epochs=epochs, progress=False),
              grad_fn=grad_fn)
    return {"steps": res.n_steps, "train_time_s": res.train_time_s, "train_cpu_time_s": res.train_cpu_time_s,
            "compile_time_s": res.compile_time_s, "step_time_s": res.train_time_s / res.n_steps,
            "step_cpu_time_s": res.train_cpu_time_s / res.n_steps, "jets_per_s": res.n_steps * batch / res.train_time_s}


def _summary(runs: list[dict[str, float]], flops: float, batch: int, peak: float | None,
             measured_peak: float | None) -> dict[str, Any]:
    step = statistics.median(r["step_time_s"] for r in runs)
    tflops = flops / step / 1e12
    return {"median_step_time_s": step, "jets_per_s": batch / step, "flops_per_step": flops,
            "flops_per_jet": flops / batch, "achieved_tflops": tflops,
            "mfu_datasheet_bf16": tflops / peak if peak else None,
            "mfu_measured_bf16_matmul": tflops / measured_peak if measured_peak else None, "runs": runs}


def matmul_peak_tflops() -> float | None:
    """A bf16 8192³ matrix product's rate on the GPU (the ceiling actually reachable there), or None on a CPU."""
    if jax.default_backend() != "gpu":
        return None
    a = jnp.asarray(np.random.default_rng(0).normal(size=(8192, 8192)), jnp.bfloat16)
    mm = jax.jit(lambda x, y: x @ y)
    mm(a, a).block_until_ready()
    t0 = time.perf_counter()
    for _ in range(20):
        out = mm(a, a)
    out.block_until_ready()
    return 20 * 2 * 8192**3 / (time.perf_counter() - t0) / 1e12


def weaver_side(cfg: ParTConfig, data: dict[str, np.ndarray], batch: int, steps: int, bf16: bool,
                modes: tuple[str, ...] = ("eager", "compile")) -> dict[str, Any]:
    """weaver-core's ParticleTransformer at the model-card size, trained on one random batch (eager, compile)."""
    try:
        import torch
        import weaver
        from weaver.nn.model.ParticleTransformer import ParticleTransformer as WeaverParT
    except ImportError as exc:
        return {"error": f"not installed: {exc}"}
    from importlib.metadata import version

    device = "cuda" if torch.cuda.is_available() else "cpu"
    out: dict[str, Any] = {"weaver_core": version("weaver-core"), "torch": torch.__version__, "device": device,
                           "autocast_bf16": bf16, "module": WeaverParT.__module__,
                           "path": str(Path(weaver.__file__).parent)}
    x = torch.as_tensor(data["features"][:batch].transpose(0, 2, 1).copy(), device=device)
    v = torch.as_tensor(data["p4"][:batch].transpose(0, 2, 1).copy(), device=device)
    mask = torch.as_tensor(data["mask"][:batch, None, :].astype(np.float32), device=device)
    y = torch.as_tensor(data["is_tau"][:batch].astype(np.int64), device=device)
    for mode in modes:
        torch.manual_seed(0)
        # the paper model (version 1) at the tau model card's size; trim off so every step sees all 20 slots
        net = WeaverParT(input_dim=x.shape[1], num_classes=2, pair_input_dim=4, use_pre_activation_pair=False,
                         embed_dims=list(cfg.embed_dims), pair_embed_dims=list(cfg.pair_dims),
                         num_heads=cfg.n_heads, num_layers=cfg.n_layers, num_cls_layers=cfg.n_cls_layers,
                         fc_params=[], trim=False).to(device)
        out["parameters"] = sum(p.numel() for p in net.parameters() if p.requires_grad)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
        fwd: Callable[..., Any] = torch.compile(net) if mode == "compile" else net

        def train_step(fwd: Callable[..., Any] = fwd, net: Any = net, opt: Any = opt) -> None:
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                loss = torch.nn.functional.cross_entropy(fwd(x, v, mask), y, label_smoothing=0.1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()

        def sync() -> None:
            if device == "cuda":
                torch.cuda.synchronize()

        try:
            t0 = time.perf_counter()
            for _ in range(3):
                train_step()
            sync()
            out[f"{mode}_warmup_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(steps):
                train_step()
            sync()
        except Exception as exc:  # noqa: BLE001 - torch.compile needs a working C++/Triton toolchain: record why it failed
            out[f"{mode}_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            traceback.print_exc()
            continue
        step = (time.perf_counter() - t0) / steps
        out[f"{mode}_step_time_s"] = step
        out[f"{mode}_jets_per_s"] = batch / step
    return out


def single_section(cfg: ParTConfig, data: dict[str, np.ndarray], args: argparse.Namespace, peak: float | None,
                   measured_peak: float | None) -> dict[str, Any]:
    loss = SingleTaskLoss("tau_id")
    out: dict[str, Any] = {}
    for impl in args.attention:
        c = cfg.with_(attention=None if impl == "xla" else impl)
        name = f"jax_{impl}"
        try:
            flops = step_flops(SingleParTau("tau_id", c, rngs=nnx.Rngs(0)), loss, None,
                               {k: v[: args.batch] for k, v in data.items()})
            runs = [time_fit(lambda c=c: SingleParTau("tau_id", c, rngs=nnx.Rngs(0)), loss, None, data, args.batch,
                             args.epochs) for _ in range(args.repeats)]
        except Exception as exc:  # noqa: BLE001 - cuDNN may refuse these shapes: record it and go on
            out[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
            continue
        out[name] = _summary(runs, flops, args.batch, peak, measured_peak)
        out[name]["parameters"] = count_params(SingleParTau("tau_id", c, rngs=nnx.Rngs(0)))
        print(f"SingleParTau ({impl}): {out[name]['jets_per_s']:,.0f} jets/s, "
              f"{out[name]['flops_per_jet'] / 1e6:.0f} MFLOP/jet/step", flush=True)
    if args.torch:
        gpu = jax.default_backend() == "gpu"
        out["weaver"] = weaver_side(cfg, data, args.batch, args.torch_steps, bf16=gpu, modes=tuple(args.torch_modes))
        print("weaver-core:", {k: v for k, v in out["weaver"].items() if "jets" in k or "error" in k}, flush=True)
    best_jax = max((v["jets_per_s"] for k, v in out.items() if k.startswith("jax_") and "jets_per_s" in v),
                   default=None)
    w = out.get("weaver", {})
    best_weaver = max((w[k] for k in ("eager_jets_per_s", "compile_jets_per_s") if k in w), default=None)
    out["jax_over_weaver_best"] = best_jax / best_weaver if best_jax and best_weaver else None
    out["jax_over_weaver_eager"] = best_jax / w["eager_jets_per_s"] if best_jax and "eager_jets_per_s" in w else None
    return out


def multi_section(cfg: ParTConfig, data: dict[str, np.ndarray], args: argparse.Namespace, peak: float | None,
                  measured_peak: float | None) -> dict[str, Any]:
    loss = MultiTaskLoss()
    sides = {"plain": None, "pcgrad": PCGrad(loss), "pcgrad_full_vmap": PCGrad(loss, shared_vjp=False)}
    sides = {k: v for k, v in sides.items() if k != "pcgrad_full_vmap" or args.full_vmap}
    batch = {k: v[: args.batch] for k, v in data.items()}
    flops = {name: step_flops(MultiParTau(cfg, rngs=nnx.Rngs(0)), loss, g, batch) for name, g in sides.items()}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(args.repeats):  # alternate the sides, so that a busy moment of the machine hits them alike
        for name, g in sides.items():
            runs[name].append(time_fit(lambda: MultiParTau(cfg, rngs=nnx.Rngs(0)), loss, g, data, args.batch,
                                       args.epochs))
    out: dict[str, Any] = {name: _summary(runs[name], flops[name], args.batch, peak, measured_peak) for name in sides}
    for name in sides:
        print(f"MultiParTau ({name}): {out[name]['jets_per_s']:,.0f} jets/s, step "
              f"{out[name]['median_step_time_s'] * 1e3:.1f} ms, {flops[name] / args.batch / 1e6:.0f} MFLOP/jet/step",
              flush=True)
        if name != "plain":
            out[f"{name}_over_plain_step_time"] = out[name]["median_step_time_s"] / out["plain"]["median_step_time_s"]
            out[f"{name}_over_plain_flops"] = flops[name] / flops["plain"]
            out[f"{name}_over_plain_step_cpu_time"] = (
                statistics.median(r["step_cpu_time_s"] for r in runs[name])
                / statistics.median(r["step_cpu_time_s"] for r in runs["plain"]))
            out[f"{name}_over_plain_step_time_per_repeat"] = [
                a["step_time_s"] / b["step_time_s"] for a, b in zip(runs[name], runs["plain"], strict=True)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gpu = jax.default_backend() == "gpu"
    parser.add_argument("--batch", type=int, default=12288 if gpu else 64)
    parser.add_argument("--batches", type=int, default=20 if gpu else 3, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3 if gpu else 2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtype", default="auto", help="computation dtype; auto: bfloat16 on a GPU, else float32")
    parser.add_argument("--sections", nargs="+", default=["single", "multi"], choices=["single", "multi"])
    parser.add_argument("--attention", nargs="+", default=["xla"], choices=["xla", "cudnn"],
                        help="jax.nn.dot_product_attention implementations to time for the single ParT")
    parser.add_argument("--torch", action=argparse.BooleanOptionalAction, default=True,
                        help="time weaver-core's ParticleTransformer in PyTorch (needs torch and weaver-core)")
    parser.add_argument("--torch-steps", type=int, default=None, help="timed PyTorch steps (default: --batches)")
    parser.add_argument("--torch-modes", nargs="+", default=["eager", "compile"], choices=["eager", "compile"])
    parser.add_argument("--full-vmap", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the straightforward PCGrad (whole backward pass vmapped)")
    parser.add_argument("--small", action="store_true", help="a small model instead of the model card (smoke test)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "tau_train.json")
    args = parser.parse_args()
    args.torch_steps = args.torch_steps or args.batches
    if min(args.batch, args.batches, args.epochs, args.repeats, args.torch_steps) < 1:
        parser.error("--batch, --batches, --epochs, --repeats and --torch-steps must be >= 1")
    dtype = ("bfloat16" if gpu else "float32") if args.dtype == "auto" else args.dtype
    cfg = MODEL_CARD if not args.small else ParTConfig(embed_dims=(32, 64, 32), pair_dims=(16, 16), n_heads=4)
    cfg = cfg.with_(dtype=dtype)
    data = synthetic_jets(args.batch * args.batches)
    device = device_description()
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device), None) if gpu else None
    measured_peak = matmul_peak_tflops()
    out: dict[str, Any] = {
        "device": device, "backend": jax.default_backend(), "command": " ".join(sys.argv),
        "versions": package_versions(["jax", "jaxlib", "flax", "optax", "torch", "weaver-core"]),
        "python": sys.version.split()[0], "dtype": dtype,
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "batch": args.batch, "steps_per_epoch": args.batches, "epochs": args.epochs, "repeats": args.repeats,
        "peak_bf16_tflops_datasheet": peak, "peak_bf16_tflops_measured_matmul": measured_peak, "goals": GOALS,
    }
    if "single" in args.sections:
        out["single"] = single_section(cfg, data, args, peak, measured_peak)
    if "multi" in args.sections:
        out["multi"] = multi_section(cfg, data, args, peak, measured_peak)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1, default=str))
    print(args.output)


if __name__ == "__main__":
    main()
