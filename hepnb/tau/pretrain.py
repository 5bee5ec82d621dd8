"""Self-supervised pre-training of the ParT backbone by masked-particle modelling, and its transfer.

After the idea of masked particle modelling (Golling et al., arXiv:2401.13537) and the talk's "next up"
(seed 002): on unlabelled jets (τ and q/g together) a random fraction of each jet's candidates is hidden, and
the network predicts what they were from the rest of the jet. A hidden candidate keeps only *where* it is
(|Δη|, |Δφ|, ΔR to the jet axis, and a unit-energy four-vector along its direction for the pair features);
its energy, pT, type, charge and impact parameters are removed (its category one-hot is all zeros, which is
how the network recognises it). The head predicts, for every hidden candidate, log pT, log E, log(pT/pT_jet),
log(E/E_jet) and tanh(dz), tanh(dxy) (Huber, δ = 1; the impact parameters for tracks only), its category
(5 classes) and its charge (−, 0, +) (cross-entropy). The backbone (embedding, pair embedding, particle
blocks) is then copied into a :class:`~hepnb.tau.models.MultiParTau` that is fine-tuned on the four tasks
(:func:`transfer_backbone`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax import Array

from hepnb.tau import constants
from hepnb.tau.models import Backbone, ParTConfig

__all__ = ["MASK_FRACTION", "MaskedParticleLoss", "MaskedParticleModel", "hide_candidates", "transfer_backbone"]

#: Fraction of each jet's candidates hidden in pre-training.
MASK_FRACTION = 0.3
_KEEP = (0, 1, 6)  # |Δη|, |Δφ|, ΔR stay visible
_KIN = (2, 3, 4, 5)  # log pT, log E, log pT_rel, log E_rel
_CATEGORY = slice(8, 13)
_CHARGE = 7
_IP = (13, 15)  # tanh(dz), tanh(dxy) (as to_tensors prepares them)
N_OUTPUTS = len(_KIN) + len(_IP) + len(constants.CANDIDATE_CATEGORIES) + 3


def hide_candidates(features: Array, p4: Array, hidden: Array) -> tuple[Array, Array]:
    """Features and four-vectors with the ``hidden`` candidates ``[B, P]`` reduced to their direction."""
    keep = jnp.zeros(features.shape[-1], bool).at[jnp.asarray(_KEEP)].set(True)
    masked = jnp.where(keep, features, 0.0)
    direction = p4[..., :3] / jnp.maximum(jnp.linalg.norm(p4[..., :3], axis=-1, keepdims=True), 1e-9)
    unit = jnp.concatenate([direction, jnp.ones_like(p4[..., :1])], axis=-1)
    return (jnp.where(hidden[..., None], masked, features), jnp.where(hidden[..., None], unit, p4))


class MaskedParticleModel(nnx.Module):
    """A ParT :class:`~hepnb.tau.models.Backbone` with a per-candidate head for masked-particle modelling.

    Parameters
    ----------
    cfg
        Backbone sizes (those of the model it will initialise).
    rngs
        Parameter and dropout streams; a ``mask`` stream draws the hidden candidates of each step.
    """

    def __init__(self, cfg: ParTConfig, *, rngs: nnx.Rngs) -> None:
        self.backbone = Backbone(cfg, rngs=rngs)
        self.hidden = nnx.Linear(cfg.width, 128, rngs=rngs)
        self.out = nnx.Linear(128, N_OUTPUTS, rngs=rngs)
        self.mask_rngs = nnx.Rngs(mask=jax.random.fold_in(rngs.params(), 11))
        self.deterministic = False  # set by ``model.eval()``: a fixed draw, so that validation losses compare

    def __call__(self, features: Array, p4: Array, mask: Array, hidden: Array) -> Array:
        feats, vecs = hide_candidates(features, p4, hidden)
        x = self.backbone(feats, vecs, mask)
        return self.out(nnx.gelu(self.hidden(x.astype(jnp.float32)), approximate=False))


def _targets(features: Array) -> tuple[Array, Array, Array, Array]:
    kin = features[..., jnp.asarray(_KIN)]
    ip = features[..., jnp.asarray(_IP)]
    category = jnp.argmax(features[..., _CATEGORY], axis=-1)
    charge = jnp.clip(jnp.round(features[..., _CHARGE]), -1, 1).astype(jnp.int32) + 1
    return kin, ip, category, charge


@dataclass(frozen=True)
class MaskedParticleLoss:
    """``loss_fn(model, batch) -> (loss, aux)`` of masked-particle modelling (hashable, for
    :func:`hepnb.train.fit`); the hidden candidates are drawn from the model's ``mask`` stream in training and
    fixed in evaluation mode."""

    fraction: float = MASK_FRACTION

    def __call__(self, model: MaskedParticleModel, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
        mask = batch["mask"]
        key = jax.random.key(0) if model.deterministic else model.mask_rngs.mask()
        hidden = mask & (jax.random.uniform(key, mask.shape) < self.fraction)
        out = model(batch["features"], batch["p4"], mask, hidden)
        kin, ip, category, charge = _targets(batch["features"])
        n_kin, n_ip, n_cat = len(_KIN), len(_IP), len(constants.CANDIDATE_CATEGORIES)
        l_kin = optax.huber_loss(out[..., :n_kin], kin, delta=1.0).mean(axis=-1)
        track = jnp.abs(batch["features"][..., _CHARGE]) > 0
        l_ip = optax.huber_loss(out[..., n_kin:n_kin + n_ip], ip, delta=1.0).mean(axis=-1) * track
        l_cat = optax.softmax_cross_entropy_with_integer_labels(out[..., n_kin + n_ip:n_kin + n_ip + n_cat], category)
        l_q = optax.softmax_cross_entropy_with_integer_labels(out[..., n_kin + n_ip + n_cat:], charge)
        weight = hidden.astype(jnp.float32)
        n = jnp.maximum(weight.sum(), 1.0)
        parts = {"kinematics": (l_kin * weight).sum() / n, "impact": (l_ip * weight).sum() / n,
                 "category": (l_cat * weight).sum() / n, "charge": (l_q * weight).sum() / n}
        return sum(parts.values()), parts


def transfer_backbone(pretrained: MaskedParticleModel, target: nnx.Module) -> None:
    """Copy the pre-trained backbone (parameters and batch-norm statistics) into ``target.backbone``."""
    nnx.update(target.backbone, nnx.state(pretrained.backbone))  # type: ignore[attr-defined]
