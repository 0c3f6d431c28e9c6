"""The cost bound of a CEL expression, estimated from its checked syntax tree as Kubernetes estimates its CEL.

Every node of the tree costs 1 each time it is evaluated. Nodes inside a comprehension's loop (``all``,
``exists``, ``exists_one``, ``map``, ``filter``) run once per item of the range, so a node nested ``d``
comprehensions deep costs at most ``n**d``, where ``n`` bounds the length of any list the expression can
iterate: the longest list (or map) of the subject's entry or of the expression's literals, times one plus
the number of ``+`` operations (concatenation can only add lists together; a macro's own accumulation
does not count), or the longest string when the
expression calls ``split``. The tree comes from the compiled program's serialized ``cel.expr.CheckedExpr``
(protobuf wire format, read here field by field: no protobuf library needed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: the per-evaluation limit Kubernetes uses for CRD validation rules (apiextensions PerCallLimit)
DEFAULT_LIMIT = 1_000_000

# cel.expr.Expr field numbers
_CONST, _IDENT, _SELECT, _CALL, _LIST, _STRUCT, _COMPREHENSION = 3, 4, 5, 6, 7, 8, 9


@dataclass(frozen=True)
class CostModel:
    """``nodes[d]`` nodes at comprehension depth ``d``; what widens the lists the loops can run over."""

    nodes: tuple[int, ...]
    concatenations: int
    literal_list: int
    splits: bool
    limit: int = DEFAULT_LIMIT
    #: per identifier, the fields selected on it (``volume.status`` → ``status``), or None when the
    #: identifier is used whole (passed on, iterated, ``"x" in volume``): which entry keys an evaluation needs
    fields: dict[str, frozenset[str] | None] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.nodes) - 1

    def estimate(self, longest: int) -> int:
        """The worst case for variables whose longest list has ``longest`` items (strings: characters, when
        the expression splits them)."""
        n = max(longest, self.literal_list, 1) * (1 + self.concatenations)
        return sum(count * n**d for d, count in enumerate(self.nodes))


    def within(self) -> int:
        """The largest ``longest`` whose estimate stays within the limit (0: none does)."""
        if not self.depth:
            return 1 << 62 if self.estimate(1) <= self.limit else 0
        low, high = 0, 1
        while self.estimate(high) <= self.limit:
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self.estimate(middle) <= self.limit else (low, middle)
        return low


def cost_model(serialized: bytes, limit: int = DEFAULT_LIMIT) -> CostModel:
    """The model of a serialized ``google.protobuf.Any`` holding a ``CheckedExpr`` (or a ``ParsedExpr``)."""
    message = dict(_group(serialized))
    type_url = bytes(message.get(1, [b""])[0]).decode()
    inner = dict(_group(bytes(message.get(2, [b""])[0])))
    expr_field = 4 if type_url.endswith("CheckedExpr") else 2
    counter = _Counter()
    for expr in inner.get(expr_field, []):
        counter.walk(bytes(expr), 0)
    nodes = tuple(counter.nodes.get(d, 0) for d in range(max(counter.nodes, default=0) + 1))
    fields = {name: None if used is None else frozenset(used) for name, used in counter.fields.items()}
    return CostModel(nodes, counter.concatenations, counter.literal_list, counter.splits, limit, fields)


def longest_list(value: Any, *, strings: bool = False) -> int:
    """The length of the longest list or map anywhere in ``value`` (and of the longest string if asked)."""
    longest, stack = 0, [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            items = item.values()
        elif kind is list:
            items = item
        else:  # a string
            longest = max(longest, len(item))
            continue
        longest = max(longest, len(item))
        for child in items:
            child_kind = type(child)
            if child_kind is dict or child_kind is list or (strings and child_kind is str):
                stack.append(child)
    return longest


class _Counter:
    def __init__(self) -> None:
        self.nodes: dict[int, int] = {}
        self.concatenations = 0
        self.literal_list = 0
        self.splits = False
        self.fields: dict[str, set[str] | None] = {}

    def walk(self, expr: bytes, depth: int, step: bool = False) -> None:
        self.nodes[depth] = self.nodes.get(depth, 0) + 1
        fields = dict(_group(expr))
        if _IDENT in fields:
            self.fields[_name(fields[_IDENT][0])] = None
        elif _SELECT in fields:
            select = dict(_group(bytes(fields[_SELECT][0])))
            operand = dict(_group(bytes(select.get(1, [b""])[0])))
            if _IDENT in operand:  # volume.status: one field of the variable
                self.nodes[depth] += 1
                name = _name(operand[_IDENT][0])
                used = self.fields.setdefault(name, set())
                if used is not None:
                    used.add(bytes(select.get(2, [b""])[0]).decode())
            else:
                self._children(fields[_SELECT], {1: 0}, depth)
        elif _CALL in fields:
            call = dict(_group(bytes(fields[_CALL][0])))
            function = bytes(call.get(2, [b""])[0]).decode()
            # a macro's loop step (``accu + [item]``) grows a list only as long as its range
            self.concatenations += function == "_+_" and not step
            self.splits = self.splits or function == "split"
            for child in call.get(1, []) + call.get(3, []):  # filter's step: cond ? accu + [item] : accu
                self.walk(bytes(child), depth, step=step and function == "_?_:_")
        elif _LIST in fields:
            elements = dict(_group(bytes(fields[_LIST][0]))).get(1, [])
            self.literal_list = max(self.literal_list, len(elements))
            for child in elements:
                self.walk(bytes(child), depth)
        elif _STRUCT in fields:
            entries = dict(_group(bytes(fields[_STRUCT][0]))).get(2, [])
            self.literal_list = max(self.literal_list, len(entries))
            for entry in entries:
                self._children([entry], {3: 0, 4: 0}, depth)
        elif _COMPREHENSION in fields:
            # iter_range, accu_init and result run once; loop_condition and loop_step once per item
            self._children(fields[_COMPREHENSION], {2: 0, 4: 0, 5: 1, 6: 1, 7: 0}, depth)

    def _children(self, messages: list[Any], offsets: dict[int, int], depth: int) -> None:
        for message in messages:
            for number, values in _group(bytes(message)):
                if number in offsets:
                    for child in values:
                        self.walk(bytes(child), depth + offsets[number], step=number == 6 and 6 in offsets)


def _name(ident: Any) -> str:
    return bytes(dict(_group(bytes(ident))).get(1, [b""])[0]).decode()


def _group(buf: bytes) -> Iterator[tuple[int, list[Any]]]:
    grouped: dict[int, list[Any]] = {}
    for number, value in _fields(buf):
        grouped.setdefault(number, []).append(value)
    return iter(grouped.items())


def _fields(buf: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of one protobuf message: varints as int, length-delimited as bytes."""
    view, i = memoryview(buf), 0
    while i < len(view):
        key, i = _varint(view, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(view, i)
            yield number, value
        elif wire == 2:
            size, i = _varint(view, i)
            yield number, view[i:i + size]
            i += size
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _varint(view: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = view[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7
