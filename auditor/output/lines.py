"""Many console lines printed as a few prints: Rich's per-``print`` cost (options, size, terminal checks,
buffer handling) is several times the cost of rendering one short line, and a scan of a large cluster prints
tens of thousands of them (docs/decoding.md, "Printing").

Lines that would be printed soft-wrapped are joined with newlines and printed together: a soft-wrapped
``Text`` renders as its own characters and styles followed by a newline, so the joined print writes the same
bytes, colours included. Anything else (a renderable that is not ``Text``, a print that would wrap) first
flushes what is pending, then prints as before, so the order never changes.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.text import Text

#: lines joined into one print; bounds the joined Text (and its spans) held at once
BATCH = 1000

_NEWLINE = Text("\n")
_EMPTY = Text("")


class LinePrinter:
    """Use as a context manager around a run of ``line`` calls; leaving it prints what is pending."""

    def __init__(self, console: Console, batch: int = BATCH) -> None:
        self.console = console
        self.batch = batch
        self.pending: list[Text] = []

    def line(self, renderable: Any = None, *, soft_wrap: bool | None = None) -> None:
        """Print ``renderable`` as ``console.print(renderable, soft_wrap=soft_wrap)`` would; nothing: an empty
        line, as ``console.print()``. Strings are not joined: the console may read markup in them."""
        wraps = self.console.soft_wrap if soft_wrap is None else soft_wrap
        if wraps and (renderable is None or type(renderable) is Text):
            self.pending.append(_EMPTY if renderable is None else renderable)
            if len(self.pending) >= self.batch:
                self.flush()
            return
        self.flush()
        if renderable is None:
            self.console.print()
        else:
            self.console.print(renderable, soft_wrap=soft_wrap)

    def flush(self) -> None:
        if self.pending:
            lines, self.pending = self.pending, []
            self.console.print(_NEWLINE.join(lines), soft_wrap=True)

    def __enter__(self) -> LinePrinter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.flush()
