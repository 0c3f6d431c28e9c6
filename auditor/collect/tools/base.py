"""What collecting needs to know about one backup tool: the resources it adds and how to slim them."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.collect.resource import ResourceKind


@dataclass(frozen=True)
class CollectTool:
    """A backup tool's resources, read (listed live, found in dumps, written by snapshots) like any other."""

    name: str
    kinds: tuple[ResourceKind, ...]  # in reading order; their groups are optional (CRDs many clusters lack)
