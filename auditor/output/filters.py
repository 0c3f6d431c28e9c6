"""What ``-n``, ``--cluster``, ``--status``, ``--severity`` and ``--rule`` show: a narrowed view of a scan.

Filters narrow the volumes and the rule results (findings, passes, errors) of every output; the clusters'
compliance scores stay those of the whole scan, and every summary says that it is filtered and how.
A filter is a view: the history store records the whole scan.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from auditor.analyse.scan import ClusterScan, ScanResult
from auditor.errors import ConfigError
from auditor.model.analysis import STATUSES
from auditor.model.globs import config_glob
from auditor.model.rules import SEVERITIES, Finding
from auditor.output.document import FILTER_NOTE as NOTE


@dataclass(frozen=True)
class ScanFilter:
    namespaces: tuple[str, ...] = ()  # names or globs; namespaced subjects only when set
    clusters: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # volume statuses; findings then only about those volumes
    severity: str | None = None  # this severity and worse
    rules: tuple[str, ...] = ()  # rule ids or id prefixes (COV, COV-, ACME-001)

    @property
    def active(self) -> bool:
        return bool(self.namespaces or self.clusters or self.statuses or self.severity or self.rules)

    def describe(self) -> dict[str, Any]:
        """The filter as the document's ``summary.filtered`` prints it (only what is set)."""
        out: dict[str, Any] = {}
        for key, value in (("namespaces", list(self.namespaces)), ("clusters", list(self.clusters)),
                           ("statuses", list(self.statuses)), ("rules", list(self.rules))):
            if value:
                out[key] = value
        if self.severity:
            out["severity"] = f"{self.severity} and worse"
        return out

    def text(self) -> str:
        parts = [f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in self.describe().items()]
        return "; ".join(parts)

    def namespace_ok(self, namespace: str | None) -> bool:
        if not self.namespaces:
            return True
        return namespace is not None and any(config_glob(namespace, p) for p in self.namespaces)

    def volume_ok(self, cluster: str, namespace: str, status: str) -> bool:
        return (not self.clusters or cluster in self.clusters) and self.namespace_ok(namespace) and \
            (not self.statuses or status in self.statuses)

    def result_ok(self, rule_id: str, severity: str, cluster: str, kind: str, namespace: str | None,
                  volume_status: str | None) -> bool:
        if self.clusters and cluster not in self.clusters:
            return False
        if not self.namespace_ok(namespace):
            return False
        if self.statuses and (kind != "PersistentVolumeClaim" or volume_status not in self.statuses):
            return False
        if self.severity and severity in SEVERITIES and \
                SEVERITIES.index(severity) > SEVERITIES.index(self.severity):
            return False
        return not self.rules or any(rule_id == r or rule_id.startswith(r) for r in self.rules)

    def apply(self, result: ScanResult) -> ScanResult:
        """The scan narrowed to what the filter keeps (clusters outside ``--cluster`` are left out)."""
        if not self.active:
            return result
        known = [c.name for c in result.clusters]
        missing = [c for c in self.clusters if c not in known]
        if missing:
            raise ConfigError(f"--cluster: no cluster named {', '.join(missing)} in this scan "
                              f"(clusters: {', '.join(known) or 'none'})")
        clusters = tuple(self._cluster(c) for c in result.clusters if not self.clusters or c.name in self.clusters)
        return replace(result, clusters=clusters, filters=self.describe())

    def _cluster(self, scan: ClusterScan) -> ClusterScan:
        if scan.analysis is None:
            return scan
        volumes = scan.analysis.volumes
        status = {(v.namespace, v.pvc): v.status for v in volumes}
        kept = tuple(v for v in volumes if self.volume_ok(scan.name, v.namespace, v.status))
        results = tuple(r for r in scan.results if self._finding_ok(r, status))
        return replace(scan, analysis=replace(scan.analysis, volumes=kept), results=results)

    def _finding_ok(self, f: Finding, status: dict[tuple[str, str], str]) -> bool:
        return self.result_ok(f.rule_id, f.severity, f.cluster, f.kind, f.namespace,
                              status.get((f.namespace or "", f.name)))

    def apply_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A saved scan document narrowed the same way (``report --from-scan``); its summary recounted."""
        if not self.active:
            return doc
        known = [str(c.get("name")) for c in doc.get("clusters") or []]
        missing = [c for c in self.clusters if c not in known]
        if missing:
            raise ConfigError(f"--cluster: no cluster named {', '.join(missing)} in this scan "
                              f"(clusters: {', '.join(known) or 'none'})")
        volumes = doc.get("volumes") or []
        status = {(v.get("cluster"), v.get("namespace"), v.get("pvc")): v.get("status") for v in volumes}
        kept = [v for v in volumes if self.volume_ok(str(v.get("cluster")), str(v.get("namespace")),
                                                     str(v.get("status")))]
        findings = [f for f in doc.get("findings") or []
                    if self.result_ok(str(f.get("rule_id")), str(f.get("severity")), str(f.get("cluster")),
                                      str(f.get("kind")), f.get("namespace"),
                                      status.get((f.get("cluster"), f.get("namespace"), f.get("name"))))]
        out = {**doc, "volumes": kept, "findings": findings}
        if self.clusters:
            out["clusters"] = [c for c in doc.get("clusters") or [] if c.get("name") in self.clusters]
        out["summary"] = {**(doc.get("summary") or {}), **recount(kept, findings),
                          "filtered": {**self.describe(), "note": NOTE}}
        return out


def recount(volumes: list[dict[str, Any]], findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary's volume and finding counts of a filtered document."""
    audited = [v for v in volumes if v.get("audited")]
    by_status = Counter(v.get("status") for v in audited)
    open_findings = [f for f in findings if f.get("status") == "open"]
    by_severity = Counter(f.get("severity") for f in open_findings)
    return {"volumes": len(volumes), "volumes_audited": len(audited),
            "volumes_by_status": {s: by_status.get(s, 0) for s in STATUSES},
            "protected_ratio": round(by_status.get("protected", 0) / len(audited), 4) if audited else None,
            "findings": len(open_findings), "findings_by_severity": {s: by_severity.get(s, 0) for s in SEVERITIES},
            "findings_excepted": sum(1 for f in findings if f.get("status") == "excepted")}
