"""PCGrad gradient surgery (Yu et al., NeurIPS 2020) for multi-task training, as a ``grad_fn`` of
:func:`hepnb.train.fit`.

Two variants (reference/tau.md §3):

``"original"``
    The paper's algorithm: the task gradients over all shared parameters are flattened into one vector
    each; every task's gradient is projected, in a random order of the other tasks, onto the normal plane of
    each *original* gradient it conflicts with (negative dot product); the projected gradients are summed.
``"tau"``
    The tau code's variant: the projection is done per parameter tensor, in the fixed task order, and the
    kinematics gradient is never projected (the other tasks are projected away from it and from each other).

Task-specific parameters receive only their own task's gradient in both variants. The per-task gradients come
from one forward pass: the shared backbone's vector–Jacobian product is taken once, each task's head is
differentiated on its own (one head backward per task), and only the backbone's backward pass is ``vmap``-ed
over the task axis. The straightforward alternative, a ``vmap`` of the whole model's backward pass over the
tasks (``PCGrad(..., shared_vjp=False)``), gives the same gradients with every head's backward pass repeated
for every task (tests/tau/test_speed.py checks that they agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx
from jax import Array

from hepnb.tau.losses import MultiTaskLoss

__all__ = ["PCGrad", "project_ordered", "project_original"]

_EPS = 1e-12


def project_original(grads: Array, key: Array) -> tuple[Array, Array]:
    """PCGrad on flattened task gradients.

    Parameters
    ----------
    grads
        ``[T, n]``: one gradient vector per task.
    key
        PRNG key for the random order of the other tasks.

    Returns
    -------
    projected, n_conflicts
        ``[T, n]`` projected gradients and the number of conflicting (i, j) pairs met.
    """
    n_tasks = grads.shape[0]

    def one(i: Array, k: Array) -> tuple[Array, Array]:
        def step(carry: tuple[Array, Array], j: Array) -> tuple[tuple[Array, Array], None]:
            g, n = carry
            gj = grads[j]
            dot = jnp.vdot(g, gj)
            conflict = (dot < 0) & (j != i)
            g = jnp.where(conflict, g - dot / (jnp.vdot(gj, gj) + _EPS) * gj, g)
            return (g, n + conflict), None

        (g, n), _ = jax.lax.scan(step, (grads[i], jnp.zeros((), jnp.int32)), jax.random.permutation(k, n_tasks))
        return g, n

    projected, conflicts = jax.vmap(one)(jnp.arange(n_tasks), jax.random.split(key, n_tasks))
    return projected, jnp.sum(conflicts)


def project_ordered(grads: Array, protected: tuple[bool, ...]) -> tuple[Array, Array]:
    """The tau code's projection of one parameter tensor: fixed order, ``protected`` tasks left unchanged.

    Parameters
    ----------
    grads
        ``[T, ...]``: one gradient of this tensor per task.
    protected
        Per task, whether its gradient is never projected.
    """
    flat = grads.reshape(grads.shape[0], -1)
    out, n_conflicts = [], jnp.zeros((), jnp.int32)
    for i in range(flat.shape[0]):
        g = flat[i]
        if not protected[i]:
            for j in range(flat.shape[0]):
                if j == i:
                    continue
                dot = jnp.vdot(g, flat[j])
                g = jnp.where(dot < 0, g - dot / (jnp.vdot(flat[j], flat[j]) + _EPS) * flat[j], g)
                n_conflicts = n_conflicts + (dot < 0)
        out.append(g)
    return jnp.stack(out).reshape(grads.shape), n_conflicts


class _Outputs:
    """Stands in for the model in a loss: returns precomputed outputs, whatever the inputs."""

    def __init__(self, outputs: dict[str, Array]) -> None:
        self.outputs = outputs

    def __call__(self, *_: object) -> dict[str, Array]:
        return self.outputs


def _top_name(path: tuple[object, ...]) -> str:
    first = path[0]
    return str(getattr(first, "key", getattr(first, "name", first)))


@dataclass(frozen=True)
class PCGrad:
    """``grad_fn(model, batch) -> (loss, grads, aux)`` applying PCGrad to a multi-task model.

    Attributes
    ----------
    loss
        The weighted task losses (each loss is multiplied by its weight before its gradient is taken).
    variant
        ``"original"`` or ``"tau"``.
    shared
        Name of the model attribute that holds the shared parameters.
    protected
        Tasks never projected in the ``"tau"`` variant.
    shared_vjp
        Take the shared part's VJP once and ``vmap`` only its backward pass over the tasks (needs a model
        with ``tasks`` and ``task_output(task, x, mask)``, as :class:`~hepnb.tau.models.MultiParTau`, and a
        loss whose weighted task loss ``i`` depends on task ``i``'s output only, as
        :class:`~hepnb.tau.losses.MultiTaskLoss`); ``False``, or a model without ``task_output``, ``vmap``-s
        the whole model's backward pass.
    """

    loss: MultiTaskLoss
    variant: str = "original"
    shared: str = "backbone"
    protected: tuple[str, ...] = ("kinematics",)
    shared_vjp: bool = True

    def __post_init__(self) -> None:
        if self.variant not in ("original", "tau"):
            msg = f"unknown PCGrad variant {self.variant!r}; expected 'original' or 'tau'"
            raise ValueError(msg)

    def task_gradients(self, model: nnx.Module, batch: Mapping[str, Array]) -> tuple[Array, nnx.State, dict]:
        """Weighted task losses ``[T]``, their gradients stacked on a leading task axis, and the aux dict."""
        if self.shared_vjp and hasattr(model, "task_output"):
            return self._task_gradients_shared_vjp(model, batch)
        return self._task_gradients_full(model, batch)

    def _task_gradients_shared_vjp(self, model: nnx.Module,
                                   batch: Mapping[str, Array]) -> tuple[Array, nnx.State, dict]:
        """Backbone forward and VJP once, one head backward per task, the backbone backward vmapped over tasks."""
        is_shared = nnx.All(nnx.Param, lambda path, _: _top_name(path) == self.shared)
        graphdef, shared, own, rest = nnx.split(model, is_shared, nnx.Param, ...)
        mask = batch["mask"]

        def shared_forward(p: nnx.State) -> tuple[Array, nnx.State]:
            m = nnx.merge(graphdef, p, own, rest, copy=True)
            x = getattr(m, self.shared)(batch["features"], batch["p4"], mask)
            return x, nnx.split(m, is_shared, nnx.Param, ...)[3]

        x, backbone_vjp, rest = jax.vjp(shared_forward, shared, has_aux=True)
        outputs, head_vjps = {}, {}
        for task in model.tasks:  # type: ignore[attr-defined]
            def head(x: Array, p: nnx.State, task: str = task, rest: nnx.State = rest) -> tuple[Array, nnx.State]:
                m = nnx.merge(graphdef, shared, p, rest, copy=True)
                return m.task_output(task, x, mask), nnx.split(m, is_shared, nnx.Param, ...)[3]

            outputs[task], head_vjps[task], rest = jax.vjp(head, x, own, has_aux=True)
        losses, loss_vjp, aux = jax.vjp(lambda outs: self.loss.weighted_losses(_Outputs(outs), batch), outputs,
                                        has_aux=True)
        eye = jnp.eye(losses.shape[0], dtype=losses.dtype)
        x_grads, own_grads = [], []
        for i, task in enumerate(self.loss.tasks):
            (d_outputs,) = loss_vjp(eye[i])
            d_x, d_own = head_vjps[task](d_outputs[task])
            x_grads.append(d_x)
            own_grads.append(d_own)
        (shared_stacked,) = jax.vmap(backbone_vjp)(jnp.stack(x_grads))
        own_stacked = jax.tree.map(lambda *g: jnp.stack(g), *own_grads)
        nnx.update(model, rest)
        return losses, nnx.merge_state(shared_stacked, own_stacked), aux

    def _task_gradients_full(self, model: nnx.Module, batch: Mapping[str, Array]) -> tuple[Array, nnx.State, dict]:
        """The straightforward way: one forward pass, its whole VJP vmapped over the task axis."""
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)

        def losses_of(p: nnx.State) -> tuple[Array, tuple[dict, nnx.State]]:
            m = nnx.merge(graphdef, p, rest, copy=True)
            losses, aux = self.loss.weighted_losses(m, batch)
            return losses, (aux, nnx.split(m, nnx.Param, ...)[2])

        losses, vjp, (aux, new_rest) = jax.vjp(losses_of, params, has_aux=True)
        (stacked,) = jax.vmap(vjp)(jnp.eye(losses.shape[0], dtype=losses.dtype))
        nnx.update(model, new_rest)
        return losses, stacked, aux

    def __call__(self, model: nnx.Module, batch: Mapping[str, Array]) -> tuple[Array, nnx.State, dict]:
        key = model.surgery_rngs.surgery() if self.variant == "original" else None  # type: ignore[attr-defined]
        losses, stacked, aux = self.task_gradients(model, batch)
        leaves, treedef = jax.tree_util.tree_flatten_with_path(stacked)
        shared = [_top_name(path) == self.shared for path, _ in leaves]
        arrays = [leaf for _, leaf in leaves]
        out = [a.sum(axis=0) for a in arrays]
        idx = [i for i, s in enumerate(shared) if s]
        if self.variant == "original":
            n_tasks = losses.shape[0]
            flat = jnp.concatenate([arrays[i].reshape(n_tasks, -1) for i in idx], axis=1)
            projected, conflicts = project_original(flat, key)
            total = projected.sum(axis=0)
            offset = 0
            for i in idx:
                size = arrays[i][0].size
                out[i] = total[offset:offset + size].reshape(arrays[i].shape[1:])
                offset += size
        else:
            protected = tuple(t in self.protected for t in self.loss.tasks)
            conflicts = jnp.zeros((), jnp.int32)
            for i in idx:
                projected, n = project_ordered(arrays[i], protected)
                out[i] = projected.sum(axis=0)
                conflicts = conflicts + n
            conflicts = conflicts / max(len(idx), 1)
        grads = jax.tree_util.tree_unflatten(treedef, out)
        return jnp.sum(losses), grads, {**aux, "conflicts": jnp.asarray(conflicts, jnp.float32)}
