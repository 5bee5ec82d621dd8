"""Jet networks in Flax NNX: Particle Transformer, MultiParTau, SingleParTau, Deep Sets, plain Transformer.

The Particle Transformer follows weaver-core's ``ParticleTransformer`` (the 2022 paper model, reference/tau.md
§4): batch-normalised inputs, a per-candidate embedding (LayerNorm → Linear → GELU per layer), a pair
embedding of ln Δ, ln kT, ln z, ln m² (1×1 convolutions, i.e. per-pair dense layers, with batch norm and GELU)
whose output is one attention bias per head, NormFormer-like particle-attention blocks
softmax(QKᵀ/√d + U)V with a learnable per-head scale and residual scale, and CaiT-style class-attention
blocks whose query is a class token. MultiParTau shares the embedding and particle blocks and gives each task
its own class token, class blocks, LayerNorm and head (reference/tau.md §2).

Every model takes ``(features [B, P, 17], p4 [B, P, 4], mask [B, P])``. Batch-norm statistics are computed
over real candidates only, so adding padding slots does not change any output, and every model is invariant
under permutations of the candidates.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
from flax import nnx
from jax import Array

from hepnb.tau import constants
from hepnb.tau.pairs import N_PAIR_FEATURES, pair_features

__all__ = ["LOSS_COVERAGE", "MODEL_CARD", "OUTPUT_COVERAGE", "RECO_JET_TARGETS", "TASKS", "DeepSets",
           "KinematicsOutput", "MultiParTau", "ParTConfig", "ParticleTransformer", "SingleParTau", "attention_explicit",
           "attention_fused", "count_params", "kinematic_scale"]

#: The four tasks in the tau code's order (its PCGrad loop and task-weight vector): tag, decay mode, charge,
#: kinematics; this tuple is the order of the outputs, of the task weights and of the ``"tau"`` PCGrad variant.
TASKS: tuple[str, ...] = ("tau_id", "decay_mode", "charge", "kinematics")
_MULTI_OUTPUTS = {"tau_id": 2, "charge": 1, "decay_mode": len(constants.DM_CLASSES), "kinematics": 5}
_SINGLE_OUTPUTS = {"tau_id": 2, "charge": 2, "decay_mode": len(constants.DM_CLASSES), "kinematics": 5}
_HEAD_DROPOUT = {"tau_id": 0.05, "charge": 0.1, "decay_mode": 0.1, "kinematics": 0.0}


@dataclass(frozen=True)
class ParTConfig:
    """Size of a Particle Transformer.

    Attributes
    ----------
    embed_dims
        Widths of the per-candidate embedding; the last one is the model width.
    pair_dims
        Widths of the pair embedding before its final layer to one bias per head; empty for no pair bias
        (the plain Transformer).
    n_heads, n_layers, n_cls_layers
        Attention heads, particle-attention blocks, class-attention blocks.
    ffn_ratio
        Hidden width of the feed-forward part relative to the model width.
    dropout
        Dropout, attention dropout and activation dropout of the particle blocks (class blocks use none).
    dtype
        Computation dtype (``"bfloat16"`` for mixed precision on a GPU): every activation, batch-norm outputs
        and the pair bias included, is held in it; parameters stay float32 (the master weights), batch-norm
        and LayerNorm statistics and the attention softmax are computed in float32.
    attention
        ``implementation`` of :func:`jax.nn.dot_product_attention`: ``None`` (XLA) or ``"cudnn"`` (fused
        cuDNN kernel on a GPU, bfloat16 only).
    """

    embed_dims: tuple[int, ...] = (256, 512, 256)
    pair_dims: tuple[int, ...] = (64, 64, 64)
    n_heads: int = 8
    n_layers: int = 2
    n_cls_layers: int = 2
    ffn_ratio: int = 4
    dropout: float = 0.1
    dtype: str = "float32"
    attention: str | None = None

    @property
    def width(self) -> int:
        """Model width (the last embedding width)."""
        return self.embed_dims[-1]

    def with_(self, **changes: object) -> ParTConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


#: The HEP-KBFI/fcc-tau model card: embed [256, 512, 256], pair [64, 64, 64], 8 heads, 2 + 2 layers.
MODEL_CARD = ParTConfig()


def count_params(model: nnx.Module) -> int:
    """Number of trainable parameters (batch-norm running statistics excluded)."""
    return int(sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param))))


def _dtype(cfg: ParTConfig) -> jnp.dtype:
    return jnp.dtype(cfg.dtype)


class _MaskedBatchNorm(nnx.Module):
    """Batch norm over the last axis whose statistics use only the positions where ``mask`` is true; computed
    in float32, returned in ``dtype``."""

    def __init__(self, n: int, *, dtype: jnp.dtype = jnp.float32, rngs: nnx.Rngs) -> None:
        self.bn = nnx.BatchNorm(n, momentum=0.9, epsilon=1e-5, rngs=rngs)
        self.dtype = jnp.dtype(dtype)

    def __call__(self, x: Array, mask: Array) -> Array:
        return (self.bn(x.astype(jnp.float32), mask=mask[..., None]) * mask[..., None]).astype(self.dtype)


class Embed(nnx.Module):
    """Input batch norm, then LayerNorm → Linear → GELU for each width."""

    def __init__(self, n_in: int, dims: Sequence[int], *, dtype: jnp.dtype, rngs: nnx.Rngs) -> None:
        self.input_bn = _MaskedBatchNorm(n_in, dtype=dtype, rngs=rngs)
        sizes = [n_in, *dims]
        self.norms = nnx.List([nnx.LayerNorm(a, dtype=dtype, rngs=rngs) for a in sizes[:-1]])
        self.linears = nnx.List([nnx.Linear(a, b, dtype=dtype, rngs=rngs) for a, b in itertools.pairwise(sizes)])

    def __call__(self, x: Array, mask: Array) -> Array:
        x = self.input_bn(x, mask)
        for norm, linear in zip(self.norms, self.linears, strict=True):
            x = nnx.gelu(linear(norm(x)), approximate=False)
        return x * mask[..., None]


class PairEmbed(nnx.Module):
    """Pair features → (dense + batch norm + GELU) per width → one attention bias per head."""

    def __init__(self, dims: Sequence[int], n_heads: int, *, dtype: jnp.dtype, rngs: nnx.Rngs) -> None:
        self.input_bn = _MaskedBatchNorm(N_PAIR_FEATURES, dtype=dtype, rngs=rngs)
        sizes = [N_PAIR_FEATURES, *dims, n_heads]
        self.linears = nnx.List([nnx.Linear(a, b, dtype=dtype, rngs=rngs) for a, b in itertools.pairwise(sizes)])
        self.norms = nnx.List([_MaskedBatchNorm(b, dtype=dtype, rngs=rngs) for b in sizes[1:]])

    def __call__(self, p4: Array, mask: Array) -> Array:
        """The attention bias ``[B, heads, P, P]``, computed once per batch and shared by every particle block."""
        pair_mask = mask[:, :, None] & mask[:, None, :]
        u = self.input_bn(pair_features(p4), pair_mask)
        for linear, norm in zip(self.linears, self.norms, strict=True):
            u = nnx.gelu(norm(linear(u), pair_mask), approximate=False)
        return jnp.moveaxis(u, -1, 1)  # [B, heads, P, P]


def attention_explicit(q: Array, k: Array, v: Array, key_mask: Array, bias: Array | None,
                       dropout: nnx.Dropout | None = None) -> Array:
    """softmax(QKᵀ/√d + U)V written out, with dropout on the attention weights (training with attention dropout).

    ``q`` ``[B, Q, H, d]``, ``k`` and ``v`` ``[B, K, H, d]``, ``key_mask`` ``[B, K]``, ``bias`` ``[B, H, Q, K]``;
    logits and softmax in float32.
    """
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32) / jnp.sqrt(q.shape[-1])
    if bias is not None:
        logits = logits + bias.astype(jnp.float32)
    logits = jnp.where(key_mask[:, None, None, :], logits, -1e9)
    weights = jax.nn.softmax(logits, axis=-1)
    if dropout is not None:
        weights = dropout(weights)
    return jnp.einsum("bhqk,bkhd->bqhd", weights.astype(v.dtype), v)


def attention_fused(q: Array, k: Array, v: Array, key_mask: Array, bias: Array | None,
                    implementation: str | None = None) -> Array:
    """The same attention through :func:`jax.nn.dot_product_attention` (no dropout on the weights)."""
    return jax.nn.dot_product_attention(q, k, v, bias=bias, mask=key_mask[:, None, None, :],
                                        implementation=implementation)  # type: ignore[arg-type]


class Block(nnx.Module):
    """NormFormer-like attention block; with ``cls`` given, a class-attention block.

    Particle block: ``x + LN(c ⊙ MHA(LN(x), bias=U))`` then ``w ⊙ x + FFN(x)`` with
    ``FFN = LN → Linear(d, 4d) → GELU → LN(4d) → Linear(4d, d)``. Class block: the query is the class token,
    keys and values are ``LN([cls; x])``, and the residual is the class token.
    """

    def __init__(self, dim: int, n_heads: int, ffn_ratio: int, dropout: float, *, dtype: jnp.dtype,
                 rngs: nnx.Rngs, attention: str | None = None) -> None:
        self.n_heads = n_heads
        self.attention = attention
        hidden = dim * ffn_ratio
        self.pre_attn_norm = nnx.LayerNorm(dim, dtype=dtype, rngs=rngs)
        self.q = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)
        self.k = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)
        self.v = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)
        self.out = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)
        self.c_attn = nnx.Param(jnp.ones((n_heads,)))
        self.post_attn_norm = nnx.LayerNorm(dim, dtype=dtype, rngs=rngs)
        self.pre_fc_norm = nnx.LayerNorm(dim, dtype=dtype, rngs=rngs)
        self.fc1 = nnx.Linear(dim, hidden, dtype=dtype, rngs=rngs)
        self.post_fc_norm = nnx.LayerNorm(hidden, dtype=dtype, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, dim, dtype=dtype, rngs=rngs)
        self.w_resid = nnx.Param(jnp.ones((dim,)))
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.attn_dropout = nnx.Dropout(dropout, rngs=rngs)
        self.act_dropout = nnx.Dropout(dropout, rngs=rngs)

    def _heads(self, x: Array) -> Array:
        return x.reshape(*x.shape[:2], self.n_heads, -1)

    def _attend(self, query: Array, keys: Array, key_mask: Array, bias: Array | None) -> Array:
        q, k, v = self._heads(self.q(query)), self._heads(self.k(keys)), self._heads(self.v(keys))
        if self.attn_dropout.deterministic or self.attn_dropout.rate == 0:
            heads = attention_fused(q, k, v, key_mask, bias, self.attention)
        else:  # dot_product_attention has no dropout on the attention weights
            heads = attention_explicit(q, k, v, key_mask, bias, self.attn_dropout)
        heads = self._heads(self.out(heads.reshape(*heads.shape[:2], -1))) * self.c_attn[...].astype(v.dtype)[:, None]
        return heads.reshape(*heads.shape[:2], -1)

    def __call__(self, x: Array, mask: Array, bias: Array | None = None, cls: Array | None = None) -> Array:
        if cls is None:
            residual = x
            h = self.pre_attn_norm(x)
            h = self._attend(h, h, mask, bias)
        else:
            residual = cls
            keys = self.pre_attn_norm(jnp.concatenate([cls, x], axis=1))
            key_mask = jnp.concatenate([jnp.ones_like(mask[:, :1]), mask], axis=1)
            h = self._attend(cls, keys, key_mask, None)
        x = self.dropout(self.post_attn_norm(h)) + residual
        h = self.act_dropout(nnx.gelu(self.fc1(self.pre_fc_norm(x)), approximate=False))
        h = self.dropout(self.fc2(self.post_fc_norm(h)))
        return h + self.w_resid[...].astype(h.dtype) * x


class Backbone(nnx.Module):
    """Embedding, pair embedding and the particle-attention blocks (the part MultiParTau shares)."""

    def __init__(self, cfg: ParTConfig, *, rngs: nnx.Rngs) -> None:
        dtype = _dtype(cfg)
        self.embed = Embed(constants.N_FEATURES, cfg.embed_dims, dtype=dtype, rngs=rngs)
        self.pair_embed = PairEmbed(cfg.pair_dims, cfg.n_heads, dtype=dtype, rngs=rngs) if cfg.pair_dims else None
        self.blocks = nnx.List([Block(cfg.width, cfg.n_heads, cfg.ffn_ratio, cfg.dropout, dtype=dtype, rngs=rngs,
                                      attention=cfg.attention) for _ in range(cfg.n_layers)])

    def __call__(self, features: Array, p4: Array, mask: Array) -> Array:
        x = self.embed(features, mask)
        bias = self.pair_embed(p4, mask) if self.pair_embed is not None else None
        for block in self.blocks:
            x = block(x, mask, bias=bias) * mask[..., None]
        return x


class ClassPath(nnx.Module):
    """A class token, its class-attention blocks and a final LayerNorm: the jet's summary vector."""

    def __init__(self, cfg: ParTConfig, *, rngs: nnx.Rngs) -> None:
        dtype = _dtype(cfg)
        self.token = nnx.Param(0.02 * jax.random.truncated_normal(rngs.params(), -2.0, 2.0, (1, 1, cfg.width)))
        self.blocks = nnx.List([Block(cfg.width, cfg.n_heads, cfg.ffn_ratio, 0.0, dtype=dtype, rngs=rngs,
                                      attention=cfg.attention) for _ in range(cfg.n_cls_layers)])
        self.norm = nnx.LayerNorm(cfg.width, dtype=dtype, rngs=rngs)

    def __call__(self, x: Array, mask: Array) -> Array:
        cls = jnp.broadcast_to(self.token[...].astype(x.dtype), (x.shape[0], 1, x.shape[-1]))
        for block in self.blocks:
            cls = block(x, mask, cls=cls)
        return self.norm(cls[:, 0])


