"""Server-side printing: `meta.k8s.io/v1` Table responses (what `kubectl get` asks for).

Built-in types get the columns the real apiserver prints (a faithful subset); custom resources get
their CRD's `additionalPrinterColumns`, evaluated with the small JSONPath subset in `jsonpath.py`,
and `date` columns rendered as ages, like the apiextensions-apiserver does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .jsonpath import JSONPathError, compile_path, find
from .resources import PrinterColumn, ResourceType

Cell = Any
Getter = Callable[[dict[str, Any]], Cell]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC."
)


@dataclass(frozen=True)
class Column:
    """A column definition plus how to compute its cell."""

    name: str
    type: str
    get: Getter
    priority: int = 0
    format: str = ""
    description: str = ""

    def definition(self) -> dict[str, Any]:
        """The `columnDefinitions` entry."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description or self.name,
            "priority": self.priority,
        }


def parse_time(ts: Any) -> float | None:
    """Seconds since epoch of an RFC3339 timestamp (fractions and offsets tolerated)."""
    return _parse_time(ts) if isinstance(ts, str) else None


@functools.lru_cache(maxsize=65536)
def _parse_time(ts: str) -> float | None:
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration (2m, 5m30s, 3h, 12d, 2y45d)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age_of(ts: Any) -> str:
    """Age cell for a timestamp; `<unknown>` when unset."""
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration(time.time() - t)


