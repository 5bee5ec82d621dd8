"""Checks that the packages a study needs late in its run are installed, so that it stops at once instead.

A page that exports to ONNX after half an hour of training would otherwise fail there (or, where the export
records failures per model, show a table of errors). The check finds the modules without importing them.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["require"]


def require(purpose: str, *modules: str) -> None:
    """Raise if any of ``modules`` cannot be imported.

    Parameters
    ----------
    purpose
        What needs them, for the message (e.g. ``"the ONNX export"``).
    modules
        Top-level module names.

    Raises
    ------
    ModuleNotFoundError
        Naming every missing module, what needs it and the interpreter it was looked for in.
    """
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        msg = (f"{purpose} needs {', '.join(missing)}, not installed for {sys.executable} (they are dependencies "
               f"of hepnb: pip install -e . installs them)")
        raise ModuleNotFoundError(msg, name=missing[0])
