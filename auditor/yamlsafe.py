"""YAML as the tool reads it from files it did not write: safe types only, and aliases within bounds.

An alias makes one node stand for a whole subtree again; nested aliases make a few hundred bytes stand
for billions of values (a "billion laughs" file), which every later walk over the data then pays for. A
document may use aliases (PyYAML writes them for repeated objects, people write them to stay DRY), but
what they add is bounded: a document whose aliases expand it by more than :data:`MAX_ALIAS_EXPANSION`
values, or that contains itself, is refused with the line of the anchor, before anything is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from auditor.errors import ConfigError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Values aliases may add to a document beyond the values written in it.
MAX_ALIAS_EXPANSION = 1_000_000


class AliasError(yaml.YAMLError):
    """The document's aliases expand it beyond the limit, or make it contain itself: refused."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        self.problem = problem
        self.problem_mark = mark
        super().__init__(f"{problem} (line {mark.line + 1}, column {mark.column + 1})")


def load_all(data: str | bytes) -> list[Any]:
    """Every document of ``data``; raises :class:`yaml.YAMLError` (:class:`AliasError` for a bomb)."""
    if (b"&" not in data) if isinstance(data, bytes) else ("&" not in data):
        return list(yaml.load_all(data, Loader=_Loader))  # no anchor, so no alias: the fast path
    loader = _Loader(data)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                check_expansion(node)
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


def read_config_file(path: Path) -> Any:
    """The document of a file the user hands us (config, exceptions, a custom rule), as :func:`load` reads
    it; an unreadable file or invalid YAML is a :class:`ConfigError` naming the file."""
    try:
        return load(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


def check_expansion(root: yaml.Node, limit: int = MAX_ALIAS_EXPANSION) -> None:
    """Count the values the document stands for without expanding it: an aliased node is the anchored node
    object itself, so each node's expanded size is computed once (post-order, iteratively)."""
    sizes: dict[int, int] = {}
    unique = 0
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[key] = total
            if total - unique > limit:
                raise AliasError(f"YAML aliases expand the document by more than {limit:,} values", node.start_mark)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise AliasError("a YAML alias makes the document contain itself", node.start_mark)
        on_path.add(key)
        unique += 1
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []
