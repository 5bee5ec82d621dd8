"""DNN training steps/s at batch 256: JAX (hepnb.train, epochs fused in lax.scan) and, with the ``bench``
extra installed, the same network in PyTorch eager. Writes JSON.

Usage: python benchmarks/pid_train.py [--steps 2000] [--output benchmarks/results/pid_train.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import optax

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import itertools

from hepnb.pid.models import build_network
from hepnb.pid.pipeline import network_loss
from hepnb.book.results import device_description, package_versions
from hepnb.train import fit


def jax_steps_per_s(n_steps: int, batch: int) -> float:
    rng = np.random.default_rng(0)
    n = n_steps * batch
    data = {"x": rng.normal(size=(n, 22)).astype(np.float32), "mask": np.ones((n, 4), np.float32),
            "mode": np.full(n, 3, np.int32), "y": rng.integers(0, 4, n).astype(np.int32)}
    model = build_network("dnn")
    result = fit(model, optax.adam(5e-5), network_loss(0.5, 2.5), data, batch_size=batch,
                 n_epochs=3, progress=False)
    return float(result.steps_per_s)


def torch_steps_per_s(n_steps: int, batch: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    layers: list = []
    widths = [22, 1024, 512, 256, 128, 64]
    for a, b in itertools.pairwise(widths):
        layers += [torch.nn.Linear(a, b), torch.nn.BatchNorm1d(b), torch.nn.ReLU(), torch.nn.Dropout(0.5)]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = torch.nn.Sequential(*layers, torch.nn.Linear(64, 4)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=5e-5)
    x = torch.randn(n_steps, batch, 22, device=device)
    y = torch.randint(0, 4, (n_steps, batch), device=device)

    def run(k: int) -> None:
        for i in range(k):
            opt.zero_grad()
            logp = torch.log_softmax(net(x[i]), -1)
            logp_t = logp.gather(1, y[i][:, None])[:, 0]
            loss = (0.5 * (1 - logp_t.exp()) ** 2.5 * -logp_t).mean()
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    run(20)
    t0 = time.perf_counter()
    run(n_steps)
    return n_steps / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "pid_train.json")
    args = parser.parse_args()
    jax_rate = jax_steps_per_s(args.steps, args.batch)
    torch_rate = torch_steps_per_s(args.steps, args.batch)
    record = {"device": device_description(), "versions": package_versions(), "batch": args.batch,
              "jax_steps_per_s": jax_rate, "torch_eager_steps_per_s": torch_rate,
              "jax_over_torch": jax_rate / torch_rate if torch_rate else None}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2))
    print(json.dumps({k: v for k, v in record.items() if k != "versions"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
