"""Value types for the options of the ``hepnb`` commands (``type=`` of :meth:`argparse.ArgumentParser.add_argument`).

A value outside its type is refused by argparse before the command starts, with the option named and exit
status 2: ``hepnb tracks generate: error: argument --p-max-gev: must be a finite number > 0, found 'inf'``.
Integers are decimal (``010`` is 10, ``0x10`` is refused), floats must be finite (``inf`` and ``nan`` are
refused).
"""

from __future__ import annotations

import argparse
import math
import re

__all__ = ["finite_float", "ip_address", "non_negative_int", "port_number", "positive_float", "positive_int"]

_DECIMAL = re.compile(r"[-+]?[0-9]+")


def _int(text: str) -> int:
    if not _DECIMAL.fullmatch(text.strip()):
        msg = f"must be a decimal integer, found {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text, 10)


def positive_int(text: str) -> int:
    """A decimal integer >= 1."""
    value = _int(text)
    if value < 1:
        msg = f"must be an integer >= 1, found {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def non_negative_int(text: str) -> int:
    """A decimal integer >= 0."""
    value = _int(text)
    if value < 0:
        msg = f"must be an integer >= 0, found {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def finite_float(text: str) -> float:
    """A finite number (no ``inf``, no ``nan``)."""
    try:
        value = float(text)
    except ValueError:
        msg = f"must be a number, found {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value):
        msg = f"must be a finite number, found {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        msg = f"must be a finite number > 0, found {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def port_number(text: str) -> int:
    """A TCP port: a decimal integer from 1 to 65535."""
    value = _int(text)
    if not 1 <= value <= 65535:
        msg = f"must be a TCP port from 1 to 65535, found {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 address to listen on, or ``localhost``."""
    import ipaddress

    if text == "localhost":
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        msg = f"must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1) or localhost, found {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
