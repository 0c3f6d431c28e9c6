"""YAML as the tool reads it from files it did not write: safe types only, and no aliases.

An alias makes one node appear many times; nested aliases make a few hundred bytes stand for billions
of values (a "billion laughs" file). Nothing the tool reads needs them (``kubectl`` never writes them),
so a file with an alias is refused with the line of the first one, before anything is built from it.
"""

from __future__ import annotations

from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasError(yaml.YAMLError):
    """The document uses a YAML alias (``*name``): refused."""

    def __init__(self, line: int, column: int) -> None:
        self.problem = "YAML aliases (*name) are not accepted: the anchor (&name) an alias repeats is here"
        self.problem_mark = yaml.Mark("<input>", 0, line, column, "", 0)
        super().__init__(f"{self.problem} (line {line + 1}, column {column + 1})")


def load_all(data: str | bytes) -> list[Any]:
    """Every document of ``data``; raises :class:`yaml.YAMLError` (``AliasError`` for an alias)."""
    if (b"&" not in data) if isinstance(data, bytes) else ("&" not in data):
        return list(yaml.load_all(data, Loader=_Loader))  # no anchor, so no alias: the fast path
    loader = _Loader(data)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                _refuse_aliases(node)
            docs.append(loader.construct_document(node))
        return docs
    finally:
        loader.dispose()


def load(data: str | bytes) -> Any:
    """The single document of ``data`` (None when empty), as :func:`load_all` reads it."""
    docs = load_all(data)
    if len(docs) > 1:
        raise yaml.YAMLError(f"expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def _refuse_aliases(root: yaml.Node) -> None:
    """An alias is a node met a second time (the composer hands out the anchored node itself)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            mark = node.start_mark
            raise AliasError(mark.line, mark.column)
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
