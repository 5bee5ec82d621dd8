"""Which device a library other than JAX should train on, given where JAX runs and how the library was built."""

from __future__ import annotations

from typing import Literal

import jax

__all__ = ["xgboost_device"]


def xgboost_device() -> Literal["cuda", "cpu"]:
    """``"cuda"`` when JAX runs on a GPU and the installed XGBoost was built with CUDA, else ``"cpu"``.

    The ``xgboost-cpu`` wheel (a tenth of the size of ``xgboost``, the one carried to a GPU machine with no
    package index) has no CUDA; asked for ``device="cuda"`` it falls back to the CPU only with a warning.
    """
    if jax.default_backend() != "gpu":
        return "cpu"
    import xgboost as xgb

    return "cuda" if xgb.build_info().get("USE_CUDA") else "cpu"
