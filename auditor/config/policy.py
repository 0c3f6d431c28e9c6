"""The audit policy: the RPO and retention each volume is judged by, and which namespaces are audited.

Resolution for a volume of cluster C (:meth:`ClusterPolicy.policy_for`): the first of ``policies`` whose
``clusters`` globs (absent: every cluster) and selectors all match; its RPO and retention, where it gives
none, come from the first ``clusters`` entry that matches C, else from the top-level ``defaults``. No policy
matching: that cluster entry's defaults, else the top-level ones. ``exclude_namespaces`` and the framework
focus of a matching ``clusters`` entry replace the top-level ones for C.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from auditor.config.base import DEFAULT_RETENTION, DEFAULT_RPO, Strict, duration, optional_duration
from auditor.model.globs import config_glob

DEFAULT_EXCLUDED = ("kube-system", "kube-public", "kube-node-lease")
#: the compliance frameworks a scan can focus on (``rules/frameworks/<id>.yaml``)
FRAMEWORKS = ("iso27001", "nist-800-53", "soc2", "hipaa", "pci-dss", "dora")


def cluster_glob(value: str) -> str:
    """A shell-style glob on cluster names (``*``, ``?``, ``[abc]``), refused when it cannot mean what it says."""
    if not isinstance(value, str) or not value:
        raise ValueError("a cluster glob must be a non-empty string")
    if "{" in value or "}" in value:
        raise ValueError(f"glob {value!r}: braces are not glob syntax here (list one glob per alternative)")
    depth = 0
    for c in value:
        if c == "[":
            if depth:
                raise ValueError(f"glob {value!r}: '[' inside a [...] set")
            depth = 1
        elif c == "]" and depth:
            depth = 0
    if depth:
        raise ValueError(f"glob {value!r}: '[' is never closed")
    return value


def _globs(value: Any) -> Any:
    """One glob or a list of them."""
    items = (value,) if isinstance(value, str) else value
    if isinstance(items, list | tuple):
        return tuple(cluster_glob(g) for g in items)
    return items


class Defaults(Strict):
    """The RPO and retention of a volume no policy names."""

    rpo: float = DEFAULT_RPO
    retention: float = DEFAULT_RETENTION

    _parse = field_validator("rpo", "retention", mode="before")(classmethod(lambda cls, v: duration(v)))


class Policy(Strict):
    """A named policy; the first whose clusters and selectors all match a volume applies."""

    name: str
    clusters: tuple[str, ...] = ()  # globs on the cluster name; none: every cluster
    namespaces: tuple[str, ...] = ()
    namespace_labels: dict[str, str] = Field(default_factory=dict)
    pvc_labels: dict[str, str] = Field(default_factory=dict)
    rpo: float | None = None
    retention: float | None = None

    _parse = field_validator("rpo", "retention", mode="before")(classmethod(lambda cls, v: optional_duration(v)))
    _clusters = field_validator("clusters", mode="before")(classmethod(lambda cls, v: _globs(v)))

    def applies_to(self, cluster: str) -> bool:
        return not self.clusters or any(config_glob(cluster, g) for g in self.clusters)

    def matches(self, namespace: str, namespace_labels: dict[str, str], pvc_labels: dict[str, str]) -> bool:
        if self.namespaces and not any(config_glob(namespace, g) for g in self.namespaces):
            return False
        if any(namespace_labels.get(k) != v for k, v in self.namespace_labels.items()):
            return False
        return not any(pvc_labels.get(k) != v for k, v in self.pvc_labels.items())

    def why(self, cluster: str, namespace: str) -> str:
        """The selectors that matched, as the user wrote them."""
        parts = []
        if self.clusters:
            glob = next(g for g in self.clusters if config_glob(cluster, g))
            parts.append(f"cluster {cluster} matches {glob!r}")
        if self.namespaces:
            glob = next(g for g in self.namespaces if config_glob(namespace, g))
            parts.append(f"namespace {namespace} matches {glob!r}")
        parts += [f"namespace label {k}={v}" for k, v in sorted(self.namespace_labels.items())]
        parts += [f"PVC label {k}={v}" for k, v in sorted(self.pvc_labels.items())]
        return ", ".join(parts) or "it has no selector (every volume)"


class ClusterDefaults(Strict):
    """The RPO and retention of a cluster's volumes no policy sets; absent: the top-level ``defaults``."""

    rpo: float | None = None
    retention: float | None = None

    _parse = field_validator("rpo", "retention", mode="before")(classmethod(lambda cls, v: optional_duration(v)))


