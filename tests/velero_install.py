"""The objects ``velero install --provider aws --secret-file ... --use-node-agent`` creates, as the API
server serves them (Velero's installer: ``pkg/install/resources.go``, ``deployment.go``, ``daemonset.go``),
plus the Pods their controllers start. Used to prove that a stock installation raises no CRD-006.
"""

from __future__ import annotations

import copy
from typing import Any

from tests import factories as f

NS = "velero"
IMAGE = "velero/velero:v1.18.1"
LABELS = {"component": "velero"}
POD_ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/port": "8085", "prometheus.io/path": "/metrics"}
CREDENTIAL_ENV = [  # withSecret: the mounted cloud-credentials Secret, named by path for every provider's SDK
    {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/credentials/cloud"},
    {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/credentials/cloud"},
    {"name": "AZURE_CREDENTIALS_FILE", "value": "/credentials/cloud"},
    {"name": "ALIBABA_CLOUD_CREDENTIALS_FILE", "value": "/credentials/cloud"},
]
CREDENTIALS_VOLUME = {"name": "cloud-credentials", "secret": {"secretName": "cloud-credentials", "defaultMode": 292}}
FIELD_NAMESPACE = {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    meta = f._meta(name, NS, labels=dict(LABELS))
    meta.update(extra)
    return meta


def server_pod_spec(extra_env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "restartPolicy": "Always", "serviceAccountName": "velero", "os": {"name": "linux"},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "NotIn", "values": ["windows"]}]}]}}},
        "initContainers": [{"name": "velero-velero-plugin-for-aws", "image": "velero/velero-plugin-for-aws:v1.13.0",
                            "imagePullPolicy": "IfNotPresent", "volumeMounts": [{"name": "plugins",
                                                                                 "mountPath": "/target"}]}],
        "containers": [{
            "name": "velero", "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": ["/velero"],
            "args": ["server", "--uploader-type=kopia", "--features=EnableCSI"],
            "ports": [{"name": "metrics", "containerPort": 8085, "protocol": "TCP"}],
            "volumeMounts": [{"name": "plugins", "mountPath": "/plugins"}, {"name": "scratch", "mountPath": "/scratch"},
                             {"name": "cloud-credentials", "mountPath": "/credentials"}],
            "env": [{"name": "VELERO_SCRATCH_DIR", "value": "/scratch"},
                    {"name": "VELERO_NAMESPACE", "valueFrom": FIELD_NAMESPACE},
                    {"name": "LD_LIBRARY_PATH", "value": "/plugins"}, *CREDENTIAL_ENV, *(extra_env or [])],
            "resources": {"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        }],
        "volumes": [{"name": "plugins", "emptyDir": {}}, {"name": "scratch", "emptyDir": {}}, CREDENTIALS_VOLUME],
    }


def node_agent_pod_spec(name: str = "node-agent", extra_env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    propagation = "HostToContainer"
    return {
        "serviceAccountName": "velero", "securityContext": {"runAsUser": 0},
        "volumes": [{"name": "host-pods", "hostPath": {"path": "/var/lib/kubelet/pods", "type": ""}},
                    {"name": "host-plugins", "hostPath": {"path": "/var/lib/kubelet/plugins", "type": ""}},
                    {"name": "scratch", "emptyDir": {}}, CREDENTIALS_VOLUME],
        "containers": [{
            "name": name, "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": ["/velero"],
            "args": ["node-agent", "server", "--features=EnableCSI"],
            "ports": [{"name": "metrics", "containerPort": 8085, "protocol": "TCP"}],
            "securityContext": {"privileged": False},
            "volumeMounts": [{"name": "host-pods", "mountPath": "/host_pods", "mountPropagation": propagation},
                             {"name": "host-plugins", "mountPath": "/var/lib/kubelet/plugins",
                              "mountPropagation": propagation},
                             {"name": "scratch", "mountPath": "/scratch"},
                             {"name": "cloud-credentials", "mountPath": "/credentials"}],
            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                     "fieldPath": "spec.nodeName"}}},
                    {"name": "VELERO_NAMESPACE", "valueFrom": FIELD_NAMESPACE},
                    {"name": "VELERO_SCRATCH_DIR", "value": "/scratch"}, *CREDENTIAL_ENV, *(extra_env or [])],
        }],
    }


def _pod(name: str, spec: dict[str, Any], labels: dict[str, str], owner: dict[str, Any], node: str) -> dict[str, Any]:
    meta = _meta(name)
    meta["labels"] = {**LABELS, **labels}
    meta["annotations"] = dict(POD_ANNOTATIONS)
    meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {**copy.deepcopy(spec), "nodeName": node},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": spec["containers"][0]["name"], "ready": True,
                                              "restartCount": 0, "state": {"running": {}}}]}}


def velero_install(extra_env: list[dict[str, Any]] | None = None,
                   nodes: tuple[str, ...] = ("node-a", "node-b")) -> list[dict[str, Any]]:
    """Namespace, ServiceAccount, ClusterRoleBinding, Secret, BSL, VSL, Deployment, DaemonSet and their Pods.
    ``extra_env`` is appended to every container's env (``velero install`` takes none: tests add one)."""
    ns = f.namespace(NS, labels={**LABELS, "pod-security.kubernetes.io/enforce": "privileged",
                                 "pod-security.kubernetes.io/enforce-version": "latest"})
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("velero")}
    crb = f.binding("velero", "cluster-admin", [{"kind": "ServiceAccount", "name": "velero", "namespace": NS}])
    crb["metadata"]["labels"] = dict(LABELS)
    secret = f.secret("cloud-credentials", data={"cloud": f.AWS_KEY})
    secret["metadata"]["labels"] = dict(LABELS)
    bsl = f.bsl()
    vsl = {"apiVersion": "velero.io/v1", "kind": "VolumeSnapshotLocation", "metadata": _meta("default"),
           "spec": {"provider": "aws", "config": {"region": "eu-west-1"}}}
    server = server_pod_spec(extra_env)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("velero"),
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"deploy": "velero"}},
                           "template": {"metadata": {"labels": {**LABELS, "deploy": "velero"},
                                                     "annotations": dict(POD_ANNOTATIONS)}, "spec": server}},
                  "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}}
    agent = node_agent_pod_spec(extra_env=extra_env)
    daemonset = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta("node-agent"),
                 "spec": {"selector": {"matchLabels": {"name": "node-agent"}},
                          "template": {"metadata": {"labels": {**LABELS, "name": "node-agent", "role": "node-agent"}},
                                       "spec": agent}},
                 "status": {"desiredNumberScheduled": len(nodes), "numberReady": len(nodes)}}
    rs_owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "velero-7d9f8c6b5d", "controller": True,
                "blockOwnerDeletion": True, "uid": "5b2c3e52-7d1f-4c38-9a0b-3f9a1e2d4c5b"}
    ds_owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-agent", "controller": True,
                "blockOwnerDeletion": True, "uid": daemonset["metadata"]["uid"]}
    pods = [_pod("velero-7d9f8c6b5d-x2x9q", server, {"deploy": "velero", "pod-template-hash": "7d9f8c6b5d"},
                 rs_owner, nodes[0])]
    pods += [_pod(f"node-agent-{i}k2lm", agent, {"name": "node-agent", "role": "node-agent"}, ds_owner, node)
             for i, node in enumerate(nodes)]
    return [ns, sa, crb, secret, bsl, vsl, deployment, daemonset, *pods]
