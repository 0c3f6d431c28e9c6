"""One API resource the scan reads: declared by the kinds table and by each backup tool's collect module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditor.collect.decode import Typed
from auditor.collect.fields import FieldReader


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """One API resource: where it lives, how to slim it and which inventory field holds it."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    field: str  # Inventory attribute the records go to
    slim: Callable[[FieldReader], Any]
    backup_namespace_only: bool = False  # read only in the backup system's namespace (ConfigMaps)
    by_name: bool = False  # never listed: read one by one by name (credential Secrets, see live.py)
    optional: bool = False  # a group that many clusters do not serve (CRDs)
    #: Decoded straight from a page or dump item into records (the kinds a large cluster has most of); an object
    #: the typed path refuses, and every object of the other kinds, goes through ``slim``.
    typed: Typed | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """``plural.group``, the name kubectl and RBAC use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def list_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"
