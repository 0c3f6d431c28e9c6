"""Velero's namespace glob semantics (gobwas/glob without separators): ``*``, ``?``, ``[abc]``, ``[!a-z]``, ``{a,b}``.

Velero matches ``includedNamespaces``/``excludedNamespaces`` with these patterns
(``pkg/util/collections/includes_excludes.go``; documented in docs:namespace-glob-patterns).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n, depth = 0, len(pattern), 0
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + "$", re.DOTALL)


GLOB_CHARS = frozenset("*?[{\\")


def glob_match(pattern: str, name: str) -> bool:
    return pattern == name or compile_glob(pattern).match(name) is not None


@lru_cache(maxsize=4096)
def _matcher(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """Plain names go in a set, patterns are compiled once: schedules × namespaces stays cheap."""
    literal = frozenset(p for p in patterns if not GLOB_CHARS.intersection(p))
    return literal, tuple(compile_glob(p) for p in patterns if p not in literal)


def any_glob(patterns: Iterable[str], name: str) -> bool:
    literal, compiled = _matcher(tuple(patterns))
    return name in literal or any(c.match(name) for c in compiled)


def includes_excludes(includes: Iterable[str], excludes: Iterable[str], name: str) -> bool:
    """Velero's ``IncludesExcludes.ShouldInclude``: excludes win; empty includes or ``*`` mean everything."""
    if excludes and any_glob(excludes, name):
        return False
    includes = tuple(includes)
    return not includes or "*" in includes or any_glob(includes, name)
