"""Tau networks: parameter counts of the model card, permutation and padding invariance, pair features,
PCGrad on hand-made gradients, losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hepnb import kinematics
from hepnb.tau.losses import MultiTaskLoss, SingleTaskLoss, task_loss
from hepnb.tau.models import (
    MODEL_CARD,
    RECO_JET_TARGETS,
    TASKS,
    DeepSets,
    KinematicsOutput,
    MultiParTau,
    ParTConfig,
    SingleParTau,
    count_params,
    kinematic_scale,
)
from hepnb.tau.pairs import pair_features
from hepnb.tau.pcgrad import PCGrad, project_ordered, project_original

SMALL = ParTConfig(embed_dims=(16, 32, 16), pair_dims=(8, 8), n_heads=2, n_layers=1, n_cls_layers=1, dropout=0.0)


def _batch(n: int = 6, p: int = 12, seed: int = 0, n_max: int | None = None) -> dict[str, jax.Array]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, n_max or p, size=n)
    mask = np.arange(p)[None, :] < counts[:, None]
    feats = rng.normal(size=(n, p, 17)).astype(np.float32) * mask[..., None]
    p3 = rng.normal(size=(n, p, 3)) * 5
    p4 = np.concatenate([p3, np.linalg.norm(p3, axis=-1, keepdims=True) + 0.2], axis=-1).astype(np.float32)
    return {"features": jnp.asarray(feats), "p4": jnp.asarray(p4 * mask[..., None]), "mask": jnp.asarray(mask),
            "is_tau": jnp.asarray(rng.integers(0, 2, n)), "charge": jnp.asarray(rng.integers(0, 2, n)),
            "decay_mode": jnp.asarray(rng.integers(0, 6, n)),
            "kin_targets": jnp.asarray(rng.normal(size=(n, 5)), jnp.float32), "weight": jnp.ones(n)}


def test_model_card_parameter_counts() -> None:
    """The counts derived from the tau code's modules (reference/tau.md §2)."""
    multi = MultiParTau(MODEL_CARD, rngs=nnx.Rngs(0))
    assert count_params(multi) == 8_340_994
    assert count_params(multi.backbone) == 1_863_860
    assert count_params(multi.backbone.blocks[0]) == 792_584
    assert count_params(SingleParTau("tau_id", MODEL_CARD, rngs=nnx.Rngs(0))) == 3_450_310


def _randomise(layer: nnx.Linear, seed: int) -> None:
    """Random weights in a head that starts at zero, so that the invariance tests see its outputs move."""
    layer.kernel[...] = 0.1 * jax.random.normal(jax.random.key(seed), layer.kernel[...].shape)
    layer.bias[...] = 0.1 * jax.random.normal(jax.random.key(seed + 1), layer.bias[...].shape)


def _models() -> dict[str, nnx.Module]:
    multi, single = MultiParTau(SMALL, rngs=nnx.Rngs(1)), SingleParTau("kinematics", SMALL, rngs=nnx.Rngs(1))
    _randomise(multi.heads["kinematics"].out.linear, 5)
    _randomise(single.head.linear, 6)
    return {"multi": multi, "single": single,
            "transformer": SingleParTau("tau_id", SMALL.with_(pair_dims=()), rngs=nnx.Rngs(1)),
            "deepsets": DeepSets(2, dropout=0.0, rngs=nnx.Rngs(1))}


def test_kinematics_heads_start_at_the_reco_jet() -> None:
    """Every kinematic target starts at its reco-jet value (cos Δφ at 1, not 0), so the decoded visible τ of an
    untrained network is the reco jet itself."""
    from hepnb.tau.evaluate import decode_kinematics

    b = _batch()
    multi, single = MultiParTau(SMALL, rngs=nnx.Rngs(1)), SingleParTau("kinematics", SMALL, rngs=nnx.Rngs(1))
    for model in (multi, single):
        model.eval()
    out = _apply(multi, b["features"], b["p4"], b["mask"])
    np.testing.assert_array_equal(np.asarray(out["kinematics"]), np.tile(RECO_JET_TARGETS, (6, 1)))
    assert RECO_JET_TARGETS[3] == 1.0
    assert np.abs(np.asarray(out["decay_mode"])).max() > 1e-3  # the other heads are not touched
    single_out = np.asarray(_apply(single, b["features"], b["p4"], b["mask"]))
    np.testing.assert_array_equal(single_out, np.tile(RECO_JET_TARGETS, (6, 1)))
    jet = np.array([[20.0, 5.0, 3.0, 21.5]] * 6)
    reco = decode_kinematics(single_out, jet)
    np.testing.assert_allclose(reco["pt"], np.hypot(20.0, 5.0), rtol=1e-6)
    np.testing.assert_allclose(reco["phi"], np.arctan2(5.0, 20.0), rtol=1e-6)


@nnx.jit
def _apply(model: nnx.Module, features: jax.Array, p4: jax.Array, mask: jax.Array) -> object:
    return model(features, p4, mask)


def _set_mode(model: nnx.Module, mode: str) -> None:
    """``train``: batch statistics from the batch, dropout off (so that outputs are comparable)."""
    getattr(model, mode)()
    if mode == "train":
        model.set_attributes(deterministic=True, raise_if_not_found=False)


def _out(model: nnx.Module, b: dict[str, jax.Array]) -> np.ndarray:
    out = _apply(model, b["features"], b["p4"], b["mask"])
    return np.concatenate([np.asarray(v) for v in jax.tree.leaves(out)], axis=-1)


