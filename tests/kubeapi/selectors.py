"""Label and field selectors with the apiserver's syntax and error behaviour.

Label selectors support `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, `a>1`,
`a<1`, comma-separated ANDs. Field selectors support `=`, `==`, `!=` on the fields a type
declares (metadata.name and metadata.namespace always). Bad syntax raises `ApiError(400)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ApiError

LabelMatcher = Callable[[Mapping[str, str]], bool]
FieldMatcher = Callable[[Mapping[str, str]], bool]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY_RE = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}$")
_VALUE_RE = re.compile(rf"^({_NAME})?$")
_SPECIAL = set("!=,()<> \t\n")


def _bad(selector: str, why: str) -> ApiError:
    return ApiError(400, f"unable to parse requirement: {why}", "BadRequest") if selector else ApiError(400)


def _lex(s: str) -> list[str]:
    tokens: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in " \t\n":
            i += 1
        elif s.startswith("==", i) or s.startswith("!=", i):
            tokens.append(s[i : i + 2])
            i += 2
        elif c in "!=,()<>":
            tokens.append(c)
            i += 1
        else:
            j = i
            while j < n and s[j] not in _SPECIAL:
                j += 1
            tokens.append(s[i:j])
            i = j
    return tokens


def _check_key(selector: str, key: str) -> str:
    if not key or key in _SPECIAL or not _KEY_RE.match(key) or len(key) > 316:
        raise _bad(
            selector,
            f'key: Invalid value: "{key}": name part must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        )
    return key


def _check_value(selector: str, value: str) -> str:
    if not _VALUE_RE.match(value):
        raise _bad(
            selector,
            f'values[0][{selector}]: Invalid value: "{value}": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character",
        )
    return value


def parse_label_selector(selector: str) -> LabelMatcher | None:
    """Compile a label selector; None means "everything" (empty selector)."""
    tokens = _lex(selector or "")
    if not tokens:
        return None
    reqs: list[LabelMatcher] = []
    i, n = 0, len(tokens)

    def peek() -> str | None:
        return tokens[i] if i < n else None

    while True:
        tok = peek()
        if tok is None or tok == ",":
            raise _bad(selector, f"found '{tok or ''}', expected: !, identifier")
        if tok == "!":
            i += 1
            key = _check_key(selector, peek() or "")
            i += 1
            reqs.append(_requirement("!", key, frozenset()))
        else:
            key = _check_key(selector, tok)
            i += 1
            op = peek()
            if op is None or op == ",":
                reqs.append(_requirement("exists", key, frozenset()))
            elif op in ("=", "==", "!="):
                i += 1
                nxt = peek()
                value = "" if nxt is None or nxt == "," else _check_value(selector, nxt)
                if nxt is not None and nxt != ",":
                    i += 1
                reqs.append(_requirement("!=" if op == "!=" else "=", key, frozenset({value})))
            elif op in ("in", "notin"):
                i += 1
                if peek() != "(":
                    raise _bad(selector, f"found '{peek() or ''}', expected: '('")
                i += 1
                values: set[str] = set()
                expect_value = True
                while True:
                    t = peek()
                    if t is None:
                        raise _bad(selector, "found '', expected: ')'")
                    if t == ")":
                        if expect_value and values:
                            values.add("")
                        i += 1
                        break
                    if t == ",":
                        if expect_value:
                            values.add("")
                        expect_value = True
                        i += 1
                        continue
                    if not expect_value or t in _SPECIAL:
                        raise _bad(selector, f"found '{t}', expected: ',', ')' or identifier")
                    values.add(_check_value(selector, t))
                    expect_value = False
                    i += 1
                if not values:
                    raise _bad(selector, "for 'in', 'notin' operators, values set can't be empty")
                reqs.append(_requirement(op, key, frozenset(values)))
            elif op in (">", "<"):
                i += 1
                raw = peek() or ""
                if not re.fullmatch(r"-?\d+", raw):
                    raise _bad(selector, f"for 'Gt', 'Lt' operators, the value must be an integer: {raw}")
                i += 1
                reqs.append(_compare(key, int(raw), op == ">"))
            else:
                raise _bad(selector, f"found '{op}', expected: '=', '!=', '==', 'in', notin'")
        if peek() is None:
            break
        if peek() != ",":
            raise _bad(selector, f"found '{peek()}', expected: ',' or 'end of string'")
        i += 1
        if peek() is None:
            raise _bad(selector, "found '', expected: identifier after ','")
    if len(reqs) == 1:
        return reqs[0]
    return lambda lb: all(r(lb) for r in reqs)


def _requirement(op: str, key: str, values: frozenset[str]) -> LabelMatcher:
    """One compiled requirement; `=`/`in` need the key present, `!=`/`notin` accept it absent."""
    if op == "exists":
        return lambda lb: key in lb
    if op == "!":
        return lambda lb: key not in lb
    if op in ("=", "in"):
        return lambda lb: key in lb and lb[key] in values
    return lambda lb: key not in lb or lb[key] not in values


def _compare(key: str, bound: int, greater: bool) -> LabelMatcher:
    def match(lb: Mapping[str, str]) -> bool:
        try:
            v = int(lb[key])
        except (KeyError, ValueError):
            return False
        return v > bound if greater else v < bound

    return match


def parse_field_selector(selector: str, allowed: tuple[str, ...]) -> list[tuple[str, str, bool]] | None:
    """Parse into (field, value, equal) terms; None for an empty selector.

    `allowed` are the type's extra fields; metadata.name/metadata.namespace are always allowed.
    """
    if not selector or not selector.strip():
        return None
    terms: list[tuple[str, str, bool]] = []
    for raw in _split_unescaped_terms(selector):
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", raw)
        if not m:
            raise ApiError(400, f"invalid selector: '{selector}'; can't understand '{raw}'", "BadRequest")
        fld, op, value = m.group(1).strip(), m.group(2), m.group(3)
        if fld not in ("metadata.name", "metadata.namespace") and fld not in allowed:
            raise ApiError(400, f"field label not supported: {fld}", "BadRequest")
        terms.append((fld, value.replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\"), op != "!="))
    return terms


def _split_unescaped_terms(selector: str) -> list[str]:
    out, cur, i = [], "", 0
    while i < len(selector):
        c = selector[i]
        if c == "\\" and i + 1 < len(selector):
            cur += selector[i : i + 2]
            i += 2
            continue
        if c == ",":
            out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur)
    return [t for t in out if t.strip()]


def field_matcher(terms: list[tuple[str, str, bool]] | None) -> FieldMatcher | None:
    """Compile parsed terms into a predicate over an entry's field map."""
    if not terms:
        return None

    def match(fields: Mapping[str, str]) -> bool:
        return all((fields.get(fld, "") == value) == equal for fld, value, equal in terms)

    return match


def extract_fields(obj: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """Values of a type's selectable fields, stringified like the apiserver does (bools lowercase)."""
    out: dict[str, str] = {}
    for name in names:
        cur: Any = obj
        for part in name.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
            if cur is None:
                break
        if name == "source" and isinstance(cur, dict):  # events: source is source.component
            cur = cur.get("component")
        if isinstance(cur, bool):
            out[name] = "true" if cur else "false"
        elif cur is None:
            out[name] = ""
        else:
            out[name] = str(cur)
    return out
