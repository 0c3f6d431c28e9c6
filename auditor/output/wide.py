"""``-o wide``: the volumes as one table with PV, storage class, methods, covered_by and the last recovery
point, folded to the console's width (readable at 120 columns).

The output is what one Rich ``Table`` of every volume prints, byte for byte, colours included, but that table
measured and rendered each of its cells through Rich, about 20 s of CPU and 120 MB on 20,000 volumes
(docs/decoding.md, "Printing"). So:

- a column's width depends only on its header, its widest cell and its longest word: Rich computes the widths
  (``Table._calculate_column_widths``) on a table of just the rows holding those;
- Rich prints the title and header with those widths and no rows;
- each row is assembled here, cell lines side by side, as Rich lays out a borderless table. A cell is rendered
  as Rich renders a table cell (padding, then the text within the column width), once per distinct text: most
  columns repeat a few values. A cell of printable ASCII without spaces and without style (names, PV names,
  the bulk of the distinct texts) is a single word: Rich folds it into chunks of the column's width, and
  it is cut here the same way without Rich;
- rows are printed ``CHUNK`` at a time, so the rendered lines held at once are bounded.

``tests/output/test_wide.py`` compares this with a plain Rich ``Table`` on random volume sets: a Rich release that
lays tables out differently (or renames the private width hook) fails it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

from auditor.analyse.coverage import VolumeResult
from auditor.model.analysis import STATUSES
from auditor.model.durations import format_duration
from auditor.output import safe

STATUS_STYLE = {"protected": "green", "stale": "yellow", "unprotected": "red", "unknown": "magenta"}

#: rows per print: bounds the segments held at once
CHUNK = 500
#: distinct cells whose rendered lines are kept (a clear when full keeps memory bounded on unique texts)
CACHE = 20_000
#: printable ASCII without spaces: one cell per character, one word
_WORD = re.compile(r"[!-~]+")

Cell = tuple[str, str]  # text, style ("" for none)
Lines = list[list[Segment]]


def clean(value: str | None) -> str:
    """Cluster text on a terminal (see :mod:`auditor.output.safe`); ``-`` for nothing."""
    return safe.clean(value) if value else "-"


@dataclass(frozen=True)
class Column:
    """A column of the table, as given to ``Table.add_column``."""

    header: str
    overflow: Literal["fold", "ellipsis"] = "fold"
    no_wrap: bool = False
    min_width: int | None = None


def columns(multi: bool) -> list[Column]:
    """The table's columns; several clusters add CLUSTER first."""
    return [*([Column("CLUSTER")] if multi else []), Column("NAMESPACE/PVC", min_width=16),
            Column("STATUS", overflow="ellipsis", no_wrap=True),
            *(Column(name) for name in ("PV", "CLASS", "METHODS", "COVERED BY", "LAST RECOVERY POINT"))]


def rows(volumes: Sequence[VolumeResult], as_of: datetime, multi: bool) -> list[list[Cell]]:
    """The table's cells, in its order: by status, then cluster, namespace, PVC."""
    order = {s: i for i, s in enumerate(STATUSES)}
    cells = []
    for v in sorted(volumes, key=lambda x: (order.get(x.status, 9), x.cluster, x.namespace, x.pvc)):
        last = "none"
        if v.last_success:
            last = f"{format_duration((as_of - v.last_success).total_seconds())} ago"
        cells.append([*([(clean(v.cluster), "")] if multi else []), (clean(v.key), ""),
                      (v.status, STATUS_STYLE.get(v.status, "")), (clean(v.pv), ""), (clean(v.storage_class), ""),
                      (clean(", ".join(v.methods)), ""), (clean(", ".join(v.covered_by)), ""), (last, "")])
    return cells


class _Table(Table):
    """A Rich Table that, given ``fixed`` widths, lays its columns out with them instead of measuring."""

    fixed: list[int] | None = None

    def _calculate_column_widths(self, console: Console, options: ConsoleOptions) -> list[int]:
        if self.fixed is not None:
            return list(self.fixed)
        return super()._calculate_column_widths(console, options)


def table(title: str, cols: Sequence[Column], cells: Iterable[Sequence[Cell]]) -> _Table:
    """The Rich Table of ``cells`` (the layout every rendering here reproduces)."""
    t = _Table(title=title, title_justify="left", show_lines=False, pad_edge=False, box=None, header_style="bold")
    for c in cols:
        t.add_column(c.header, overflow=c.overflow, no_wrap=c.no_wrap, min_width=c.min_width)
    for row in cells:
        t.add_row(*(Text(text, style=style) for text, style in row))
    return t


