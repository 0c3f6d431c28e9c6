"""Storage-location rules: is there somewhere safe, available and writable to put the backups?"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks.registry import CheckContext, register
from auditor.model.rules import Finding
from auditor.model.tools import velero

BSL = "BackupStorageLocation"


def _default(ctx: CheckContext, namespace: str) -> velero.BackupStorageLocation | None:
    return next((b for b in ctx.analysis.inventory.bsls if b.default and b.meta.namespace == namespace), None)


@register("LOC-001")
def unavailable(ctx: CheckContext) -> Iterator[Finding]:
    for b in ctx.analysis.inventory.bsls:
        yield ctx.result(b.phase != "Available", BSL, b.meta.namespace, b.meta.name,
                         f"storage location {b.meta.key} is {b.phase or 'Unavailable (never validated)'}"
                         + (f": {b.message}" if b.message else ""),
                         phase=b.phase, last_validated=b.last_validated.isoformat() if b.last_validated else None)


@register("LOC-002")
def missing_location(ctx: CheckContext) -> Iterator[Finding]:
    inv = ctx.analysis.inventory
    names = {(b.meta.namespace, b.meta.name) for b in inv.bsls}
    for ns in sorted({s.schedule.meta.namespace or "" for s in ctx.analysis.schedules.values()} |
                     {b.meta.namespace or "" for b in inv.bsls}):
        yield ctx.result(_default(ctx, ns) is None, "Cluster", None, inv.cluster,
                         f"no BackupStorageLocation in namespace {ns} is marked default: backups without "
                         f"spec.storageLocation fail validation", velero_namespace=ns)
    for s in ctx.analysis.schedules.values():
        loc = s.schedule.template.storage_location
        if loc is None:
            continue
        yield ctx.result((s.schedule.meta.namespace, loc) not in names, "Schedule", s.schedule.meta.namespace,
                         s.schedule.meta.name, f"schedule {s.key} writes to storage location {loc}, which does "
                         f"not exist", storage_location=loc)


@register("LOC-003")
def insecure_transport(ctx: CheckContext) -> Iterator[Finding]:
    for b in ctx.analysis.inventory.bsls:
        problems = []
        if b.config.get("insecureSkipTLSVerify", "").lower() == "true":
            problems.append("insecureSkipTLSVerify is true")
        if b.config.get("s3Url", "").lower().startswith("http://"):
            problems.append("s3Url uses plain http://")
        yield ctx.result(bool(problems), BSL, b.meta.namespace, b.meta.name,
                         f"storage location {b.meta.key} uses insecure transport: {', '.join(problems)}",
                         problems=problems)


@register("LOC-004")
def read_only_target(ctx: CheckContext) -> Iterator[Finding]:
    writers: dict[tuple[str, str], list[str]] = {}
    for s in ctx.analysis.schedules.values():
        if not s.enabled:
            continue
        ns = s.schedule.meta.namespace or ""
        name = s.schedule.template.storage_location or (d.meta.name if (d := _default(ctx, ns)) else None)
        if name:
            writers.setdefault((ns, name), []).append(s.key)
    for b in ctx.analysis.inventory.bsls:
        schedules = writers.get((b.meta.namespace or "", b.meta.name), [])
        if schedules:
            yield ctx.result(b.access_mode == "ReadOnly", BSL, b.meta.namespace, b.meta.name,
                             f"storage location {b.meta.key} is ReadOnly, but schedule(s) "
                             f"{', '.join(schedules)} write to it",
                             schedules=schedules)


@register("LOC-005")
def single_location(ctx: CheckContext) -> Iterator[Finding]:
    bsls = ctx.analysis.inventory.bsls
    usable = [b for b in bsls if b.phase == "Available" and b.access_mode != "ReadOnly"]
    if not bsls:
        return
    subject = next((b for b in usable if b.default), usable[0] if usable else bsls[0])
    yield ctx.result(len(usable) < 2, BSL, subject.meta.namespace, subject.meta.name,
                     f"only {len(usable)} usable storage location(s): backups have no second copy",
                     usable=[b.meta.key for b in usable], all=[b.meta.key for b in bsls])
