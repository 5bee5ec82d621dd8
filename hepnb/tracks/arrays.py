"""The type names the tracks modules share: an array (NumPy or JAX) and a field function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Array", "FieldFn"]

#: A NumPy or JAX array (the kernels run under both).
Array = Any
#: ``field(x_mm, y_mm, z_mm) -> (Bx, By, Bz)`` in tesla.
FieldFn = Callable[[Array, Array, Array], tuple[Array, Array, Array]]
