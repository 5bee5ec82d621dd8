"""The fast paths of the tau networks give the straightforward results: PCGrad with the backbone VJP taken once,
attention through jax.nn.dot_product_attention, and the bfloat16 model against float32."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hepnb.tau.losses import MultiTaskLoss
from hepnb.tau.models import MultiParTau, ParTConfig, attention_explicit, attention_fused
from hepnb.tau.pcgrad import PCGrad

# dropout on: the two PCGrad paths must also draw the same dropout masks and update the same batch statistics
SMALL = ParTConfig(embed_dims=(16, 32, 16), pair_dims=(8, 8), n_heads=2, n_layers=1, n_cls_layers=1, dropout=0.1)


def _batch(n: int = 16, p: int = 10, seed: int = 0) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    mask = np.arange(p)[None, :] < rng.integers(2, p, size=n)[:, None]
    p3 = rng.normal(size=(n, p, 3)) * 5
    p4 = np.concatenate([p3, np.linalg.norm(p3, axis=-1, keepdims=True) + 0.2], axis=-1) * mask[..., None]
    return {"features": jnp.asarray(rng.normal(size=(n, p, 17)) * mask[..., None], jnp.float32),
            "p4": jnp.asarray(p4, jnp.float32), "mask": jnp.asarray(mask),
            "is_tau": jnp.asarray(rng.integers(0, 2, n)), "charge": jnp.asarray(rng.integers(0, 2, n)),
            "decay_mode": jnp.asarray(rng.integers(0, 6, n)),
            "kin_targets": jnp.asarray(rng.normal(size=(n, 5)), jnp.float32), "weight": jnp.ones(n)}


@functools.partial(jax.jit, static_argnums=(0, 1))
def _pcgrad_step(pcgrad: PCGrad, graphdef: nnx.GraphDef, state: nnx.State, batch: dict[str, jax.Array]) -> tuple:
    """One PCGrad call, compiled (eager NNX dispatch would take minutes)."""
    model = nnx.merge(graphdef, state)
    total, grads, aux = pcgrad(model, batch)
    return total, grads, aux["conflicts"], nnx.state(model, nnx.BatchStat)


@pytest.mark.parametrize("variant", ["original", "tau"])
def test_fast_pcgrad_gives_the_straightforward_projected_gradients(variant: str) -> None:
    """Backbone VJP once + per-task heads + vmapped backbone backward == vmap of the whole model's VJP."""
    loss, batch = MultiTaskLoss(), _batch()
    graphdef, state = nnx.split(MultiParTau(SMALL, rngs=nnx.Rngs(3)))
    total_fast, grads_fast, conflicts_fast, stats_fast = _pcgrad_step(PCGrad(loss, variant), graphdef, state, batch)
    total_full, grads_full, conflicts_full, stats_full = _pcgrad_step(PCGrad(loss, variant, shared_vjp=False),
                                                                      graphdef, state, batch)
    np.testing.assert_allclose(total_fast, total_full, rtol=1e-6)
    assert jax.tree.structure(grads_fast) == jax.tree.structure(grads_full)
    for a, b in zip(jax.tree.leaves(grads_fast), jax.tree.leaves(grads_full), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # the tasks' backbone gradients conflict, so the projection changed them (the comparison is not vacuous);
    # the count agrees up to dot products that are zero but for round-off in the per-tensor variant
    assert float(conflicts_full) > 0
    assert float(conflicts_fast) == pytest.approx(float(conflicts_full), rel=0.05)
    # batch-norm statistics advanced the same way (the backbone and heads ran once each, in training mode)
    for a, b in zip(jax.tree.leaves(stats_fast), jax.tree.leaves(stats_full), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_fused_attention_equals_the_explicit_softmax() -> None:
    rng = np.random.default_rng(1)
    q, k, v = (jnp.asarray(rng.normal(size=(3, 7, 2, 8)), jnp.float32) for _ in range(3))
    bias = jnp.asarray(rng.normal(size=(3, 2, 7, 7)), jnp.float32)
    key_mask = jnp.asarray(np.arange(7)[None, :] < np.array([[3], [7], [5]]))
    fused = attention_fused(q, k, v, key_mask, bias)
    np.testing.assert_allclose(fused, attention_explicit(q, k, v, key_mask, bias), rtol=1e-5, atol=1e-6)
    # masked keys do not contribute: changing their values leaves the output alone
    v2 = jnp.where(key_mask[:, :, None, None], v, 100.0)
    np.testing.assert_allclose(attention_fused(q, k, v2, key_mask, bias), fused, rtol=1e-5, atol=1e-6)
    # the pair bias matters
    assert float(jnp.max(jnp.abs(attention_fused(q, k, v, key_mask, None) - fused))) > 1e-2


@functools.partial(jax.jit, static_argnums=0)
def _outputs_and_grads(graphdef: nnx.GraphDef, state: nnx.State, batch: dict[str, jax.Array]) -> tuple:
    model = nnx.merge(graphdef, state)
    outputs = model(batch["features"], batch["p4"], batch["mask"])
    grads = nnx.grad(lambda m: MultiTaskLoss()(m, batch)[0])(model)
    bias = model.backbone.pair_embed(batch["p4"], batch["mask"])
    return outputs, grads, bias


def test_bfloat16_model_follows_float32() -> None:
    """Same float32 master weights, computation in bfloat16: outputs and gradients match float32 closely."""
    cfg = SMALL.with_(dropout=0.0)
    batch = _batch(n=64, p=12, seed=2)
    results = {}
    for dtype in ("float32", "bfloat16"):
        model = MultiParTau(cfg.with_(dtype=dtype), rngs=nnx.Rngs(0))
        model.heads["kinematics"].out.linear.kernel[...] = 0.1 * jax.random.normal(jax.random.key(4), (128, 5))  # not zero
        model.eval()
        assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(model, nnx.Param)))  # master weights
        results[dtype] = _outputs_and_grads(*nnx.split(model), batch)
    (out32, g32, bias32), (out16, g16, bias16) = results["float32"], results["bfloat16"]
    assert bias32.dtype == jnp.float32 and bias16.dtype == jnp.bfloat16  # the pair bias is held in bfloat16
    for task in out32:
        assert out16[task].dtype == jnp.float32  # heads return float32
        ref, low = np.asarray(out32[task]), np.asarray(out16[task])
        assert np.abs(low - ref).max() < 0.05 * np.abs(ref).max(), task
        assert np.abs(low - ref).max() > 0, task  # the bfloat16 model really computes in bfloat16
    flat32 = np.concatenate([np.ravel(x) for x in jax.tree.leaves(g32)]).astype(np.float64)
    flat16 = np.concatenate([np.ravel(x) for x in jax.tree.leaves(g16)]).astype(np.float64)
    assert flat32 @ flat16 / (np.linalg.norm(flat32) * np.linalg.norm(flat16)) > 0.99
