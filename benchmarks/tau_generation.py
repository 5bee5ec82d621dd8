"""Generation speed of the tau study, per core: Pythia 8 events (``Pythia.nextBatch``) and the whole chain
(generator record → truth → CLD-like detector → FastJet jets → labels and features), for Z → qq̄ and Z → ττ.

Rates are events per CPU second of this process (``time.process_time``), so that they mean "per core" on a
busy machine too; the wall-clock rate is written beside them. Writes JSON.

Usage: python benchmarks/tau_generation.py [--events 4000] [--output benchmarks/results/tau_generation.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hepnb.book.results import device_description, package_versions
from hepnb.tau.events import gen_events, pythia_records
from hepnb.tau.jets import make_jets


def measure(process: str, n_events: int, seed: int = 1) -> dict[str, float]:
    """Events per CPU second of Pythia alone and of the whole chain, and jets per event."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    records = list(pythia_records(process, n_events, seed))
    cpu_pythia, wall_pythia = time.process_time() - cpu0, time.perf_counter() - wall0
    rng = np.random.default_rng(seed)
    n_jets = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for record in records:
        jets, _ = make_jets(gen_events(record), rng)
        n_jets += len(jets)
    cpu_chain, wall_chain = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"events": n_events, "pythia_events_per_cpu_s": n_events / cpu_pythia,
            "detector_jets_events_per_cpu_s": n_events / cpu_chain,
            "total_events_per_cpu_s": n_events / (cpu_pythia + cpu_chain),
            "total_events_per_wall_s": n_events / (wall_pythia + wall_chain), "jets_per_event": n_jets / n_events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "tau_generation.json")
    args = parser.parse_args()
    results = {process: measure(process, args.events) for process in ("zqq", "ztautau")}
    record = {"benchmark": "tau_generation", "command": " ".join(["benchmarks/tau_generation.py", *sys.argv[1:]]),
              "device": device_description(), "versions": package_versions(), "results": results}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=1))
    for process, r in results.items():
        print(f"{process}: Pythia {r['pythia_events_per_cpu_s']:.0f} events/s/core, whole chain "
              f"{r['total_events_per_cpu_s']:.0f} events/s/core, {r['jets_per_event']:.2f} jets/event")


if __name__ == "__main__":
    main()
