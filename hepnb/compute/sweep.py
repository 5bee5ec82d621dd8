"""Model sweeps as Dask tasks: one model per task, weights back as plain numpy.

A sweep (the leaderboard's model zoo, the PID grid) trains many independent models on the same data.
:func:`map_tasks` scatters that data once and submits one task per model; each task returns what it
trained as a pure dict of numpy arrays (:func:`state_to_numpy`), which the caller loads into a model it
builds itself (:func:`load_state`), so nothing of JAX or of a worker's device travels back. Without a
client the same function runs in-process, one item after the other, so a serial run and a sweep on a
cluster go through the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax
import numpy as np
from flax import nnx

__all__ = ["load_state", "map_tasks", "state_to_numpy"]

T = TypeVar("T")
R = TypeVar("R")


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def state_to_numpy(model: nnx.Module) -> dict[str, Any]:
    """The full state of ``model`` (parameters, batch statistics, RNG state) as a nested dict of numpy arrays.

    Typed PRNG keys are stored as their raw key data (``jax.random.key_data``).
    """
    pure = nnx.to_pure_dict(nnx.state(model))
    return jax.tree.map(lambda a: np.asarray(jax.device_get(jax.random.key_data(a) if _is_key(a) else a)), pure)


def load_state(model: nnx.Module, pure: dict[str, Any]) -> nnx.Module:
    """Load a dict made by :func:`state_to_numpy` into ``model`` (same architecture), in place; return it.

    Raises
    ------
    ValueError
        If the dict does not have the structure of the model's state.
    """
    state = nnx.state(model)
    template = nnx.to_pure_dict(state)
    if jax.tree.structure(template) != jax.tree.structure(pure):
        msg = "the weights do not fit the model: its state and the received dict differ in structure"
        raise ValueError(msg)

    def restore(t: Any, a: np.ndarray) -> Any:
        if _is_key(t):
            return jax.random.wrap_key_data(a, impl=jax.random.key_impl(t))
        return jax.numpy.asarray(a, dtype=t.dtype)

    nnx.replace_by_pure_dict(state, jax.tree.map(restore, template, pure))
    nnx.update(model, state)
    return model


def map_tasks(fn: Callable[..., R], items: Sequence[T], shared: Any, *, client: Any = None, desc: str = "tasks",
              **kwargs: Any) -> list[R]:
    """``[fn(item, shared, **kwargs) for item in items]``, one Dask task per item when a client is given.

    Parameters
    ----------
    fn
        A module-level function (workers import it by name), ``fn(item, shared, **kwargs)``.
    items
        One per task, e.g. ``(family, size)`` pairs.
    shared
        The data every task needs; scattered to the cluster once, not once per task.
    client
        A :class:`dask.distributed.Client`; ``None`` runs the items in this process, in order.
    desc
        Label of the progress bar.

    Returns
    -------
    list
        The results in the order of ``items``.
    """
    from tqdm.auto import tqdm

    if client is None:
        return [fn(item, shared, **kwargs) for item in tqdm(items, desc=desc)]
    from dask.distributed import as_completed

    shared_future = client.scatter([shared], broadcast=False)[0]  # a list: a dict would be scattered per key
    futures = [client.submit(fn, item, shared_future, pure=False, **kwargs) for item in items]
    for future in tqdm(as_completed(futures), total=len(futures), desc=desc):
        if future.status == "error":
            future.result()  # raises the task's exception here, with its traceback
    return list(client.gather(futures))
