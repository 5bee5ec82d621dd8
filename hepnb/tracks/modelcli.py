"""``hepnb tracks propagate --model DIR`` and ``hepnb tracks export``: a saved extrapolator
(:mod:`hepnb.tracks.saved`) applied to a user's table of start states, or written as ONNX.

Every argument and the input table are checked before the weights are loaded: the folder and its ``model.json``
first, then the options against the model (its leg and planes, its field map's digest), the output path, and the
input's columns and values. Nothing is written unless the whole command succeeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.io import check_finite_rows, file_format
from hepnb.paths import check_output

__all__ = ["ONNX_TOLERANCE_UM", "add_export", "propagate_model"]

#: The largest |ONNX − JAX| of an end position, µm, on the sample states, for an ONNX file to be kept.
ONNX_TOLERANCE_UM = 1.0


def _check_options(args: argparse.Namespace, meta: Any) -> None:
    """Refuse the RK4 mode's step, and a leg or planes other than the model's."""
    where = f"the model in {args.model} propagates leg {meta.leg} (z {meta.z0_mm:g} -> {meta.z1_mm:g} mm)"
    if getattr(args, "step_mm", None) is not None:
        msg = ("--step-mm sets the RK4 mode's step and --model propagates with a saved extrapolator: give one or the "
               "other")
        raise ValueError(msg)
    if getattr(args, "leg", None) is not None and args.leg != meta.leg:
        msg = f"--leg {args.leg} asked, but {where}"
        raise ValueError(msg)
    for option, value, planned in (("--z0-mm", getattr(args, "z0_mm", None), meta.z0_mm),
                                   ("--z1-mm", getattr(args, "z1_mm", None), meta.z1_mm)):
        if value is not None and not np.isclose(value, planned, rtol=0, atol=1e-6):
            msg = f"{option} {value:g} asked, but {where}"
            raise ValueError(msg)


def _model_field(meta: Any, folder: Path, field_spec: str) -> Any:
    """The field map for the model: ``--field-map`` when given (it must be the model's, by digest), else the one
    ``model.json`` names for a learned model (a polynomial needs none)."""
    from hepnb.tracks.fieldmap import load_field_map

    if not field_spec and meta.kind == "polynomial":
        return None
    if field_spec:
        fmap = load_field_map(field_spec)
        if fmap.digest() != meta.field.digest:
            msg = (f"--field-map {field_spec} (digest {fmap.digest()}) is not the map the model in {folder} was "
                   f"trained through ({meta.field.spec or 'the study dipole'}, digest {meta.field.digest})")
            raise ValueError(msg)
        return fmap
    try:
        fmap = load_field_map(meta.field.spec)
    except (FileNotFoundError, ValueError) as err:
        msg = (f"{folder / 'model.json'} names the field map {meta.field.spec!r}, which cannot be loaded here "
               f"({err}); give it with --field-map")
        raise ValueError(msg) from None
    if fmap.digest() != meta.field.digest:
        msg = (f"the field map {meta.field.spec or 'of the study (its dipole)'} has digest {fmap.digest()} here, not "
               f"{meta.field.digest} as when the model in {folder} was trained; give the model's map with --field-map")
        raise ValueError(msg)
    return fmap


def propagate_model(args: argparse.Namespace, field_spec: str, field_files: list[str]) -> int:
    """``hepnb tracks propagate --model DIR``: end states of the states inside the model's training domain, NaN
    end states for the others (not predicted, as ``hepnb pid predict`` does), ``in_domain`` and ``domain_flags``.

    ``field_spec``/``field_files``: ``--field-map`` as :func:`hepnb.tracks.fieldmap.load_field_map` takes it, and
    the files it names.
    """
    from hepnb.tracks.saved import read_saved_meta

    meta = read_saved_meta(args.model)  # a wrong folder or model.json first,
    _check_options(args, meta)  # then options that contradict the model,
    file_format(args.input)
    check_output(args.output, inputs=[args.input, *field_files])
    fmap = _model_field(meta, Path(args.model), field_spec)
    from hepnb.io import write_table
    from hepnb.tracks.data import read_states, states_table
    from hepnb.tracks.saved import DOMAIN_FLAGS, load_saved_model, predict_states

    states = read_states(args.input)  # then the input; the weights load last
    model = load_saved_model(args.model, meta, fmap)
    result = predict_states(model, states, meta.domain, meta.z0_mm)
    inside = result["in_domain"] == 1
    check_finite_rows({"end": result["end"][inside]}, what="predicted end states")
    table = {**states_table(states, result["end"], z0_mm=meta.z0_mm, z1_mm=meta.z1_mm),
             "in_domain": result["in_domain"], "domain_flags": result["domain_flags"]}
    path = write_table(args.output, table)
    n, outside = len(states), int(np.sum(~inside))
    head = f"{n} tracks through {meta.name} ({meta.kind}, leg {meta.leg}, z {meta.z0_mm:g} -> {meta.z1_mm:g} mm)"
    if outside:
        print(f"{head}: {n - outside} inside the training domain, {outside} outside (in_domain = 0, end states NaN, "
              f"not predicted; domain_flags bits {DOMAIN_FLAGS}); written to {path}")
    else:
        print(f"{head}, all inside the training domain; written to {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from hepnb.tracks.saved import read_saved_meta

    meta = read_saved_meta(args.model)
    folder, target = Path(args.model), Path(args.onnx)
    check_output(target, (".onnx",))
    if folder.resolve() in target.resolve().parents:
        msg = f"--onnx {target} lies inside the model folder {folder}: write the ONNX file elsewhere"
        raise ValueError(msg)
    fmap = _model_field(meta, folder, _one_spec(args.field_map))
    from hepnb.tracks.data import read_states
    from hepnb.tracks.export import export_onnx, onnx_max_abs_diff
    from hepnb.tracks.saved import SAMPLE_STATES, domain_flags, load_saved_model

    if not (folder / SAMPLE_STATES).is_file():
        msg = f"{folder} has no {SAMPLE_STATES}: the states the ONNX file is checked on are missing"
        raise FileNotFoundError(msg)
    states = read_states(folder / SAMPLE_STATES)
    states = states[domain_flags(states, meta.domain, meta.z0_mm) == 0].astype(np.float32)
    if not len(states):
        msg = f"{folder / SAMPLE_STATES} holds no state inside the model's training domain to check the ONNX file on"
        raise ValueError(msg)
    model = load_saved_model(folder, meta, fmap)
    unchecked = target.with_name(f".{target.name}.unchecked")
    try:
        export_onnx(model, unchecked, name=meta.name)
        diff = onnx_max_abs_diff(model, unchecked, states)
        if not diff["max_pos_diff_um"] <= ONNX_TOLERANCE_UM:
            msg = (f"the ONNX export of {meta.name} differs from JAX by {diff['max_pos_diff_um']:.3g} µm in position "
                   f"on {len(states)} validation states, more than the {ONNX_TOLERANCE_UM:g} µm allowed; "
                   f"{target} was not written")
            raise RuntimeError(msg)
        unchecked.replace(target)
    finally:
        unchecked.unlink(missing_ok=True)
    print(f"{meta.name} ({meta.kind}, leg {meta.leg}) exported to {target}: within {diff['max_pos_diff_um']:.3g} µm "
          f"(positions) and {diff['max_slope_diff_mrad']:.3g} mrad (slopes) of JAX on {len(states)} validation "
          "states")
    return 0


def _one_spec(paths: list[str] | None) -> str:
    """``--field-map`` of ``export``: one npz file or one quadrant pattern with ``{q}``."""
    if not paths:
        return ""
    if len(paths) != 1:
        msg = f"--field-map of export takes one file (npz, or a quadrant pattern with {{q}}), found {len(paths)}"
        raise ValueError(msg)
    return paths[0]


def add_export(sub: Any) -> None:
    """The ``export`` command's parser."""
    exp = sub.add_parser("export", help="write a saved extrapolator as ONNX (checked against JAX before it is kept)")
    exp.add_argument("--model", type=Path, required=True, metavar="DIR", help="a folder with model.json (the study's "
                                                                              "results/…/models/<leg>/<name>)")
    exp.add_argument("--onnx", type=Path, required=True, metavar="FILE", help="FILE.onnx (input start, output end)")
    exp.add_argument("--field-map", nargs=1, default=None, metavar="FILE",
                     help="the model's field map when model.json's cannot be found here (npz or a {q} pattern)")
    exp.set_defaults(func=_export)
