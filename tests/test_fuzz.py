"""Property-based fuzzing of the readers (Hypothesis): whatever bytes or text a user hands them, they answer with
their own one-line refusal (ValueError / YAMLError / FileNotFoundError) or a valid result, never another
exception, a hang or a multi-line message."""

from __future__ import annotations

import json
from pathlib import Path

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