@pytest.mark.parametrize("name", ["multi", "single", "transformer", "deepsets"])
def test_permutation_invariance(name: str) -> None:
    model = _models()[name]
    _set_mode(model, "eval")
    b = _batch()
    perm = np.random.default_rng(3).permutation(b["mask"].shape[1])
    shuffled = {**b, **{k: b[k][:, perm] for k in ("features", "p4", "mask")}}
    np.testing.assert_allclose(_out(model, b), _out(model, shuffled), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name", ["multi", "single", "transformer", "deepsets"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_padding_invariance(name: str, mode: str) -> None:
    """Eight more empty slots change nothing, also in training mode (batch norm counts real candidates only)."""
    model = _models()[name]
    _set_mode(model, mode)
    b = _batch(p=12)
    padded = {**b, **{k: jnp.pad(b[k], [(0, 0), (0, 8)] + [(0, 0)] * (b[k].ndim - 2)) for k in ("features", "p4", "mask")}}
    np.testing.assert_allclose(_out(model, b), _out(model, padded), rtol=2e-4, atol=2e-5)


def test_pair_features_by_hand() -> None:
    a = np.array([3.0, 4.0, 0.0, 5.0])  # pT 5, θ = 90°, φ = atan2(4, 3)
    b = np.array([0.0, 2.0, 2.0, 3.0])  # pT 2, θ = 45°, φ = 90°
    f = np.asarray(pair_features(jnp.asarray(np.stack([a, b])[None], jnp.float32)))[0]
    dphi = np.pi / 2 - np.arctan2(4, 3)
    delta = np.hypot(np.pi / 2 - np.pi / 4, dphi)
    m2 = (5 + 3) ** 2 - (3**2 + 6**2 + 2**2)
    expected = np.log([delta, 2 * delta, 2 / 7, m2])
    np.testing.assert_allclose(f[0, 1], expected, rtol=1e-5)
    np.testing.assert_allclose(f[1, 0], expected, rtol=1e-5)
    np.testing.assert_allclose(f[0, 0, 0], np.log(1e-8), rtol=1e-6)  # Δ = 0 is clamped


def test_pair_features_match_vector() -> None:
    """The JAX kernel against the same quantities from vector (θ, φ, pT, and the pair's invariant mass²)."""
    import vector

    b = _batch(n=3, p=9, seed=7)
    p4 = np.asarray(b["p4"], np.float64)[np.asarray(b["mask"])]  # the real candidates
    f = np.asarray(pair_features(jnp.asarray(p4[None], jnp.float32)))[0]
    a_, b_ = np.triu_indices(len(p4), k=1)
    pa, pb = p4[a_], p4[b_]
    delta = np.hypot(kinematics.theta_rad(pa) - kinematics.theta_rad(pb),
                     kinematics.delta_phi_rad(kinematics.phi_rad(pa), kinematics.phi_rad(pb)))
    pt_a, pt_b = kinematics.pt_gev(pa), kinematics.pt_gev(pb)
    m2 = (kinematics.momenta(pa) + kinematics.momenta(pb)).mass2
    assert isinstance(kinematics.momenta(pa), vector.MomentumNumpy4D)
    expected = np.log(np.column_stack([delta, np.minimum(pt_a, pt_b) * delta, np.minimum(pt_a, pt_b) / (pt_a + pt_b),
                                       np.maximum(m2, 1e-8)]))
    np.testing.assert_allclose(f[a_, b_], expected, rtol=1e-4, atol=1e-4)


_TOY_OUTPUTS = {"tau_id": 2, "charge": 1, "decay_mode": 6, "kinematics": 5}


class _ToyBackbone(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.embed = nnx.Linear(17, 8, rngs=rngs)
        self.mix = nnx.Linear(8, 8, rngs=rngs)

    def __call__(self, features: jax.Array, p4: jax.Array, mask: jax.Array) -> jax.Array:
        h = jnp.tanh(self.embed(features)) * mask[..., None]
        pooled = h.sum(axis=1) / jnp.maximum(mask.sum(axis=1, keepdims=True), 1)
        return jnp.tanh(self.mix(pooled)) + 1e-3 * jnp.log1p(p4[:, :, 3].sum(axis=1, keepdims=True))


class _ToyMulti(nnx.Module):
    """MultiParTau's interface for PCGrad (a ``backbone``, ``heads`` per task, ``task_output``, ``tasks`` and a
    ``surgery_rngs`` stream) on a two-layer network: PCGrad only sees the parameter tree, and this network
    compiles in a second where the ParT takes minutes on a busy CPU."""

    def __init__(self, tasks: tuple[str, ...] = TASKS, *, rngs: nnx.Rngs) -> None:
        self.tasks = tuple(tasks)
        self.backbone = _ToyBackbone(rngs)
        self.heads = nnx.Dict({t: nnx.Linear(8, _TOY_OUTPUTS[t], rngs=rngs) for t in self.tasks})
        self.surgery_rngs = nnx.Rngs(surgery=jax.random.fold_in(rngs.params(), 7))

    def task_output(self, task: str, x: jax.Array, mask: jax.Array) -> jax.Array:
        return self.heads[task](x)

    def __call__(self, features: jax.Array, p4: jax.Array, mask: jax.Array) -> dict[str, jax.Array]:
        x = self.backbone(features, p4, mask)
        return {t: self.task_output(t, x, mask) for t in self.tasks}


def _assert_leaves_close(got: jax.Array, want: np.ndarray, err_msg: str = "") -> None:
    """float32 sums taken in another order by another compiled program: tolerance relative to the leaf's scale."""
    want = np.asarray(want)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5 * np.abs(want).max() + 1e-9, err_msg=err_msg)


def test_pcgrad_projection_by_hand() -> None:
    g = jnp.array([[1.0, 0.0], [-1.0, 1.0]])  # g0·g1 = −1: conflict
    projected, n = project_original(g, jax.random.key(0))
    np.testing.assert_allclose(projected, [[0.5, 0.5], [0.0, 1.0]], atol=1e-6)
    assert int(n) == 2
    assert float(jnp.vdot(projected[0], g[1])) >= -1e-7 and float(jnp.vdot(projected[1], g[0])) >= -1e-7
    same, n = project_original(jnp.array([[1.0, 0.0], [1.0, 1.0]]), jax.random.key(0))
    np.testing.assert_allclose(same, [[1.0, 0.0], [1.0, 1.0]])
    assert int(n) == 0
    ordered, _ = project_ordered(g, (False, True))  # the second task (kinematics) is never projected
    np.testing.assert_allclose(ordered, [[0.5, 0.5], [-1.0, 1.0]], atol=1e-6)


def test_pcgrad_three_tasks_against_numpy() -> None:
    """The projection uses the original gradients g_j, in the drawn order, as the paper's algorithm."""
    rng = np.random.default_rng(5)
    g = rng.normal(size=(3, 7))
    key = jax.random.key(11)
    projected, _ = project_original(jnp.asarray(g, jnp.float32), key)
    orders = [np.asarray(jax.random.permutation(k, 3)) for k in jax.random.split(key, 3)]
    for i in range(3):
        gi = g[i].copy()
        for j in orders[i]:
            if j != i and gi @ g[j] < 0:
                gi = gi - (gi @ g[j]) / (g[j] @ g[j]) * g[j]
        np.testing.assert_allclose(projected[i], gi, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["original", "tau"])
def test_pcgrad_single_task_is_the_plain_gradient(variant: str) -> None:
    loss = MultiTaskLoss(tasks=("tau_id",), weights=(1.0,))
    model = _ToyMulti(("tau_id",), rngs=nnx.Rngs(0))
    b = _batch()
    _, grads, _ = nnx.jit(lambda m, batch: PCGrad(loss, variant)(m, batch))(model, b)
    _, plain = nnx.jit(lambda m, batch: nnx.value_and_grad(loss, has_aux=True)(m, batch))(model, b)
    assert jax.tree.structure(grads) == jax.tree.structure(plain)
    assert any(np.abs(np.asarray(a)).max() > 1e-4 for a in jax.tree.leaves(plain))  # a gradient, not zeros
    for a, c in zip(jax.tree.leaves(grads), jax.tree.leaves(plain), strict=True):
        _assert_leaves_close(a, c)


def _task_grads(loss: MultiTaskLoss, model: nnx.Module, b: dict[str, jax.Array]) -> list[nnx.State]:
    """Each weighted task loss's gradient, one grad per task (independent of PCGrad's own VJP), in one jit."""
    @nnx.jit
    def all_grads(m: nnx.Module, batch: dict[str, jax.Array]) -> list[nnx.State]:
        out = []
        for i in range(len(loss.tasks)):
            def one(mm: nnx.Module, k: int = i) -> jax.Array:
                return loss.weighted_losses(mm, batch)[0][k]

            out.append(nnx.grad(one)(m))
        return out

    return all_grads(model, b)


def _numpy_pcgrad(task_grads: list[nnx.State], variant: str, orders: list[np.ndarray] | None,
                  protected: tuple[bool, ...]) -> tuple[dict[str, np.ndarray], int]:
    """The reference: flatten the backbone per task in NumPy, project, sum, and reassemble by path."""
    flat = [dict(jax.tree_util.tree_flatten_with_path(g)[0]) for g in task_grads]
    paths = list(flat[0])
    shared = [p for p in paths if str(getattr(p[0], "key", p[0])) == "backbone"]
    out = {p: sum(np.asarray(f[p], np.float64) for f in flat) for p in paths if p not in shared}
    n_tasks, conflicts = len(task_grads), 0
    if variant == "original":
        vec = np.stack([np.concatenate([np.asarray(f[p], np.float64).ravel() for p in shared]) for f in flat])
        proj = vec.copy()
        for i in range(n_tasks):
            for j in orders[i]:
                if j != i and proj[i] @ vec[j] < 0:
                    conflicts += 1
                    proj[i] = proj[i] - (proj[i] @ vec[j]) / (vec[j] @ vec[j]) * vec[j]
        total, offset = proj.sum(axis=0), 0
        for p in shared:
            size = np.asarray(flat[0][p]).size
            out[p] = total[offset:offset + size].reshape(np.shape(flat[0][p]))
            offset += size
    else:
        for p in shared:
            g = [np.asarray(f[p], np.float64).ravel() for f in flat]
            proj = [x.copy() for x in g]
            for i in range(n_tasks):
                if protected[i]:
                    continue
                for j in range(n_tasks):
                    if j != i and proj[i] @ g[j] < 0:
                        proj[i] = proj[i] - (proj[i] @ g[j]) / (g[j] @ g[j] + 1e-12) * g[j]
            out[p] = sum(proj).reshape(np.shape(flat[0][p]))
    return out, conflicts


@pytest.mark.parametrize("variant", ["original", "tau"])
def test_pcgrad_reassembly_with_four_tasks(variant: str) -> None:
    """PCGrad of the four tasks against a NumPy reference from independent per-task gradients: every leaf of
    the backbone is the projected sum put back in its place, every head leaf its own task's gradient, and the
    number of conflicts of the original variant is counted exactly."""
    loss = MultiTaskLoss()
    model = _ToyMulti(rngs=nnx.Rngs(0))
    b = _batch(n=16)
    grads_ref = _task_grads(loss, model, b)
    orders = None
    if variant == "original":
        key = nnx.clone(model).surgery_rngs.surgery()  # the key PCGrad will draw
        orders = [np.asarray(jax.random.permutation(k, len(TASKS))) for k in jax.random.split(key, len(TASKS))]
    ref, conflicts = _numpy_pcgrad(grads_ref, variant, orders, tuple(t == "kinematics" for t in loss.tasks))
    _, grads, aux = nnx.jit(lambda m, batch: PCGrad(loss, variant)(m, batch))(model, b)
    got = dict(jax.tree_util.tree_flatten_with_path(grads)[0])
    assert set(got) == set(ref)
    for path, value in ref.items():
        _assert_leaves_close(got[path], value, err_msg=str(path))
    if variant == "original":
        assert conflicts > 0 and float(aux["conflicts"]) == conflicts


def test_losses() -> None:
    b = _batch(n=8)
    no_tau = {**b, "is_tau": jnp.zeros(8, jnp.int32)}
    for task, n_out in (("charge", 1), ("decay_mode", 6), ("kinematics", 5)):
        assert float(task_loss(task, jnp.ones((8, n_out)), no_tau)) == 0.0  # signal-only losses
    # with label smoothing 0.1 the best logits give p(τ) = 0.95 and the loss is that distribution's entropy
    perfect = jnp.array([[0.0, np.log(19.0)]] * 8)
    entropy = -(0.05 * np.log(0.05) + 0.95 * np.log(0.95))
    assert float(task_loss("tau_id", perfect, {**b, "is_tau": jnp.ones(8, jnp.int32)})) == pytest.approx(entropy, rel=1e-5)
    with pytest.raises(ValueError, match="unknown task 'energy'"):
        task_loss("energy", perfect, b)
    with pytest.raises(ValueError, match="unknown task 'energy'"):
        SingleTaskLoss("energy")
    with pytest.raises(ValueError, match="one weight each"):
        MultiTaskLoss(tasks=("tau_id", "charge"), weights=(1.0,))
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['energy'\]"):
        MultiParTau(SMALL, tasks=("tau_id", "energy"), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="unknown task 'energy'"):
        SingleParTau("energy", SMALL, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="unknown PCGrad variant"):
        PCGrad(MultiTaskLoss(), "mean")


def test_task_order_and_per_jet_weighting() -> None:
    """The tau code's order (tag, DM, charge, kinematics) and its per-task weighting: every per-jet loss times
    the jet's (p, θ) weight, signal-only losses averaged over τ jets."""
    assert TASKS == ("tau_id", "decay_mode", "charge", "kinematics")
    b = _batch(n=8)
    w = jnp.asarray(np.arange(1, 9, dtype=np.float32))
    logits = jnp.asarray(np.random.default_rng(0).normal(size=(8, 6)), jnp.float32)
    tau = np.asarray(b["is_tau"]) == 1
    per_jet = np.asarray(optax_ce(logits, np.maximum(np.asarray(b["decay_mode"]), 0)))
    expected = np.sum(per_jet[tau] * np.asarray(w)[tau]) / tau.sum()
    assert float(task_loss("decay_mode", logits, {**b, "weight": w})) == pytest.approx(expected, rel=1e-5)


def optax_ce(logits: jax.Array, labels: np.ndarray) -> jax.Array:
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(labels))


