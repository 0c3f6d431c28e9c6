"""Fault injection: make chosen requests slow, fail with a proper Status, or break mid-response.

A rule matches on method, a regex searched in the URL path, and required query parameters
(`"*"` means "present with any value"). `times=N` limits it to the next N matching requests.
`stall=True` never answers: the request hangs until the client gives up or the server stops (a stalled
list); `body=b"..."` with `status=200` answers a malformed list (not JSON, a bare array, ...).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .errors import EXPIRED_CONTINUE_MESSAGE, REASONS, status_body

_DEFAULT_MESSAGES = {
    410: EXPIRED_CONTINUE_MESSAGE,
    500: "Internal error occurred: injected fault",
    503: "the server is currently unable to handle the request",
    429: "Too many requests, please try again later.",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
}


@dataclass
class Fault:
    """One rule; the handle `add_fault` returns (inspect `hits`, call `cancel()`)."""

    method: str | None
    path_regex: str
    query: dict[str, str] | None = None
    status: int | None = None
    retry_after: float | None = None
    latency: float | None = None
    reset: bool = False
    times: int | None = None
    body: Any = None
    stall: bool = False
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)
    _owner: FaultSet | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)

    def matches(self, method: str, path: str, query: dict[str, str]) -> bool:
        """Whether this rule applies to a request (not counting `times`)."""
        if self.method and self.method.upper() != method:
            return False
        if not self._pattern.search(path):
            return False
        return all(k in query and (want == "*" or query[k] == want) for k, want in (self.query or {}).items())

    def cancel(self) -> None:
        """Stop applying this rule."""
        if self._owner is not None:
            self._owner.remove(self)

    @property
    def active(self) -> bool:
        """False once cancelled or its `times` are used up."""
        return self._owner is not None and (self.times is None or self.hits < self.times)

    def status_body(self, forbidden_message: str | None = None) -> dict[str, Any]:
        """The Status the faulted response carries (or `body` verbatim when it is a dict)."""
        assert self.status is not None
        if isinstance(self.body, dict):
            return self.body
        code = self.status
        message = self.body if isinstance(self.body, str) else None
        if message is None:
            message = forbidden_message if code == 403 else _DEFAULT_MESSAGES.get(code)
        details: dict[str, Any] = {}
        if code == 429 or (self.retry_after is not None and code >= 500):
            details["retryAfterSeconds"] = int(self.retry_after if self.retry_after is not None else 1)
        return status_body(code, message, REASONS.get(code), details or None)

    def headers(self) -> dict[str, str]:
        """Extra headers (Retry-After for 429/5xx when asked)."""
        if self.status == 429 or self.retry_after is not None:
            value = self.retry_after if self.retry_after is not None else 1
            return {"Retry-After": str(int(value)) if float(value).is_integer() else str(value)}
        return {}


#: The longest a stalled request is held (the server's stop releases it sooner).
STALL_LIMIT = 600.0


class FaultSet:
    """Thread-safe ordered rules; the first active match wins and consumes one `times`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Register a rule."""
        with self._lock:
            fault._owner = self
            self._rules.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Unregister a rule."""
        with self._lock:
            if fault in self._rules:
                self._rules.remove(fault)
            fault._owner = None

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            for f in self._rules:
                f._owner = None
            self._rules.clear()

    def match(self, method: str, path: str, query: dict[str, str]) -> Fault | None:
        """The rule applying to this request, counting the hit."""
        if not self._rules:
            return None
        with self._lock:
            for f in self._rules:
                if f.matches(method, path, query):
                    f.hits += 1
                    if f.times is not None and f.hits >= f.times:
                        self._rules.remove(f)
                        f._owner = None
                    return f
        return None
