"""The allowed values a notebook declares for each parameter, and how parameter text is typed.

Each line of a study's ``parameters`` cell is ``name = literal  # comment``. The comment is a list of segments
separated by ``;``; a segment that starts with one of the keywords below declares the allowed values, any other
segment is help text (shown by ``hepnb list``)::

    n_tracks = 60000  # range: 1000..; tracks simulated before the selection
    learning_rate = 2e-3  # range: 0<..<1
    selection = "o2"  # choices: o2|seed; o2 (global tracks) or seed (the seed's cuts)
    ranges = ["0-1", "1-3", "full"]  # choices: 0-1|1-3|full; length: 1..
    embed_dims = [32, 64, 32]  # range: 1..; length: 3
    input_file = ""  # any; a ROOT or Parquet file, "" simulates

Grammar (``[]``: optional, ``|``: or)::

    segment  := "range:" interval | "choices:" value ("|" value)* | "length:" (INT | interval) | "any" | help
    interval := [NUMBER] ["<"] ".." ["<"] [NUMBER]

* ``range`` (int and float parameters, and the elements of a list of numbers): ``a..b`` is a ≤ x ≤ b; ``a<..``
  excludes a (a < x), ``..<b`` excludes b (x < b); a missing number leaves that side open: ``1000..`` is
  x ≥ 1000, ``0<..<1`` is 0 < x < 1. Float values must also be finite (no ``inf``, no ``nan``).
* ``choices`` (str and int parameters, and the elements of a list): the value is one of the listed values,
  read with the parameter's (element) type; quotes around a value are optional.
* ``length`` (lists): the number of elements, exactly (``length: 3``) or as an interval (``length: 1..``).
* ``any``: every value of the parameter's type is allowed (free text such as a path or an address); it is said
  explicitly so that a forgotten declaration can be told from a deliberate one.

A bool parameter needs no declaration (its type allows true and false). The declaration is checked against the
notebook's own default when the notebook is read, and against every ``-p`` and profile value before a kernel
starts.

Values given as text (``-p NAME VALUE``, profile files) are typed as YAML 1.2 (core schema), not YAML 1.1:
integers are decimal (``010`` is 10; ``0x10`` and ``0o10`` are not integers), ``1e-3`` is a float, only
``true``/``false`` are booleans (``yes``, ``no``, ``on`` and ``off`` stay strings).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "MAX_YAML_BYTES",
    "Constraint",
    "ConstraintError",
    "Interval",
    "Loader",
    "load_yaml",
    "parse_comment",
    "yaml_message",
]

_KEYWORDS = ("range", "choices", "length")
_NUMBER = r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_INTERVAL = re.compile(rf"^\s*(?P<lo>{_NUMBER})?\s*(?P<lo_open><)?\s*\.\.\s*(?P<hi_open><)?\s*(?P<hi>{_NUMBER})?\s*$")


class ConstraintError(ValueError):
    """A declaration that does not parse, or a value outside the declared ones."""


@dataclass(frozen=True)
class Interval:
    """``lo..hi`` with optional open (excluded) ends; ``None`` is an unbounded side."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, x: float) -> bool:
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        return not (self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi))

    def __str__(self) -> str:
        lo = "" if self.lo is None else _number_text(self.lo)
        hi = "" if self.hi is None else _number_text(self.hi)
        return f"{lo}{'<' if self.lo_open else ''}..{'<' if self.hi_open else ''}{hi}"

    def describe(self) -> str:
        """In words, e.g. ``>= 1000`` or ``> 0 and < 1``."""
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {_number_text(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {_number_text(self.hi)}")
        return " and ".join(parts) or "any number"

    @classmethod
    def parse(cls, text: str) -> Interval:
        """Parse ``[a][<]..[<][b]``.

        Raises
        ------
        ConstraintError
            Text that is not an interval, an open end without a number, or ``a > b``.
        """
        match = _INTERVAL.match(text)
        if match is None:
            msg = f"{text.strip()!r} is not an interval like 1.., 0<..<1 or 1..10"
            raise ConstraintError(msg)
        lo = float(match["lo"]) if match["lo"] else None
        hi = float(match["hi"]) if match["hi"] else None
        if (match["lo_open"] and lo is None) or (match["hi_open"] and hi is None):
            msg = f"{text.strip()!r}: '<' needs a number on its side of '..'"
            raise ConstraintError(msg)
        if lo is not None and hi is not None and lo > hi:
            msg = f"{text.strip()!r}: the lower bound is above the upper one"
            raise ConstraintError(msg)
        return cls(lo, hi, bool(match["lo_open"]), bool(match["hi_open"]))


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


@dataclass(frozen=True)
class Constraint:
    """The allowed values of one parameter, as its comment declares them."""

    #: ``range:`` of the value (numbers) or of each element (lists of numbers).
    range: Interval | None = None
    #: ``choices:`` of the value or of each element, typed.
    choices: tuple[Any, ...] | None = None
    #: ``length:`` of a list.
    length: Interval | None = None
    #: ``any``: every value of the type, declared on purpose.
    free: bool = False

    @property
    def declared(self) -> bool:
        """Whether the comment declares the allowed values at all."""
        return self.free or self.range is not None or self.choices is not None or self.length is not None

    def __str__(self) -> str:
        parts = []
        if self.range is not None:
            parts.append(f"range: {self.range}")
        if self.choices is not None:
            parts.append("choices: " + "|".join(str(c) for c in self.choices))
        if self.length is not None:
            parts.append(f"length: {self.length}")
        if self.free:
            parts.append("any")
        return "; ".join(parts)

    def check(self, value: Any) -> None:
        """Raise :class:`ConstraintError` saying what is allowed and what was found, if ``value`` is not."""
        if isinstance(value, list):
            if self.length is not None and len(value) not in self.length:
                msg = f"must have a length {self.length.describe()} (length: {self.length}), found {len(value)} elements"
                raise ConstraintError(msg)
            for i, element in enumerate(value):
                try:
                    self._check_one(element)
                except ConstraintError as err:
                    msg = f"element {i} {err}"
                    raise ConstraintError(msg) from None
            return
        self._check_one(value)

    def _check_one(self, value: Any) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            msg = f"must be a finite number, found {value!r}"
            raise ConstraintError(msg)
        if self.range is not None and isinstance(value, int | float) and value not in self.range:
            msg = f"must be {self.range.describe()} (range: {self.range}), found {value!r}"
            raise ConstraintError(msg)
        if self.choices is not None and value not in self.choices:
            msg = f"must be one of {'|'.join(str(c) for c in self.choices)}, found {value!r}"
            raise ConstraintError(msg)


def _element_type(default: Any) -> type | None:
    """The type a value (or each element of a list) has: the default's, or its elements' for a list."""
    if not isinstance(default, list):
        return type(default)
    types = {type(e) for e in default}
    if not types:
        return None  # an empty list: the elements' type is unknown
    if types <= {int, float} and float in types:
        return float
    return types.pop() if len(types) == 1 else None


def _typed_choice(text: str, kind: type | None) -> Any:
    text = text.strip()
    if not text:
        msg = "a choice is empty (write \"\" for the empty string)"
        raise ConstraintError(msg)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    if kind is int:
        if not re.fullmatch(r"[-+]?\d+", text):
            msg = f"choice {text!r} is not a decimal integer"
            raise ConstraintError(msg)
        return int(text)
    if kind is float:
        return float(text)
    return text


def parse_comment(comment: str, default: Any) -> tuple[Constraint, str]:
    """Split a parameter's comment into its :class:`Constraint` and its help text.

    Parameters
    ----------
    comment
        The text after ``#`` on the parameter's line (papermill's ``help``).
    default
        The notebook's default value; its type (or its elements' type) types the choices and says which
        keywords apply.

    Returns
    -------
    (Constraint, str)
        The declaration (``Constraint()`` when there is none) and the help text (the other segments).

    Raises
    ------
    ConstraintError
        A keyword segment that does not parse, a keyword that does not apply to the type (``range`` for a
        string, ``length`` for a number), a keyword given twice, or a default outside its own declaration.
    """
    found: dict[str, Any] = {}
    help_parts: list[str] = []
    kind = _element_type(default)
    for segment in comment.split(";"):
        text = segment.strip()
        keyword, _, rest = text.partition(":")
        keyword = keyword.strip().lower()
        if text == "any":
            keyword, rest = "any", ""
        elif not rest or keyword not in _KEYWORDS:
            if text:
                help_parts.append(text)
            continue
        if keyword in found:
            msg = f"{keyword!r} is declared twice"
            raise ConstraintError(msg)
        if keyword == "range":
            if kind not in (int, float, None):
                msg = f"'range' applies to numbers (or lists of numbers), not to {type(default).__name__} {default!r}"
                raise ConstraintError(msg)
            found["range"] = Interval.parse(rest)
        elif keyword == "choices":
            if kind not in (int, float, str, None):
                msg = f"'choices' applies to str, int or float values (or lists of them), not to {default!r}"
                raise ConstraintError(msg)
            found["choices"] = tuple(_typed_choice(v, kind) for v in rest.split("|"))
        elif keyword == "length":
            if not isinstance(default, list):
                msg = f"'length' applies to lists, not to {type(default).__name__} {default!r}"
                raise ConstraintError(msg)
            exact = rest.strip()
            found["length"] = (Interval(float(exact), float(exact)) if re.fullmatch(r"\d+", exact)
                               else Interval.parse(rest))
        else:
            found["free"] = True
    constraint = Constraint(range=found.get("range"), choices=found.get("choices"), length=found.get("length"),
                            free=found.get("free", False))
    if constraint.declared:
        try:
            constraint.check(default)
        except ConstraintError as err:
            msg = f"the default {default!r} breaks its own declaration ({constraint}): it {err}"
            raise ConstraintError(msg) from None
    return constraint, "; ".join(help_parts)


class Loader(yaml.SafeLoader):
    """A safe YAML loader with the YAML 1.2 core schema's scalars: decimal integers, ``1e-3`` as a float, only
    ``true``/``false`` as booleans and dates as strings (PyYAML's default, YAML 1.1, reads ``010`` as 8,
    ``0x10`` as 16 and ``2024-05-01`` as a date); no alias, no duplicate or complex key (:func:`load_yaml`)."""


_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"  # YAML 1.1 only: in YAML 1.2 a date is a string
Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
Loader.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if not re.fullmatch(r"[-+]?[0-9]+", text):
        msg = f"{text!r} is not a decimal integer"
        raise yaml.constructor.ConstructorError(None, None, msg, node.start_mark)
    return int(text, 10)


Loader.add_constructor(_INT, _decimal_int)


def _compose_node(loader: Loader, parent: Any, index: Any) -> Any:
    if loader.check_event(yaml.AliasEvent):  # a profile needs no alias: none, so none can expand into gigabytes
        event = loader.peek_event()
        msg = f"an alias (*{event.anchor}) is not allowed here: write the value out"
        raise yaml.composer.ComposerError(None, None, msg, event.start_mark)
    return yaml.composer.Composer.compose_node(loader, parent, index)


def _strict_mapping(loader: Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            msg = f"a key must be a plain name, found {type(key).__name__}"
            raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
        if key in seen:
            msg = f"duplicate key {key!r} (first at line {seen[key].line + 1}): the last would silently win"
            raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
        seen[key] = key_node.start_mark
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


Loader.compose_node = _compose_node  # type: ignore[method-assign]
Loader.construct_mapping = _strict_mapping  # type: ignore[method-assign,assignment]

#: The largest YAML text :func:`load_yaml` reads (a profile is a few hundred bytes).
MAX_YAML_BYTES = 64 * 1024


def yaml_message(err: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (line and column), without PyYAML's excerpt."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = " ".join(str(part) for part in (err.context, err.problem) if part)
        return " ".join(f"{what}{where}".split())
    return " ".join(str(err).split())


def load_yaml(text: str) -> Any:
    """Parse ``text`` with :class:`Loader`: YAML 1.2 scalars, one document, no alias, no duplicate or complex key,
    at most :data:`MAX_YAML_BYTES`.

    Raises
    ------
    yaml.YAMLError
        Text that does not parse or breaks one of these rules (:func:`yaml_message` words it in one line).
    """
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        msg = f"{size} bytes of YAML, more than the {MAX_YAML_BYTES} a profile may have"
        raise yaml.YAMLError(msg)
    return yaml.load(text, Loader=Loader)
