"""What the analysis needs to know about one backup tool, declared once in its own module.

The generic analysis (coverage, credentials, RBAC, the gaps table, GOV-003, CRD-001) iterates
:data:`auditor.analyse.tools.TOOLS` and never names a tool; a tool's module fills the hooks it has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from auditor.analyse.evidence import PVCKey, RecoveryPoint
from auditor.model.inventory import Inventory

#: Per volume, the names of what covers it (``<tool>:<ns>/<name>``).
Coverage = dict[PVCKey, list[str]]
#: Per volume, the recovery points the tool's own objects prove.
Points = dict[PVCKey, list[RecoveryPoint]]


@dataclass(frozen=True)
class BackupTool:
    """One backup tool's facts and hooks; absent hooks mean the tool has nothing of that kind."""

    name: str  # RecoveryPoint.tool and CredentialInfo.tool
    #: PVCs its active schedules back up, with what covers them (``covered_by``, ``in_scope_of``).
    coverage: Callable[[Inventory], Coverage] | None = None
    #: Recovery points from its own records (Velero's, which need the schedules' plan, are computed apart).
    points: Callable[[Inventory], Points] | None = None
    #: Namespaces it backs up: they count as included by a schedule in the namespace coverage.
    namespaces: Callable[[Inventory], set[str | None]] | None = None
    #: ``plural.group`` -> what a volume verdict takes from it (a gap there makes verdicts unknown).
    volume_resources: Mapping[str, str] = field(default_factory=dict)
    #: Resources COV-003 (namespaces with workloads but no backup) rests on.
    namespace_resources: tuple[str, ...] = ()
    #: Substrings of its operator's container images: the service accounts they run as are the tool's own.
    images: tuple[str, ...] = ()
    #: A credential is the tool's when a user of it (``k8s Kind ns/name``) contains this text.
    credential_marker: str | None = None
    #: Credentials claimed by no other tool's marker are this tool's.
    default_credentials: bool = False
    #: Prefixes of credential users whose Secret can hold a repository password (CRD-001).
    password_users: tuple[str, ...] = ()
    #: GOV-003 compares the newest recovery points of the tools that take their own copies.
    own_copies: bool = False
