"""Backup credentials: keyed fingerprints, classifications and ages. Never a secret value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auditor.analyse.credential_refs import credential_refs
from auditor.analyse.tools import credential_tool
from auditor.model.inventory import Inventory


@dataclass(frozen=True)
class CredentialInfo:
    namespace: str
    name: str  # the Secret
    key: str  # the data key
    tool: str  # the backup tool it belongs to (``analyse.tools.credential_tool``)
    kind: str  # aws-static | aws-temporary | gcp-service-account | azure-client-secret | repository-password | unknown
    fingerprint: str | None  # HMAC-SHA256 with the installation key; None when values are not read
    created: datetime | None
    rotated: datetime | None  # newest of creation and managedFields update times
    age_seconds: float | None  # since ``rotated``
    default_password: bool  # Velero's static repository password
    used_by: tuple[str, ...]  # e.g. "BackupStorageLocation velero/default"


def credential_infos(inv: Inventory, as_of: datetime) -> tuple[CredentialInfo, ...]:
    """One entry per key of every backup credential Secret that exists (missing ones are LOC/CRD findings)."""
    refs = credential_refs(inv.all_records())
    out = []
    for (ns, name), used_by in sorted(refs.items()):
        secret = inv.secret_by_key.get((ns, name))
        if secret is None:
            continue
        rotated = max([t for t in (secret.meta.created, *secret.updated) if t is not None], default=None)
        age = (as_of - rotated).total_seconds() if rotated else None
        for key in sorted(set(secret.keys) | set(secret.fingerprints)):
            kind = secret.classes.get(key, "unknown")
            out.append(CredentialInfo(
                namespace=ns, name=name, key=key, tool=credential_tool(used_by),
                kind=kind.removesuffix("-default"), fingerprint=secret.fingerprints.get(key),
                created=secret.meta.created, rotated=rotated, age_seconds=age,
                default_password=kind == "repository-password-default", used_by=tuple(sorted(used_by))))
    return tuple(out)


def values_read(inv: Inventory) -> bool:
    """Were credential values fingerprinted in this scan? (False with --no-secret-values or old dumps.)"""
    return any(s.fingerprints for s in inv.secrets)


def unread_credentials(inv: Inventory) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """Backup credential Secrets the scan could not read, with why and what uses them.

    A credential GET that was refused (403) or failed leaves a gap naming the Secret; a gap on the whole
    ``secrets`` resource (an older dump, a namespace that could not be read) covers every credential in its
    namespace. A Secret that simply does not exist is not here (the API said so: 404)."""
    gaps = [g for g in inv.gaps if g.resource == "secrets" and g.hides_data]
    if not gaps:
        return {}
    refs = credential_refs(inv.all_records())
    present = inv.secret_by_key
    out = {}
    for (ns, name), used_by in sorted(refs.items()):
        if (ns, name) in present:
            continue
        why = next((g for g in gaps if g.name == name and g.namespace == ns), None) or next(
            (g for g in gaps if g.name is None and g.namespace in (None, ns)), None)
        if why is not None:
            message = why.message if why.name else f"credential Secret {ns}/{name} could not be read: {why.message}"
            out[(ns, name)] = (message, tuple(sorted(used_by)))
    return out