class ParticleTransformer(nnx.Module):
    """A single-output Particle Transformer (``cfg.pair_dims = ()`` gives the plain Transformer).

    Parameters
    ----------
    cfg
        Sizes; :data:`MODEL_CARD` is the fcc-tau model card.
    n_out
        Outputs of the final Linear layer.
    rngs
        Parameter and dropout random streams.
    """

    def __init__(self, cfg: ParTConfig, n_out: int, *, rngs: nnx.Rngs) -> None:
        self.backbone = Backbone(cfg, rngs=rngs)
        self.cls = ClassPath(cfg, rngs=rngs)
        self.head = nnx.Linear(cfg.width, n_out, rngs=rngs)

    def __call__(self, features: Array, p4: Array, mask: Array) -> Array:
        x = self.backbone(features, p4, mask)
        return self.head(self.cls(x, mask).astype(jnp.float32))


#: The kinematic targets of the reco jet itself: log pT ratio 0, Δη 0, sin Δφ 0, cos Δφ 1, log m ratio 0.
RECO_JET_TARGETS: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0, 0.0)


class KinematicsOutput(nnx.Module):
    """Final layer of a kinematics head: the reco jet's targets plus a fixed per-target scale times a
    zero-initialised Linear layer, ``RECO_JET_TARGETS + scale * (W x + b)``.

    The targets are corrections to the reco jet (log pT and mass ratios, Δη, sin Δφ, cos Δφ), a few per cent
    at the CLD. Starting at the reco jet (every target, cos Δφ = 1 included), the network learns the
    correction only. The scale (the spread of each target on the training τ jets, tails included:
    :func:`kinematic_scale` with :data:`OUTPUT_COVERAGE`) keeps Adam's steps, which are about the learning rate
    whatever the size of the gradient, to the size of the corrections: unscaled, a step of 10⁻³ in a log-pT
    output is already a tenth of the reco jet's resolution, and a short training ends worse than the reco jet it
    started from; scaled to the core alone (σ ≈ the reco jet's own resolution), the corrections that beat the
    reco jet — jets with a fake or lost neutral, several σ off — take hundreds of steps to reach.

    Parameters
    ----------
    dim
        Input width.
    scale
        Per-target scale (5 values); ``None``: 1 (the unscaled output of the tau code).
    rngs
        Parameter random stream (the Linear layer's weights start at zero).
    """

    def __init__(self, dim: int, scale: Sequence[float] | None = None, *, rngs: nnx.Rngs) -> None:
        n_out = len(RECO_JET_TARGETS)
        scale = (1.0,) * n_out if scale is None else tuple(float(v) for v in scale)
        if len(scale) != n_out or not all(v > 0 for v in scale):
            msg = f"scale must be {n_out} positive values, found {scale}"
            raise ValueError(msg)
        self.linear = nnx.Linear(dim, n_out, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)
        self.reco = nnx.Variable(jnp.asarray(RECO_JET_TARGETS, jnp.float32))
        self.scale = nnx.Variable(jnp.asarray(scale, jnp.float32))

    def __call__(self, x: Array) -> Array:
        return self.reco[...] + self.scale[...] * self.linear(x.astype(jnp.float32))


