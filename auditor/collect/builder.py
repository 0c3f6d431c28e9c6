"""Builds an Inventory from the records a source reads: duplicates counted once, order made deterministic."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from auditor.analyse.credential_refs import credential_refs
from auditor.collect.kinds import KINDS
from auditor.collect.secrets import Fingerprints, SecretPolicy, finish_secrets
from auditor.model.inventory import CORE_FIELDS, Gap, InputWarning, Inventory

#: Warnings kept per cluster: a dump with a million duplicates needs one line to say so, not a million.
MAX_WARNINGS = 1000

#: Inventory fields that hold records, in a stable order.
RECORD_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(k.field for k in KINDS))


class InventoryBuilder:
    """Accumulates records from a source, then freezes them in a deterministic order."""

    def __init__(self, cluster: str, source: str) -> None:
        self.cluster = cluster
        self.source = source
        self.records: dict[str, list[Any]] = {name: [] for name in RECORD_FIELDS}
        self.gaps: list[Gap] = []
        self.warnings: list[InputWarning] = []
        #: where each object was first seen, by identity and by uid: a duplicate is counted once
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}
        self._uids: dict[tuple[str, str, str], tuple[str, int]] = {}  # uids are unique within a kind
        self._first: dict[tuple[str, int], tuple[str, str]] = {}  # slot -> (namespace/name, where) of its copy
        self.unknown_kinds: dict[str, int] = defaultdict(int)
        self.server_version: str | None = None
        self.collected_at: datetime | None = None
        self.secret_policy = SecretPolicy(read_values=False)
        #: fingerprints of Secrets whose values the source saw (values themselves are never kept)
        self.secret_fingerprints: dict[tuple[str, str], Fingerprints] = {}

    def add(self, field_name: str, record: Any, kind: str = "", where: str = "") -> bool:
        """Add a record; one that duplicates a record already added (same kind, namespace and name, or the
        same uid) replaces it (the later copy is used, as a later ``kubectl apply`` would win), so it is
        counted once, and ``warnings`` says so. False when it was a duplicate."""
        m = record.meta
        identity = (field_name, kind or getattr(record, "kind", "") or "", m.namespace or "", m.name)
        shown = identity[1] or field_name
        here = f" in {where}" if where else ""
        earlier = self._seen.get(identity)
        uid = (field_name, identity[1], m.uid) if m.uid else None
        if earlier is None and uid in self._uids:
            earlier = self._uids[uid]
            first = self._first[earlier]
            self._warn(shown, m.namespace, m.name,
                       f"duplicate uid {m.uid}{here}: the same object as {first[0]}"
                       f"{' (' + first[1] + ')' if first[1] else ''}; counted once, the later copy is used")
        elif earlier is not None:
            first = self._first[earlier]
            self._warn(shown, m.namespace, m.name,
                       f"duplicate object{here} (same kind, namespace and name as "
                       f"{first[1] or 'an earlier one'}): counted once, the later copy is used")
        if earlier is not None:
            old = self.records[field_name][earlier[1]]
            self.records[field_name][earlier[1]] = record
            old_uid = (field_name, identity[1], old.meta.uid)
            if old.meta.uid and self._uids.get(old_uid) == earlier:
                del self._uids[old_uid]
            old_identity = (field_name, identity[1], old.meta.namespace or "", old.meta.name)
            if self._seen.get(old_identity) == earlier:
                del self._seen[old_identity]
            slot = earlier
        else:
            slot = (field_name, len(self.records[field_name]))
            self.records[field_name].append(record)
        self._seen[identity] = slot
        if uid:
            self._uids[uid] = slot
        self._first[slot] = (f"{m.namespace + '/' if m.namespace else ''}{m.name}", where)
        return earlier is None

    def _warn(self, kind: str, namespace: str | None, name: str, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(InputWarning(kind, namespace, name, message))

    def gap(self, gap: Gap) -> None:
        self.gaps.append(gap)

    def build(self) -> Inventory:
        refs = credential_refs(self.records)
        self.records["secrets"] = finish_secrets(self.records["secrets"], refs, self.secret_fingerprints,
                                                 self.secret_policy)
        frozen: dict[str, tuple[Any, ...]] = {}
        for name, items in self.records.items():
            items.sort(key=_record_sort_key)
            frozen[name] = tuple(items)
        backup_namespaces = sorted({
            rec.meta.namespace for name in ("bsls", "schedules", "backups")
            for rec in frozen[name] if rec.meta.namespace
        })
        # ConfigMaps matter only in the backup system's namespace (resource policies, plain-text credentials).
        frozen["config_maps"] = tuple(c for c in frozen["config_maps"] if c.meta.namespace in backup_namespaces)
        tool_records = {name: frozen.pop(name) for name in list(frozen) if name not in CORE_FIELDS}  # a backup tool's
        return Inventory(
            cluster=self.cluster, source=self.source, collected_at=self.collected_at,
            server_version=self.server_version,
            gaps=tuple(sorted(self.gaps, key=lambda g: (g.resource, g.namespace or "", g.reason))),
            warnings=tuple(self.warnings),
            unknown_kinds=dict(sorted(self.unknown_kinds.items())),
            backup_namespaces=tuple(backup_namespaces),
            tool_records=tool_records,
            **frozen,
        )


def _record_sort_key(rec: Any) -> tuple[str, str, str]:
    return (getattr(rec, "kind", "") or "", rec.meta.namespace or "", rec.meta.name)
