"""hepnb.compute.devices: XGBoost is sent to the GPU only when JAX runs there and XGBoost was built with CUDA."""

from __future__ import annotations

import jax
import pytest
import xgboost

from hepnb.compute.devices import xgboost_device


@pytest.mark.parametrize(("backend", "use_cuda", "expected"),
                         [("cpu", True, "cpu"), ("gpu", True, "cuda"), ("gpu", False, "cpu"), ("gpu", None, "cpu")])
def test_xgboost_device(monkeypatch: pytest.MonkeyPatch, backend: str, use_cuda: bool | None, expected: str) -> None:
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    info = {} if use_cuda is None else {"USE_CUDA": use_cuda}  # the xgboost-cpu wheel says False
    monkeypatch.setattr(xgboost, "build_info", lambda: info)
    assert xgboost_device() == expected
