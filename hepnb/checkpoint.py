"""The single orbax wrapper: save and restore Flax NNX models.

Follows the Flax NNX checkpointing guide (orbax ``StandardCheckpointer`` on the model's state); the
model's structure comes from a factory, so a checkpoint restores only into the architecture it came from.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import orbax.checkpoint as ocp
from flax import nnx

__all__ = ["load_model", "save_model"]

_STATE = "state"


def save_model(model: nnx.Module, path: str | os.PathLike[str]) -> Path:
    """Save the full state of ``model`` (parameters, batch statistics, RNG state) under ``path``.

    An existing checkpoint at ``path`` is replaced only once the new one is complete.

    Returns
    -------
    pathlib.Path
        The absolute checkpoint folder.
    """
    folder = Path(path).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    _, state = nnx.split(model)
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(staging / _STATE, state)
        checkpointer.wait_until_finished()
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def load_model(factory: Callable[[], nnx.Module], path: str | os.PathLike[str]) -> nnx.Module:
    """Restore a model saved by :func:`save_model`.

    Parameters
    ----------
    factory
        Builds the model with the same architecture (its initial weights are not used; it is only
        traced abstractly with :func:`flax.nnx.eval_shape`).
    path
        The checkpoint folder.

    Raises
    ------
    FileNotFoundError
        If ``path`` holds no checkpoint.
    ValueError
        If the checkpoint does not fit the architecture the factory builds.
    """
    folder = Path(path).resolve()
    if not (folder / _STATE).exists():
        msg = f"no hepnb model checkpoint at {folder} (expected a folder with '{_STATE}/' inside)"
        raise FileNotFoundError(msg)
    abstract = nnx.eval_shape(factory)
    graphdef, abstract_state = nnx.split(abstract)
    with ocp.StandardCheckpointer() as checkpointer:
        try:
            state = checkpointer.restore(folder / _STATE, abstract_state)
        except (ValueError, KeyError, TypeError) as err:
            msg = f"checkpoint at {folder} does not match the model architecture: {err}"
            raise ValueError(msg) from err
    return nnx.merge(graphdef, state)
