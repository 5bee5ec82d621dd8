"""Applying a trained Flax NNX model to many rows in jitted fixed-size chunks (re-exported by :mod:`hepnb.train`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = ["predict"]


def _default_apply(model: nnx.Module, inputs: Any) -> jax.Array:
    return model(inputs)  # type: ignore[operator]


@functools.partial(jax.jit, static_argnums=(0, 1))
def _predict_chunks(graphdef: Any, fn: Callable[..., Any], state: Any, chunks: Any) -> Any:
    model = nnx.merge(graphdef, state)
    return jax.lax.map(lambda x: fn(model, x), chunks)


def predict(
    model: nnx.Module,
    inputs: Any,
    fn: Callable[[nnx.Module, Any], Any] | None = None,
    *,
    batch_size: int = 4096,
) -> Any:
    """Apply ``model`` in evaluation mode to ``inputs`` in jitted fixed-size chunks.

    Parameters
    ----------
    model
        Flax NNX module; it is switched to evaluation mode.
    inputs
        An array or a dict of arrays with a common leading dimension.
    fn
        ``fn(model, chunk) -> outputs``; default ``model(chunk)``. Use a function defined once so the
        compiled code is reused.
    batch_size
        Chunk size; the last chunk is zero-padded and the padding is cut from the output.

    Returns
    -------
    Array or pytree of arrays with the leading dimension of ``inputs``.
    """
    fn = fn or _default_apply
    model.eval()
    leaves = jax.tree.leaves(inputs)
    if not leaves:
        msg = "predict needs at least one input array"
        raise ValueError(msg)
    n_rows = int(np.shape(leaves[0])[0])
    if n_rows == 0:
        msg = "predict got zero rows"
        raise ValueError(msg)
    size = min(batch_size, n_rows)
    n_chunks = -(-n_rows // size)
    pad = n_chunks * size - n_rows

    def to_chunks(a: Any) -> jax.Array:
        a = jnp.asarray(a)
        a = jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1))
        return a.reshape(n_chunks, size, *a.shape[1:])

    graphdef, state = nnx.split(model)
    out = _predict_chunks(graphdef, fn, state, jax.tree.map(to_chunks, inputs))
    return jax.tree.map(lambda a: a.reshape(n_chunks * size, *a.shape[2:])[:n_rows], out)
