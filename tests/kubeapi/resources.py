"""Registry of served resource types (built-in table plus CustomResourceDefinitions).

Discovery, routing, tables and field selectors all read from here, so one place decides what
the test server serves. CRDs can be added and removed while serving (creating a
CustomResourceDefinition through the API registers its types live, like the real apiserver).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

ALL_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    """A CRD `additionalPrinterColumns` entry."""

    name: str
    type: str
    json_path: str
    description: str = ""
    format: str = ""
    priority: int = 0


@dataclass(frozen=True)
class ResourceType:
    """One served (group, version, plural): what discovery shows and the store keys on."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    storage_version: str = ""
    list_kind: str = ""
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = False
    categories: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    field_selectors: tuple[str, ...] = ()
    crd_name: str = ""  # set for types that come from a CustomResourceDefinition

    @property
    def api_version(self) -> str:
        """`v1` for core, `group/version` otherwise (the objects' apiVersion)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_api_version(self) -> str:
        """apiVersion objects are stored (and cached) with."""
        v = self.storage_version or self.version
        return f"{self.group}/{v}" if self.group else v

    @functools.cached_property
    def key(self) -> tuple[str, str]:
        """Store identity: the same objects are served under every version of a group/plural."""
        return (self.group, self.plural)

    @property
    def is_crd(self) -> bool:
        """Custom resources differ in a few rules (no strategic merge, conditional updates)."""
        return bool(self.crd_name)

    @property
    def effective_list_kind(self) -> str:
        """listKind, defaulting to `<Kind>List`."""
        return self.list_kind or f"{self.kind}List"


def _b(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    status: bool = False,
    categories: tuple[str, ...] = (),
    fields: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        storage_version=version,
        short_names=short,
        status_subresource=status,
        categories=categories,
        field_selectors=fields,
        verbs=verbs,
    )


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
_ALL = ("all",)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _b("", "v1", "Namespace", "namespaces", False, ("ns",), True, fields=("status.phase",)),
    _b("", "v1", "Node", "nodes", False, ("no",), True, fields=("spec.unschedulable",)),
    _b("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), True),
    _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), True),
    _b("", "v1", "Pod", "pods", True, ("po",), True, _ALL, _POD_FIELDS),
    _b("", "v1", "Secret", "secrets", True, fields=("type",)),
    _b("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    _b("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    _b("", "v1", "Service", "services", True, ("svc",), True, _ALL),
    _b("", "v1", "Event", "events", True, ("ev",), fields=_EVENT_FIELDS),
    _b("apps", "v1", "Deployment", "deployments", True, ("deploy",), True, _ALL),
    _b("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), True, _ALL),
    _b("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), True, _ALL),
    _b("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), True, _ALL, ("status.replicas",)),
    _b("batch", "v1", "Job", "jobs", True, (), True, _ALL, ("status.successful",)),
    _b("batch", "v1", "CronJob", "cronjobs", True, ("cj",), True, _ALL),
    _b("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    _b("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False),
    _b("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _b("coordination.k8s.io", "v1", "Lease", "leases", True),
    _b("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False, verbs=("create",)),
    _b("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False, verbs=("create",)),
    _b("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=("create",)),
    _b("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=("create",)),
    _b("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False, verbs=("create",)),
    _b(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        True,
    ),
)

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key implementing Kubernetes version priority (v1 > v1beta2 > v1beta1 > v1alpha1 > foo)."""
    m = _VERSION_RE.match(version)
    if not m:
        return (0, 0, 0, version)
    stability = {None: 3, "beta": 2, "alpha": 1}[m.group(2)]
    return (stability, int(m.group(1)), int(m.group(3) or 0), "")


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Highest priority first; non-kube-like versions last, alphabetically."""
    vs = list(versions)
    kube = sorted((v for v in vs if _VERSION_RE.match(v)), key=version_priority, reverse=True)
    return kube + sorted(v for v in vs if not _VERSION_RE.match(v))


def _columns(raw: Iterable[dict[str, Any]]) -> tuple[PrinterColumn, ...]:
    return tuple(
        PrinterColumn(
            name=str(c.get("name", "")),
            type=str(c.get("type", "string")),
            json_path=str(c.get("jsonPath") or c.get("JSONPath") or ""),
            description=str(c.get("description", "")),
            format=str(c.get("format", "")),
            priority=int(c.get("priority", 0) or 0),
        )
        for c in raw
    )


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """ResourceTypes for each served version of an apiextensions CustomResourceDefinition."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not group or not plural or not kind:
        raise ValueError("CustomResourceDefinition needs spec.group, spec.names.plural and spec.names.kind")
    versions = spec.get("versions") or [
        {"name": spec.get("version"), "served": True, "storage": True}  # legacy v1beta1 shape
    ]
    served = [v for v in versions if v.get("name") and v.get("served", True)]
    storage = next((v["name"] for v in versions if v.get("storage")), None)
    served_names = [v["name"] for v in served]
    if storage not in served_names:
        storage = sort_versions(served_names)[0] if served_names else None
    out: list[ResourceType] = []
    for v in served:
        subresources = v.get("subresources") or spec.get("subresources") or {}
        cols = v.get("additionalPrinterColumns") or spec.get("additionalPrinterColumns") or []
        out.append(
            ResourceType(
                group=group,
                version=v["name"],
                kind=kind,
                plural=plural,
                singular=names.get("singular") or kind.lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                storage_version=storage or v["name"],
                list_kind=names.get("listKind") or f"{kind}List",
                short_names=tuple(names.get("shortNames") or ()),
                status_subresource="status" in subresources,
                categories=tuple(names.get("categories") or ()),
                printer_columns=_columns(cols),
                crd_name=(crd.get("metadata") or {}).get("name") or f"{plural}.{group}",
            )
        )
    return out


