"""Credential rules: default passwords, static keys, rotation, who can read them, reuse, plain text."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from auditor.analyse.credentials import CredentialInfo, unread_credentials, values_read
from auditor.analyse.rbac import backup_service_accounts, is_platform_subject, readers
from auditor.analyse.tools import TOOLS
from auditor.checks.registry import CheckContext, register
from auditor.model.durations import format_duration
from auditor.model.records import EnvLiteral
from auditor.model.rules import Finding

SECRET = "Secret"
STATIC_KINDS = {"aws-static": "a long-lived AWS access key (AKIA...)", "gcp-service-account":
                "a GCP service-account JSON key", "azure-client-secret": "an Azure client secret"}
WORKLOAD_IDENTITY = ("eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account",
                     "azure.workload.identity/client-id")
CREDENTIAL_ENV = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.IGNORECASE)
NOT_A_VALUE = re.compile(r"_(FILE|PATH|DIR|NAME|ID|ARN|REF)$", re.IGNORECASE)  # where a credential is, not what
#: A key, a private key, or a password or client secret given as a value: not a path, a $VAR or a template.
CREDENTIAL_TEXT = re.compile(r"(aws_secret_access_key\s*[:=]\s*[\"']?(?![/$]|\{\{)\S|AKIA[0-9A-Z]{16}|"
                             r"-----BEGIN [A-Z ]*PRIVATE KEY-----|"
                             r"(client_secret|password)\s*[:=]\s*[\"']?(?![/$\"']|\{\{|\s|$)\S)", re.IGNORECASE)


def _credential_literal(e: EnvLiteral) -> bool:
    """Judged on the value (kept only as its kind): a key is one whatever the name; a path, a file or a
    plain URL never is; other text is when the name says so (and does not say it names a location)."""
    if e.value_kind != "text":
        return e.value_kind == "credential"
    return bool(CREDENTIAL_ENV.search(e.name)) and not NOT_A_VALUE.search(e.name)


def _unread(ctx: CheckContext, uses: tuple[str, ...] = ()) -> Iterator[tuple[str, str, str]]:
    """(namespace, name, why) of each credential Secret the scan could not read (used by one of ``uses``
    when given): its rules are *not evaluated*, never passed, and the message names the Secret."""
    for (ns, name), (why, used_by) in unread_credentials(ctx.analysis.inventory).items():
        if not uses or any(u.startswith(uses) for u in used_by):
            yield ns, name, why


def _by_secret(ctx: CheckContext) -> dict[tuple[str, str], list[CredentialInfo]]:
    out: dict[tuple[str, str], list[CredentialInfo]] = defaultdict(list)
    for c in ctx.analysis.credentials:
        out[(c.namespace, c.name)].append(c)
    return out


@register("CRD-001")
def default_password(ctx: CheckContext) -> Iterator[Finding]:
    readable = values_read(ctx.analysis.inventory)
    for (ns, name), creds in sorted(_by_secret(ctx).items()):
        if not any(c.kind.startswith("repository-password") for c in creds) and name != "velero-repo-credentials":
            continue
        if not readable:
            yield ctx.not_evaluated(SECRET, ns, name, "credential values were not read (--no-secret-values)")
            continue
        default = [c.key for c in creds if c.default_password]
        yield ctx.result(bool(default), SECRET, ns, name,
                         f"Secret {ns}/{name} holds Velero's default repository password (key {', '.join(default)}): "
                         f"anyone with bucket access can decrypt the file-system and data-mover backups",
                         keys=default, fingerprints=[c.fingerprint for c in creds if c.default_password])
    for ns, name, why in _unread(ctx, tuple(u for tool in TOOLS for u in tool.password_users)):
        yield ctx.not_evaluated(SECRET, ns, name, why)


@register("CRD-002")
def static_keys(ctx: CheckContext) -> Iterator[Finding]:
    inv = ctx.analysis.inventory
    readable = values_read(inv)
    identity = {(sa.meta.namespace, sa.meta.name) for sa in inv.service_accounts
                if any(a in sa.meta.annotations for a in WORKLOAD_IDENTITY)}
    accounts = backup_service_accounts(inv)
    cloud_bsls = {b.meta.key: b for b in inv.bsls if (b.provider or "").removeprefix("velero.io/") in
                  ("aws", "gcp", "azure") and not b.config.get("s3Url")}
    for (ns, name), creds in sorted(_by_secret(ctx).items()):
        users = {u.split(" ", 1)[1] for c in creds for u in c.used_by if u.startswith("BackupStorageLocation ")}
        if not users & set(cloud_bsls):
            continue
        if not readable:
            yield ctx.not_evaluated(SECRET, ns, name, "credential values were not read (--no-secret-values)")
            continue
        static = sorted({STATIC_KINDS[c.kind] for c in creds if c.kind in STATIC_KINDS})
        has_identity = any(a in identity for a in accounts if a[0] == ns)
        yield ctx.result(bool(static) and not has_identity, SECRET, ns, name,
                         f"Secret {ns}/{name} holds {', '.join(static)} for {', '.join(sorted(users))}, and the "
                         f"backup service account has no workload identity", kinds=static,
                         fingerprints=sorted({c.fingerprint for c in creds if c.fingerprint}))
    for ns, name, why in _unread(ctx, tuple(f"BackupStorageLocation {key}" for key in cloud_bsls)):
        yield ctx.not_evaluated(SECRET, ns, name, why)


@register("CRD-003")
def not_rotated(ctx: CheckContext) -> Iterator[Finding]:
    limit = float(ctx.params["max_age_seconds"])
    for (ns, name), creds in sorted(_by_secret(ctx).items()):
        age = max((c.age_seconds for c in creds if c.age_seconds is not None), default=None)
        if age is None:
            yield ctx.not_evaluated(SECRET, ns, name, "the Secret carries no creation or update time")
            continue
        yield ctx.result(age > limit, SECRET, ns, name,
                         f"credential Secret {ns}/{name} was last changed {format_duration(age)} ago (rotation "
                         f"limit {format_duration(limit)})", age_seconds=age, limit_seconds=limit,
                         used_by=sorted({u for c in creds for u in c.used_by}))
    for ns, name, why in _unread(ctx):
        yield ctx.not_evaluated(SECRET, ns, name, why)


@register("CRD-004")
def readable_by_others(ctx: CheckContext) -> Iterator[Finding]:
    inv = ctx.analysis.inventory
    own = backup_service_accounts(inv)
    rbac_gaps = [g for g in inv.gaps if g.hides_data and g.resource.endswith(".rbac.authorization.k8s.io")]
    unread = {(ns, name): why for ns, name, why in _unread(ctx)}
    for (ns, name) in sorted(set(_by_secret(ctx)) | set(unread)):
        others = [a for a in readers(inv, ns, name) if not is_platform_subject(a.subject) and not (
            a.subject.kind == "ServiceAccount" and (a.subject.namespace or a.binding.meta.namespace, a.subject.name)
            in own)]
        if not others and (ns, name) in unread:  # RBAC names no other reader, but the Secret itself was not seen
            yield ctx.not_evaluated(SECRET, ns, name, unread[(ns, name)])
            continue
        if not others and rbac_gaps:  # what was seen is clean, but what was not seen may not be
            yield ctx.not_evaluated(SECRET, ns, name, "RBAC could not be read completely: "
                                    + ", ".join(sorted({g.resource for g in rbac_gaps})))
            continue
        if not others:
            yield ctx.passed(SECRET, ns, name)
            continue
        by_binding: dict[tuple[str, str | None, str], list[str]] = defaultdict(list)
        grants: dict[tuple[str, str | None, str], str] = {}
        for a in others:
            key = (a.binding.kind, a.binding.meta.namespace, a.binding.meta.name)
            who = f"{a.subject.kind} {a.subject.namespace + '/' if a.subject.namespace else ''}{a.subject.name}"
            by_binding[key].append(who)
            grants[key] = f"{a.role_kind} {a.role_name} ({', '.join(a.verbs)})"
        for (kind, bns, bname), subjects in sorted(by_binding.items(), key=lambda x: (x[0][0], x[0][1] or "", x[0][2])):
            yield ctx.finding(kind, bns, bname,
                              f"{kind} {bns + '/' if bns else ''}{bname} lets {', '.join(sorted(set(subjects)))} read "
                              f"backup credential Secret {ns}/{name} through {grants[(kind, bns, bname)]}",
                              secret=f"{ns}/{name}", subjects=sorted(set(subjects)), role=grants[(kind, bns, bname)])


@register("CRD-005")
def shared_across_clusters(ctx: CheckContext) -> Iterator[Finding]:
    cluster = ctx.analysis.inventory.cluster
    if not values_read(ctx.analysis.inventory):
        return
    for (ns, name), creds in sorted(_by_secret(ctx).items()):
        shared = sorted({other for c in creds if c.fingerprint
                         for other in ctx.run.fingerprint_clusters.get(c.fingerprint, frozenset()) if other != cluster})
        yield ctx.result(bool(shared), SECRET, ns, name,
                         f"credential Secret {ns}/{name} is also used by cluster(s) {', '.join(shared)}",
                         clusters=shared, fingerprints=sorted({c.fingerprint for c in creds if c.fingerprint}))
    for ns, name, why in _unread(ctx):
        yield ctx.not_evaluated(SECRET, ns, name, why)


@register("CRD-006")
def plain_text(ctx: CheckContext) -> Iterator[Finding]:
    inv = ctx.analysis.inventory
    namespaces = set(inv.backup_namespaces)
    for pod in inv.pods:
        if pod.meta.namespace not in namespaces:
            continue
        names = sorted({f"{e.container}/{e.name}" for e in pod.env_literals if _credential_literal(e)})
        yield ctx.result(bool(names), "Pod", pod.meta.namespace, pod.meta.name,
                         f"pod {pod.meta.key} sets credential-looking environment variables to literal values: "
                         f"{', '.join(names)}", variables=names)
    for cm in inv.config_maps:
        keys = sorted(k for k, v in cm.data.items() if CREDENTIAL_TEXT.search(v))
        yield ctx.result(bool(keys), "ConfigMap", cm.meta.namespace, cm.meta.name,
                         f"ConfigMap {cm.meta.key} in the backup namespace holds credential-looking text in "
                         f"key(s) {', '.join(keys)}", keys=keys)


@register("CRD-007")
def cluster_admin(ctx: CheckContext) -> Iterator[Finding]:
    inv = ctx.analysis.inventory
    own = backup_service_accounts(inv)
    for b in inv.role_bindings:
        subjects = [s for s in b.subjects if s.kind == "ServiceAccount"
                    and (s.namespace or b.meta.namespace or "", s.name) in own]
        if not subjects:
            continue
        yield ctx.result(b.role_kind == "ClusterRole" and b.role_name == "cluster-admin", b.kind, b.meta.namespace,
                         b.meta.name, f"{b.kind} {b.meta.key} binds backup service account(s) "
                         f"{', '.join(f'{s.namespace}/{s.name}' for s in subjects)} to cluster-admin",
                         service_accounts=[f"{s.namespace}/{s.name}" for s in subjects])
