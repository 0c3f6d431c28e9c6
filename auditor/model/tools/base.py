"""What every layer shares about one backup tool: its record types and the Secrets its objects name.

The inventory keeps a tool's records apart from the core kinds (``Inventory.tool_records``, by field
name); :class:`RecordSet` is the typed key that reads them back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")

#: Records by inventory field name: a builder's lists or a frozen inventory's tuples.
Records = Mapping[str, Sequence[Any]]
#: (namespace, Secret name, what uses it: ``Kind namespace/name``).
SecretRef = tuple[str, str, str]


@dataclass(frozen=True)
class RecordSet(Generic[T]):
    """One inventory field of a tool's records, typed: ``inv.records(BACKUPS)`` is a tuple of its records."""

    field: str
    record_type: type[T]

    def of(self, records: Records) -> Sequence[T]:
        return cast(Sequence[T], records.get(self.field, ()))


@dataclass(frozen=True)
class ToolModel:
    """A tool's record sets, the annotations its analysis reads, and the credential Secrets it names."""

    name: str
    record_sets: tuple[RecordSet[Any], ...] = ()
    #: Annotation prefixes kept on every record (others are dropped when slimming).
    annotation_prefixes: tuple[str, ...] = ()
    #: The credential Secrets its objects name: these, and only these, a live scan reads for it.
    secret_refs: Callable[[Records], Iterator[SecretRef]] | None = None