def _g(obj: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _s(v: Any) -> str:
    return "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _access_modes(modes: Any) -> str:
    return ",".join(_MODES.get(m, m) for m in modes or [])


def _meta_age(o: dict[str, Any]) -> str:
    return age_of(_g(o, "metadata", "creationTimestamp"))


def _terminating(o: dict[str, Any], phase: Any) -> str:
    return "Terminating" if _g(o, "metadata", "deletionTimestamp") else _s(phase)


def _pod_ready(o: dict[str, Any]) -> str:
    statuses = _g(o, "status", "containerStatuses") or []
    total = len(_g(o, "spec", "containers") or []) or len(statuses)
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _pod_status(o: dict[str, Any]) -> str:
    if _g(o, "metadata", "deletionTimestamp"):
        return "Unknown" if _g(o, "status", "reason") == "NodeLost" else "Terminating"
    reason = _g(o, "status", "reason") or _g(o, "status", "phase") or ""
    for cs in reversed(_g(o, "status", "containerStatuses") or []):
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif state.get("terminated"):
            t = state["terminated"]
            reason = f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode', 0)}"
    return str(reason)


def _pod_restarts(o: dict[str, Any]) -> int:
    return sum(int(c.get("restartCount") or 0) for c in _g(o, "status", "containerStatuses") or [])


def _node_status(o: dict[str, Any]) -> str:
    ready = next((c for c in _g(o, "status", "conditions") or [] if c.get("type") == "Ready"), None)
    status = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    if _g(o, "spec", "unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_roles(o: dict[str, Any]) -> str:
    labels = _g(o, "metadata", "labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    return ",".join(r for r in roles if r) or "<none>"


def _node_address(kind: str) -> Getter:
    def get(o: dict[str, Any]) -> str:
        for a in _g(o, "status", "addresses") or []:
            if a.get("type") == kind:
                return str(a.get("address", ""))
        return "<none>"

    return get


def _svc_ports(o: dict[str, Any]) -> str:
    parts = []
    for p in _g(o, "spec", "ports") or []:
        proto = p.get("protocol", "TCP")
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        parts.append(f"{p.get('port')}{node}/{proto}")
    return ",".join(parts) or "<none>"


def _svc_external(o: dict[str, Any]) -> str:
    ips = list(_g(o, "spec", "externalIPs") or [])
    for ing in _g(o, "status", "loadBalancer", "ingress") or []:
        ips.append(ing.get("ip") or ing.get("hostname") or "")
    if ips:
        return ",".join(ips)
    return "<pending>" if _g(o, "spec", "type") == "LoadBalancer" else "<none>"


def _selector(o: dict[str, Any]) -> str:
    sel = _g(o, "spec", "selector") or {}
    labels = sel.get("matchLabels", sel) if isinstance(sel, dict) else {}
    return ",".join(f"{k}={v}" for k, v in labels.items() if isinstance(v, str)) or "<none>"


def _job_status(o: dict[str, Any]) -> str:
    for c in _g(o, "status", "conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed", "Suspended", "FailureTarget"):
            return "Failed" if c["type"] == "FailureTarget" else str(c["type"])
    return "Running"


def _job_duration(o: dict[str, Any]) -> str:
    start = parse_time(_g(o, "status", "startTime"))
    if start is None:
        return ""
    end = parse_time(_g(o, "status", "completionTime")) or time.time()
    return human_duration(end - start)


def _sc_name(o: dict[str, Any]) -> str:
    ann = _g(o, "metadata", "annotations") or {}
    default = "true" in (
        ann.get("storageclass.kubernetes.io/is-default-class"),
        ann.get("storageclass.beta.kubernetes.io/is-default-class"),
    )
    return _s(_g(o, "metadata", "name")) + (" (default)" if default else "")


def _subjects(kind: str) -> Getter:
    def get(o: dict[str, Any]) -> str:
        subs = [s for s in o.get("subjects") or [] if s.get("kind") == kind]
        if kind == "ServiceAccount":
            return ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subs)
        return ", ".join(str(s.get("name", "")) for s in subs)

    return get


def _events_object(o: dict[str, Any]) -> str:
    io = o.get("involvedObject") or o.get("regarding") or {}
    return f"{str(io.get('kind', '')).lower()}/{io.get('name', '')}"


def _events_last_seen(o: dict[str, Any]) -> str:
    ts = o.get("lastTimestamp") or o.get("eventTime") or _g(o, "series", "lastObservedTime")
    return age_of(ts or _g(o, "metadata", "creationTimestamp"))


def _created_at(o: dict[str, Any]) -> str:
    return _s(_g(o, "metadata", "creationTimestamp"))


def _c(name: str, get: Getter, type_: str = "string", priority: int = 0) -> Column:
    return Column(name, type_, get, priority)


AGE = Column("Age", "string", _meta_age, description=AGE_DESCRIPTION)
CREATED_AT = Column("Created At", "date", _created_at, description=AGE_DESCRIPTION)

BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "namespaces"): [_c("Status", lambda o: _s(_g(o, "status", "phase"))), AGE],
    ("", "nodes"): [
        _c("Status", _node_status),
        _c("Roles", _node_roles),
        AGE,
        _c("Version", lambda o: _s(_g(o, "status", "nodeInfo", "kubeletVersion"))),
        _c("Internal-IP", _node_address("InternalIP"), priority=1),
        _c("External-IP", _node_address("ExternalIP"), priority=1),
        _c("OS-Image", lambda o: _s(_g(o, "status", "nodeInfo", "osImage")), priority=1),
        _c("Kernel-Version", lambda o: _s(_g(o, "status", "nodeInfo", "kernelVersion")), priority=1),
        _c("Container-Runtime", lambda o: _s(_g(o, "status", "nodeInfo", "containerRuntimeVersion")), priority=1),
    ],
    ("", "persistentvolumes"): [
        _c("Capacity", lambda o: _s(_g(o, "spec", "capacity", "storage"))),
        _c("Access Modes", lambda o: _access_modes(_g(o, "spec", "accessModes"))),
        _c("Reclaim Policy", lambda o: _s(_g(o, "spec", "persistentVolumeReclaimPolicy"))),
        _c("Status", lambda o: _terminating(o, _g(o, "status", "phase"))),
        _c(
            "Claim",
            lambda o: (
                f"{_g(o, 'spec', 'claimRef', 'namespace')}/{_g(o, 'spec', 'claimRef', 'name')}"
                if _g(o, "spec", "claimRef")
                else ""
            ),
        ),
        _c("StorageClass", lambda o: _s(_g(o, "spec", "storageClassName"))),
        _c("VolumeAttributesClass", lambda o: _s(_g(o, "spec", "volumeAttributesClassName")) or "<unset>"),
        _c("Reason", lambda o: _s(_g(o, "status", "reason"))),
        AGE,
        _c("VolumeMode", lambda o: _s(_g(o, "spec", "volumeMode")), priority=1),
    ],
    ("", "persistentvolumeclaims"): [
        _c("Status", lambda o: _terminating(o, _g(o, "status", "phase"))),
        _c("Volume", lambda o: _s(_g(o, "spec", "volumeName"))),
        _c("Capacity", lambda o: _s(_g(o, "status", "capacity", "storage")) if _g(o, "spec", "volumeName") else ""),
        _c("Access Modes", lambda o: _access_modes(_g(o, "status", "accessModes"))),
        _c(
            "StorageClass",
            lambda o: _s(
                _g(o, "spec", "storageClassName")
                or _g(o, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
            ),
        ),
        _c("VolumeAttributesClass", lambda o: _s(_g(o, "spec", "volumeAttributesClassName")) or "<unset>"),
        AGE,
        _c("VolumeMode", lambda o: _s(_g(o, "spec", "volumeMode")), priority=1),
    ],
    ("", "pods"): [
        _c("Ready", _pod_ready),
        _c("Status", _pod_status),
        _c("Restarts", _pod_restarts, "string"),
        AGE,
        _c("IP", lambda o: _s(_g(o, "status", "podIP")) or "<none>", priority=1),
        _c("Node", lambda o: _s(_g(o, "spec", "nodeName")) or "<none>", priority=1),
        _c("Nominated Node", lambda o: _s(_g(o, "status", "nominatedNodeName")) or "<none>", priority=1),
        _c("Readiness Gates", lambda o: "<none>", priority=1),
    ],
    ("", "secrets"): [
        _c("Type", lambda o: _s(o.get("type"))),
        _c("Data", lambda o: len(o.get("data") or {}) + len(o.get("stringData") or {}), "integer"),
        AGE,
    ],
    ("", "configmaps"): [
        _c("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}), "integer"),
        AGE,
    ],
    ("", "serviceaccounts"): [_c("Secrets", lambda o: len(o.get("secrets") or []), "integer"), AGE],
    ("", "services"): [
        _c("Type", lambda o: _s(_g(o, "spec", "type") or "ClusterIP")),
        _c("Cluster-IP", lambda o: _s(_g(o, "spec", "clusterIP")) or "<none>"),
        _c("External-IP", _svc_external),
        _c("Port(s)", _svc_ports),
        AGE,
        _c(
            "Selector",
            lambda o: ",".join(f"{k}={v}" for k, v in (_g(o, "spec", "selector") or {}).items()) or "<none>",
            priority=1,
        ),
    ],
    ("", "events"): [
        _c("Last Seen", _events_last_seen),
        _c("Type", lambda o: _s(o.get("type"))),
        _c("Reason", lambda o: _s(o.get("reason"))),
        _c("Object", _events_object),
        _c("Message", lambda o: _s(o.get("message") or o.get("note")).strip()),
    ],
    ("apps", "deployments"): [
        _c("Ready", lambda o: f"{_g(o, 'status', 'readyReplicas') or 0}/{_g(o, 'spec', 'replicas') or 0}"),
        _c("Up-to-date", lambda o: int(_g(o, "status", "updatedReplicas") or 0), "integer"),
        _c("Available", lambda o: int(_g(o, "status", "availableReplicas") or 0), "integer"),
        AGE,
        _c("Selector", _selector, priority=1),
    ],
    ("apps", "statefulsets"): [
        _c("Ready", lambda o: f"{_g(o, 'status', 'readyReplicas') or 0}/{_g(o, 'spec', 'replicas') or 0}"),
        AGE,
    ],
    ("apps", "daemonsets"): [
        _c("Desired", lambda o: int(_g(o, "status", "desiredNumberScheduled") or 0), "integer"),
        _c("Current", lambda o: int(_g(o, "status", "currentNumberScheduled") or 0), "integer"),
        _c("Ready", lambda o: int(_g(o, "status", "numberReady") or 0), "integer"),
        _c("Up-to-date", lambda o: int(_g(o, "status", "updatedNumberScheduled") or 0), "integer"),
        _c("Available", lambda o: int(_g(o, "status", "numberAvailable") or 0), "integer"),
        _c(
            "Node Selector",
            lambda o: (
                ",".join(f"{k}={v}" for k, v in (_g(o, "spec", "template", "spec", "nodeSelector") or {}).items())
                or "<none>"
            ),
        ),
        AGE,
    ],
    ("apps", "replicasets"): [
        _c("Desired", lambda o: int(_g(o, "spec", "replicas") or 0), "integer"),
        _c("Current", lambda o: int(_g(o, "status", "replicas") or 0), "integer"),
        _c("Ready", lambda o: int(_g(o, "status", "readyReplicas") or 0), "integer"),
        AGE,
    ],
    ("batch", "jobs"): [
        _c("Status", _job_status),
        _c("Completions", lambda o: f"{_g(o, 'status', 'succeeded') or 0}/{_g(o, 'spec', 'completions') or 1}"),
        _c("Duration", _job_duration),
        AGE,
    ],
    ("batch", "cronjobs"): [
        _c("Schedule", lambda o: _s(_g(o, "spec", "schedule"))),
        _c("Timezone", lambda o: _s(_g(o, "spec", "timeZone")) or "<none>"),
        _c("Suspend", lambda o: _s(bool(_g(o, "spec", "suspend")))),
        _c("Active", lambda o: len(_g(o, "status", "active") or []), "integer"),
        _c(
            "Last Schedule",
            lambda o: age_of(_g(o, "status", "lastScheduleTime")) if _g(o, "status", "lastScheduleTime") else "<none>",
        ),
        AGE,
    ],
    ("storage.k8s.io", "storageclasses"): [
        _c("Provisioner", lambda o: _s(o.get("provisioner"))),
        _c("ReclaimPolicy", lambda o: _s(o.get("reclaimPolicy") or "Delete")),
        _c("VolumeBindingMode", lambda o: _s(o.get("volumeBindingMode") or "Immediate")),
        _c("AllowVolumeExpansion", lambda o: _s(bool(o.get("allowVolumeExpansion")))),
        AGE,
    ],
    ("storage.k8s.io", "csidrivers"): [
        _c("AttachRequired", lambda o: _s(_g(o, "spec", "attachRequired") is not False)),
        _c("PodInfoOnMount", lambda o: _s(bool(_g(o, "spec", "podInfoOnMount")))),
        _c("StorageCapacity", lambda o: _s(bool(_g(o, "spec", "storageCapacity")))),
        _c(
            "TokenRequests",
            lambda o: ",".join(t.get("audience", "") for t in _g(o, "spec", "tokenRequests") or []) or "<unset>",
        ),
        _c("RequiresRepublish", lambda o: _s(bool(_g(o, "spec", "requiresRepublish")))),
        _c("Modes", lambda o: ",".join(_g(o, "spec", "volumeLifecycleModes") or ["Persistent"])),
        AGE,
    ],
    ("rbac.authorization.k8s.io", "roles"): [CREATED_AT],
    ("rbac.authorization.k8s.io", "clusterroles"): [CREATED_AT],
    ("rbac.authorization.k8s.io", "rolebindings"): [
        _c("Role", lambda o: f"{_g(o, 'roleRef', 'kind')}/{_g(o, 'roleRef', 'name')}"),
        AGE,
        _c("Users", _subjects("User"), priority=1),
        _c("Groups", _subjects("Group"), priority=1),
        _c("ServiceAccounts", _subjects("ServiceAccount"), priority=1),
    ],
    ("rbac.authorization.k8s.io", "clusterrolebindings"): [
        _c("Role", lambda o: f"{_g(o, 'roleRef', 'kind')}/{_g(o, 'roleRef', 'name')}"),
        AGE,
        _c("Users", _subjects("User"), priority=1),
        _c("Groups", _subjects("Group"), priority=1),
        _c("ServiceAccounts", _subjects("ServiceAccount"), priority=1),
    ],
    ("coordination.k8s.io", "leases"): [_c("Holder", lambda o: _s(_g(o, "spec", "holderIdentity"))), AGE],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [CREATED_AT],
}


def _json_cell(type_: str, value: Any) -> Cell:
    """Typed cell like the apiextensions table convertor (`date` becomes an age)."""
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, float) and value.is_integer() else None
    if type_ == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        return age_of(value) if isinstance(value, str) else None
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return _s(value)


def _crd_column(col: PrinterColumn) -> Column:
    try:
        steps = compile_path(col.json_path)
    except JSONPathError:
        steps = None

    def get(o: dict[str, Any]) -> Cell:
        if steps is None:
            return None
        found = find(o, steps)
        return _json_cell(col.type, found[0]) if found else None

    return Column(col.name, col.type, get, col.priority, col.format, col.description)


NAME = Column("Name", "string", lambda o: _s(_g(o, "metadata", "name")), 0, "name", NAME_DESCRIPTION)


def columns_for(rt: ResourceType) -> list[Column]:
    """Columns (Name first) for a type: built-in printer, CRD printer columns, or Name + Age."""
    if rt.key == ("", "events"):
        return [*BUILTIN_COLUMNS[rt.key], Column("Name", "string", NAME.get, 1, "name", NAME_DESCRIPTION)]
    if rt.key == ("storage.k8s.io", "storageclasses"):
        return [Column("Name", "string", _sc_name, 0, "name", NAME_DESCRIPTION), *BUILTIN_COLUMNS[rt.key]]
    if rt.key in BUILTIN_COLUMNS and not rt.is_crd:
        return [NAME, *BUILTIN_COLUMNS[rt.key]]
    if rt.printer_columns:
        return [NAME, *(_crd_column(c) for c in rt.printer_columns)]
    return [NAME, Column("Age", "date", _meta_age, description=AGE_DESCRIPTION)]


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """The PartialObjectMetadata kubectl reads namespace/labels from in each row."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(
    columns: list[Column],
    objects: Iterable[tuple[dict[str, Any], bytes]],
    include_object: str,
    list_meta: dict[str, Any],
    headers: bool = True,
) -> dict[str, Any]:
    """Build a Table dict; row objects follow `includeObject` (None | Metadata | Object)."""
    rows = []
    for obj, raw in objects:
        row: dict[str, Any] = {"cells": [_safe(c, obj) for c in columns]}
        if include_object == "Object":
            row["object"] = orjson.Fragment(raw)
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [c.definition() for c in columns] if headers else None,
        "rows": rows,
    }


def _safe(col: Column, obj: dict[str, Any]) -> Cell:
    try:
        return col.get(obj)
    except (TypeError, ValueError, AttributeError, KeyError):
        return None
