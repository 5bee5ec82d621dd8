"""PID networks in Flax NNX: SimpleNN, DNN, FSE + attention (phase 0 and detector-aware phase 1), MoE.

Every network takes ``(x, mask, mode)``: the scaled 22 features (N, 22), the per-group presence mask
(N, 4) for the groups TPC, TOF, Bayes and kinematics, and the detector mode (N,) = has_TPC + 2·has_TOF,
and returns logits (N, 4). The FSE networks follow the original's code (reference/pid.md §5, §7): one
Dense(64·G) on the whole feature vector reshaped into G group tokens, group-drop augmentation (p = 0.08) in
training, and phase 1's per-range settings (:func:`network_settings`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hepnb.pid.selection import FEATURES, GROUPS

__all__ = ["DNN", "NETWORKS", "FSEAttention", "MixtureOfExperts", "NetworkSettings", "SimpleNN", "build_network",
           "focal_loss", "network_settings"]

NETWORKS = ("simple_nn", "dnn", "fse_phase0", "fse_phase1", "moe")
Array = Any


def focal_loss(logits: Array, y: Array, weights: Array, alpha: float = 0.5, gamma: float = 2.5) -> Array:
    """FL = mean(w · α (1 − p_t)^γ · (−log p_t)) with a weight per track (the original's loss; its class weights
    are the tracks' ``w``; γ = 0 and α = 1 give weighted cross-entropy). Finite, with a finite gradient, for
    every α and γ ≥ 0, also where p_t rounds to 1."""
    logp = jax.nn.log_softmax(logits)
    logp_t = jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
    if gamma == 0:  # weighted cross-entropy: (1 − p_t)^0 would have a NaN gradient where p_t rounds to 1
        return jnp.mean(weights * alpha * (-logp_t))
    one_minus = 1.0 - jnp.exp(logp_t)
    if gamma < 1:  # γ x^(γ−1) is infinite at x = 0: keep 1 − p_t above zero (for γ ≥ 1 the gradient is finite there)
        one_minus = jnp.maximum(one_minus, jnp.finfo(logp_t.dtype).tiny)
    return jnp.mean(weights * alpha * one_minus ** gamma * (-logp_t))


@dataclass(frozen=True)
class NetworkSettings:
    """Architecture and optimiser settings of one network in one momentum range (the original's values)."""

    learning_rate: float = 1e-4
    focal_alpha: float = 0.5
    heads: int = 4
    dropout: float = 0.2
    mode_embed: int = 8


def network_settings(name: str, range_name: str | None = None) -> NetworkSettings:
    """The original's settings: Adam 1e-4 (DNN 5e-5), focal α 0.5 (phase 1: 0.4); phase 1 in 0–1 GeV/c uses 8 heads,
    dropout 0.4 and lr 5e-5. The original's 1–3 GeV/c override of the detector embedding (24) never reached its
    phase-1 network, which hard-codes 8 (its flaw 3): 8 is used here too, as the original ran."""
    if name == "dnn":
        return NetworkSettings(learning_rate=5e-5)
    if name == "fse_phase1":
        if range_name == "0-1":
            return NetworkSettings(learning_rate=5e-5, focal_alpha=0.4, heads=8, dropout=0.4)
        return NetworkSettings(focal_alpha=0.4)
    return NetworkSettings()


class _MLP(nnx.Module):
    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, *, dropout: float, batch_norm: bool = False,
                 layer_norm: bool = False, rngs: nnx.Rngs) -> None:
        widths = [n_in, *hidden]
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(widths)])
        self.norms = nnx.List([nnx.BatchNorm(b, rngs=rngs) for b in hidden]) if batch_norm else None
        self.layer_norms = nnx.List([nnx.LayerNorm(b, rngs=rngs) for b in hidden]) if layer_norm else None
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        self.out = nnx.Linear(widths[-1], n_out, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if self.norms is not None:
                x = self.norms[i](x)
            x = nnx.relu(x)
            if self.layer_norms is not None:
                x = self.layer_norms[i](x)
            x = self.drop(x)
        return self.out(x)


class SimpleNN(nnx.Module):
    """Dense 512-256-128-64, ReLU, dropout 0.5 (the original's SimpleNN)."""

    def __init__(self, n_in: int = len(FEATURES), *, rngs: nnx.Rngs) -> None:
        self.mlp = _MLP(n_in, (512, 256, 128, 64), 4, dropout=0.5, rngs=rngs)

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        return self.mlp(x)


class DNN(nnx.Module):
    """Dense 1024-512-256-128-64, each with batch norm, ReLU and dropout 0.5 (the original's DNN)."""

    def __init__(self, n_in: int = len(FEATURES), *, rngs: nnx.Rngs) -> None:
        self.mlp = _MLP(n_in, (1024, 512, 256, 128, 64), 4, dropout=0.5, batch_norm=True, rngs=rngs)

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        return self.mlp(x)


class FSEAttention(nnx.Module):
    """Feature-set embedding + attention over detector groups, as the original builds it; ``detector_aware`` adds phase 1.

    1. Dense(64·G) on the whole feature vector, reshaped to G = 4 group tokens of 64 and multiplied by the group
       mask; in training each group is also dropped with probability ``group_drop`` (0.08), the original's augmentation.
    2. Multi-head self-attention over the groups (absent groups masked as keys; attention dropout), layer norm,
       residual + 0.5 · projection.
    3. Gates σ(LayerNorm(Dense(64))) × mask; masked mean pooling over groups.
    4. Head Dense128-ReLU-LN-Drop, Dense64-ReLU-LN-Drop, Dense4.

    Phase 1 embeds the one-hot detector mode (Dense(``mode_embed``), ReLU, dropout), projects it to 64 and fuses it
    with the pooled tokens through a scalar sigmoid gate, applies a mode-specific affine (scale 2σ(·), shift
    0.5 tanh(·)): x = pooled·scale + shift + 0.5·fusion, concatenated with the mode embedding; head 160-80.
    """

    def __init__(self, *, detector_aware: bool, embed: int = 64, heads: int = 4, dropout: float = 0.2,
                 mode_embed: int = 8, group_drop: float = 0.08, rngs: nnx.Rngs) -> None:
        self.detector_aware = detector_aware
        self.n_groups, self.width = len(GROUPS), embed
        self.embed = nnx.Linear(len(FEATURES), embed * self.n_groups, rngs=rngs)
        self.group_drop = nnx.Dropout(group_drop, rngs=rngs)
        self.attention = nnx.MultiHeadAttention(heads, embed, dropout_rate=dropout, decode=False, rngs=rngs)
        self.norm = nnx.LayerNorm(embed, rngs=rngs)
        self.proj = nnx.Linear(embed, embed, rngs=rngs)
        self.gate = nnx.Linear(embed, embed, rngs=rngs)
        self.gate_norm = nnx.LayerNorm(embed, rngs=rngs)
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        if detector_aware:
            self.mode_embed = nnx.Linear(4, mode_embed, rngs=rngs)
            self.mode_proj = nnx.Linear(mode_embed, embed, rngs=rngs)
            self.fusion = nnx.Linear(embed + mode_embed, 1, rngs=rngs)
            self.mode_scale = nnx.Linear(4, embed, rngs=rngs)
            self.mode_shift = nnx.Linear(4, embed, rngs=rngs)
            self.head = _MLP(embed + mode_embed, (160, 80), 4, dropout=dropout, layer_norm=True, rngs=rngs)
        else:
            self.head = _MLP(embed, (128, 64), 4, dropout=dropout, layer_norm=True, rngs=rngs)

    def group_gates(self, x: Array, mask: Array) -> tuple[Array, Array, Array]:
        """Gated tokens (N, G, E), the mean sigmoid gate per group (N, G) and the mask used (after group drop)."""
        mask = mask * (self.group_drop(jnp.ones_like(mask)) > 0)  # identity in evaluation mode
        tokens = self.embed(x).reshape(x.shape[0], self.n_groups, self.width) * mask[:, :, None]
        attn_mask = (mask[:, None, :, None] * mask[:, None, None, :]) > 0
        attended = self.norm(self.attention(tokens, mask=attn_mask))
        tokens = tokens + 0.5 * self.proj(attended)
        gates = jax.nn.sigmoid(self.gate_norm(self.gate(tokens))) * mask[:, :, None]
        return tokens * gates, gates.mean(axis=-1), mask

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        tokens, _, mask = self.group_gates(x, mask)
        pooled = tokens.sum(axis=1) / jnp.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        if not self.detector_aware:
            return self.head(self.drop(pooled))
        onehot = jax.nn.one_hot(mode, 4)
        mode_emb = self.drop(nnx.relu(self.mode_embed(onehot)))
        detector = self.mode_proj(mode_emb)
        g = jax.nn.sigmoid(self.fusion(jnp.concatenate([pooled, mode_emb], axis=1)))
        fusion = g * detector + (1.0 - g) * pooled
        scale = 2.0 * jax.nn.sigmoid(self.mode_scale(onehot))
        shift = 0.5 * jnp.tanh(self.mode_shift(onehot))
        fused = pooled * scale + shift + 0.5 * fusion
        return self.head(jnp.concatenate([fused, mode_emb], axis=1))


class MixtureOfExperts(nnx.Module):
    """The original's suggested next step: a TPC-only expert and a TOF-assisted expert mixed by a gate.

    p(y) = g · p_TOF(y) + (1 − g) · p_TPC(y), with g = has_TOF · σ(w · [kinematics]) so tracks without
    TOF use the TPC expert only. Returns log-probabilities (usable as logits).
    """

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.tpc_idx = (*GROUPS["tpc"], *GROUPS["kinematics"])
        self.tpc_expert = _MLP(len(self.tpc_idx), (256, 128, 64), 4, dropout=0.3, rngs=rngs)
        self.tof_expert = _MLP(len(FEATURES), (256, 128, 64), 4, dropout=0.3, rngs=rngs)
        self.gate = nnx.Linear(len(GROUPS["kinematics"]), 1, rngs=rngs)

    def gate_value(self, x: Array, mask: Array) -> Array:
        """g per track (0 without TOF)."""
        return jax.nn.sigmoid(self.gate(x[:, list(GROUPS["kinematics"])]))[:, 0] * mask[:, 1]

    def __call__(self, x: Array, mask: Array, mode: Array) -> Array:
        g = self.gate_value(x, mask)[:, None]
        p_tpc = jax.nn.softmax(self.tpc_expert(x[:, list(self.tpc_idx)]))
        p_tof = jax.nn.softmax(self.tof_expert(x))
        return jnp.log(g * p_tof + (1.0 - g) * p_tpc + 1e-12)


def build_network(name: str, *, seed: int = 0, range_name: str | None = None) -> nnx.Module:
    """One of :data:`NETWORKS` with its settings for ``range_name`` (:func:`network_settings`); an unknown name
    is refused with the list."""
    rngs = nnx.Rngs(seed)
    if name == "simple_nn":
        return SimpleNN(rngs=rngs)
    if name == "dnn":
        return DNN(rngs=rngs)
    if name in ("fse_phase0", "fse_phase1"):
        s = network_settings(name, range_name)
        return FSEAttention(detector_aware=name == "fse_phase1", heads=s.heads, dropout=s.dropout,
                            mode_embed=s.mode_embed, rngs=rngs)
    if name == "moe":
        return MixtureOfExperts(rngs=rngs)
    msg = f"unknown model {name!r}; choose one of {[*NETWORKS, 'random_forest', 'xgboost']}"
    raise ValueError(msg)
