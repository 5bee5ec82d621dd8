"""The single orbax wrapper: save and restore Flax NNX models.

Follows the Flax NNX checkpointing guide (orbax ``StandardCheckpointer`` on the model's state); the
model's structure comes from a factory, so a checkpoint restores only into the architecture it came from.
"""

from __future__ import annotations

import logging
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
        If the checkpoint does not fit the architecture the factory builds, or is damaged (a file truncated or
        missing); the message says which, in one line.
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
        except Exception as err:  # noqa: BLE001 - orbax and tensorstore raise many kinds, some a bare Exception
            raise ValueError(_diagnose(checkpointer, folder, abstract_state, err)) from None
    return nnx.merge(graphdef, state)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:200]}" if text else type(err).__name__


def _shapes(tree: object) -> list[tuple[tuple[int, ...], str]]:
    import jax

    leaves = jax.tree.leaves(tree, is_leaf=lambda x: hasattr(x, "shape") and hasattr(x, "dtype"))
    return sorted((tuple(leaf.shape), str(leaf.dtype)) for leaf in leaves if hasattr(leaf, "shape"))


def _diagnose(checkpointer: ocp.StandardCheckpointer, folder: Path, abstract_state: object, err: Exception) -> str:
    """One line: a damaged checkpoint (its metadata unreadable, or its arrays unreadable although their shapes
    fit the model) or one of another architecture."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # orbax warns about the unreadable metadata that is diagnosed here
    try:
        item = checkpointer.metadata(folder / _STATE).item_metadata
        saved = None if item is None else item.tree
    except Exception:  # noqa: BLE001 - any failure here means a damaged checkpoint
        saved = None
    finally:
        absl.setLevel(level)
    if saved is None:
        return (f"checkpoint at {folder} is damaged or incomplete (its metadata cannot be read; restoring it "
                f"failed with {_first_line(err)}); save the model again")
    if _shapes(saved) == _shapes(nnx.to_pure_dict(abstract_state)):
        return (f"checkpoint at {folder} is damaged (a file is truncated or missing; the arrays' shapes fit the "
                f"model but they cannot be read: {_first_line(err)}); save the model again")
    return f"checkpoint at {folder} does not match the model architecture: {_first_line(err)}"