def test_masked_particle_pretraining_and_transfer() -> None:
    """Hidden candidates keep only their direction; the loss is finite and positive; the backbone moves into a
    MultiParTau unchanged."""
    from hepnb.tau.pretrain import MaskedParticleLoss, MaskedParticleModel, hide_candidates, transfer_backbone

    b = _batch(n=8)
    hidden = jnp.zeros_like(b["mask"]).at[:, 0].set(True)
    feats, p4 = hide_candidates(b["features"], b["p4"], hidden)
    np.testing.assert_array_equal(np.asarray(feats[:, 0, 2:6]), 0.0)
    np.testing.assert_array_equal(np.asarray(feats[:, 1]), np.asarray(b["features"][:, 1]))
    np.testing.assert_allclose(np.asarray(p4[:, 0, 3]), 1.0)
    d = np.asarray(b["p4"][:, 0, :3])
    np.testing.assert_allclose(np.asarray(p4[:, 0, :3]), d / np.linalg.norm(d, axis=1, keepdims=True), rtol=1e-5)
    model = MaskedParticleModel(SMALL, rngs=nnx.Rngs(3))
    loss, parts = MaskedParticleLoss()(model, b)
    assert np.isfinite(float(loss)) and float(loss) > 0 and set(parts) == {"kinematics", "impact", "category",
                                                                           "charge"}
    multi = MultiParTau(SMALL, rngs=nnx.Rngs(4))
    transfer_backbone(model, multi)
    for a, c in zip(jax.tree.leaves(nnx.state(multi.backbone, nnx.Param, nnx.BatchStat)),
                    jax.tree.leaves(nnx.state(model.backbone, nnx.Param, nnx.BatchStat)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


def test_kinematic_scale_and_scaled_output() -> None:
    """The scale is each target's Gaussian σ about the reco jet on τ jets only (floored); the output is the reco
    jet plus scale × the Linear layer."""
    rng = np.random.default_rng(0)
    sigma = np.array([0.02, 0.004, 0.003, 0.0, 0.1])
    targets = np.asarray(RECO_JET_TARGETS) + rng.normal(size=(20_000, 5)) * sigma
    is_tau = np.arange(20_000) % 2
    targets[is_tau == 0] += 10.0  # background jets' targets are not used
    scale = kinematic_scale(targets, is_tau)
    np.testing.assert_allclose(scale, np.maximum(sigma, 1e-3), rtol=0.05)
    np.testing.assert_allclose(kinematic_scale(targets, is_tau, coverage=0.9), np.maximum(sigma, 1e-3), rtol=0.05)
    # heavy tails: the 90 % width, (q95 − q5)/(2·1.6449), exceeds the core's, (q75 − q25)/(2·0.6745), as numpy says
    tails = targets.copy()
    tails[:, 0] = rng.standard_t(2, 20_000) * 0.01
    dev = tails[is_tau == 1, 0]
    core, wide = kinematic_scale(tails, is_tau)[0], kinematic_scale(tails, is_tau, coverage=0.9)[0]
    assert core == pytest.approx(float(np.diff(np.percentile(dev, [25, 75]))[0]) / (2 * 0.6744898), rel=1e-4)
    assert wide == pytest.approx(float(np.diff(np.percentile(dev, [5, 95]))[0]) / (2 * 1.6448536), rel=1e-4)
    assert wide > 1.3 * core  # t(2): (2.920/1.645)/(0.816/0.6745) ≈ 1.47
    with pytest.raises(ValueError, match=r"coverage must be in \(0, 1\)"):
        kinematic_scale(targets, is_tau, coverage=1.0)
    with pytest.raises(ValueError, match="at least one τ jet"):
        kinematic_scale(targets, np.zeros(20_000))
    with pytest.raises(ValueError, match="5 positive values"):
        KinematicsOutput(8, (1.0, 0.0, 1.0, 1.0, 1.0), rngs=nnx.Rngs(0))
    out = KinematicsOutput(8, scale, rngs=nnx.Rngs(0))
    x = jnp.ones((3, 8))
    np.testing.assert_array_equal(np.asarray(out(x)), np.tile(RECO_JET_TARGETS, (3, 1)))
    out.linear.bias[...] = jnp.ones(5)
    np.testing.assert_allclose(np.asarray(out(x)), np.tile(np.add(RECO_JET_TARGETS, scale), (3, 1)), rtol=1e-6)


def test_scaled_kinematic_loss_is_robust_to_outliers() -> None:
    """In units of σ the Huber loss is linear beyond 1σ: a jet 50σ off pulls on the log-pT output as hard as a
    jet 1σ off. The tau code's loss (no scale) is quadratic there: the outlier pulls 50 times harder. A scale of
    ones is the tau code's loss."""
    scale = (0.01, 0.002, 0.002, 0.001, 0.05)
    b = {"is_tau": jnp.ones(2, jnp.int32), "weight": jnp.ones(2),
         "kin_targets": jnp.tile(jnp.asarray(RECO_JET_TARGETS, jnp.float32), (2, 1))}

    def pull(residual: float, kin_scale: tuple[float, ...] | None) -> float:
        pred = b["kin_targets"].at[:, 0].add(residual)
        return float(jax.grad(lambda p: task_loss("kinematics", p, b, kin_scale=kin_scale))(pred)[0, 0])

    assert pull(50 * scale[0], scale) == pytest.approx(pull(1.0001 * scale[0], scale), rel=1e-3)
    assert pull(50 * scale[0], None) == pytest.approx(50 * pull(scale[0], None), rel=1e-3)
    pred = jnp.asarray(np.random.default_rng(1).normal(size=(2, 5)), jnp.float32)
    assert float(task_loss("kinematics", pred, b)) == pytest.approx(
        float(task_loss("kinematics", pred, b, kin_scale=(1.0,) * 5)), rel=1e-6)
    model, batch = MultiParTau(SMALL, rngs=nnx.Rngs(2)), _batch(n=8)
    _randomise(model.heads["kinematics"].out.linear, 3)
    model.eval()
    kin = model(batch["features"], batch["p4"], batch["mask"])["kinematics"]
    expected = float(task_loss("kinematics", kin, batch, kin_scale=scale))
    assert expected != pytest.approx(float(task_loss("kinematics", kin, batch)), rel=1e-2)
    assert float(MultiTaskLoss(kin_scale=scale)(model, batch)[1]["kinematics"]) == pytest.approx(expected, rel=1e-5)
    single = SingleParTau("kinematics", SMALL, rngs=nnx.Rngs(2))
    single.eval()
    out = single(batch["features"], batch["p4"], batch["mask"])
    assert float(SingleTaskLoss("kinematics", kin_scale=scale)(single, batch)[0]) == pytest.approx(
        float(task_loss("kinematics", out, batch, kin_scale=scale)), rel=1e-5)
