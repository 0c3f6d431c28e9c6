"""Glob dialects, one per purpose, each named.

- ``velero_*`` and ``includes_excludes``: Velero's namespace globs (gobwas/glob without separators: ``*``,
  ``?``, ``[abc]``, ``[!a-z]``, ``{a,b}``), as Velero matches ``includedNamespaces``/``excludedNamespaces``
  (``pkg/util/collections/includes_excludes.go``; documented in docs:namespace-glob-patterns). Only for what
  Velero itself will match.
- ``config_glob``: the shell patterns (``fnmatch``, case-sensitive) of what users write to us: cluster and
  namespace selectors in ``--config``, waivers, policies and the output filters.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def velero_glob(pattern: str) -> re.Pattern[str]:
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


def velero_glob_match(pattern: str, name: str) -> bool:
    return pattern == name or velero_glob(pattern).match(name) is not None


@lru_cache(maxsize=4096)
def _matcher(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """Plain names go in a set, patterns are compiled once: schedules × namespaces stays cheap."""
    literal = frozenset(p for p in patterns if not GLOB_CHARS.intersection(p))
    return literal, tuple(velero_glob(p) for p in patterns if p not in literal)


def velero_any_glob(patterns: Iterable[str], name: str) -> bool:
    literal, compiled = _matcher(tuple(patterns))
    return name in literal or any(c.match(name) for c in compiled)


def includes_excludes(includes: Iterable[str], excludes: Iterable[str], name: str) -> bool:
    """Velero's ``IncludesExcludes.ShouldInclude``: excludes win; empty includes or ``*`` mean everything."""
    if excludes and velero_any_glob(excludes, name):
        return False
    includes = tuple(includes)
    return not includes or "*" in includes or velero_any_glob(includes, name)


def config_glob(name: str, pattern: str) -> bool:
    """``name`` matches a user's shell pattern (``prod-*``, ``team-?``); case-sensitive on every platform."""
    return fnmatch.fnmatchcase(name, pattern)
