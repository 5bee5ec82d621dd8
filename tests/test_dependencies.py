"""hepnb.dependencies: a missing package is named before the work that needs it starts."""

from __future__ import annotations

import sys

import pytest

from hepnb.dependencies import require


def test_require_names_every_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    require("the ONNX export", "jax2onnx", "onnx", "onnxruntime")  # installed with hepnb
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"the ONNX export needs onnx, no_such_module_xyz") as err:
        require("the ONNX export", "jax2onnx", "onnx", "no_such_module_xyz")
    assert err.value.name == "onnx"