def render_volumes(volumes: Sequence[VolumeResult], as_of: datetime, console: Console, *, multi: bool) -> None:
    cells = rows(volumes, as_of, multi)
    print_table(console, f"Volumes ({len(cells)})", columns(multi), cells)


def print_table(console: Console, title: str, cols: Sequence[Column], cells: Sequence[Sequence[Cell]]) -> None:
    """Print what ``console.print(table(title, cols, cells), soft_wrap=False)`` prints, in less time and memory."""
    head = table(title, cols, ())
    head.fixed = widths(console, cols, cells)
    console.print(head, soft_wrap=False)  # soft wrapping would let the table overflow the width
    body = _Body(console, cols, head.fixed)
    for start in range(0, len(cells), CHUNK):
        console.print(_Rows(body, cells[start:start + CHUNK]), soft_wrap=False)


def widths(console: Console, cols: Sequence[Column], cells: Sequence[Sequence[Cell]]) -> list[int]:
    """Rich's column widths (padding included) for the whole table, measured on the rows that hold each
    column's widest cell and longest word."""
    measured: dict[str, tuple[int, int]] = {}

    def measure(text: str) -> tuple[int, int]:  # Text's (longest word, longest line) in cells
        if _WORD.fullmatch(text):
            return len(text), len(text)
        if text not in measured:
            measured[text] = Measurement.get(console, console.options, Text(text))
        return measured[text]

    picked: set[int] = set()
    for i in range(len(cols)):
        sizes = [measure(row[i][0]) for row in cells]
        if sizes:
            picked.add(max(range(len(sizes)), key=lambda r: sizes[r][0]))
            picked.add(max(range(len(sizes)), key=lambda r: sizes[r][1]))
    sample = table("", cols, [cells[r] for r in sorted(picked)])
    return sample._calculate_column_widths(console, console.options)


class _Body:
    """Lays rows out as a borderless Rich Table with these ``widths`` would, caching each distinct cell's lines."""

    def __init__(self, console: Console, cols: Sequence[Column], widths: Sequence[int]) -> None:
        self.console = console
        self.widths = list(widths)
        last = len(cols) - 1
        self.pads = [(0 if i == 0 else 1, 0 if i == last else 1) for i in range(len(cols))]
        options = console.options.update(width=sum(widths), highlight=False, height=None)
        self.options = [options.update(width=w, justify="left", no_wrap=c.no_wrap, overflow=c.overflow, height=None,
                                       highlight=False) for w, c in zip(widths, cols, strict=True)]
        self.folds = [c.overflow == "fold" and not c.no_wrap for c in cols]
        self.blank = [Segment(" " * w) for w in widths]
        self.cache: dict[tuple[int, str, str], Lines] = {}

    def cell(self, i: int, text: str, style: str) -> Lines:
        """Cell ``text`` of column ``i``: lines of exactly the column's width, runs without style joined."""
        left, right = self.pads[i]
        room = self.widths[i] - left - right
        if not style and room > 0 and (len(text) <= room or self.folds[i]) and _WORD.fullmatch(text):
            return [[Segment(f"{' ' * left}{text[at:at + room].ljust(room)}{' ' * right}")]
                    for at in range(0, len(text), room)]
        key = (i, text, style)
        lines = self.cache.get(key)
        if lines is None:
            if len(self.cache) >= CACHE:
                self.cache.clear()
            padded = Padding(Text(text, style=style), (0, right, 0, left))
            lines = [joined(line) for line in self.console.render_lines(padded, self.options[i], style=Style.null())]
            self.cache[key] = lines
        return lines

    def render(self, cells: Sequence[Sequence[Cell]]) -> RenderResult:
        new_line = Segment.line()
        for row in cells:
            rendered = [self.cell(i, text, style) for i, (text, style) in enumerate(row)]
            for n in range(max(len(lines) for lines in rendered)):
                line: list[Segment] = []
                for lines, blank in zip(rendered, self.blank, strict=True):
                    line.extend(lines[n] if n < len(lines) else (blank,))
                yield from joined(line)
                yield new_line


class _Rows:
    """One print's worth of rows."""

    def __init__(self, body: _Body, cells: Sequence[Sequence[Cell]]) -> None:
        self.body = body
        self.cells = cells

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return self.body.render(self.cells)


def joined(segments: Iterable[Segment]) -> list[Segment]:
    """``segments`` with neighbours that have no style as one: the console writes those as their bare text,
    so the bytes are the same, and there are fewer segments to print."""
    out: list[Segment] = []
    for segment in segments:
        if out and not segment.style and not out[-1].style and segment.control is None and out[-1].control is None:
            out[-1] = Segment(out[-1].text + segment.text)
        else:
            out.append(segment)
    return out
