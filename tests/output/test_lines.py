"""Lines printed through LinePrinter come out byte for byte as printed one by one, colours included."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.output.lines import LinePrinter
from auditor.output.safe import terminal_console


def _lines() -> list[tuple[Any, bool | None]]:
    styled = Text("  ")
    styled.append("ns/pvc-1", style="bold")
    styled.append("  last recovery point 3d ago", style="red on white")
    table = Table("A", "B")
    table.add_row("x" * 30, "y")
    return [
        (Text("title", style="bold magenta"), None),
        (None, None),
        (styled, True),
        (Text("a long line that a narrow console folds when it does not soft-wrap " * 2), False),
        ("[bold]markup in a string[/bold] :smile:", None),
        (Text("\x1b[31mcluster text\u202e", style="yellow"), True),  # scrubbed by the safe console
        (table, None),
        (Text(""), True),
        (Text("last", style="dim"), None),
    ]


def _print(console: Console, each: Callable[[Any, bool | None], None]) -> None:
    for renderable, soft_wrap in _lines():
        each(renderable, soft_wrap)


@pytest.mark.parametrize("make", [
    lambda f, tty: terminal_console(file=f, force_terminal=tty, width=40),
    lambda f, tty: Console(file=f, force_terminal=tty, width=40),  # soft_wrap off by default, markup on
], ids=["safe", "plain"])
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_same_bytes_as_printing_each_line(make: Callable[[io.StringIO, bool], Console], tty: bool,
                                           batch: int) -> None:
    one_by_one, batched = io.StringIO(), io.StringIO()
    console = make(one_by_one, tty)

    def each(renderable: Any, soft_wrap: bool | None) -> None:
        if renderable is None:
            console.print()
        else:
            console.print(renderable, soft_wrap=soft_wrap)

    _print(console, each)
    other = make(batched, tty)
    with LinePrinter(other, batch=batch) as out:
        _print(other, lambda r, s: out.line(r, soft_wrap=s))
    assert batched.getvalue() == one_by_one.getvalue()
    if isinstance(other, type(terminal_console())):  # the safe console still scrubs the data's own escape
        assert "\x1b[31mcluster" not in batched.getvalue()
    if tty:
        assert "\x1b[" in batched.getvalue()  # styles were rendered, so colours were compared too


def test_lines_are_joined_into_few_prints() -> None:
    prints = 0
    console = terminal_console(file=io.StringIO())
    real = console.print

    def counted(*args: Any, **kwargs: Any) -> None:
        nonlocal prints
        prints += 1
        real(*args, **kwargs)

    console.print = counted  # type: ignore[method-assign]
    with LinePrinter(console, batch=100) as out:
        for i in range(1000):
            out.line(Text(f"line {i}"))
    assert prints == 10
    assert console.file.getvalue().splitlines() == [f"line {i}" for i in range(1000)]  # type: ignore[attr-defined]


def test_pending_lines_are_printed_when_leaving_on_an_error() -> None:
    buffer = io.StringIO()
    with pytest.raises(RuntimeError), LinePrinter(terminal_console(file=buffer)) as out:
        out.line(Text("before the error"))
        raise RuntimeError
    assert buffer.getvalue() == "before the error\n"
