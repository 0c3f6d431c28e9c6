"""Untrusted text on a terminal: names, annotations and failure reasons come from the cluster.

A control character in them could move the cursor, rewrite earlier lines, set the window title or
forge a hyperlink (ESC/CSI/OSC sequences, C0/C1 controls); a bidirectional override could make text
read differently than it is stored; Rich markup or emoji codes could restyle or hide it. Every text
output shows such characters as visible escapes instead, and prints data without markup.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

#: C0 controls (tab and newline too: every data field is one line), DEL, C1 controls, and the Unicode
#: bidirectional controls (embeddings, overrides, isolates, marks) plus the line/paragraph separators.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: Any) -> str:
    """``value`` as one line of inert text: unsafe characters become visible escapes (``\\x1b``)."""
    text = value if isinstance(value, str) else str(value)
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


def clean_lines(value: str) -> str:
    """Like :func:`clean`, keeping line breaks (a traceback under --debug, a multi-line log message)."""
    return "\n".join(clean(line) for line in value.split("\n"))


class SafeLogFormatter(logging.Formatter):
    """Log lines carry data (object names, API messages): escaped like every other text output."""

    def format(self, record: logging.LogRecord) -> str:
        return clean_lines(super().format(record))


def _same_width(match: re.Match[str]) -> str:
    return "\ufffd"  # one replacement character: keeps the spans of styled text aligned


class SafeConsole(Console):
    """A console that never passes a control character or bidi override from a renderable to the
    terminal, whatever the caller forgot: every text segment Rich renders is scrubbed (Rich's own
    control segments, e.g. a status spinner, are kept). Strings are printed without markup or emoji."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        kwargs.setdefault("highlight", False)
        super().__init__(*args, **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and UNSAFE.search(segment.text):
                yield Segment(_scrub_keep_newlines(segment.text), segment.style, None)
            else:
                yield segment


def _scrub_keep_newlines(text: str) -> str:
    """Rich's own line breaks may arrive inside a segment: keep those, scrub everything else."""
    return "\n".join(UNSAFE.sub(_same_width, part) for part in text.split("\n"))


def terminal_console(**kwargs: Any) -> SafeConsole:
    """The console every text output of the CLI prints to."""
    kwargs.setdefault("soft_wrap", True)
    return SafeConsole(**kwargs)


def text(value: Any, style: str = "") -> Text:
    """Data as a Rich Text: no markup, unsafe characters escaped."""
    return Text(clean(value), style=style)