#: Central fraction of the targets whose width sets the kinematics *output* scale: 90 %, so that the few-σ
#: corrections of jets with a fake or lost neutral (where the reco jet is worst) are within a few Adam steps.
OUTPUT_COVERAGE = 0.9
#: Central fraction whose width sets the *loss* units: the core (50 %), where the resolution is measured.
LOSS_COVERAGE = 0.5


def kinematic_scale(kin_targets: Array, is_tau: Array, *, coverage: float = LOSS_COVERAGE, floor: float = 1e-3
                    ) -> tuple[float, ...]:
    """The spread of each kinematic target about the reco jet's value on the τ jets of a (training) set: the width
    of the central ``coverage`` fraction of ``target − RECO_JET_TARGETS`` over that of a unit Gaussian (σ for a
    Gaussian; with the default 50 %, half the interquartile range over 0.6745), at least ``floor``.

    Parameters
    ----------
    kin_targets
        [N, 5] targets (:data:`hepnb.tau.data.KIN_TARGETS` order).
    is_tau
        [N] 1 for τ jets; the other jets' targets are not used.
    coverage
        Central fraction of the targets measured, in (0, 1): :data:`LOSS_COVERAGE` (the core) for the loss units,
        :data:`OUTPUT_COVERAGE` (the tails included) for the output scale.
    floor
        Smallest scale (cos Δφ − 1 is of order 10⁻⁵).
    """
    from scipy.stats import norm

    if not 0.0 < coverage < 1.0:
        msg = f"coverage must be in (0, 1), found {coverage}"
        raise ValueError(msg)
    tau = jnp.asarray(is_tau) == 1
    if not bool(jnp.any(tau)):
        msg = "kinematic_scale needs at least one τ jet (is_tau == 1); found none"
        raise ValueError(msg)
    dev = jnp.asarray(kin_targets)[tau] - jnp.asarray(RECO_JET_TARGETS)
    lo, hi = 50.0 * (1.0 - coverage), 50.0 * (1.0 + coverage)
    width = jnp.percentile(dev, hi, axis=0) - jnp.percentile(dev, lo, axis=0)
    return tuple(max(float(v), floor) for v in width / (2.0 * float(norm.ppf(0.5 + coverage / 2.0))))


