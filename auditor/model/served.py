"""What a cluster serves (its API discovery), as the restore preflight judges a target by."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServedResources:
    """(group, kind) → the versions that serve it; group → its preferred version."""

    kinds: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    preferred: dict[str, str] = field(default_factory=dict)
    #: group/versions whose resource list could not be read: their kinds are unknown, not absent
    unreadable: tuple[str, ...] = ()

    def versions(self, group: str, kind: str) -> tuple[str, ...]:
        return self.kinds.get((group, kind), ())

    def group_unreadable(self, group: str) -> bool:
        return any((gv.rpartition("/")[0] if "/" in gv else "") == group for gv in self.unreadable)
