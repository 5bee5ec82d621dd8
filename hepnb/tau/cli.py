"""``hepnb tau generate``: Pythia 8 Z → ττ, Z → qq̄ (and Z → ee/μμ) jets through the CLD-like detector, to a
jet file, and optionally the events as HepMC3 files; ``hepnb tau jets``: jets of HepMC3 events from any
generator, through the same detector; ``hepnb tau predict``: a saved headline model (the notebook's
``results/<profile>/tau_multitask/model``) applied to the study's jet files, HepMC3 events or ML-Tau ntuples
(:mod:`hepnb.tau.mltau`), one row per jet (:func:`hepnb.tau.export.predict_jets`); ``hepnb tau export``: that
model as an ONNX graph (:func:`hepnb.tau.export.export_onnx`).

The jet file has the fields of :mod:`hepnb.tau.data` (``FILE_FIELDS``) and is read back, like a user's own
jets, by :func:`hepnb.tau.data.read_jets` and the notebook's ``input_file`` parameter (which also takes HepMC3
files). The events are made in seeded chunks, one Dask task each: on the scheduler of
``--scheduler``/``$HEPNB_SCHEDULER``, else on a local cluster of ``--workers`` processes
(:func:`hepnb.compute.generate.generate_file`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hepnb.arguments import non_negative_int, positive_int
from hepnb.compute.generate import GeneratorSpec, add_chunk_arguments, generate_file
from hepnb.paths import check_output, resolve_inputs

__all__ = ["COMMANDS", "HELP"]

#: The family\'s line in ``hepnb --help``.
HELP = "tau-study tools (generate, jets, predict, export)"

#: Bytes per generated event in memory (about 1.5 kB measured: the jets' candidates and labels), for the size check.
EVENT_BYTES = 2000


def _generate(args: argparse.Namespace) -> int:
    from hepnb.compute.chunks import ChunkRun
    from hepnb.tau.data import EventCounts, simulate, write_jets

    n_chunks = -(-args.tau_events // args.events_per_chunk) + -(-args.qq_events // args.events_per_chunk)

    def make(cache: Path, client: Any) -> Any:
        events = EventCounts(args.tau_events, args.qq_events, args.ll_events, args.events_per_chunk)
        return simulate(events, seed=args.seed, cache_dir=cache, run=ChunkRun(client=client),
                        hepmc_dir=args.hepmc_dir).jets

    spec = GeneratorSpec(name="tau", n_rows=args.tau_events + args.qq_events + 2 * args.ll_events,
                         row_bytes=EVENT_BYTES, n_chunks=n_chunks, make=make, write=write_jets,
                         what=(f"--tau-events {args.tau_events}, --qq-events {args.qq_events} and "
                               f"--ll-events {args.ll_events} (twice) events"))
    path, jets = generate_file(args, spec)  # jagged jets: no finite-rows check of flat columns
    n_tau = int(sum(jets.is_tau))
    print(f"{len(jets)} jets ({n_tau} tau, {len(jets) - n_tau} q/g) written to {path}")
    return 0


def _add_generate(sub: Any) -> None:
    gen = sub.add_parser("generate", help="Pythia 8 Z -> tau tau and Z -> q qbar jets to a Parquet or ROOT file")
    gen.add_argument("--tau-events", type=positive_int, required=True, help="Z -> tau tau events")
    gen.add_argument("--qq-events", type=positive_int, required=True, help="Z -> q qbar events")
    gen.add_argument("--seed", type=non_negative_int, default=0)
    add_chunk_arguments(gen, unit="events", per_chunk=1000)
    gen.add_argument("--output", type=Path, required=True, help="FILE.parquet or FILE.root")
    gen.add_argument("--ll-events", type=non_negative_int, default=0, help="Z -> ee and Z -> mumu events each (default 0)")
    gen.add_argument("--hepmc-dir", type=Path, default=None,
                     help="also write the events there as HepMC3 files, one per chunk")
    gen.set_defaults(func=_generate)


def _jets(args: argparse.Namespace) -> int:
    from hepnb.tau.data import is_hepmc, jets_from_hepmc, write_jets

    inputs = resolve_inputs(args.input)
    check_output(args.output, inputs=inputs)
    bad = [str(p) for p in inputs if not is_hepmc(p)]
    if bad:
        msg = f"--input takes HepMC3 files (.hepmc, .hepmc3, optionally .gz/.bz2/.xz), found {bad}"
        raise ValueError(msg)
    sample = jets_from_hepmc(inputs, seed=args.seed)
    path = write_jets(args.output, sample.jets)
    n_tau = int(sum(sample.jets.is_tau))
    print(f"{len(sample.jets)} jets ({n_tau} tau) from {len(sample.taus)} generated hadronic taus written to {path}")
    return 0


def _add_jets(sub: Any) -> None:
    cmd = sub.add_parser("jets", help="jets of HepMC3 events (any generator) through the CLD-like detector")
    cmd.add_argument("--input", nargs="+", required=True, help="HepMC3 event files (paths or glob patterns)")
    cmd.add_argument("--seed", type=non_negative_int, default=0, help="seed of the detector simulation")
    cmd.add_argument("--output", type=Path, required=True, help="FILE.parquet or FILE.root")
    cmd.set_defaults(func=_jets)


def _predict(args: argparse.Namespace) -> int:
    from hepnb.io import check_finite_rows, write_table
    from hepnb.tau.export import (
        load_tau_meta,
        load_tau_model,
        predict_jets,
        read_jets_for_prediction,
        tensors_for_prediction,
    )

    inputs = resolve_inputs(args.input)
    check_output(args.output, inputs=inputs)
    load_tau_meta(args.model)  # a wrong folder fails before the input is read
    jets, labelled = read_jets_for_prediction(inputs)  # a bad input fails before the weights are loaded
    if len(jets) == 0:
        msg = f"--input {[str(p) for p in inputs]} holds no jets"
        raise ValueError(msg)
    tensors = tensors_for_prediction(jets)
    meta, model = load_tau_model(args.model)
    rows = predict_jets(model, tensors, labelled=labelled)
    check_finite_rows(rows, what="predictions")
    path = write_table(args.output, rows, tree="tau")
    print(f"{len(jets)} jets predicted by {meta.name}{' (with their truth labels)' if labelled else ''}, "
          f"written to {path}")
    return 0


def _add_predict(sub: Any) -> None:
    cmd = sub.add_parser("predict", help="apply a saved tau model to jets (study files, HepMC3 or ML-Tau ntuples)")
    cmd.add_argument("--model", type=Path, required=True, help="model folder written by the notebook (model.json)")
    cmd.add_argument("--input", nargs="+", required=True,
                     help="a study jet file, HepMC3 event files or ML-Tau ntuples (paths or glob patterns)")
    cmd.add_argument("--output", type=Path, required=True, help="FILE.parquet or FILE.root (one row per jet)")
    cmd.set_defaults(func=_predict)


def _export(args: argparse.Namespace) -> int:
    from hepnb.tau.export import export_onnx, load_tau_model

    out = check_output(args.onnx, (".onnx",), inputs=[args.model / "model.json"])
    meta, model = load_tau_model(args.model)
    path = export_onnx(model, out, batch=args.batch)
    print(f"{meta.name} exported to {path} (ONNX opset 17, batch {args.batch})")
    return 0


def _add_export(sub: Any) -> None:
    cmd = sub.add_parser("export", help="export a saved tau model as an ONNX graph")
    cmd.add_argument("--model", type=Path, required=True, help="model folder written by the notebook (model.json)")
    cmd.add_argument("--onnx", type=Path, required=True, help="FILE.onnx")
    cmd.add_argument("--batch", type=positive_int, default=1, help="jets per call of the graph (fixed; default 1)")
    cmd.set_defaults(func=_export)


#: The ``hepnb tau …`` commands: each adds its parser to the family's subparsers (see :mod:`hepnb.cli`).
COMMANDS: tuple[Callable[[Any], None], ...] = (_add_generate, _add_jets, _add_predict, _add_export)
