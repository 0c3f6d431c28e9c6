"""The output formats: one registry, filled by the formats themselves (one module each, auditor/output/formats/).

Each format registers once: its name, media type, a line of help, the files it adds to a report (none for a
format that only prints) and how it prints on stdout (none for a file-only format). ``scan -o`` offers the
stdout ones, ``report --format`` and ``reports[].formats`` of the config the file ones, in ``order``.

The registry sits at the bottom of the house, importing nothing of the project, so that the config can
check report format names without importing a renderer. Who asks for names first makes the formats
package import its modules (``load``): the registry knows where formats live, never which ones there are.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, TextIO

#: the package whose every module may register formats
PACKAGE = "auditor.output.formats"


class Sink(Protocol):
    """Standard output as the CLI hands it over (its broken pipe ends the command quietly)."""

    @property
    def binary(self) -> BinaryIO: ...

    @property
    def text(self) -> TextIO: ...

    def console(self) -> Any:
        """A rich Console on stdout, for the tables."""


@dataclass(frozen=True)
class FilePart:
    """One file a format adds to a report: ``key`` names it in the manifest, ``suffix`` follows the base name."""

    key: str
    suffix: str
    render: Callable[[Any], bytes]  # a Rendering (auditor.output.report.rendering) -> the file's bytes


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    help: str
    order: int  # where it is listed (help, choices, report files and manifest entries)
    files: tuple[FilePart, ...] = ()
    stdout: Callable[[Any, Any], None] | None = None  # (Rendering, Sink): prints the scan

    @property
    def suffix(self) -> str | None:
        return self.files[0].suffix if self.files else None


def print_bytes(render: Callable[[Any], bytes]) -> Callable[[Any, Sink], None]:
    """A stdout writer for a format whose stdout is one of its report files, byte for byte."""

    def write(rendering: Any, sink: Sink) -> None:
        sink.binary.write(render(rendering))
        sink.binary.flush()

    return write


_REGISTRY: dict[str, Format] = {}
_loaded = False


def register(fmt: Format) -> Format:
    """Add a format; a second format of the same name is a programming error."""
    if fmt.name in _REGISTRY and _REGISTRY[fmt.name] != fmt:
        raise ValueError(f"output format {fmt.name!r} is registered twice")
    if not fmt.files and fmt.stdout is None:
        raise ValueError(f"output format {fmt.name!r} neither prints nor writes a file")
    _REGISTRY[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def load() -> None:
    """Import the formats package once (each of its modules registers its formats)."""
    global _loaded
    if not _loaded:
        importlib.import_module(PACKAGE)  # by name: the renderers sit above this module, never imported by it
        _loaded = True


def all_formats() -> tuple[Format, ...]:
    load()
    return tuple(sorted(_REGISTRY.values(), key=lambda f: (f.order, f.name)))


def stdout_names() -> tuple[str, ...]:
    """What ``scan -o`` offers."""
    return tuple(f.name for f in all_formats() if f.stdout is not None)


def file_names() -> tuple[str, ...]:
    """What ``report --format`` and ``reports[].formats`` offer."""
    return tuple(f.name for f in all_formats() if f.files)


def get(name: str) -> Format:
    load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no output format {name!r} (there are: {', '.join(f.name for f in all_formats())})") from None
