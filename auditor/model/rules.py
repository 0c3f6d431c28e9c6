"""The rule catalog's entries (``rules/<ID>.yaml``) and the results the checks give for each subject."""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field

SEVERITIES = ("critical", "high", "medium", "low", "info")


class Rule(BaseModel):
    """One rule file. IDs are stable: a rule is never renamed, only deprecated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]{3}-\d{3}$")
    title: str
    severity: str = Field(pattern="^(critical|high|medium|low|info)$")
    category: str
    description: str
    rationale: str
    remediation: str
    subject: str  # the kind of object a finding names
    parameters: dict[str, Any] = Field(default_factory=dict)
    frameworks: dict[str, list[str]] = Field(default_factory=dict)
    references: list[str] = Field(default_factory=list)


#: The evidence of every result that carries none (passes, not evaluated): one mapping shared by tens of
#: thousands of results of a large cluster, never written to (results are read-only once made).
NO_EVIDENCE: dict[str, Any] = {}


class Finding(msgspec.Struct, frozen=True, gc=False):
    """One rule × subject result. A frozen ``msgspec.Struct`` (changed copies: ``msgspec.structs.replace``):
    a large cluster's scan makes ~80,000 of them, mostly passes, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) cost ten times as much; without a GC header each is smaller and never
    visited by the collector (a result holds no cycle)."""

    rule_id: str
    severity: str
    cluster: str
    kind: str
    namespace: str | None
    name: str
    message: str
    evidence: dict[str, Any] = {}
    status: str = "open"  # open | excepted | pass | not-evaluated | error
    exception: dict[str, Any] | None = None  # the waiver that matched (status excepted)

    @property
    def is_finding(self) -> bool:
        """Open or excepted results are findings; passes and not-evaluated results are only counted."""
        return self.status in ("open", "excepted")

    @property
    def is_reported(self) -> bool:
        """What the scan document's ``findings[]`` lists: findings, and checks that crashed (``error``)."""
        return self.status in ("open", "excepted", "error")

    def as_dict(self) -> dict[str, Any]:
        doc = {"rule_id": self.rule_id, "severity": self.severity, "status": self.status, "cluster": self.cluster,
               "kind": self.kind, "namespace": self.namespace, "name": self.name, "message": self.message,
               "evidence": self.evidence}
        if self.exception is not None:
            doc["exception"] = self.exception
        return doc
