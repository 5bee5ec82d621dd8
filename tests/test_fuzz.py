"""Property-based fuzzing of the readers (Hypothesis): whatever bytes or text a user hands them, they answer with
their own one-line refusal (ValueError / YAMLError / FileNotFoundError) or a valid result, never another
exception, a hang or a multi-line message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hepnb.book.parameters import load_yaml, yaml_message
from hepnb.book.results import check_record
from hepnb.io import read_table
from hepnb.tau.hepmc import read_hepmc3, scan_hepmc_text

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.text(max_size=400))
def test_profile_yaml_refuses_in_one_line(text: str) -> None:
    try:
        load_yaml(text)
    except yaml.YAMLError as err:
        assert "\n" not in yaml_message(err)


@FUZZ
@given(st.binary(max_size=600))
def test_table_reader_refuses_any_damaged_file(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    for name, head in (("a.root", b"root"), ("b.parquet", b"PAR1"), ("c.parquet", b"")):
        path = folder / name
        path.write_bytes(head + blob)
        with pytest.raises(ValueError) as caught:
            read_table(path)
        assert str(path) in str(caught.value)


#: HepMC3 lines: the real record kinds with random fields, so that the fuzzer reaches the parser's branches.
_LINE = st.one_of(
    st.builds(lambda n, p, v: f"E {n} {p} {v}", st.integers(-2, 5), st.integers(-1, 4), st.integers(-1, 4)),
    st.builds(lambda a, b: f"U {a} {b}", st.sampled_from(["GEV", "MEV", "TEV", "X"]), st.sampled_from(["MM", "CM", "KM"])),
    st.builds(lambda i, v, pid, xs: f"P {i} {v} {pid} " + " ".join(xs) + " 1", st.integers(-1, 4), st.integers(-3, 3),
              st.sampled_from([11, -15, 15, 211, 22, 16]),
              st.lists(st.sampled_from(["0.0", "1.5", "-2", "nan", "inf", "1e308", "x"]), min_size=5, max_size=5)),
    st.builds(lambda i, ins: f"V {i} 0 [{ins}]", st.integers(-4, 1), st.sampled_from(["1", "1,2", "9", ""])),
    st.text(alphabet="PVE0123 .-[]", max_size=20),
)


@FUZZ
@given(st.lists(_LINE, max_size=12), st.booleans())
def test_hepmc_reader_refuses_or_reads(tmp_path_factory: pytest.TempPathFactory, lines: list[str], end: bool) -> None:
    path = tmp_path_factory.mktemp("hepmc") / "f.hepmc3"
    tail = ["HepMC::Asciiv3-END_EVENT_LISTING"] if end else []
    path.write_text("\n".join(["HepMC::Version 3.02.05", "HepMC::Asciiv3-START_EVENT_LISTING", *lines, *tail]) + "\n")
    try:
        scan_hepmc_text(path)
        events = read_hepmc3(path)
    except ValueError as err:
        assert "\n" not in str(err).strip() or "pyhepmc" in str(err)
        return
    assert events.n_events >= 1


_JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)


@FUZZ
@given(st.dictionaries(st.sampled_from(["study", "profile", "created", "git_commit", "versions", "device", "params",
                                        "timings_s", "metrics"]), _JSON))
def test_results_schema_refuses_with_the_field(record: dict) -> None:
    try:
        check_record(record, Path("r.json"))
    except ValueError as err:
        assert str(err).startswith("results file r.json: ") and "\n" not in str(err)
    else:
        assert json.dumps(record)


# -- LHCb field-map quadrant files ------------------------------------------------------------------------------

def _quadrant_text(tmp: Path) -> str:
    from hepnb.tracks.cdf import Quadrant, write_quadrant

    values = np.random.default_rng(3).normal(0.0, 0.5, (3 * 2 * 2, 3))
    quadrant = Quadrant(spacing_mm=(100.0, 100.0, 100.0), shape=(3, 2, 2), z_offset_mm=0.0, values_t=values)
    return write_quadrant(tmp / "valid.cdf", quadrant, index=1).read_text()


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("column", [0, 3, 6])
def test_quadrant_reader_names_the_file_for_a_non_finite_geometry(tmp_path: Path, bad: str, column: int) -> None:
    """A non-finite spacing, grid count or z offset on the geometry line (the case Hypothesis found: ``nx = inf``
    raised a bare OverflowError from ``int()``) is refused with the file and line named."""
    from hepnb.tracks.cdf import read_quadrant

    lines = _quadrant_text(tmp_path).splitlines()
    i = next(k for k in range(1, len(lines)) if lines[k - 1].startswith("#") and len(lines[k].split()) == 7)
    words = lines[i].split()
    words[column] = bad
    lines[i] = " ".join(words)
    path = tmp_path / "damaged.cdf"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="must hold finite numbers") as err:
        read_quadrant(path)
    assert f"{path}:{i + 1}:" in str(err.value)


#: How a line of a quadrant file is damaged: a number replaced by text, NaN, inf or a huge value, or the line cut.
_DAMAGE = st.sampled_from(["x", "nan", "inf", "-inf", "1e308", "", "0", "-1", "3.5 4.5"])


@FUZZ
@given(st.data())
def test_quadrant_reader_refuses_or_reads_finite_fields(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
                                                        ) -> None:
    from hepnb.tracks.cdf import read_quadrant

    folder = tmp_path_factory.mktemp("cdf")
    lines = _quadrant_text(folder).splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        words = lines[i].split(" ")
        j = data.draw(st.integers(0, len(words) - 1))
        lines[i] = " ".join([*words[:j], data.draw(_DAMAGE), *words[j + 1:]])
    cut = data.draw(st.integers(0, len(lines)))
    path = folder / "damaged.cdf"
    path.write_text("\n".join(lines[:cut]) + "\n")
    try:
        quadrant = read_quadrant(path)
    except ValueError as err:
        assert str(path) in str(err) and "\n" not in str(err)
        return
    assert np.isfinite(quadrant.values_t).all() and quadrant.values_t.shape == (int(np.prod(quadrant.shape)), 3)


# -- saved model folders ------------------------------------------------------------------------------------------

#: A replacement for one field of a model.json: other types, non-finite and huge numbers, nested junk.
_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=6),
                  st.lists(st.floats(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@pytest.fixture(scope="module")
def pid_model_json(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from types import SimpleNamespace

    from hepnb.pid.export import save_deployable
    from hepnb.pid.models import build_network
    from hepnb.pid.transforms import IDENTITY

    scaling = SimpleNamespace(protocol="corrected", mean=np.zeros(22), std=np.ones(22), transform=IDENTITY)
    folder = save_deployable(tmp_path_factory.mktemp("model") / "dnn", "dnn", build_network("dnn"), scaling)
    return json.loads((folder / "model.json").read_text())


@FUZZ
@given(st.data())
def test_pid_model_metadata_refuses_with_the_field_or_validates(tmp_path_factory: pytest.TempPathFactory,
                                                                pid_model_json: dict, data: st.DataObject) -> None:
    from hepnb.pid.export import ModelMeta, read_model_meta

    folder = tmp_path_factory.mktemp("meta")
    (folder / "checkpoint").mkdir()
    meta = json.loads(json.dumps(pid_model_json))
    key = data.draw(st.sampled_from(sorted(meta)))
    if data.draw(st.booleans()):
        meta[key] = data.draw(_JUNK)
    else:
        del meta[key]
    (folder / "model.json").write_text(json.dumps(meta))
    try:
        checked = read_model_meta(folder)
    except (ValueError, FileNotFoundError) as err:
        assert str(folder) in str(err) and "\n" not in str(err)
        return
    ModelMeta.model_validate(checked)  # what is accepted is what the schema allows


@FUZZ
@given(st.sampled_from(["name", "family", "size", "per_qop", "base", "dz_mm", "kind", "extra"]), _JUNK, st.booleans())
def test_extrapolator_config_refuses_with_the_field(key: str, value: object, drop: bool) -> None:
    from hepnb.io import validate_json
    from hepnb.tracks.export import ExtrapolatorConfig

    record: dict = {"name": "mlp_small", "family": "mlp", "size": "small", "per_qop": True,
                    "base": {"kind": "line", "dz_mm": 5000.0}}
    validate_json(record, ExtrapolatorConfig, Path("config.json"))  # the valid one passes
    target = record["base"] if key in ("dz_mm", "kind") else record
    if drop:
        target.pop(key, None)
    else:
        target[key] = value
    try:
        validate_json(record, ExtrapolatorConfig, Path("config.json"), what="extrapolator config")
    except ValueError as err:
        assert str(err).startswith("extrapolator config config.json: ") and "\n" not in str(err)
    else:  # accepted only where the mutation left a valid config: the optional or free fields
        assert key in {"name", "per_qop", "dz_mm", "extra"} or value in ("mlp", "rkpinn", "small", "large"), record


# -- commands, end to end in this process ------------------------------------------------------------------------

_COLUMNS = ("x_mm", "y_mm", "tx", "ty", "qop_per_gev")


@FUZZ
@given(st.data())
def test_propagate_command_answers_in_one_line_or_writes_every_row(tmp_path_factory: pytest.TempPathFactory,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   data: st.DataObject) -> None:
    """``hepnb tracks propagate`` on a mutated state table: exit 0 with one finite end state per row, or exit 1/2
    with one line; never a traceback, a partial file or a changed input."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepnb.cli import main

    folder = tmp_path_factory.mktemp("cmd")
    n = data.draw(st.integers(0, 4))
    columns: dict[str, object] = {c: [0.0, 0.0, 0.02, 0.01, 0.2][k] + np.zeros(n) for k, c in enumerate(_COLUMNS)}
    mutation = data.draw(st.sampled_from(["none", "drop", "text", "value", "extra"]))
    name = data.draw(st.sampled_from(_COLUMNS))
    if mutation == "drop":
        del columns[name]
    elif mutation == "text":
        columns[name] = [str(v) for v in columns[name]]
    elif mutation == "value" and n:
        columns[name] = np.full(n, data.draw(st.sampled_from([np.nan, np.inf, 1e308, -1e308, 1e3, 0.0])))
    elif mutation == "extra":
        columns["z_mm"] = np.zeros(n)
    path = folder / "states.parquet"
    pq.write_table(pa.table(columns), path)
    before = path.read_bytes()
    out = folder / "end.parquet"
    capsys.readouterr()
    status = main(["tracks", "propagate", "--input", str(path), "--output", str(out), "--leg", "ut_t"])
    err = capsys.readouterr().err
    assert path.read_bytes() == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "a temporary file was left"
    if status == 0:
        from hepnb.io import read_table

        end = read_table(out)
        assert len(next(iter(end.values()))) == n and all(np.isfinite(v).all() for v in end.values())
    else:
        lines = [line for line in err.splitlines() if line.strip()]
        assert status in (1, 2) and len(lines) == 1 and lines[0].startswith("hepnb: error: "), err
        assert "Traceback" not in err and not out.exists()
