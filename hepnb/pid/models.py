"""PID networks in Flax NNX: SimpleNN, DNN, FSE + attention (phase 0 and detector-aware phase 1), MoE.

Every network takes ``(x, mask, mode)``: the scaled 22 features (N, 22), the per-group presence mask
(N, 4) for the groups TPC, TOF, Bayes and kinematics, and the detector mode (N,) = has_TPC + 2·has_TOF.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hepnb.pid.selection import FEATURES, GROUPS

__all__ = ["DNN", "NETWORKS", "FSEAttention", "MixtureOfExperts", "SimpleNN", "build_network", "focal_loss"]

NETWORKS = ("simple_nn", "dnn", "fse_phase0", "fse_phase1", "moe")
Array = Any


def focal_loss(logits: Array, y: Array, class_weights: Array, alpha: float = 0.5, gamma: float = 2.5) -> Array:
    """FL = mean(w_y · α (1 − p_t)^γ · (−log p_t)) (the seed's loss; γ = 0 and α = 1 give weighted CE)."""
    logp = jax.nn.log_softmax(logits)
    logp_t = jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
    p_t = jnp.exp(logp_t)
    return jnp.mean(class_weights[y] * alpha * (1.0 - p_t) ** gamma * (-logp_t))


class _MLP(nnx.Module):
    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, *, dropout: float, batch_norm: bool,
                 rngs: nnx.Rngs) -> None:
        widths = [n_in, *hidden]
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(widths)])
        self.norms = nnx.List([nnx.BatchNorm(b, rngs=rngs) for b in hidden]) if batch_norm else None
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        self.out = nnx.Linear(widths[-1], n_out, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if self.norms is not None:
                x = self.norms[i](x)
            x = self.drop(nnx.relu(x))
        return self.out(x)


class SimpleNN(nnx.Module):
    """Dense 512-256-128-64, ReLU, dropout 0.5 (the seed's SimpleNN)."""

    def __init__(self, n_in: int = len(FEATURES), *, rngs: nnx.Rngs) -> None:
        self.mlp = _MLP(n_in, (512, 256, 128, 64), 4, dropout=0.5, batch_norm=False, rngs=rngs)

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        return self.mlp(x)


class DNN(nnx.Module):
    """Dense 1024-512-256-128-64, each with batch norm, ReLU and dropout 0.5 (the seed's DNN)."""

    def __init__(self, n_in: int = len(FEATURES), *, rngs: nnx.Rngs) -> None:
        self.mlp = _MLP(n_in, (1024, 512, 256, 128, 64), 4, dropout=0.5, batch_norm=True, rngs=rngs)

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        return self.mlp(x)


class FSEAttention(nnx.Module):
    """Feature-set embedding + attention over detector groups; ``detector_aware`` adds phase 1.

    Each group (TPC, TOF, Bayes, kinematics) is embedded to 64 and masked by its presence; multi-head
    self-attention over the groups (absent groups masked as keys), layer norm and a residual; sigmoid
    gates per group; masked mean pooling; MLP head. Phase 1 embeds the detector mode, fuses it with a
    scalar sigmoid gate and applies a mode-specific affine (scale 2σ(·), shift 0.5 tanh(·)).
    """

    def __init__(self, *, detector_aware: bool, embed: int = 64, heads: int = 4, dropout: float = 0.2,
                 mode_embed: int = 8, rngs: nnx.Rngs) -> None:
        self.detector_aware = detector_aware
        self.embed = nnx.List([nnx.Linear(len(idx), embed, rngs=rngs) for idx in GROUPS.values()])
        self.attention = nnx.MultiHeadAttention(heads, embed, dropout_rate=dropout, decode=False, rngs=rngs)
        self.norm = nnx.LayerNorm(embed, rngs=rngs)
        self.proj = nnx.Linear(embed, embed, rngs=rngs)
        self.gate = nnx.Linear(embed, embed, rngs=rngs)
        self.gate_norm = nnx.LayerNorm(embed, rngs=rngs)
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        if detector_aware:
            self.mode_embed = nnx.Linear(4, mode_embed, rngs=rngs)
            self.fusion = nnx.Linear(embed + mode_embed, 1, rngs=rngs)
            self.mode_scale = nnx.Linear(4, embed, rngs=rngs)
            self.mode_shift = nnx.Linear(4, embed, rngs=rngs)
            self.mode_proj = nnx.Linear(mode_embed, embed, rngs=rngs)
            self.head = _MLP(embed + mode_embed, (160, 80), 4, dropout=dropout, batch_norm=False, rngs=rngs)
        else:
            self.head = _MLP(embed, (128, 64), 4, dropout=dropout, batch_norm=False, rngs=rngs)

    def group_gates(self, x: Array, mask: Array) -> tuple[Array, Array]:
        """Token representations (N, G, E) and the mean sigmoid gate per group (N, G)."""
        tokens = jnp.stack([layer(x[:, list(idx)]) for layer, idx in zip(self.embed, GROUPS.values(), strict=True)],
                           axis=1) * mask[:, :, None]
        attn_mask = (mask[:, None, :, None] * mask[:, None, None, :]) > 0
        attended = self.attention(tokens, mask=attn_mask)
        tokens = self.norm(tokens + 0.5 * self.proj(attended))
        gates = jax.nn.sigmoid(self.gate_norm(self.gate(tokens))) * mask[:, :, None]
        return tokens * gates, gates.mean(axis=-1)

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        tokens, _ = self.group_gates(x, mask)
        pooled = tokens.sum(axis=1) / jnp.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        if not self.detector_aware:
            return self.head(self.drop(pooled))
        onehot = jax.nn.one_hot(mode, 4)
        mode_emb = self.drop(nnx.relu(self.mode_embed(onehot)))
        fusion = jax.nn.sigmoid(self.fusion(jnp.concatenate([pooled, mode_emb], axis=1)))
        scale = 2.0 * jax.nn.sigmoid(self.mode_scale(onehot))
        shift = 0.5 * jnp.tanh(self.mode_shift(onehot))
        fused = pooled * scale + shift + 0.5 * fusion * self.mode_proj(mode_emb)
        return self.head(jnp.concatenate([fused, mode_emb], axis=1))


class MixtureOfExperts(nnx.Module):
    """The seed's suggested next step: a TPC-only expert and a TOF-assisted expert mixed by a gate.

    p(y) = g · p_TOF(y) + (1 − g) · p_TPC(y), with g = has_TOF · σ(w · [kinematics]) so tracks without
    TOF use the TPC expert only. Returns log-probabilities (usable as logits).
    """

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.tpc_idx = (*GROUPS["tpc"], *GROUPS["kinematics"])
        self.tpc_expert = _MLP(len(self.tpc_idx), (256, 128, 64), 4, dropout=0.3, batch_norm=False, rngs=rngs)
        self.tof_expert = _MLP(len(FEATURES), (256, 128, 64), 4, dropout=0.3, batch_norm=False, rngs=rngs)
        self.gate = nnx.Linear(len(GROUPS["kinematics"]), 1, rngs=rngs)

    def gate_value(self, x: Array, mask: Array) -> Array:
        """g per track (0 without TOF)."""
        return jax.nn.sigmoid(self.gate(x[:, list(GROUPS["kinematics"])]))[:, 0] * mask[:, 1]

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        g = self.gate_value(x, mask)[:, None]
        p_tpc = jax.nn.softmax(self.tpc_expert(x[:, list(self.tpc_idx)]))
        p_tof = jax.nn.softmax(self.tof_expert(x))
        return jnp.log(g * p_tof + (1.0 - g) * p_tpc + 1e-12)


def build_network(name: str, *, seed: int = 0) -> nnx.Module:
    """One of :data:`NETWORKS`; an unknown name is refused with the list."""
    rngs = nnx.Rngs(seed)
    if name == "simple_nn":
        return SimpleNN(rngs=rngs)
    if name == "dnn":
        return DNN(rngs=rngs)
    if name in ("fse_phase0", "fse_phase1"):
        return FSEAttention(detector_aware=name == "fse_phase1", rngs=rngs)
    if name == "moe":
        return MixtureOfExperts(rngs=rngs)
    msg = f"unknown model {name!r}; choose one of {[*NETWORKS, 'random_forest', 'xgboost']}"
    raise ValueError(msg)
