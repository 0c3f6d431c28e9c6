"""A fleet report's input: each cluster's newest scan in the history store, as one scan document.

``auditor report --from-store`` reads no cluster. Every cluster's part of its newest recorded scan document
is taken as the agent recorded it, and the parts are merged into one document (``schema_version`` 1, so
every report format renders it), with a ``fleet`` section: one row per cluster with that scan, its age,
whether the cluster's agent is silent (no scan for more than twice its interval, 2 h by default, as
``auditor fleet`` judges it) and the cluster's own trend.

At a hundred clusters the documents together are gigabytes: they are read one at a time. Every count and
score covers everything; the lists are what a reader can take in. By default (``detail="summary"``) each
cluster lists its worst few entries of what needs attention (volumes not protected, findings of critical or
high severity, schedules failing now: :data:`PER_CLUSTER`), and the rest is counted per cluster in
``fleet.clusters[].omitted`` and ``fleet.omitted``: a fleet report of a hundred clusters is a summary an
auditor reads, not a dump of every failing run. ``detail="attention"`` lists all of what needs attention,
``detail="all"`` every entry (a few clusters).

Two clusters claiming one name (different kube-system uids, GOV-007) are never merged: each is shown as its
name and the start of its uid (``shown_names``), in every list and in the trends.

GOV-006 (silent agent) and GOV-007 (one name, two uids) are about the fleet, not about the cluster whose agent
judged them: every agent's scan carries them for the other clusters, so taken from the scans one silent agent
would appear once per observer. The report drops them from each cluster's part and judges them once, from the
store's identities at the report's time (``fleet_findings``, as ``auditor fleet`` does): ``fleet.findings``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

from auditor import __version__
from auditor.analyse.fleet import fleet_findings, shown_names
from auditor.checks.fleet import FLEET_RULES  # judged once for the fleet, never taken from the clusters' scans
from auditor.model.analysis import STATUSES
from auditor.model.rules import SEVERITIES, Rule
from auditor.output.report.history import History, WaiverChange, trend_from_summaries
from auditor.output.report.source import SourceDocument

DETAILS = ("summary", "attention", "all")
LISTED_SEVERITIES = ("critical", "high")
LISTS = ("warnings", "volumes", "findings", "compliance", "credentials", "schedules", "storage_locations",
         "executor_runs")
LISTED = "volumes not protected, findings of critical or high severity and schedules failing now"
#: ``detail="summary"``: per cluster, at most this many entries of each long list (the worst first)
PER_CLUSTER = {"volumes": 20, "findings": 20, "schedules": 5, "warnings": 10, "executor_runs": 10}
STATUS_RANK = {"unprotected": 0, "unknown": 1, "stale": 2, "protected": 3}
CHECKS = ("pass", "open", "excepted", "not-evaluated", "error")


def iso(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


@dataclass(frozen=True)
class FleetEntry:
    """One cluster of the fleet: its newest scan that read it (None: none did) and how old it is."""

    cluster: str
    uid: str | None
    scan_id: int | None
    as_of: datetime | None
    at: datetime  # the time ages are measured at
    silent_after: float  # seconds without a scan after which its agent counts as silent
    error: str | None  # the newest attempt's error, if it failed
    trend: tuple[tuple[date, float], ...] = ()
    label: str = ""  # how the report names it: the name, or the name and its uid when two clusters claim it

    @property
    def shown(self) -> str:
        return self.label or self.cluster

    @property
    def age_seconds(self) -> float | None:
        return max(0.0, (self.at - self.as_of).total_seconds()) if self.as_of else None

    @property
    def stale(self) -> bool:
        age = self.age_seconds
        return age is None or age > self.silent_after

    def as_dict(self) -> dict[str, Any]:
        return {"cluster": self.shown, "name": self.cluster, "uid": self.uid, "scan_id": self.scan_id,
                "as_of": iso(self.as_of),
                "age_seconds": None if self.age_seconds is None else round(self.age_seconds),
                "stale": self.stale, "stale_after_seconds": self.silent_after, "newest_attempt_error": self.error,
                "trend": [[d.isoformat(), round(v, 4)] for d, v in self.trend]}


def keep_schedule(s: dict[str, Any]) -> bool:
    """A schedule failing now: disabled, paused, invalid, missing runs, or its newest run not Completed."""
    latest = s.get("latest") or {}
    return bool(s.get("problem") or s.get("missed_runs") or not s.get("enabled", True) or s.get("paused")
                or latest.get("phase") != "Completed")


def _worst(key: str, entry: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key of the entries a cluster lists first in a summary."""
    if key == "volumes":
        return (STATUS_RANK.get(str(entry.get("status")), 4),)
    if key == "findings":
        severity = entry.get("severity")
        return (SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES), str(entry.get("rule_id")))
    if key == "schedules":
        return (not entry.get("problem"), -int(entry.get("missed_runs") or 0))
    return ()


