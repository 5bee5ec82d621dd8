"""The allowed-values grammar of parameter comments, and YAML 1.2 typing of parameter text."""

from __future__ import annotations

import re

import pytest

from hepnb.book.parameters import Constraint, ConstraintError, Interval, load_yaml, parse_comment


@pytest.mark.parametrize(("text", "inside", "outside"), [
    ("1000..", [1000, 10**9], [999, -1]),
    ("..10", [-5, 10], [10.5]),
    ("0<..", [1e-9, 3], [0, -1]),
    ("0<..<1", [0.5], [0, 1, 1.5]),
    ("1..10", [1, 10], [0, 11]),
    ("-1.5..<2e3", [-1.5, 1999.9], [-1.6, 2000]),
])
def test_intervals_include_and_exclude_their_ends(text: str, inside: list[float], outside: list[float]) -> None:
    interval = Interval.parse(text)
    assert all(x in interval for x in inside)
    assert not any(x in interval for x in outside)
    assert Interval.parse(str(interval)) == interval


@pytest.mark.parametrize("bad", ["1...", "a..b", "<..", "..<", "5..1", "1-10"])
def test_malformed_intervals_are_refused(bad: str) -> None:
    with pytest.raises(ConstraintError):
        Interval.parse(bad)


def test_comment_splits_into_declaration_and_help() -> None:
    allowed, help_text = parse_comment("range: 1000..; tracks simulated before the selection", 60000)
    assert allowed == Constraint(range=Interval(1000.0))
    assert help_text == "tracks simulated before the selection"
    allowed, help_text = parse_comment('choices: o2|"seed"; o2 (global tracks) or seed', "o2")
    assert allowed.choices == ("o2", "seed") and help_text == "o2 (global tracks) or seed"
    allowed, help_text = parse_comment("just a description: with a colon", 3)
    assert not allowed.declared and help_text == "just a description: with a colon"
    assert parse_comment("any; a path", "")[0].free


def test_lists_constrain_their_elements_and_length() -> None:
    allowed, _ = parse_comment("choices: 0-1|1-3|full; length: 1..", ["0-1", "full"])
    allowed.check(["1-3"])
    with pytest.raises(ConstraintError, match=r"element 1 must be one of 0-1\|1-3\|full, found '2-4'"):
        allowed.check(["0-1", "2-4"])
    with pytest.raises(ConstraintError, match="length >= 1"):
        allowed.check([])
    dims, _ = parse_comment("range: 1..; length: 3", [32, 64, 32])
    with pytest.raises(ConstraintError, match="found 2 elements"):
        dims.check([8, 8])
    with pytest.raises(ConstraintError, match=r"element 2 must be >= 1 \(range: 1\.\.\), found 0"):
        dims.check([8, 8, 0])


def test_floats_must_be_finite_and_int_choices_are_typed() -> None:
    allowed, _ = parse_comment("range: 0<..", 2e-3)
    for bad in (float("inf"), float("nan"), 0.0):
        with pytest.raises(ConstraintError):
            allowed.check(bad)
    top, _ = parse_comment("choices: 1|2|3", 2)
    assert top.choices == (1, 2, 3)
    with pytest.raises(ConstraintError, match="must be one of 1|2|3, found 4"):
        top.check(4)


@pytest.mark.parametrize(("comment", "default", "message"), [
    ("range: 1..", "o2", "'range' applies to numbers"),
    ("length: 3", 5, "'length' applies to lists"),
    ("choices: a|b", True, "'choices' applies to"),
    ("range: 10..", 5, "the default 5 breaks its own declaration"),
    ("choices: o2|seed", "O2", "breaks its own declaration"),
    ("range: 1..; range: 2..", 5, "declared twice"),
    ("choices: 1|x", 5, "not a decimal integer"),
    ("choices: a||b", "a", "a choice is empty"),
])
def test_broken_declarations_are_refused(comment: str, default: object, message: str) -> None:
    with pytest.raises(ConstraintError, match=message):
        parse_comment(comment, default)


@pytest.mark.parametrize(("text", "value"), [
    ("010", 10), ("-7", -7), ("1e-3", 1e-3), ("2.5", 2.5), (".5", 0.5), ("true", True), ("False", False),
    ("0x10", "0x10"), ("0o10", "0o10"), ("yes", "yes"), ("off", "off"), ("1_000", "1_000"),
    ("[010, 2]", [10, 2]), ("{a: 08}", {"a": 8}), ("2024-05-01", "2024-05-01"),
])
def test_yaml_scalars_follow_yaml_1_2(text: str, value: object) -> None:
    assert load_yaml(text) == value
    assert type(load_yaml(text)) is type(value)


@pytest.mark.parametrize(("text", "message"), [
    ("n_steps: 7\nx: 1\nn_steps: 100000\n", r"duplicate key 'n_steps' \(first at line 1\).* at line 3, column 1"),
    ("a: &a0 [1, 2]\nb: [*a0, *a0]\n", r"an alias \(\*a0\) is not allowed here.* at line 2, column 5"),
    ("? [1, 2]\n: 3\n", "a key must be a plain name, found list"),
    ("a: 1\n---\nb: 2\n", "expected a single document.* at line 2"),
    ("a:\tb\n", "cannot start any token at line 1, column 3"),
    ("n: " + "x" * (70 * 1024), "more than the 65536 a profile may have"),
])
def test_profiles_are_strict_yaml_refused_in_one_line(text: str, message: str) -> None:
    """Duplicate keys, aliases (the billion-laughs expansion), complex keys, several documents, tabs and huge
    files are refused, each in one line that says where."""
    import yaml

    from hepnb.book.parameters import yaml_message

    with pytest.raises(yaml.YAMLError) as caught:
        load_yaml(text)
    line = yaml_message(caught.value)
    assert "\n" not in line and len(line) < 200
    assert re.search(message, line), line


def test_nested_aliases_are_refused_at_the_first_alias() -> None:
    """The hardening campaign's 600-byte profile of nested aliases (10⁸ elements once expanded): refused where the
    first alias is read, before anything is composed."""
    import yaml

    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    with pytest.raises(yaml.YAMLError, match=r"alias \(\*a0\) is not allowed here(.|\n)*line 2, column 10"):
        load_yaml("\n".join(levels) + "\n")
