"""A restore preflight's outcome as a scan carries it (``auditor serve`` evaluates the pairs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PreflightOutcome:
    """The newest evaluation of one configured pair."""

    schedule: str  # NAMESPACE/NAME
    target: str
    evaluated_at: datetime
    ready: bool | None  # None: not evaluated (see error)
    cluster: str = ""  # the scanned source cluster (empty when the schedule was not found)
    backup: str | None = None
    blockers: int = 0
    warnings: int = 0
    unknown: int = 0
    error: str | None = None
    document: dict[str, Any] = field(default_factory=dict, compare=False)  # the preflight JSON document

    def as_dict(self) -> dict[str, Any]:
        """The scan document's ``preflights`` entry: the verdict and what blocks, not the whole report."""
        return {"cluster": self.cluster, "schedule": self.schedule, "target": self.target, "backup": self.backup,
                "evaluated_at": self.evaluated_at.isoformat().replace("+00:00", "Z"), "ready": self.ready,
                "blockers": self.document.get("blockers", []), "unknown": self.document.get("unknown", []),
                "warnings": len(self.document.get("warnings", [])), "error": self.error}