def _volume_needs_attention(v: dict[str, Any]) -> bool:
    return bool(v.get("audited", True) and v.get("status") != "protected")


def _finding_needs_attention(f: dict[str, Any]) -> bool:
    return f.get("severity") in LISTED_SEVERITIES


#: what the report lists of the long lists with ``detail`` summary or attention; each reads only the keys of
#: ``store.latest.HEAD_KEYS``, so the entries it leaves out are never parsed whole (``cluster_part_json``)
ATTENTION = {"volumes": _volume_needs_attention, "findings": _finding_needs_attention}


def _not(predicate: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda entry: not predicate(entry)


#: the entries of those lists a summary or attention report only counts (``cluster_part_json``'s counted_only)
COUNTED_ONLY = {key: _not(needs) for key, needs in ATTENTION.items()}


def listed(part: dict[str, Any], detail: str) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """A cluster's lists as the report lists them (``attention``: what needs it; ``summary``: its worst
    :data:`PER_CLUSTER` of that, in document order) and how many entries each list left out."""
    lists = {key: list(part.get(key) or []) for key in LISTS}
    omitted: dict[str, int] = {}
    if detail in ("summary", "attention"):
        for key, needs_attention in ATTENTION.items():
            lists[key] = [e for e in lists[key] if needs_attention(e)]
        lists["schedules"] = [s for s in lists["schedules"] if keep_schedule(s)]
    if detail == "summary":
        for key, limit in PER_CLUSTER.items():
            entries = lists[key]
            if len(entries) > limit:
                kept = sorted(sorted(range(len(entries)), key=lambda i: _worst(key, entries[i]))[:limit])
                lists[key] = [entries[i] for i in kept]
                omitted[key] = len(entries) - limit
    return lists, omitted


def without_fleet_rules(part: dict[str, Any]) -> dict[str, Any]:
    """A cluster's part without its scan's GOV-006/007 results (about the other clusters: the fleet judges them
    once): its findings and summary row's counts lowered by the findings taken out, and its framework scores
    those its scan computed without them (``compliance[].without_fleet_rules``; a document recorded before
    that field keeps its scores)."""
    findings = part.get("findings") or []
    dropped = [f for f in findings if isinstance(f, dict) and f.get("rule_id") in FLEET_RULES]
    own: dict[str, dict[str, Any]] = {str(c.get("framework")): c["without_fleet_rules"]
                                      for c in part.get("compliance") or []
                                      if isinstance(c, dict) and isinstance(c.get("without_fleet_rules"), dict)}
    if not dropped and not own:
        return part
    part = {**part, "findings": [f for f in findings if not (isinstance(f, dict) and f.get("rule_id") in FLEET_RULES)]}
    row = part.get("per_cluster")
    if isinstance(row, dict):
        by_severity = dict(row.get("findings_by_severity") or {})
        for f in dropped:
            if f.get("status") == "open" and f.get("severity") in by_severity:
                by_severity[f["severity"]] = max(0, int(by_severity[f["severity"]]) - 1)
        scores = {fw: own[fw]["score"] if fw in own else s for fw, s in (row.get("compliance") or {}).items()}
        part["per_cluster"] = {**row, "findings_by_severity": by_severity, "compliance": scores}
    if own:
        part["compliance"] = [_own_score(c, own) for c in part.get("compliance") or []]
        part["compliance_rollup"] = [
            {**r, "passed": own[r["framework"]]["passed"], "failed": own[r["framework"]]["failed"],
             "score": own[r["framework"]]["score"],
             "clusters": {name: own[r["framework"]]["score"] for name in r.get("clusters") or {}}}
            if r.get("framework") in own else r for r in part.get("compliance_rollup") or []]
    return part


def _own_score(entry: dict[str, Any], own: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A compliance entry with the score, coverage and controls its scan computed without GOV-006/007."""
    if not isinstance(entry, dict) or entry.get("framework") not in own:
        return entry
    without = own[entry["framework"]]
    out = {k: v for k, v in entry.items() if k != "without_fleet_rules"}
    return {**out, "score": without.get("score"), "coverage": without.get("coverage"),
            "controls": without.get("controls") or []}


def relabelled(part: dict[str, Any], name: str, label: str) -> dict[str, Any]:
    """The document part of cluster ``name`` under the name the report shows (``label``: ``shown_names``)."""
    if label == name:
        return part
    part = dict(part)
    for key in LISTS:
        part[key] = [{**e, "cluster": label} if isinstance(e, dict) and e.get("cluster") == name else e
                     for e in part.get(key) or []]
    part["clusters"] = [{**c, "name": label} if c.get("name") == name else c for c in part.get("clusters") or []]
    if isinstance(part.get("per_cluster"), dict):
        part["per_cluster"] = {**part["per_cluster"], "cluster": label}
    part["compliance_rollup"] = [{**r, "clusters": {label if k == name else k: v
                                                    for k, v in (r.get("clusters") or {}).items()}}
                                 for r in part.get("compliance_rollup") or []]
    part["scan_clusters"] = [label if c == name else c for c in part.get("scan_clusters") or []]
    return part


def merge(parts: Iterable[tuple[FleetEntry, dict[str, Any] | None]], *, at: datetime, detail: str = "summary",
          store: str = "", findings: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One scan document of the fleet from each cluster's document part (None: no scan read that cluster);
    ``findings``: the fleet's own (GOV-006/007, judged once), counted once in the summary."""
    if detail not in DETAILS:
        raise ValueError(f"detail {detail!r} (expected one of {DETAILS})")
    doc: dict[str, Any] = {"schema_version": "1", "tool_version": __version__, "as_of": None, "clusters": []}
    doc.update({key: [] for key in LISTS})
    exceptions: dict[str, list[Any]] = {"matched": [], "unused": [], "expired": []}
    rollup: dict[str, dict[str, Any]] = {}
    per_cluster: list[dict[str, Any]] = []
    scans: dict[int | None, tuple[Any, set[str], set[str]]] = {}  # checks, the scan's clusters, those taken
    volumes = excepted = 0
    entries: list[dict[str, Any]] = []
    omitted_total: Counter[str] = Counter()
    newest: datetime | None = None
    for entry, part in parts:
        row = entry.as_dict()
        entries.append(row)
        age = entry.age_seconds
        marks = {"scan_id": entry.scan_id, "scan_as_of": iso(entry.as_of),
                 "age_seconds": None if age is None else round(age), "stale": entry.stale}
        if part is None or not part.get("clusters"):
            error = entry.error or "no recorded scan read this cluster"
            doc["clusters"].append({"name": entry.shown, "complete": False, "gaps": [], "error": error,
                                    "source": None, "server_version": None, **marks})
            per_cluster.append({"cluster": entry.shown, "complete": False, "error": error,
                                "volumes_by_status": dict.fromkeys(STATUSES, 0),
                                "findings_by_severity": dict.fromkeys(SEVERITIES, 0), "compliance": {}})
            continue
        part = relabelled(without_fleet_rules(part), entry.cluster, entry.shown)
        newest = max(newest, entry.as_of) if newest and entry.as_of else newest or entry.as_of
        doc["clusters"].append({**part["clusters"][0], **marks})
        volumes += len(part.get("volumes") or [])
        excepted += sum(1 for f in part.get("findings") or [] if f.get("status") == "excepted")
        per_cluster.append(part.get("per_cluster") or _per_cluster(entry.shown, part))
        scan = scans.setdefault(entry.scan_id, (part.get("checks"), set(part.get("scan_clusters") or []), set()))
        scan[2].add(entry.shown)
        lists, omitted = listed(part, detail)
        for key, values in lists.items():
            doc[key].extend(values)
        row["omitted"] = omitted
        omitted_total.update(omitted)
        for key, values in (part.get("exceptions") or {}).items():
            exceptions.setdefault(key, []).extend(v for v in values or [] if v not in exceptions[key])
        for r in part.get("compliance_rollup") or []:
            total = rollup.setdefault(r["framework"], {"framework": r["framework"], "name": r.get("name"),
                                                       "passed": 0, "failed": 0, "clusters": {}})
            total["passed"] += int(r.get("passed") or 0)
            total["failed"] += int(r.get("failed") or 0)
            total["clusters"].update(r.get("clusters") or {})
    for total in rollup.values():
        evaluated = total["passed"] + total["failed"]
        total["score"] = round(total["passed"] / evaluated, 4) if evaluated else None
    doc["as_of"] = iso(newest or at)
    doc["compliance_rollup"] = list(rollup.values())
    doc["exceptions"] = exceptions
    doc["summary"] = _summary(per_cluster, volumes, excepted, _checks(scans.values()), findings)
    doc["fleet"] = {"store": store, "at": iso(at), "detail": detail,
                    "listed": None if detail == "all" else LISTED, "clusters": entries,
                    "per_cluster_limit": dict(PER_CLUSTER) if detail == "summary" else None,
                    "omitted": dict(omitted_total), "findings": list(findings)}
    return doc


def _per_cluster(name: str, part: dict[str, Any]) -> dict[str, Any]:
    """The summary row of a cluster from its lists (documents older than ``summary.per_cluster``)."""
    audited = [v for v in part.get("volumes") or [] if v.get("audited", True)]
    open_findings = [f for f in part.get("findings") or [] if f.get("status") == "open"]
    cluster = (part.get("clusters") or [{}])[0]
    return {"cluster": name, "complete": bool(cluster.get("complete")), "error": cluster.get("error"),
            "volumes_by_status": {s: sum(1 for v in audited if v.get("status") == s) for s in STATUSES},
            "findings_by_severity": {s: sum(1 for f in open_findings if f.get("severity") == s) for s in SEVERITIES},
            "compliance": {e.get("framework"): e.get("score") for e in part.get("compliance") or []}}


def _checks(scans: Iterable[tuple[Any, set[str], set[str]]]) -> Counter[str] | None:
    """The rule checks by outcome: a scan counts them for all the clusters it read together, so they add up only
    when the fleet takes every cluster of each such scan (None otherwise: the posture is then not stated)."""
    total: Counter[str] = Counter()
    for checks, read, taken in scans:
        if not isinstance(checks, dict) or read != taken:
            return None
        total.update({k: int(v) for k, v in checks.items() if k in CHECKS})
    return total


def _summary(per_cluster: list[dict[str, Any]], volumes: int, excepted: int, checks: Counter[str] | None,
             fleet: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The document's summary over every cluster: whole counts, whatever the lists keep, and the fleet's own
    findings once each."""
    by_status = {s: sum(int((p.get("volumes_by_status") or {}).get(s, 0)) for p in per_cluster) for s in STATUSES}
    by_severity = {s: sum(int((p.get("findings_by_severity") or {}).get(s, 0)) for p in per_cluster)
                   + sum(1 for f in fleet if f.get("severity") == s and f.get("status", "open") == "open")
                   for s in SEVERITIES}
    audited = sum(by_status.values())
    return {"per_cluster": per_cluster, "findings_excepted": excepted, "clusters": len(per_cluster),
            "clusters_complete": sum(1 for p in per_cluster if p.get("complete")),
            "volumes": volumes, "volumes_audited": audited, "volumes_by_status": by_status,
            "protected_ratio": round(by_status["protected"] / audited, 4) if audited else None,
            "findings": sum(by_severity.values()), "findings_by_severity": by_severity, "fleet_findings": len(fleet),
            "checks": {k: checks.get(k, 0) for k in CHECKS} if checks is not None else {}}


class _CachedHistory:
    """``Store.history`` read once per cluster name: the fleet trend and each cluster's trend come from the same
    rows. Asked by the report's name of a cluster (``shown_names``): a name two clusters claim gives each its own
    uid's scans."""

    def __init__(self, store: Any, shown: dict[str, tuple[str, str | None]]) -> None:
        self.store = store
        self.shown = shown  # report name -> (name, uid)
        self.rows: dict[tuple[str | None, int], list[Any]] = {}

    def history(self, cluster: str | None = None, limit: int = 50) -> list[Any]:
        name, uid = self.shown.get(cluster or "", (cluster, None))
        if (name, limit) not in self.rows:
            self.rows[(name, limit)] = self.store.history(name, limit)
        rows = self.rows[(name, limit)]
        return [r for r in rows if r.cluster_uid in (uid, None)] if uid and cluster != name else rows


def judged(agents: Iterable[Any], at: datetime, rules: Iterable[Rule],
           shown: dict[tuple[str, str | None], str]) -> list[dict[str, Any]]:
    """GOV-006/007 of the fleet, once each (``fleet_findings``), under the names the report shows."""
    out = []
    for f in fleet_findings(agents, at, rules):
        label = shown.get((f.cluster, f.evidence.get("uid") or None), f.cluster)
        out.append({**f.as_dict(), "cluster": label, "name": label})
    return out


def read_fleet(url: str, clusters: Sequence[str] = (), *, at: datetime, detail: str = "summary",
               rules: Iterable[Rule] = ()) -> tuple[SourceDocument, History]:
    """The fleet document of the store at ``url`` (every cluster, or ``clusters``: an unknown one is an error
    naming it) and its history (the fleet's trend, the waiver register's); ``rules``: the catalog, whose GOV-006
    and GOV-007 judge the fleet's agents once."""
    # deferred: SQLAlchemy (1.1 s) only for report --from-store
    from auditor.store import Store
    from auditor.store.latest import cluster_part_json, select_clusters

    with Store(url, create=False) as store:
        names = select_clusters(store, clusters)
        rows: dict[str, list[Any]] = {name: [] for name in names}
        for row in store.fleet(at):
            if row.cluster in rows:
                rows[row.cluster].append(row)
        chosen = [row for name in names for row in rows[name]]
        shown = shown_names((row.cluster, row.agent.uid or None) for row in chosen)
        cache = _CachedHistory(store, {label: key for key, label in shown.items()})
        pairs = []
        for row in chosen:
            label = shown[(row.cluster, row.agent.uid or None)]
            pairs.append((FleetEntry(
                cluster=row.cluster, uid=row.agent.uid or None, scan_id=row.latest.scan_id if row.latest else None,
                as_of=row.latest.as_of if row.latest else None, at=at, silent_after=row.agent.silent_after,
                error=row.error, trend=trend_from_summaries(cache, [label], at), label=label), row.latest))
        # one document in memory at a time, and of it only what is about the cluster and listed
        counted_only = None if detail == "all" else COUNTED_ONLY
        parts = ((entry, cluster_part_json(store.document_json(latest.scan_id), entry.cluster, counted_only)
                  if latest else None) for entry, latest in pairs)
        findings = judged([row.agent for row in chosen], at, [r for r in rules if r.id in FLEET_RULES], shown)
        doc = merge(parts, at=at, detail=detail, store=store.name, findings=findings)
        history = History(trend=trend_from_summaries(cache, list(dict.fromkeys(shown.values())), at),
                          waivers=tuple(WaiverChange(e.waiver, e.event, e.at, e.detail)
                                        for e in store.waiver_events(until=at)))
    return SourceDocument(doc, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"), history