@functools.lru_cache(maxsize=256)
def _crds_in_file(path: str, mtime: float) -> bytes:
    """CRD documents of one file, parsed once per process (YAML parsing dominates start-up)."""
    with open(path, "rb") as fh:
        docs = yaml.load_all(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return orjson.dumps([d for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"])


def load_crd_objects(dirs: Iterable[Path]) -> list[dict[str, Any]]:
    """CustomResourceDefinition documents found (recursively) under the given directories."""
    crds: list[dict[str, Any]] = []
    for d in dirs:
        for path in sorted(Path(d).rglob("*")):
            if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
                continue
            crds.extend(orjson.loads(_crds_in_file(str(path), path.stat().st_mtime)))
    return crds


@dataclass
class GroupInfo:
    """A group as discovery lists it."""

    name: str
    versions: list[str] = field(default_factory=list)
    preferred: str = ""


class Registry:
    """Thread-safe lookup of served types by (group, version, plural), kind, and short name."""

    def __init__(self, builtins: Iterable[ResourceType] | None = None) -> None:
        self._lock = threading.RLock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._crds: dict[str, list[ResourceType]] = {}
        self._storage: dict[tuple[str, str], ResourceType] = {}
        self._kinds: dict[tuple[str, str], ResourceType] = {}
        for rt in BUILTIN_TYPES if builtins is None else builtins:
            self._types[(rt.group, rt.version, rt.plural)] = rt
        self._reindex()

    def _reindex(self) -> None:
        """Rebuild the derived maps (called under the lock after every change)."""
        storage: dict[tuple[str, str], ResourceType] = {}
        kinds: dict[tuple[str, str], ResourceType] = {}
        for rt in self._types.values():
            kinds[(rt.api_version, rt.kind)] = rt
            if rt.version == rt.storage_version or rt.key not in storage:
                storage[rt.key] = rt
        self._storage, self._kinds = storage, kinds

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The served type, or None (the caller answers 404)."""
        return self._types.get((group, version, plural))

    def storage_type(self, group: str, plural: str) -> ResourceType | None:
        """The type entry for the storage version of group/plural."""
        return self._storage.get((group, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """Find a type from an object's apiVersion/kind (used by seeding and create checks)."""
        return self._kinds.get((api_version, kind))

    def all_types(self) -> list[ResourceType]:
        """Snapshot of every served (group, version, plural)."""
        with self._lock:
            return list(self._types.values())

    def resources(self, group: str, version: str) -> list[ResourceType]:
        """Types served in one group/version, in registration order."""
        with self._lock:
            return [rt for (g, v, _p), rt in self._types.items() if g == group and v == version]

    def groups(self) -> list[GroupInfo]:
        """Named groups (core excluded) with versions by priority and the preferred version.

        The preferred version of a CRD group is its CRDs' storage version (a deliberate choice of
        this test server; the real apiserver uses the highest-priority served version).
        """
        with self._lock:
            versions: dict[str, set[str]] = {}
            storage: dict[str, set[str]] = {}
            for (g, v, _p), rt in self._types.items():
                if not g:
                    continue
                versions.setdefault(g, set()).add(v)
                storage.setdefault(g, set()).add(rt.storage_version or v)
        out = []
        for g, vs in versions.items():
            ordered = sort_versions(vs)
            candidates = [v for v in sort_versions(storage[g]) if v in vs]
            preferred = candidates[0] if candidates else ordered[0]
            ordered.remove(preferred)
            out.append(GroupInfo(g, [preferred, *ordered], preferred))
        return out

    def register_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """(Re-)register the types of a CRD; replaces what an earlier version of it registered."""
        types = types_from_crd(crd)
        name = types[0].crd_name if types else (crd.get("metadata") or {}).get("name", "")
        with self._lock:
            self._drop_crd(name)
            for rt in types:
                self._types[(rt.group, rt.version, rt.plural)] = rt
            self._crds[name] = types
            self._reindex()
        return types

    def crd_types(self, name: str) -> list[ResourceType]:
        """Types registered by the CRD called `name`."""
        with self._lock:
            return list(self._crds.get(name, []))

    def unregister_crd(self, name: str) -> list[ResourceType]:
        """Remove a CRD's types; returns what was removed."""
        with self._lock:
            old = self._drop_crd(name)
            self._reindex()
            return old

    def _drop_crd(self, name: str) -> list[ResourceType]:
        old = self._crds.pop(name, [])
        for rt in old:
            self._types.pop((rt.group, rt.version, rt.plural), None)
        return old
