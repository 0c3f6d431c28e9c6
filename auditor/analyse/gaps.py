"""Which verdicts rest on which resources: a gap in one of them makes those verdicts ``unknown``.

One table, read by the analysis and by ``docs/failure-model.md``. A volume that the evidence proves
``protected`` stays protected whatever else could not be read (a recovery point that exists does not
stop existing); every other volume verdict (``stale``, ``unprotected``) is a conclusion from absence, so
it needs every resource below to have been read completely.
"""

from __future__ import annotations

from auditor.analyse.tools import TOOLS
from auditor.model.inventory import Gap, Inventory

#: resource (``plural.group``) -> what a volume verdict takes from it: each backup tool's, then the core's.
VOLUME_RESOURCES: dict[str, str] = {
    **{res: what for tool in TOOLS for res, what in tool.volume_resources.items()},
    "namespaces": "namespace labels (exclusions, policies)",
    "persistentvolumes": "the volume's type and driver",
    "persistentvolumeclaims": "the volumes themselves",
    "pods": "which pods mount the volume (file-system backup, node-agent)",
    "deployments.apps": "the Velero server's flags (EnableCSI, default file-system backup, TTL)",
    "daemonsets.apps": "the node-agent (file-system backup, data movement)",
    "storageclasses.storage.k8s.io": "the provisioner (snapshot support)",
    "configmaps": "resource policies of schedules",
}

#: GOV-002 snapshot kind -> resources it is built from; a gap in one skips that kind's comparison.
HISTORY_RESOURCES: dict[str, tuple[str, ...]] = {
    "Schedule": ("schedules.velero.io",),
    "BackupStorageLocation": ("backupstoragelocations.velero.io",),
    "Deployment": ("deployments.apps",),
    "DaemonSet": ("daemonsets.apps",),
    "Backup": ("backups.velero.io",),
    "ConfigMap": ("configmaps",),  # a schedule's volume-policy comparison only
}

#: SYS-001: the Velero server and its node-agent.
SERVER_RESOURCES = ("deployments.apps",)
NODE_AGENT_RESOURCES = ("daemonsets.apps", "pods")


def hidden(inv: Inventory, resources: object) -> list[Gap]:
    """The gaps that hide any of ``resources`` (a container of ``plural.group`` names)."""
    return [g for g in inv.gaps if g.hides_data and g.resource in resources]  # type: ignore[operator]


def describe(gaps: list[Gap]) -> str:
    """``could not read X (in ns): message`` for each gap, joined: the reason an unknown verdict gives."""
    return "; ".join(f"could not read {g.resource}{' in ' + g.namespace if g.namespace else ''}: {g.message}"
                     for g in gaps)

#: Stands for the volume-verdict resources in :data:`RULE_RESOURCES` (as :func:`volume_blind` filters them).
VOLUMES = "volume verdicts"
_SCHEDULES = ("schedules.velero.io", "backups.velero.io")
_BSLS = ("backupstoragelocations.velero.io",)
#: Rules that conclude from absence: their open findings and passes become "not evaluated" while any of these
#: resources could not be read (a missing object would otherwise read as "no restore", "no location"...).
RULE_RESOURCES: dict[str, tuple[str, ...]] = {
    "COV-001": (VOLUMES,), "COV-002": (VOLUMES,), "COV-005": (VOLUMES,), "GOV-003": (VOLUMES,),
    "COV-003": ("namespaces", "pods", "deployments.apps", "statefulsets.apps", "daemonsets.apps", "cronjobs.batch",
                *(res for tool in TOOLS for res in tool.namespace_resources)),
    "COV-004": ("schedules.velero.io",),
    "FRS-002": _SCHEDULES, "FRS-003": _SCHEDULES, "FRS-004": ("schedules.velero.io",), "FRS-005": _SCHEDULES,
    "FRS-006": ("backups.velero.io",), "FRS-007": ("schedules.velero.io", "deployments.apps"),
    "FRS-008": ("schedules.velero.io",),
    "GOV-001": ("restores.velero.io",),
    "LOC-001": _BSLS, "LOC-002": (*_BSLS, "schedules.velero.io"), "LOC-003": _BSLS,
    "LOC-004": (*_BSLS, "schedules.velero.io"), "LOC-005": _BSLS,
}  # CRD-004/CRD-007: a grant that was read is evidence; the check itself leaves the rest not evaluated


def volume_blind(inv: Inventory, policies_named: bool) -> list[Gap]:
    """The gaps that make volume verdicts not proven protected unknown; ConfigMaps only when a schedule or
    backup names a resource policy."""
    return [g for g in hidden(inv, VOLUME_RESOURCES) if policies_named or g.resource != "configmaps"]


def rule_blind(inv: Inventory, rule_id: str, volumes: list[Gap]) -> list[Gap]:
    """The gaps that keep ``rule_id`` from being evaluated on this inventory."""
    resources = RULE_RESOURCES.get(rule_id, ())
    out = list(volumes) if VOLUMES in resources else []
    return out + [g for g in hidden(inv, resources) if g not in out]
