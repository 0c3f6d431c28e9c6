"""The audit policy: the RPO and retention each volume is judged by, and which namespaces are audited."""

from __future__ import annotations

from pydantic import Field, field_validator

from auditor.config.base import DEFAULT_RETENTION, DEFAULT_RPO, Strict, duration, optional_duration
from auditor.model.globs import config_glob

DEFAULT_EXCLUDED = ("kube-system", "kube-public", "kube-node-lease")


class Defaults(Strict):
    """The RPO and retention of a volume no policy names."""

    rpo: float = DEFAULT_RPO
    retention: float = DEFAULT_RETENTION

    _parse = field_validator("rpo", "retention", mode="before")(classmethod(lambda cls, v: duration(v)))


class Policy(Strict):
    """A named policy; the first whose selectors all match a volume applies."""

    name: str
    namespaces: tuple[str, ...] = ()
    namespace_labels: dict[str, str] = Field(default_factory=dict)
    pvc_labels: dict[str, str] = Field(default_factory=dict)
    rpo: float | None = None
    retention: float | None = None

    _parse = field_validator("rpo", "retention", mode="before")(classmethod(lambda cls, v: optional_duration(v)))

    def matches(self, namespace: str, namespace_labels: dict[str, str], pvc_labels: dict[str, str]) -> bool:
        if self.namespaces and not any(config_glob(namespace, g) for g in self.namespaces):
            return False
        if any(namespace_labels.get(k) != v for k, v in self.namespace_labels.items()):
            return False
        return not any(pvc_labels.get(k) != v for k, v in self.pvc_labels.items())


class AppliedPolicy(Strict):
    """The policy a volume is judged by, resolved."""

    name: str
    rpo: float
    retention: float
