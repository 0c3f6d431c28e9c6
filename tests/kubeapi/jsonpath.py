"""The small JSONPath subset CRD `additionalPrinterColumns` use.

Supports `.a.b`, `.a[0]`, `.a[*]`, `.a['x.y']` and filters `[?(@.k == "v")]` / `!=`; enough for
the Velero, snapshot, K8up and KubeStash CRDs (the apiserver itself only allows simple paths).
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-$]+)
      | \[\s*(?P<index>-?\d+)\s*\]
      | \[\s*\*\s*\]
      | \.\*
      | \[\s*'(?P<quoted>[^']*)'\s*\]
      | \[\s*\?\(\s*@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<fop>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\s*\]
    """,
    re.VERBOSE,
)


class JSONPathError(ValueError):
    """The expression is outside the supported subset."""


def compile_path(expr: str) -> list[tuple[str, Any]]:
    """Parse into steps: ("field", name) | ("index", i) | ("all", None) | ("filter", (path, op, value))."""
    s = expr.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1].strip()
    if s.startswith("$"):
        s = s[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            raise JSONPathError(f"unsupported JSONPath {expr!r} at {s[pos:]!r}")
        if m.group("field") is not None:
            steps.append(("field", m.group("field")))
        elif m.group("quoted") is not None:
            steps.append(("field", m.group("quoted")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("fpath") is not None:
            raw = m.group("fval")
            value: Any = raw[1:-1] if raw[0] in "\"'" else _literal(raw)
            steps.append(("filter", (m.group("fpath").split("."), m.group("fop"), value)))
        else:
            steps.append(("all", None))
        pos = m.end()
    return steps


def _literal(raw: str) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw


def find(obj: Any, steps: list[tuple[str, Any]]) -> list[Any]:
    """All values the compiled path selects, in document order."""
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for node in current:
            if kind == "field":
                if isinstance(node, dict) and arg in node:
                    nxt.append(node[arg])
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= arg < len(node):
                    nxt.append(node[arg])
            elif kind == "all":
                if isinstance(node, list):
                    nxt.extend(node)
                elif isinstance(node, dict):
                    nxt.extend(node.values())
            elif kind == "filter" and isinstance(node, list):
                path, op, want = arg
                for item in node:
                    v: Any = item
                    for p in path:
                        v = v.get(p) if isinstance(v, dict) else None
                    if (v == want) == (op == "=="):
                        nxt.append(item)
        current = nxt
    return current
