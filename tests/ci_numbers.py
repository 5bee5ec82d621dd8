"""The numbers of a ci ``results.json``, independent of key names: for checking that a restructuring of the
code changed no number (Layout v2), and for recording them again after a change that moves numbers on purpose.

Numbers are the numeric leaves of ``metrics``; timing-like leaves (seconds, ns per track, costs, rates) depend
on the machine and its load and are left out. Keys may be renamed: the comparison is of the sorted values.

Record the ci numbers of the current code (after ``hepnb book --profile ci``, which the test suite runs)::

    python -m tests.ci_numbers results/ci tests/data/ci_numbers.json
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Keys whose values are timings (machine- and load-dependent), or depend on them: read off a curve at a model's
#: measured cost (the RK4 and polynomial curves there, how many models lie below them), or shown for the models
#: picked by cost (the leaderboard's per-momentum and displaced/prompt tables); skipped with what they hold.
TIMING_KEY = re.compile(r"(_s$|/s$|_ns|^ns_|ns_per|per_s$|^cost|_cost|time|speed|_curve_um$|^n_beating|"
                        r"^by_momentum$|^displaced_vs_prompt$)")
#: The studies whose numbers are recorded. The environment page measures speed only; the leaderboard picks the
#: models of several of its tables (the Jacobian's, the per-momentum bands') by their measured cost, so which
#: numbers it holds depends on the machine's load (two runs of the same code differed in ~150 numbers inside the
#: parallel book build): its layout check is by hand, with the timing-free numbers (see Layout v2's note).
STUDIES = ("pid_ranges", "tau_multitask")


def numeric_leaves(value: Any, key: str = "") -> Iterator[float]:
    """Every number under ``value`` (bools and timing-like keys left out), depth first."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not TIMING_KEY.search(str(k)):
                yield from numeric_leaves(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from numeric_leaves(v, key)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)


def numbers(results: Path) -> list[float]:
    """The sorted numbers of one ``results.json``'s ``metrics`` (NaN written as ``nan`` sorts last)."""
    metrics = json.loads(results.read_text())["metrics"]
    return sorted(numeric_leaves(metrics), key=lambda x: (math.isnan(x), x))


def differences(recorded: list[float], current: list[float], rtol: float = 1e-6) -> list[str]:
    """What differs between two sorted number lists (empty when they agree to ``rtol``: the book build runs two
    studies at once, and threaded sums then move PID's last digits, ~1e-8 relative)."""
    if len(recorded) != len(current):
        return [f"{len(recorded)} numbers recorded, {len(current)} now"]
    out = []
    for i, (a, b) in enumerate(zip(recorded, current, strict=True)):
        same = (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= rtol * max(abs(a), abs(b))
        if not same:
            out.append(f"sorted number {i}: recorded {a!r}, now {b!r}")
    return out


def record(results_root: Path, output: Path) -> None:
    """Write the numbers of every study's ci results under ``results_root`` to ``output``."""
    table = {s: numbers(results_root / s / "results.json") for s in STUDIES}
    output.write_text(json.dumps(table) + "\n")


if __name__ == "__main__":
    record(Path(sys.argv[1]), Path(sys.argv[2]))
