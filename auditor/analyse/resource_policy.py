"""Velero volume policies (the resource-policy ConfigMap): conditions, first match wins.

Semantics from ``internal/resourcepolicies/*`` and docs:resource-filtering: the ConfigMap holds exactly
one data key whose YAML has ``version: v1``; every condition of a policy must hold; unknown condition
keys are rejected (Velero decodes with ``KnownFields(true)`` and fails the backup's validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from auditor.collect import records as r
from auditor.collect.quantity import parse_quantity

KNOWN_CONDITIONS = frozenset({"capacity", "storageClass", "csi", "nfs", "volumeTypes", "pvcLabels", "pvcPhase"})
ACTIONS = frozenset({"skip", "snapshot", "fs-backup", "custom"})


class PolicyError(ValueError):
    """The policy would fail Velero's validation; the message says why."""


@dataclass(frozen=True)
class VolumePolicy:
    conditions: dict[str, Any]
    action: str
    index: int


@dataclass(frozen=True)
class VolumeFacts:
    """What a volume policy can see of one volume (a PVC with its PV, or an inline pod volume)."""

    source: r.VolumeSource
    capacity_bytes: int | None = None
    storage_class: str | None = None  # the PV's storageClassName
    pvc_labels: dict[str, str] = field(default_factory=dict)
    pvc_phase: str | None = None
    is_pvc: bool = False


def parse_policies(cm: r.ConfigMap) -> tuple[VolumePolicy, ...]:
    if len(cm.data) != 1:
        raise PolicyError(f"ConfigMap {cm.meta.key} must have exactly one data key, it has {len(cm.data)}")
    text = next(iter(cm.data.values()))
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"ConfigMap {cm.meta.key}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != "v1":
        raise PolicyError(f"ConfigMap {cm.meta.key}: only version v1 is supported")
    policies = []
    for i, item in enumerate(doc.get("volumePolicies") or []):
        if not isinstance(item, dict):
            raise PolicyError(f"ConfigMap {cm.meta.key}: volumePolicies[{i}] is not an object")
        conditions = item.get("conditions") or {}
        unknown = set(conditions) - KNOWN_CONDITIONS
        if unknown:
            raise PolicyError(f"ConfigMap {cm.meta.key}: volumePolicies[{i}] has unknown condition "
                              f"{', '.join(sorted(unknown))}")
        action = (item.get("action") or {}).get("type")
        if action not in ACTIONS:
            raise PolicyError(f"ConfigMap {cm.meta.key}: volumePolicies[{i}] has invalid action {action!r}")
        _validate_capacity(conditions.get("capacity"), cm, i)
        policies.append(VolumePolicy(conditions=conditions, action=action, index=i))
    return tuple(policies)


def _validate_capacity(value: Any, cm: r.ConfigMap, i: int) -> None:
    if value is None:
        return
    parts = str(value).split(",")
    if len(parts) != 2:
        raise PolicyError(f"ConfigMap {cm.meta.key}: volumePolicies[{i}] capacity must be 'min,max'")
    for p in parts:
        if p.strip():
            try:
                parse_quantity(p)
            except ValueError:
                raise PolicyError(f"ConfigMap {cm.meta.key}: volumePolicies[{i}] capacity {p!r} "
                                  f"is not a quantity") from None


def _matches(cond: dict[str, Any], v: VolumeFacts) -> bool:
    if "capacity" in cond:
        if v.capacity_bytes is None:
            return False
        lo, hi = (p.strip() for p in str(cond["capacity"]).split(","))
        if lo and v.capacity_bytes < parse_quantity(lo):
            return False
        if hi and v.capacity_bytes > parse_quantity(hi):
            return False
    if "storageClass" in cond and (v.storage_class is None or v.storage_class not in (cond["storageClass"] or [])):
        return False
    if "csi" in cond:
        csi = cond["csi"] or {}
        if v.source.type != "csi":
            return False
        if csi.get("driver") and csi["driver"] != v.source.csi_driver:
            return False
        for key, value in (csi.get("volumeAttributes") or {}).items():
            if v.source.csi_attributes.get(key) != value:
                return False
    if "nfs" in cond:
        nfs = cond["nfs"] or {}
        if v.source.type != "nfs":
            return False
        if nfs.get("server") and nfs["server"] != v.source.nfs_server:
            return False
        if nfs.get("path") and nfs["path"] != v.source.nfs_path:
            return False
    if "volumeTypes" in cond and v.source.type not in (cond["volumeTypes"] or []):
        return False
    if "pvcLabels" in cond:
        if not v.is_pvc:
            return False
        if any(v.pvc_labels.get(k) != str(val) for k, val in (cond["pvcLabels"] or {}).items()):
            return False
    return not ("pvcPhase" in cond and (not v.is_pvc or v.pvc_phase not in (cond["pvcPhase"] or [])))


def match_action(policies: tuple[VolumePolicy, ...], facts: VolumeFacts) -> VolumePolicy | None:
    """The first policy whose conditions all hold, or None (then the legacy rules decide)."""
    for policy in policies:
        if _matches(policy.conditions, facts):
            return policy
    return None


def pvc_facts(pvc: r.PersistentVolumeClaim, pv: r.PersistentVolume | None) -> VolumeFacts:
    return VolumeFacts(
        source=pv.source if pv else r.VolumeSource("unknown"),
        capacity_bytes=pv.capacity_bytes if pv else None,
        storage_class=pv.storage_class if pv else None,
        pvc_labels=pvc.meta.labels, pvc_phase=pvc.phase, is_pvc=True,
    )
