"""An executor run as the store holds it, and what a scan reports of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    """One executor run as the store holds it (``auditor runs``)."""

    identity: str
    cluster: str
    kind: str
    namespace: str | None
    target: str
    object_name: str
    status: str  # planned | created | succeeded | failed
    started_at: datetime
    finished_at: datetime | None
    detail: dict[str, Any]

    @property
    def duration_seconds(self) -> float | None:
        """From recording to the end; None while the run has not ended."""
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None

    def as_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "cluster": self.cluster, "kind": self.kind, "namespace": self.namespace,
                "target": self.target, "object": self.object_name, "status": self.status,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "duration_seconds": self.duration_seconds, "detail": self.detail}
