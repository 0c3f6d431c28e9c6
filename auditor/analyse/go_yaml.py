"""Reading YAML the way Velero's decoder (gopkg.in/yaml.v3 with ``KnownFields(true)``) reads it.

PyYAML resolves plain scalars by YAML 1.1 (``yes`` is a boolean, ``010`` is 8) and silently keeps the last
of two equal keys; yaml.v3 does neither. A policy Velero rejects must be rejected here, and one it accepts
must mean the same thing, so the document is composed into nodes without PyYAML's implicit typing and
decoded by the rules below:

- a scalar decoded into a Go ``string`` is its text, whatever it looks like; ``null``/``~``/empty is "";
- into ``interface{}`` a plain scalar resolves as yaml.v3 does (null, bool, int, float, else string);
- a struct accepts only its known keys; a key defined twice in any mapping is an error;
- a mapping, a sequence and a scalar never stand in for one another.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Tag given to plain (unquoted, untagged) scalars, resolved later by yaml.v3's rules.
PLAIN = "!go-plain"
#: Nodes visited per document: an alias bomb expands far past it (yaml.v3 refuses excessive aliasing).
MAX_NODES = 200_000
MAX_DEPTH = 200

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {".inf": "+Inf", ".Inf": "+Inf", ".INF": "+Inf", "+.inf": "+Inf", "+.Inf": "+Inf",
                   "+.INF": "+Inf", "-.inf": "-Inf", "-.Inf": "-Inf", "-.INF": "-Inf", ".nan": "NaN",
                   ".NaN": "NaN", ".NAN": "NaN"}
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")
#: A run of flow openers deeper than MAX_DEPTH: refused before PyYAML's scanner spends seconds on it.
_DEEP_FLOW = re.compile(r"[\[{](?:[ \t\r\n]*[\[{]){" + str(MAX_DEPTH) + "}")
_KIND = {ScalarNode: "!!str", SequenceNode: "!!seq", MappingNode: "!!map"}


class DecodeError(ValueError):
    """The document does not decode into the expected shape; ``field`` is where (``a.b[0].c``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


class _Loader(yaml.SafeLoader):
    """Composes nodes only; plain scalars keep a marker tag instead of YAML 1.1's guesses."""

    depth = 0

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode and implicit[0]:
            return PLAIN
        base: Callable[[Any, Any, Any], Any] = super().resolve
        return str(base(kind, value, implicit))

    def compose_node(self, parent: Any, index: Any) -> Any:
        # stop while composing: PyYAML's scanner slows down quadratically with the nesting depth
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise DecodeError("", f"the document nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def compose_first(text: str) -> Node | None:
    """The first document's node tree (yaml.v3's Decoder reads one document); None when there is none."""
    if _DEEP_FLOW.search(text):
        raise DecodeError("", f"the document nests deeper than {MAX_DEPTH} levels")
    try:
        loader = _Loader(text)  # the reader refuses control characters already here
    except yaml.YAMLError as exc:
        raise DecodeError("", f"invalid YAML: {_one_line(str(exc))}") from None
    try:
        if loader.check_node():
            return loader.get_node()
        return None
    except yaml.YAMLError as exc:
        raise DecodeError("", f"invalid YAML: {_one_line(str(exc))}") from None
    finally:
        loader.dispose()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def go_int(text: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)`` then ``ParseUint``, after yaml.v3 drops underscores."""
    plain = text.replace("_", "")
    if not _GO_INT.match(plain):
        return None
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    base = 8 if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXoObB" else 0
    value = sign * int(digits, base)
    return value if -(2**63) <= value < 2**64 else None


def go_float_text(value: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)`` as yaml.v3's encoder writes it (.inf, .nan, 1e+06)."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    sign, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    ds = "".join(map(str, digits)) or "0"
    point = len(ds) + int(exp)  # position of the decimal point in the digit string
    x = point - 1
    neg = "-" if sign else ""
    if ds == "0":
        return neg + "0"
    if x < -4 or x >= 6:  # Go: %e when exp < -4 || exp >= eprec, and eprec is 6 for the shortest 'g'
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return neg + ds + "0" * (point - len(ds))
    return f"{neg}{ds[:point]}.{ds[point:]}"


def resolve_plain(text: str) -> Any:
    """What yaml.v3 makes of a plain scalar decoded into ``interface{}``."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return float(_SPECIAL_FLOATS[text].replace("Inf", "inf").replace("NaN", "nan"))
    if text[:1] in "+-.0123456789":
        number = go_int(text)
        if number is not None:
            return number
        plain = text.replace("_", "")
        if _FLOAT.match(plain):
            try:
                return float(plain)
            except OverflowError:  # pragma: no cover - float() returns inf, kept for safety
                return None
    return text


class Decoder:
    """Walks one composed document with a node budget, naming the field of every error."""

    def __init__(self) -> None:
        self.budget = MAX_NODES

    def _visit(self, field: str, depth: int) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise DecodeError(field, "document contains excessive aliasing or too many nodes")
        if depth > MAX_DEPTH:
            raise DecodeError(field, f"nesting deeper than {MAX_DEPTH} levels")

    @staticmethod
    def is_null(node: Node | None) -> bool:
        return node is None or (isinstance(node, ScalarNode) and (
            node.tag == "tag:yaml.org,2002:null" or (node.tag == PLAIN and node.value in _NULLS)))

    @staticmethod
    def describe(node: Node) -> str:
        kind = _KIND.get(type(node), "node")
        if isinstance(node, ScalarNode):
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            return f"{kind} {shown!r}"
        return kind

    def pairs(self, node: MappingNode, field: str, depth: int) -> Iterator[tuple[str, Node, bool]]:
        """(key text, value node, key is a string) of a mapping, merges applied, duplicate keys refused."""
        seen: dict[str, int] = {}
        explicit: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag in (PLAIN, "tag:yaml.org,2002:merge") and key.value == "<<":
                for source in (value.value if isinstance(value, SequenceNode) else [value]):
                    if not isinstance(source, MappingNode):
                        raise DecodeError(field, "map merge requires map or sequence of maps as the value")
                    merged.extend(source.value)
                continue
            if isinstance(key, ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise DecodeError(join_field(field, key.value),
                                      f"mapping key {key.value[:80]!r} already defined at line {seen[key.value]}")
                seen[key.value] = line
            explicit.append((key, value))
        for key, value in explicit + [(k, v) for k, v in merged
                                      if not (isinstance(k, ScalarNode) and k.value in seen)]:
            self._visit(field, depth)
            if not isinstance(key, ScalarNode):
                raise DecodeError(field, f"a mapping key must be a scalar, not {self.describe(key)}")
            text = key.value
            is_string = key.tag != PLAIN or isinstance(resolve_plain(text), str)
            yield text, value, is_string

    def struct(self, node: Node | None, field: str, known: tuple[str, ...], type_name: str,
               depth: int = 0) -> dict[str, Node] | None:
        """A Go struct: None for null, else its fields; an unknown key fails as KnownFields(true) does."""
        self._visit(field, depth)
        if node is None or self.is_null(node):
            return None
        if not isinstance(node, MappingNode):
            raise DecodeError(field, f"cannot unmarshal {self.describe(node)} into {type_name} (expected a map)")
        out: dict[str, Node] = {}
        for key, value, _ in self.pairs(node, field, depth):
            if key not in known:
                raise DecodeError(join_field(field, key), f"field {key[:80]!r} not found in type {type_name}")
            out[key] = value
        return out

    def string(self, node: Node | None, field: str, depth: int = 0) -> str:
        self._visit(field, depth)
        if node is None or self.is_null(node):
            return ""
        if not isinstance(node, ScalarNode):
            raise DecodeError(field, f"cannot unmarshal {self.describe(node)} into string")
        return str(node.value)

    def strings(self, node: Node | None, field: str, depth: int = 0) -> tuple[str, ...]:
        self._visit(field, depth)
        if node is None or self.is_null(node):
            return ()
        if not isinstance(node, SequenceNode):
            raise DecodeError(field, f"cannot unmarshal {self.describe(node)} into []string (expected a list)")
        return tuple(self.string(item, f"{field}[{i}]", depth + 1) for i, item in enumerate(node.value))

    def any(self, node: Node, field: str, depth: int = 0) -> Any:
        """``interface{}``: maps with only string keys become dicts, others a ``NonStringKeys`` dict."""
        self._visit(field, depth)
        if isinstance(node, ScalarNode):
            if node.tag == PLAIN:
                return resolve_plain(node.value)
            return None if self.is_null(node) else node.value
        if isinstance(node, SequenceNode):
            return [self.any(item, f"{field}[{i}]", depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            all_strings = True
            for key, value, is_string in self.pairs(node, field, depth):
                all_strings &= is_string
                out[key] = self.any(value, join_field(field, key), depth + 1)
            return out if all_strings else NonStringKeys(out)
        raise DecodeError(field, "unsupported YAML node")  # pragma: no cover - PyYAML has no other kind


class NonStringKeys(dict[str, Any]):
    """A map whose keys are not all strings: yaml.v3 gives ``map[interface{}]interface{}``."""


def join_field(field: str, key: str) -> str:
    key = key if key.isprintable() and len(key) <= 80 else repr(key[:80])  # a path is shown, never a payload
    return f"{field}.{key}" if field else key
