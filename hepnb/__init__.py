"""hepnb: helper package of the hepnb analysis book (ML in particle physics)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