class ClusterSettings(Strict):
    """``clusters[]``: settings of the clusters whose name matches; the first matching entry applies."""

    match: tuple[str, ...] = Field(min_length=1)  # a glob on the cluster name, or a list of them
    name: str | None = None  # the policy name its defaults go by (default: "default (GLOB)")
    defaults: ClusterDefaults = ClusterDefaults()
    exclude_namespaces: tuple[str, ...] | None = None  # replaces the top-level list for these clusters
    framework: str | None = None  # focus on one framework's rules and scores (the --framework flag wins)

    _match = field_validator("match", mode="before")(classmethod(lambda cls, v: _globs(v)))

    @field_validator("framework")
    @classmethod
    def _framework(cls, value: str | None) -> str | None:
        if value is not None and value not in FRAMEWORKS:
            raise ValueError(f"unknown framework {value!r} (known: {', '.join(FRAMEWORKS)})")
        return value

    def matched_glob(self, cluster: str) -> str | None:
        return next((g for g in self.match if config_glob(cluster, g)), None)


class AppliedPolicy(Strict):
    """The policy a volume is judged by, resolved, and why it applies."""

    name: str
    rpo: float
    retention: float
    why: str = ""  # which rule matched (``auditor explain``)


@dataclass(frozen=True)
class ClusterPolicy:
    """The audit policy as it applies to one cluster (see the module's docstring)."""

    cluster: str
    policies: tuple[tuple[int, Policy], ...]  # those that apply to the cluster, with their index in the file
    defaults: Defaults
    exclude_namespaces: tuple[str, ...]
    settings: ClusterSettings | None = None
    settings_index: int | None = None
    #: the resolved policy per (matching policy's index, namespace): what it says depends on nothing else, and
    #: a large cluster asks for tens of thousands of PVCs
    _applied: dict[tuple[int | None, str], AppliedPolicy] = field(default_factory=dict, init=False, repr=False,
                                                                   compare=False)

    @property
    def framework(self) -> str | None:
        return self.settings.framework if self.settings else None

    @property
    def rpo(self) -> float:
        given = self.settings.defaults.rpo if self.settings else None
        return self.defaults.rpo if given is None else given

    @property
    def retention(self) -> float:
        given = self.settings.defaults.retention if self.settings else None
        return self.defaults.retention if given is None else given

    def excluded(self, namespace: str) -> bool:
        """Namespaces the audit does not require to be protected (listed, but raising no findings)."""
        return any(config_glob(namespace, g) for g in self.exclude_namespaces)

    def _defaults_source(self) -> str:
        if self.settings is None:
            return "the top-level defaults"
        return f"the defaults of clusters[{self.settings_index}] (cluster {self.cluster} matches " \
               f"{self.settings.matched_glob(self.cluster)!r})"

    def policy_for(self, namespace: str, namespace_labels: dict[str, str], pvc_labels: dict[str, str]) -> AppliedPolicy:
        index = next((i for i, p in self.policies if p.matches(namespace, namespace_labels, pvc_labels)), None)
        key = (index, namespace if index is not None else "")
        applied = self._applied.get(key)
        if applied is None:
            applied = self._applied[key] = self._resolve(index, namespace)
        return applied

    def _resolve(self, index: int | None, namespace: str) -> AppliedPolicy:
        for i, policy in self.policies:
            if i == index:
                why = f"policies[{index}] {policy.name}: {policy.why(self.cluster, namespace)}"
                unset = [k.upper() if k == "rpo" else k for k in ("rpo", "retention") if not getattr(policy, k)]
                if unset:
                    why += f"; {' and '.join(unset)} from {self._defaults_source()}"
                return AppliedPolicy(name=policy.name, rpo=policy.rpo or self.rpo,
                                     retention=policy.retention or self.retention, why=why)
        name = "default"
        if self.settings is not None:
            name = self.settings.name or f"default ({self.settings.matched_glob(self.cluster)})"
        return AppliedPolicy(name=name, rpo=self.rpo, retention=self.retention,
                             why=f"no policy matched: {self._defaults_source()}")