class SingleParTau(ParticleTransformer):
    """One Particle Transformer for one task: 2 logits for tau ID and charge, 6 for the decay mode, 5 targets.

    Parameters
    ----------
    task
        One of :data:`TASKS`.
    cfg, rngs
        As :class:`ParticleTransformer`.
    kin_scale
        Output scale of the kinematics network (:class:`KinematicsOutput`); ``None``: unscaled.
    """

    def __init__(self, task: str, cfg: ParTConfig = MODEL_CARD, *, kin_scale: Sequence[float] | None = None,
                 rngs: nnx.Rngs) -> None:
        if task not in _SINGLE_OUTPUTS:
            msg = f"unknown task {task!r}; expected one of {list(TASKS)}"
            raise ValueError(msg)
        self.task = task
        super().__init__(cfg, _SINGLE_OUTPUTS[task], rngs=rngs)
        if task == "kinematics":
            self.head = KinematicsOutput(cfg.width, kin_scale, rngs=rngs)


class TaskHead(nnx.Module):
    """Linear(d → 128) → GELU → Dropout → Linear(128 → outputs)."""

    def __init__(self, dim: int, n_out: int, dropout: float, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(dim, 128, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.out = nnx.Linear(128, n_out, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        return self.out(self.dropout(nnx.gelu(self.hidden(x.astype(jnp.float32)), approximate=False)))


class MultiParTau(nnx.Module):
    """Shared ParT backbone with one class path and head per task.

    Parameters
    ----------
    cfg
        Sizes; :data:`MODEL_CARD` is the fcc-tau model card (about 8.3 M parameters).
    tasks
        A subset of :data:`TASKS`, in any order.
    kin_scale
        Output scale of the kinematics head (:class:`KinematicsOutput`); ``None``: unscaled.
    rngs
        Parameter and dropout random streams; a ``surgery`` stream, if present, drives the random task
        order of PCGrad (see :mod:`hepnb.tau.pcgrad`).
    """

    def __init__(self, cfg: ParTConfig = MODEL_CARD, tasks: Sequence[str] = TASKS, *,
                 kin_scale: Sequence[float] | None = None, rngs: nnx.Rngs) -> None:
        unknown = [t for t in tasks if t not in _MULTI_OUTPUTS]
        if unknown or not tasks:
            msg = f"unknown task(s) {unknown or list(tasks)}; expected a non-empty subset of {list(TASKS)}"
            raise ValueError(msg)
        self.tasks = tuple(tasks)
        self.backbone = Backbone(cfg, rngs=rngs)
        self.paths = nnx.Dict({t: ClassPath(cfg, rngs=rngs) for t in self.tasks})
        self.heads = nnx.Dict({t: TaskHead(cfg.width, _MULTI_OUTPUTS[t], _HEAD_DROPOUT[t], rngs=rngs)
                               for t in self.tasks})
        if "kinematics" in self.heads:
            self.heads["kinematics"].out = KinematicsOutput(128, kin_scale, rngs=rngs)
        self.surgery_rngs = nnx.Rngs(surgery=jax.random.fold_in(rngs.params(), 7))

    def task_output(self, task: str, x: Array, mask: Array) -> Array:
        """One task's class path and head on the backbone's output ``x`` (PCGrad differentiates them apart)."""
        return self.heads[task](self.paths[task](x, mask))

    def __call__(self, features: Array, p4: Array, mask: Array) -> dict[str, Array]:
        x = self.backbone(features, p4, mask)
        return {t: self.task_output(t, x, mask) for t in self.tasks}


class DeepSets(nnx.Module):
    """Deep Sets / particle-flow network: per-candidate MLP Φ, masked sum, MLP F on the sum.

    Parameters
    ----------
    n_out
        Outputs.
    phi_dims, f_dims
        Widths of Φ and F.
    rngs
        Parameter and dropout random streams.
    """

    def __init__(self, n_out: int = 2, phi_dims: Sequence[int] = (128, 128, 128), f_dims: Sequence[int] = (128, 128),
                 dropout: float = 0.1, *, rngs: nnx.Rngs) -> None:
        self.input_bn = _MaskedBatchNorm(constants.N_FEATURES, rngs=rngs)
        phi = [constants.N_FEATURES, *phi_dims]
        self.phi = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(phi)])
        f = [phi_dims[-1], *f_dims]
        self.f = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(f)])
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.out = nnx.Linear(f[-1], n_out, rngs=rngs)

    def __call__(self, features: Array, p4: Array, mask: Array) -> Array:
        del p4
        x = self.input_bn(features, mask)
        for layer in self.phi:
            x = nnx.gelu(layer(x), approximate=False)
        x = jnp.sum(x * mask[..., None], axis=1) / constants.MAX_CANDIDATES
        for layer in self.f:
            x = self.dropout(nnx.gelu(layer(x), approximate=False))
        return self.out(x)
