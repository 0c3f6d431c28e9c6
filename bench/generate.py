#!/usr/bin/env python3
"""Generate a synthetic cluster of a given size as a snapshot directory (``auditor scan --snapshot DIR``).

Every file is what ``kubectl get <kind> -A -o json`` prints, one file per kind: a ``List`` whose items
carry apiVersion and kind, keys sorted. By default it is compact with one item per line (the bytes the
API server sends); ``--kubectl-indent`` writes kubectl's exact 4-space layout (~2.5x larger). Items
are encoded one by one with orjson and streamed to disk, so memory stays flat whatever the size; only
a compact plan (names, uids, times) is kept.

The cluster: namespaces with StatefulSet-style apps whose pods mount Ceph RBD (CSI) or local-path
PVCs, stateless pods, ~50 nodes, a Velero install in ``velero`` (server Deployment with EnableCSI and
kopia, node-agent DaemonSet and its pods, the default BackupStorageLocation), Schedules each covering a
slice of namespaces, their Backups (``<schedule>-<YYYYMMDDhhmmss>``) and the PodVolumeBackups of the
pods annotated for file-system backup. Timestamps are relative to ``--as-of`` (written to as_of.txt).

Usage::

    python bench/generate.py OUT_DIR [--namespaces 2000 --pvcs 20000 --pods 40000 --schedules 200
                                      --backups 50000 --pvbs 100000 --nodes 50] [--seed 1] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import random
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

DEFAULT_AS_OF = "2026-11-20T12:00:00Z"
DEFAULTS = {"namespaces": 2000, "pvcs": 20000, "pods": 40000, "schedules": 200, "backups": 50000,
            "pvbs": 100000, "nodes": 50}

VELERO_NS = "velero"
VELERO_IMAGE = "velero/velero:v1.17.1"
AWS_PLUGIN_IMAGE = "velero/velero-plugin-for-aws:v1.13.1"
K8S_VERSION = "v1.33.5"
RBD_DRIVER = "rbd.csi.ceph.com"
LOCAL_PATH = "rancher.io/local-path"
CEPH_CLUSTER_ID = "5f0e6c2a-8d3b-4a51-9c7e-2b61d0a4f3e9"
BUCKET = "platform-velero-backups"
GIB = 1024 ** 3

Obj = dict[str, Any]

# --- output -------------------------------------------------------------------------------------------

_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_ITEM_INDENT = b"        "  # items sit two levels deep in the List, as kubectl prints them
_TAIL = b'"kind":"List","metadata":{"resourceVersion":""}}\n'
_KUBECTL_HEAD = b'{\n    "apiVersion": "v1",\n    "items": [\n'
_KUBECTL_TAIL = b'\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n'
_KUBECTL_EMPTY = b'{\n    "apiVersion": "v1",\n    "items": [],\n    "kind": "List",\n    "metadata": {\n' \
                 b'        "resourceVersion": ""\n    }\n}\n'


class ListWriter:
    """Streams one ``kubectl get -o json`` List: header, items encoded one at a time, trailer.

    By default the List is compact JSON with one item per line (what the API server sends, and
    greppable). ``kubectl=True`` writes kubectl's exact layout instead: sorted keys, 4-space indent.
    kubectl indents by 4 spaces and orjson by 2; no generated string contains two consecutive spaces,
    so doubling every run of two spaces turns orjson's indentation into kubectl's without touching values.
    """

    def __init__(self, path: Path, kubectl: bool = False) -> None:
        self.path = path
        self.kubectl = kubectl
        self.count = 0
        self._f = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self._sep = b",\n" + _ITEM_INDENT if kubectl else b",\n"
        self._chunk: list[bytes] = []
        self._chunk_bytes = 0

    def add(self, obj: Obj) -> None:
        if self.kubectl:
            data = orjson.dumps(obj, option=_OPTS).replace(b"  ", b"    ").replace(b"\n", b"\n" + _ITEM_INDENT)
        else:
            data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        self._chunk.append(data)
        self._chunk_bytes += len(data)
        self.count += 1
        if self._chunk_bytes >= 1 << 20:
            self._flush()

    def _flush(self) -> None:
        if not self._chunk:
            return
        if self.count > len(self._chunk):  # not the first chunk
            self._f.write(self._sep)
        elif self.kubectl:
            self._f.write(_KUBECTL_HEAD + _ITEM_INDENT)
        else:
            self._f.write(b'{"apiVersion":"v1","items":[\n')
        self._f.write(self._sep.join(self._chunk))
        self._chunk.clear()
        self._chunk_bytes = 0

    def close(self) -> None:
        self._flush()
        if self.kubectl:
            self._f.write(_KUBECTL_EMPTY if self.count == 0 else _KUBECTL_TAIL)
        else:
            self._f.write(b'{"apiVersion":"v1","items":[],' + _TAIL if self.count == 0 else b"\n]," + _TAIL)
        self._f.close()


# --- small helpers --------------------------------------------------------------------------------------

def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_rfc3339(text: str) -> int:
    return calendar.timegm(time.strptime(text.strip(), "%Y-%m-%dT%H:%M:%SZ"))


_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet
_HEX = "0123456789abcdef"


def suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(_SUFFIX_ALPHABET) for _ in range(n))


def uid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def ip(rng: random.Random, prefix: str) -> str:
    return f"{prefix}.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}"


class RV:
    """resourceVersion counter shared by every object (as etcd's revision)."""

    def __init__(self, start: int = 1_000_000) -> None:
        self.value = start

    def next(self) -> str:
        self.value += rng_step(self.value)
        return str(self.value)


def rng_step(v: int) -> int:
    return 1 + (v * 2654435761 >> 7) % 13


def fields(*paths: str) -> Obj:
    """A managedFields ``fieldsV1`` tree from dotted paths (``f:metadata.f:labels.f:app``)."""
    root: Obj = {}
    for path in paths:
        node = root
        for part in path.split("|"):
            node = node.setdefault(part, {})
    return root


def managed(manager: str, operation: str, t: str, fields_v1: Obj, subresource: str | None = None,
            api_version: str = "v1") -> Obj:
    entry: Obj = {"apiVersion": api_version, "fieldsType": "FieldsV1", "fieldsV1": fields_v1, "manager": manager,
                  "operation": operation, "time": t}
    if subresource:
        entry["subresource"] = subresource
    return entry


TEAMS = ("payments", "checkout", "catalog", "search", "identity", "billing", "ledger", "risk", "fraud",
         "shipping", "inventory", "pricing", "orders", "notify", "media", "analytics", "reporting", "growth",
         "support", "partner", "mobile", "web", "data", "ml")
SERVICES = ("core", "api", "gateway", "events", "sync", "jobs", "store", "portal", "feeds", "export", "import",
            "auth", "audit", "cache", "queue", "stream", "index", "graph", "docs", "alerts")
ENVS = ("prod", "staging", "dev", "qa", "perf")
APPS = (("postgres", "postgres:16.4", 5432), ("redis", "redis:7.4.1", 6379), ("kafka", "apache/kafka:3.8.1", 9092),
        ("elasticsearch", "elasticsearch:8.15.3", 9200), ("minio", "minio/minio:RELEASE.2024-10-13T13-34-11Z", 9000),
        ("rabbitmq", "rabbitmq:3.13.7", 5672), ("mongodb", "mongo:7.0.14", 27017),
        ("zookeeper", "zookeeper:3.9.2", 2181), ("clickhouse", "clickhouse/clickhouse-server:24.8", 8123),
        ("mysql", "mysql:8.4.2", 3306))
DEPLOYS = (("api", "ghcr.io/acme/{svc}-api:1.{v}.0", 8080), ("web", "ghcr.io/acme/{svc}-web:2.{v}.3", 3000),
           ("worker", "ghcr.io/acme/{svc}-worker:1.{v}.7", 8081))
SIDECAR = ("metrics", "quay.io/prometheuscommunity/postgres-exporter:v0.15.0", 9187)
CRONS = ((1, "0 * * * *", 3600, 0), (2, "0 */4 * * *", 4 * 3600, 0), (4, "30 */6 * * *", 6 * 3600, 1800),
         (4, "0 */6 * * *", 6 * 3600, 0), (2, "15 */12 * * *", 12 * 3600, 900), (3, "0 2 * * *", 86400, 7200),
         (1, "45 23 * * *", 86400, 85500))
TTLS = (168, 336, 720, 1440, 2160, 4320, 8760)


# --- the plan -----------------------------------------------------------------------------------------------

@dataclass
class Namespace:
    name: str
    uid: str
    created: int
    team: str
    env: str
    excluded: bool


@dataclass
class Claim:
    ns: int
    app: str
    image: str
    port: int
    ordinal: int
    name: str
    uid: str
    pv: str | None  # None: Pending
    storage_class: str
    size_gi: int
    created: int
    pod: int = -1  # index into pods, -1: not mounted
    fsb: bool = False  # the pod is annotated for file-system backup of this volume


@dataclass
class PodPlan:
    ns: int
    name: str
    uid: str
    node: str
    created: int
    claim: int = -1
    deploy: tuple[str, str, int] | None = None
    owner: str = ""
    owner_uid: str = ""
    revision: str = ""


@dataclass
class BackupPlan:
    name: str
    uid: str
    created: int
    started: int
    completed: int | None
    phase: str


@dataclass
class SchedulePlan:
    name: str
    uid: str
    cron: str
    interval: int
    namespaces: list[int]
    move_data: bool
    paused: bool
    ttl_hours: int
    created: int
    team: str
    backups: list[BackupPlan] = field(default_factory=list)
    csi_volumes: int = 0
    fsb_claims: list[int] = field(default_factory=list)


@dataclass
class Plan:
    as_of: int
    namespaces: list[Namespace]
    nodes: list[str]
    node_uids: list[str]
    claims: list[Claim]
    pods: list[PodPlan]
    schedules: list[SchedulePlan]
    pvb_target: int
    velero_uids: dict[str, str]


def make_plan(counts: dict[str, int], seed: int, as_of: int) -> Plan:
    rng = random.Random(f"plan-{seed}")
    day = 86400
    n_ns, n_nodes = max(counts["namespaces"], 1), max(counts["nodes"], 1)

    namespaces = []
    for i in range(n_ns):
        team = TEAMS[i % len(TEAMS)]
        svc = SERVICES[(i // len(TEAMS)) % len(SERVICES)]
        env = ENVS[(i // (len(TEAMS) * len(SERVICES))) % len(ENVS)]
        lap = i // (len(TEAMS) * len(SERVICES) * len(ENVS))
        name = f"{team}-{svc}-{env}" + (f"-{lap}" if lap else "")
        namespaces.append(Namespace(name, uid(rng), as_of - rng.randrange(60 * day, 700 * day), team, env,
                                    excluded=rng.random() < 0.01))

    n_cp = 3 if n_nodes > 6 else 0
    nodes = [f"cp-{i + 1}" for i in range(n_cp)] + [f"worker-{i + 1:03d}" for i in range(n_nodes - n_cp)]
    workers = nodes[n_cp:] or nodes
    node_uids = [uid(rng) for _ in nodes]

    # PVCs: spread over namespaces, grouped per namespace into StatefulSet apps (data-<app>-<ordinal>).
    per_ns = [0] * n_ns
    for _ in range(counts["pvcs"]):
        per_ns[rng.randrange(n_ns)] += 1
    claims: list[Claim] = []
    for ns_i, n in enumerate(per_ns):
        left, app_no = n, 0
        while left > 0:
            app, image, port = APPS[app_no % len(APPS)]
            if app_no >= len(APPS):
                app = f"{app}-{app_no // len(APPS) + 1}"
            replicas = min(left, rng.choice((1, 1, 2, 3, 3)))
            local = rng.random() < 0.03
            size = rng.choice((1, 2, 5, 8, 10, 20, 50, 100, 200))
            created = max(namespaces[ns_i].created, as_of - 600 * day) + rng.randrange(0, 30 * day)
            for ordinal in range(replicas):
                pending = rng.random() < 0.005
                c_uid = uid(rng)
                claims.append(Claim(ns_i, app, image, port, ordinal, f"data-{app}-{ordinal}", c_uid,
                                    None if pending else f"pvc-{c_uid}", "local-path" if local else "ceph-rbd",
                                    size, min(created + ordinal * 60, as_of - day)))
            left -= replicas
            app_no += 1

    # Pods: one StatefulSet pod per mounted, bound PVC (most of them), then stateless Deployment pods.
    pods: list[PodPlan] = []
    sts: dict[tuple[int, str], tuple[str, str]] = {}
    for ci, c in enumerate(claims):
        if len(pods) >= counts["pods"] or c.pv is None or rng.random() < 0.03:
            continue
        owner_uid, rev = sts.setdefault((c.ns, c.app), (uid(rng), f"{c.app}-{rng.getrandbits(36):09x}"))
        created = max(c.created + 30, as_of - rng.randrange(3600, 40 * day))
        pods.append(PodPlan(c.ns, f"{c.app}-{c.ordinal}", uid(rng), rng.choice(workers), created, claim=ci,
                            owner=c.app, owner_uid=owner_uid, revision=rev))
        c.pod = len(pods) - 1
    deploys: dict[tuple[int, int], tuple[str, str, str]] = {}
    while len(pods) < counts["pods"]:
        ns_i = rng.randrange(n_ns)
        d_i = rng.randrange(len(DEPLOYS))
        ns = namespaces[ns_i]
        svc = ns.name.split("-")[1]
        rs_hash = "".join(rng.choice(_SUFFIX_ALPHABET) for _ in range(rng.choice((9, 10))))
        d_name = f"{svc}-{DEPLOYS[d_i][0]}"
        rs_name, rs_uid, _ = deploys.setdefault((ns_i, d_i), (f"{d_name}-{rs_hash}", uid(rng), d_name))
        image = DEPLOYS[d_i][1].format(svc=svc, v=ns_i % 17)
        pods.append(PodPlan(ns_i, f"{rs_name}-{suffix(rng)}", uid(rng), rng.choice(workers),
                            as_of - rng.randrange(600, 20 * day), deploy=(d_name, image, DEPLOYS[d_i][2]),
                            owner=rs_name, owner_uid=rs_uid, revision=rs_name.rsplit("-", 1)[1]))

    # Schedules: each covers a window of ~1-2x (namespaces / schedules) consecutive namespaces.
    n_s = counts["schedules"]
    schedules: list[SchedulePlan] = []
    stride = n_ns / n_s if n_s else 0
    base_backups, extra = divmod(counts["backups"], n_s) if n_s else (0, 0)
    weights = [c[0] for c in CRONS]
    for s_i in range(n_s):
        start = int(s_i * stride)
        length = max(1, min(n_ns, round(stride * rng.uniform(1.0, 2.0))))
        window = [(start + k) % n_ns for k in range(length)]
        _, cron, interval, offset = rng.choices(CRONS, weights)[0]
        n_b = base_backups + (1 if s_i < extra else 0)
        paused = rng.random() < 0.03
        team = namespaces[window[0]].team
        label = {3600: "hourly", 86400: "daily"}.get(interval, f"every-{interval // 3600}h")
        need = n_b * interval / 3600 + 48
        ttl = next((t for t in TTLS if t >= need), int(need // 24 + 1) * 24)
        s = SchedulePlan(f"{team}-{label}-{s_i:03d}", uid(rng), cron, interval, window,
                         move_data=rng.random() < 0.2, paused=paused, ttl_hours=ttl, created=0, team=team)
        # the newest fire time at least a minute before as_of (paused schedules stopped days ago)
        end = as_of - 60 - (rng.randrange(3 * day, 20 * day) if paused else 0)
        last = (end - offset) // interval * interval + offset
        for k in range(n_b):
            t = last - k * interval
            started = t + rng.randrange(0, 3)
            duration = rng.randrange(40, 25 * 60)
            roll = rng.random()
            phase = "Completed" if roll < 0.93 else ("PartiallyFailed" if roll < 0.98 else "Failed")
            completed: int | None = started + duration
            if completed > as_of:
                phase, completed = "InProgress", None
            name = f"{s.name}-{time.strftime('%Y%m%d%H%M%S', time.gmtime(t))}"
            s.backups.append(BackupPlan(name, uid(rng), t, started, completed, phase))
        first = s.backups[-1].created if s.backups else as_of - 10 * day
        s.created = first - rng.randrange(600, 3 * day)
        schedules.append(s)

    # File-system backup: annotate pods until the PodVolumeBackups of their schedules' backups reach the target.
    covering: dict[int, list[int]] = {}
    for s_i, s in enumerate(schedules):
        for ns_i in s.namespaces:
            covering.setdefault(ns_i, []).append(s_i)
    usable = [sum(1 for b in s.backups if b.phase != "Failed") for s in schedules]
    candidates = [ci for ci, c in enumerate(claims)
                  if c.pod >= 0 and c.ns in covering and not namespaces[c.ns].excluded]
    rng.shuffle(candidates)
    potential = 0
    for ci in candidates:
        if potential >= counts["pvbs"]:
            break
        gain = sum(usable[s_i] for s_i in covering[claims[ci].ns])
        if gain == 0:
            continue
        claims[ci].fsb = True
        potential += gain
    by_ns: dict[int, list[int]] = {}
    for ci, c in enumerate(claims):
        by_ns.setdefault(c.ns, []).append(ci)
    for s in schedules:
        for ns_i in s.namespaces:
            if namespaces[ns_i].excluded:
                continue
            for ci in by_ns.get(ns_i, ()):
                c = claims[ci]
                if c.fsb:
                    s.fsb_claims.append(ci)
                elif c.pv is not None and c.storage_class == "ceph-rbd":
                    s.csi_volumes += 1

    velero_uids = {k: uid(rng) for k in ("deployment", "replicaset", "daemonset", "bsl", "ns", "pod")}
    return Plan(as_of, namespaces, nodes, node_uids, claims, pods, schedules, counts["pvbs"], velero_uids)


# --- objects ----------------------------------------------------------------------------------------------------

FV_NAMESPACE = fields("f:metadata|f:labels|.", "f:metadata|f:labels|f:kubernetes.io/metadata.name",
                      "f:metadata|f:labels|f:team", "f:metadata|f:labels|f:environment",
                      "f:metadata|f:labels|f:cost-center", "f:metadata|f:annotations|.",
                      "f:metadata|f:annotations|f:contact")


def namespace_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    system = [("default", None), ("kube-system", None), ("kube-public", None), ("kube-node-lease", None),
              (VELERO_NS, None)]
    rng = random.Random("ns-objects")
    created0 = plan.as_of - 800 * 86400
    for name, _ in system:
        labels = {"kubernetes.io/metadata.name": name}
        if name == VELERO_NS:
            labels.update({"app.kubernetes.io/name": "velero", "velero.io/exclude-from-backup": "true"})
        yield {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"creationTimestamp": rfc3339(created0), "labels": labels, "name": name,
                            "resourceVersion": rv.next(), "uid": uid(rng)},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    for ns in plan.namespaces:
        t = rfc3339(ns.created)
        labels = {"kubernetes.io/metadata.name": ns.name, "team": ns.team, "environment": ns.env,
                  "cost-center": f"cc-{1000 + TEAMS.index(ns.team) * 37}"}
        if ns.excluded:
            labels["velero.io/exclude-from-backup"] = "true"
        yield {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"annotations": {"contact": f"{ns.team}-oncall@acme.example"},
                            "creationTimestamp": t, "labels": labels,
                            "managedFields": [managed("argocd-controller", "Apply", t, FV_NAMESPACE)],
                            "name": ns.name, "resourceVersion": rv.next(), "uid": ns.uid},
               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


NODE_IMAGES = [
    {"names": [f"docker.io/library/{img}@sha256:{hashlib.sha256(img.encode()).hexdigest()}",
               f"docker.io/library/{img}"], "sizeBytes": size}
    for img, size in (("postgres:16.4", 158_317_213), ("redis:7.4.1", 45_892_344),
                      ("quay.io/cephcsi/cephcsi:v3.12.2", 523_401_212), ("velero/velero:v1.17.1", 88_123_412),
                      ("registry.k8s.io/kube-proxy:v1.33.5", 30_912_771), ("calico/node:v3.28.2", 145_112_029),
                      ("apache/kafka:3.8.1", 412_001_337), ("elasticsearch:8.15.3", 701_234_120),
                      ("registry.k8s.io/pause:3.10", 320_368))
]


def node_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    rng = random.Random("node-objects")
    created = rfc3339(plan.as_of - 500 * 86400)
    heartbeat = rfc3339(plan.as_of - 37)
    for i, name in enumerate(plan.nodes):
        cp = name.startswith("cp-")
        zone = f"eu-west-1{'abc'[i % 3]}"
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                  "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": zone,
                  "node.kubernetes.io/instance-type": "m6i.4xlarge" if not cp else "m6i.xlarge"}
        if cp:
            labels["node-role.kubernetes.io/control-plane"] = ""
        addr = f"10.0.{i // 250}.{i % 250 + 4}"
        conditions = [
            {"lastHeartbeatTime": heartbeat, "lastTransitionTime": created, "message": msg, "reason": reason,
             "status": status, "type": ctype}
            for ctype, status, reason, msg in (
                ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status"))]
        yield {"apiVersion": "v1", "kind": "Node",
               "metadata": {"annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                                            "csi.volume.kubernetes.io/nodeid": f'{{"rbd.csi.ceph.com":"{name}"}}'},
                            "creationTimestamp": created, "labels": labels, "name": name,
                            "resourceVersion": rv.next(), "uid": plan.node_uids[i]},
               "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"],
                        "providerID": f"aws:///{zone}/i-0{rng.getrandbits(64):016x}",
                        **({"taints": [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]}
                           if cp else {})},
               "status": {"addresses": [{"address": addr, "type": "InternalIP"},
                                        {"address": name, "type": "Hostname"}],
                          "allocatable": {"cpu": "15800m", "ephemeral-storage": "189217404206",
                                          "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "63123456Ki",
                                          "pods": "250"},
                          "capacity": {"cpu": "16", "ephemeral-storage": "205314024Ki", "hugepages-1Gi": "0",
                                       "hugepages-2Mi": "0", "memory": "64453632Ki", "pods": "250"},
                          "conditions": conditions, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                          "images": NODE_IMAGES,
                          "nodeInfo": {"architecture": "amd64", "bootID": uid(rng),
                                       "containerRuntimeVersion": "containerd://1.7.22",
                                       "kernelVersion": "6.8.0-1016-aws", "kubeProxyVersion": K8S_VERSION,
                                       "kubeletVersion": K8S_VERSION, "machineID": f"{rng.getrandbits(128):032x}",
                                       "operatingSystem": "linux", "osImage": "Ubuntu 24.04.1 LTS",
                                       "systemUUID": uid(rng)}}}


def storage_objects(plan: Plan, rv: RV) -> dict[str, list[Obj]]:
    rng = random.Random("storage-objects")
    t = rfc3339(plan.as_of - 500 * 86400)
    scs = [
        {"allowVolumeExpansion": True, "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                      "creationTimestamp": t, "name": "ceph-rbd", "resourceVersion": rv.next(), "uid": uid(rng)},
         "mountOptions": ["discard"],
         "parameters": {"clusterID": CEPH_CLUSTER_ID, "csi.storage.k8s.io/fstype": "ext4",
                        "csi.storage.k8s.io/controller-expand-secret-name": "csi-rbd-secret",
                        "csi.storage.k8s.io/controller-expand-secret-namespace": "ceph-csi-rbd",
                        "csi.storage.k8s.io/node-stage-secret-name": "csi-rbd-secret",
                        "csi.storage.k8s.io/node-stage-secret-namespace": "ceph-csi-rbd",
                        "csi.storage.k8s.io/provisioner-secret-name": "csi-rbd-secret",
                        "csi.storage.k8s.io/provisioner-secret-namespace": "ceph-csi-rbd",
                        "imageFeatures": "layering", "pool": "kubernetes"},
         "provisioner": RBD_DRIVER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"creationTimestamp": t, "name": "local-path", "resourceVersion": rv.next(), "uid": uid(rng)},
         "provisioner": LOCAL_PATH, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"},
    ]
    csidrivers = [
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
         "metadata": {"creationTimestamp": t, "name": RBD_DRIVER, "resourceVersion": rv.next(), "uid": uid(rng)},
         "spec": {"attachRequired": True, "fsGroupPolicy": "File", "podInfoOnMount": False,
                  "requiresRepublish": False, "seLinuxMount": True, "storageCapacity": False,
                  "volumeLifecycleModes": ["Persistent"]}},
    ]
    vscs = [
        {"apiVersion": "snapshot.storage.k8s.io/v1", "deletionPolicy": "Delete", "driver": RBD_DRIVER,
         "kind": "VolumeSnapshotClass",
         "metadata": {"creationTimestamp": t, "generation": 1,
                      "labels": {"velero.io/csi-volumesnapshot-class": "true"}, "name": "ceph-rbd-snapclass",
                      "resourceVersion": rv.next(), "uid": uid(rng)},
         "parameters": {"clusterID": CEPH_CLUSTER_ID,
                        "csi.storage.k8s.io/snapshotter-secret-name": "csi-rbd-secret",
                        "csi.storage.k8s.io/snapshotter-secret-namespace": "ceph-csi-rbd"}},
    ]
    return {"storageclasses": scs, "csidrivers": csidrivers, "volumesnapshotclasses": vscs}


FV_PVC_CTRL = fields(
    "f:metadata|f:annotations|f:pv.kubernetes.io/bind-completed", "f:spec|f:volumeName")
FV_PVC_STATUS = fields("f:status|f:accessModes", "f:status|f:capacity|.", "f:status|f:phase")


def pvc_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    for c in plan.claims:
        ns = plan.namespaces[c.ns]
        t = rfc3339(c.created)
        t_bound = rfc3339(c.created + 2)
        provisioner = RBD_DRIVER if c.storage_class == "ceph-rbd" else LOCAL_PATH
        annotations = {"volume.beta.kubernetes.io/storage-provisioner": provisioner,
                       "volume.kubernetes.io/storage-provisioner": provisioner}
        if c.pv:
            annotations["pv.kubernetes.io/bind-completed"] = "yes"
            annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
        if c.storage_class == "local-path" and c.pod >= 0:
            annotations["volume.kubernetes.io/selected-node"] = plan.pods[c.pod].node
        size = f"{c.size_gi}Gi"
        mf = [managed("kube-controller-manager", "Update", t_bound, FV_PVC_CTRL)]
        if c.pv:
            mf.append(managed("kube-controller-manager", "Update", t_bound, FV_PVC_STATUS, "status"))
        status: Obj = {"phase": "Pending"}
        if c.pv:
            status = {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}, "phase": "Bound"}
        spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
                     "storageClassName": c.storage_class, "volumeMode": "Filesystem"}
        if c.pv:
            spec["volumeName"] = c.pv
        yield {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"annotations": annotations, "creationTimestamp": t,
                            "finalizers": ["kubernetes.io/pvc-protection"],
                            "labels": {"app.kubernetes.io/instance": f"{ns.team}-{c.app}",
                                       "app.kubernetes.io/name": c.app.split("-")[0]},
                            "managedFields": mf, "name": c.name, "namespace": ns.name,
                            "resourceVersion": rv.next(), "uid": c.uid},
               "spec": spec, "status": status}


FV_PV_PROV = fields("f:metadata|f:annotations|.", "f:spec|f:accessModes", "f:spec|f:capacity|.",
                    "f:spec|f:claimRef|.", "f:spec|f:csi|.", "f:spec|f:persistentVolumeReclaimPolicy",
                    "f:spec|f:storageClassName", "f:spec|f:volumeMode")


def pv_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    rng = random.Random("pv-objects")
    for c in plan.claims:
        if c.pv is None:
            continue
        ns = plan.namespaces[c.ns]
        t = rfc3339(c.created + 1)
        size = f"{c.size_gi}Gi"
        claim_ref = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": c.name, "namespace": ns.name,
                     "resourceVersion": str(rng.randrange(10_000, 900_000)), "uid": c.uid}
        if c.storage_class == "ceph-rbd":
            image = f"csi-vol-{uid(rng)}"
            annotations = {"pv.kubernetes.io/provisioned-by": RBD_DRIVER,
                           "volume.kubernetes.io/provisioner-deletion-secret-name": "csi-rbd-secret",
                           "volume.kubernetes.io/provisioner-deletion-secret-namespace": "ceph-csi-rbd"}
            spec: Obj = {
                "accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}, "claimRef": claim_ref,
                "csi": {"driver": RBD_DRIVER, "fsType": "ext4",
                        "nodeStageSecretRef": {"name": "csi-rbd-secret", "namespace": "ceph-csi-rbd"},
                        "volumeAttributes": {"clusterID": CEPH_CLUSTER_ID, "imageFeatures": "layering",
                                             "imageName": image, "pool": "kubernetes"},
                        "volumeHandle": f"0001-0024-{CEPH_CLUSTER_ID}-0000000000000002-{image[8:]}"},
                "mountOptions": ["discard"], "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": c.storage_class, "volumeMode": "Filesystem"}
        else:
            node = plan.pods[c.pod].node if c.pod >= 0 else plan.nodes[-1]
            annotations = {"local.path.provisioner/selected-node": node,
                           "pv.kubernetes.io/provisioned-by": LOCAL_PATH}
            spec = {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}, "claimRef": claim_ref,
                    "hostPath": {"path": f"/opt/local-path-provisioner/{c.pv}_{ns.name}_{c.name}",
                                 "type": "DirectoryOrCreate"},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
                    "persistentVolumeReclaimPolicy": "Delete", "storageClassName": c.storage_class,
                    "volumeMode": "Filesystem"}
        yield {"apiVersion": "v1", "kind": "PersistentVolume",
               "metadata": {"annotations": annotations, "creationTimestamp": t,
                            "finalizers": ["kubernetes.io/pv-protection"],
                            "managedFields": [managed("csi-provisioner", "Update", t, FV_PV_PROV)],
                            "name": c.pv, "resourceVersion": rv.next(), "uid": uid(rng)},
               "spec": spec, "status": {"lastPhaseTransitionTime": t, "phase": "Bound"}}


FV_POD_CTRL = fields(
    "f:metadata|f:generateName", "f:metadata|f:labels|.", "f:metadata|f:ownerReferences|.",
    "f:spec|f:containers|k:{\"name\":\"app\"}|.", "f:spec|f:containers|k:{\"name\":\"metrics\"}|.",
    "f:spec|f:volumes|.")
FV_POD_STATUS = fields(
    "f:status|f:conditions|k:{\"type\":\"Ready\"}|.", "f:status|f:containerStatuses", "f:status|f:phase",
    "f:status|f:podIP")
TOLERATIONS = [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                "tolerationSeconds": 300},
               {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
                "tolerationSeconds": 300}]


def _projected(rng: random.Random) -> Obj:
    return {"name": f"kube-api-access-{suffix(rng)}", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}]}}


def _conditions(t_sched: str, t_ready: str) -> list[Obj]:
    return [{"lastProbeTime": None, "lastTransitionTime": t_sched, "status": "True", "type": "Initialized"},
            {"lastProbeTime": None, "lastTransitionTime": t_ready, "status": "True", "type": "Ready"},
            {"lastProbeTime": None, "lastTransitionTime": t_ready, "status": "True", "type": "ContainersReady"},
            {"lastProbeTime": None, "lastTransitionTime": t_sched, "status": "True", "type": "PodScheduled"}]


def _container_status(rng: random.Random, name: str, image: str, t: str) -> Obj:
    return {"containerID": f"containerd://{rng.getrandbits(256):064x}", "image": image, "name": name,
            "ready": True, "restartCount": 0, "started": True, "state": {"running": {"startedAt": t}}}


def pod_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    rng = random.Random("pod-objects")
    node_index = {name: i for i, name in enumerate(plan.nodes)}
    for p in plan.pods:
        ns = plan.namespaces[p.ns]
        t = rfc3339(p.created)
        t_ready = rfc3339(p.created + rng.randrange(4, 90))
        node_i = node_index[p.node]
        pod_ip = f"10.244.{node_i}.{rng.randrange(2, 254)}"
        api = _projected(rng)
        annotations: Obj = {"prometheus.io/port": "9187", "prometheus.io/scrape": "true"}
        if p.claim >= 0:
            c = plan.claims[p.claim]
            app_name, image, port = c.app.split("-")[0], c.image, c.port
            labels = {"app.kubernetes.io/instance": f"{ns.team}-{c.app}", "app.kubernetes.io/name": app_name,
                      "controller-revision-hash": p.revision, "statefulset.kubernetes.io/pod-name": p.name}
            owner = {"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                     "kind": "StatefulSet", "name": p.owner, "uid": p.owner_uid}
            generate = f"{c.app}-"
            volumes: list[Obj] = [{"name": "data", "persistentVolumeClaim": {"claimName": c.name}},
                                  {"configMap": {"defaultMode": 420, "name": f"{c.app}-config"}, "name": "config"},
                                  api]
            mounts = [{"mountPath": f"/var/lib/{app_name}", "name": "data"},
                      {"mountPath": f"/etc/{app_name}", "name": "config", "readOnly": True},
                      {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": api["name"],
                       "readOnly": True}]
            if c.fsb:
                annotations["backup.velero.io/backup-volumes"] = "data"
            extra_spec: Obj = {"hostname": p.name, "subdomain": f"{c.app}-headless"}
        else:
            assert p.deploy is not None
            d_name, image, port = p.deploy
            app_name = d_name
            labels = {"app.kubernetes.io/instance": f"{ns.name}-{d_name}", "app.kubernetes.io/name": d_name,
                      "pod-template-hash": p.revision}
            owner = {"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                     "kind": "ReplicaSet", "name": p.owner, "uid": p.owner_uid}
            generate = f"{p.owner}-"
            volumes = [{"emptyDir": {}, "name": "tmp"},
                       {"configMap": {"defaultMode": 420, "name": f"{d_name}-config"}, "name": "config"}, api]
            mounts = [{"mountPath": "/tmp", "name": "tmp"},
                      {"mountPath": "/etc/app", "name": "config", "readOnly": True},
                      {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": api["name"],
                       "readOnly": True}]
            extra_spec = {}
        containers = [
            {"env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "metadata.namespace"}}},
                     {"name": "LOG_LEVEL", "value": "info"},
                     {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"key": "password",
                                                                            "name": f"{app_name}-credentials"}}}],
             "image": image, "imagePullPolicy": "IfNotPresent", "name": "app",
             "ports": [{"containerPort": port, "name": "service", "protocol": "TCP"}],
             "resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "1Gi"}},
             "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
             "volumeMounts": mounts},
            {"env": [{"name": "SCRAPE_PORT", "value": str(port)}],
             "image": SIDECAR[1], "imagePullPolicy": "IfNotPresent", "name": SIDECAR[0],
             "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "20m", "memory": "64Mi"}},
             "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
             "volumeMounts": [mounts[-1]]}]
        yield {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"annotations": annotations, "creationTimestamp": t, "generateName": generate,
                            "labels": labels,
                            "managedFields": [managed("kube-controller-manager", "Update", t, FV_POD_CTRL),
                                              managed("kubelet", "Update", t_ready, FV_POD_STATUS, "status")],
                            "name": p.name, "namespace": ns.name, "ownerReferences": [owner],
                            "resourceVersion": rv.next(), "uid": p.uid},
               "spec": {"containers": containers, "dnsPolicy": "ClusterFirst", "enableServiceLinks": True,
                        **extra_spec, "nodeName": p.node, "restartPolicy": "Always",
                        "schedulerName": "default-scheduler", "securityContext": {"fsGroup": 1000},
                        "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
                        "volumes": volumes},
               "status": {"conditions": _conditions(t, t_ready),
                          "containerStatuses": [_container_status(rng, "app", image, t_ready),
                                                _container_status(rng, SIDECAR[0], SIDECAR[1], t_ready)],
                          "phase": "Running", "podIP": pod_ip, "qosClass": "Burstable", "startTime": t}}
    yield from velero_pods(plan, rv)


# --- Velero -------------------------------------------------------------------------------------------------------

VELERO_ARGS = ["server", "--features=EnableCSI", "--uploader-type=kopia"]
VELERO_LABELS = {"app.kubernetes.io/instance": "velero", "app.kubernetes.io/managed-by": "Helm",
                 "app.kubernetes.io/name": "velero", "component": "velero", "helm.sh/chart": "velero-10.1.2"}


def velero_pods(plan: Plan, rv: RV) -> Iterator[Obj]:
    rng = random.Random("velero-pods")
    t = rfc3339(plan.as_of - 12 * 86400)
    u = plan.velero_uids
    rs = f"velero-{''.join(rng.choice(_SUFFIX_ALPHABET) for _ in range(10))}"
    api = _projected(rng)
    yield {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"creationTimestamp": t, "generateName": f"{rs}-",
                        "labels": {**VELERO_LABELS, "deploy": "velero", "name": "velero",
                                   "pod-template-hash": rs.rsplit("-", 1)[1]},
                        "name": f"{rs}-{suffix(rng)}", "namespace": VELERO_NS,
                        "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                                             "kind": "ReplicaSet", "name": rs, "uid": u["replicaset"]}],
                        "resourceVersion": rv.next(), "uid": uid(rng)},
           "spec": {"containers": [{"args": VELERO_ARGS, "command": ["/velero"], "image": VELERO_IMAGE,
                                    "name": "velero",
                                    "volumeMounts": [{"mountPath": "/plugins", "name": "plugins"},
                                                     {"mountPath": "/credentials", "name": "cloud-credentials"},
                                                     {"mountPath": "/scratch", "name": "scratch"}]}],
                    "nodeName": plan.nodes[-1], "serviceAccountName": "velero-server",
                    "volumes": [{"emptyDir": {}, "name": "plugins"},
                                {"name": "cloud-credentials", "secret": {"secretName": "velero"}},
                                {"emptyDir": {}, "name": "scratch"}, api]},
           "status": {"conditions": _conditions(t, t), "phase": "Running", "startTime": t}}
    for node in plan.nodes:
        api = _projected(rng)
        yield {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"creationTimestamp": t, "generateName": "node-agent-",
                            "labels": {**VELERO_LABELS, "controller-revision-hash": "6c9f8d7b54", "name": "node-agent",
                                       "pod-template-generation": "3", "role": "node-agent"},
                            "name": f"node-agent-{suffix(rng)}", "namespace": VELERO_NS,
                            "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True,
                                                 "controller": True, "kind": "DaemonSet", "name": "node-agent",
                                                 "uid": u["daemonset"]}],
                            "resourceVersion": rv.next(), "uid": uid(rng)},
               "spec": {"containers": [{"args": ["node-agent", "server", "--features=EnableCSI"],
                                        "command": ["/velero"], "image": VELERO_IMAGE, "name": "node-agent",
                                        "volumeMounts": [{"mountPath": "/host_pods", "name": "host-pods",
                                                          "mountPropagation": "HostToContainer"},
                                                         {"mountPath": "/scratch", "name": "scratch"}]}],
                        "nodeName": node, "serviceAccountName": "velero-server",
                        "tolerations": [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane",
                                         "operator": "Exists"}, *TOLERATIONS],
                        "volumes": [{"hostPath": {"path": "/var/lib/kubelet/pods", "type": ""}, "name": "host-pods"},
                                    {"emptyDir": {}, "name": "scratch"}, api]},
               "status": {"conditions": _conditions(t, t), "phase": "Running", "startTime": t}}


def velero_workloads(plan: Plan, rv: RV) -> dict[str, list[Obj]]:
    t = rfc3339(plan.as_of - 40 * 86400)
    u = plan.velero_uids
    n = len(plan.nodes)
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"annotations": {"deployment.kubernetes.io/revision": "4", "meta.helm.sh/release-name": "velero",
                                     "meta.helm.sh/release-namespace": VELERO_NS},
                     "creationTimestamp": t, "generation": 4, "labels": VELERO_LABELS, "name": "velero",
                     "namespace": VELERO_NS, "resourceVersion": rv.next(), "uid": u["deployment"]},
        "spec": {"progressDeadlineSeconds": 600, "replicas": 1, "revisionHistoryLimit": 10,
                 "selector": {"matchLabels": {"app.kubernetes.io/instance": "velero",
                                              "app.kubernetes.io/name": "velero", "name": "velero"}},
                 "strategy": {"type": "Recreate"},
                 "template": {"metadata": {"labels": {**VELERO_LABELS, "name": "velero"}},
                              "spec": {"containers": [{"args": VELERO_ARGS, "command": ["/velero"],
                                                       "env": [{"name": "VELERO_SCRATCH_DIR", "value": "/scratch"},
                                                               {"name": "AWS_SHARED_CREDENTIALS_FILE",
                                                                "value": "/credentials/cloud"}],
                                                       "image": VELERO_IMAGE, "imagePullPolicy": "IfNotPresent",
                                                       "name": "velero",
                                                       "ports": [{"containerPort": 8085, "name": "http-monitoring",
                                                                  "protocol": "TCP"}],
                                                       "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
                                                                     "requests": {"cpu": "500m",
                                                                                  "memory": "128Mi"}}}],
                                       "initContainers": [{"image": AWS_PLUGIN_IMAGE, "name": "velero-plugin-for-aws",
                                                           "volumeMounts": [{"mountPath": "/target",
                                                                             "name": "plugins"}]}],
                                       "serviceAccountName": "velero-server"}}},
        "status": {"availableReplicas": 1, "observedGeneration": 4, "readyReplicas": 1, "replicas": 1,
                   "updatedReplicas": 1}}
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"annotations": {"deprecated.daemonset.template.generation": "3",
                                     "meta.helm.sh/release-name": "velero",
                                     "meta.helm.sh/release-namespace": VELERO_NS},
                     "creationTimestamp": t, "generation": 3, "labels": {**VELERO_LABELS, "name": "node-agent"},
                     "name": "node-agent", "namespace": VELERO_NS, "resourceVersion": rv.next(),
                     "uid": u["daemonset"]},
        "spec": {"selector": {"matchLabels": {"name": "node-agent"}},
                 "template": {"metadata": {"labels": {**VELERO_LABELS, "name": "node-agent", "role": "node-agent"}},
                              "spec": {"containers": [{"args": ["node-agent", "server", "--features=EnableCSI"],
                                                       "command": ["/velero"], "image": VELERO_IMAGE,
                                                       "name": "node-agent"}],
                                       "serviceAccountName": "velero-server"}},
                 "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"}},
        "status": {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n,
                   "numberMisscheduled": 0, "numberReady": n, "observedGeneration": 3, "updatedNumberScheduled": n}}
    bsl = {
        "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
        "metadata": {"creationTimestamp": t, "generation": 1, "labels": VELERO_LABELS, "name": "default",
                     "namespace": VELERO_NS, "resourceVersion": rv.next(), "uid": u["bsl"]},
        "spec": {"accessMode": "ReadWrite", "config": {"region": "eu-west-1",
                                                       "s3Url": "https://s3.eu-west-1.amazonaws.com"},
                 "default": True, "objectStorage": {"bucket": BUCKET, "prefix": "prod-eu-1"}, "provider": "aws"},
        "status": {"lastSyncedTime": rfc3339(plan.as_of - 25), "lastValidationTime": rfc3339(plan.as_of - 41),
                   "phase": "Available"}}
    return {"deployments": [deployment], "daemonsets": [daemonset], "backupstoragelocations": [bsl]}


FV_SCHEDULE = fields("f:spec|.", "f:spec|f:schedule", "f:spec|f:template|.",
                     "f:spec|f:template|f:includedNamespaces", "f:spec|f:template|f:snapshotMoveData",
                     "f:spec|f:template|f:storageLocation", "f:spec|f:template|f:ttl",
                     "f:spec|f:useOwnerReferencesInBackup", "f:metadata|f:labels|.", "f:metadata|f:labels|f:team")


def _template(plan: Plan, s: SchedulePlan) -> Obj:
    return {"csiSnapshotTimeout": "10m0s", "defaultVolumesToFsBackup": False, "hooks": {},
            "includedNamespaces": [plan.namespaces[i].name for i in s.namespaces],
            "itemOperationTimeout": "4h0m0s", "metadata": {"labels": {"team": s.team}},
            "snapshotMoveData": s.move_data, "storageLocation": "default", "ttl": f"{s.ttl_hours}h0m0s",
            "volumeSnapshotLocations": []}


def schedule_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    for s in plan.schedules:
        t = rfc3339(s.created)
        spec: Obj = {"schedule": s.cron, "template": _template(plan, s), "useOwnerReferencesInBackup": False}
        if s.paused:
            spec["paused"] = True
        status: Obj = {"phase": "Enabled"}
        if s.backups:
            status["lastBackup"] = rfc3339(s.backups[0].created)
        yield {"apiVersion": "velero.io/v1", "kind": "Schedule",
               "metadata": {"creationTimestamp": t, "generation": 1 + len(s.name) % 3,
                            "labels": {"team": s.team},
                            "managedFields": [managed("kubectl-client-side-apply", "Update", t, FV_SCHEDULE,
                                                      api_version="velero.io/v1")],
                            "name": s.name, "namespace": VELERO_NS, "resourceVersion": rv.next(), "uid": s.uid},
               "spec": spec, "status": status}


FV_BACKUP = fields("f:metadata|f:annotations|.", "f:metadata|f:labels|.",
                   "f:metadata|f:labels|f:velero.io/schedule-name", "f:metadata|f:labels|f:velero.io/storage-location",
                   "f:spec|.", "f:spec|f:csiSnapshotTimeout", "f:spec|f:includedNamespaces",
                   "f:spec|f:itemOperationTimeout", "f:spec|f:snapshotMoveData", "f:spec|f:storageLocation",
                   "f:spec|f:ttl", "f:status|.", "f:status|f:expiration", "f:status|f:formatVersion",
                   "f:status|f:phase", "f:status|f:progress|.", "f:status|f:startTimestamp", "f:status|f:version")
BACKUP_ANNOTATIONS = {"velero.io/resource-timeout": "10m0s",
                      "velero.io/source-cluster-k8s-gitversion": K8S_VERSION,
                      "velero.io/source-cluster-k8s-major-version": "1",
                      "velero.io/source-cluster-k8s-minor-version": K8S_VERSION.split(".")[1]}


def backup_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    rng = random.Random("backup-objects")
    for s in plan.schedules:
        spec = {k: v for k, v in _template(plan, s).items() if k != "metadata"}
        labels = {"team": s.team, "velero.io/schedule-name": s.name, "velero.io/storage-location": "default"}
        n_csi = s.csi_volumes
        items = 40 + 12 * len(s.namespaces) + 3 * (n_csi + len(s.fsb_claims))
        for b in s.backups:
            t = rfc3339(b.created)
            status: Obj = {"expiration": rfc3339(b.created + s.ttl_hours * 3600), "formatVersion": "1.1.0",
                           "hookStatus": {}, "phase": b.phase, "startTimestamp": rfc3339(b.started), "version": 1}
            if b.phase == "InProgress":
                done = rng.randrange(0, items)
                status["progress"] = {"itemsBackedUp": done, "totalItems": items}
                if n_csi:
                    status["csiVolumeSnapshotsAttempted"] = n_csi
            elif b.phase == "Failed":
                status["completionTimestamp"] = rfc3339(b.completed or b.started)
                status["failureReason"] = "found a backup with status \"InProgress\" during the server starting, " \
                                          "mark it as \"Failed\""
                status["progress"] = {}
            else:
                status["completionTimestamp"] = rfc3339(b.completed or b.started)
                status["progress"] = {"itemsBackedUp": items, "totalItems": items}
                failed = rng.randrange(1, 3) if b.phase == "PartiallyFailed" else 0
                if n_csi:
                    status["csiVolumeSnapshotsAttempted"] = n_csi
                    status["csiVolumeSnapshotsCompleted"] = max(0, n_csi - failed)
                    if s.move_data:
                        status["backupItemOperationsAttempted"] = n_csi
                        status["backupItemOperationsCompleted"] = max(0, n_csi - failed)
                        if failed:
                            status["backupItemOperationsFailed"] = failed
                if failed:
                    status["errors"] = failed
                warnings = rng.choice((0, 0, 0, 1, 2))
                if warnings:
                    status["warnings"] = warnings
            yield {"apiVersion": "velero.io/v1", "kind": "Backup",
                   "metadata": {"annotations": BACKUP_ANNOTATIONS, "creationTimestamp": t, "generation": 9,
                                "labels": labels,
                                "managedFields": [managed("velero-server", "Update", rfc3339(b.completed or b.started),
                                                          FV_BACKUP, api_version="velero.io/v1")],
                                "name": b.name, "namespace": VELERO_NS, "resourceVersion": rv.next(), "uid": b.uid},
                   "spec": spec, "status": status}


def pvb_objects(plan: Plan, rv: RV) -> Iterator[Obj]:
    rng = random.Random("pvb-objects")
    left = plan.pvb_target
    for s in plan.schedules:
        if left <= 0:
            return
        claims = [plan.claims[ci] for ci in s.fsb_claims]
        if not claims:
            continue
        for b in s.backups:
            if b.phase == "Failed":
                continue
            failed_one = rng.randrange(len(claims)) if b.phase == "PartiallyFailed" else -1
            used: set[str] = set()
            for k, c in enumerate(claims):
                if left <= 0:
                    return
                left -= 1
                pod = plan.pods[c.pod]
                ns = plan.namespaces[c.ns].name
                name = f"{b.name}-{suffix(rng)}"
                while name in used:
                    name = f"{b.name}-{suffix(rng)}"
                used.add(name)
                started = b.started + rng.randrange(5, 60)
                if b.phase == "InProgress":
                    phase, done = ("InProgress", None) if k else ("Completed", started + 20)
                else:
                    phase = "Failed" if k == failed_one else "Completed"
                    done = min(started + rng.randrange(5, 600), b.completed or started + 600)
                total = c.size_gi * GIB * rng.randrange(5, 80) // 100
                status: Obj = {"phase": phase, "startTimestamp": rfc3339(started),
                               "progress": {"bytesDone": total if phase == "Completed" else total // 3,
                                            "totalBytes": total}}
                if done is not None:
                    status["completionTimestamp"] = rfc3339(done)
                if phase == "Completed":
                    status["path"] = f"/host_pods/{pod.uid}/volumes/kubernetes.io~csi/{c.pv}/mount"
                    status["snapshotID"] = f"{rng.getrandbits(128):032x}"
                elif phase == "Failed":
                    status["message"] = ("running Backup, stderr=: error running kopia: "
                                         "context deadline exceeded")
                yield {"apiVersion": "velero.io/v1", "kind": "PodVolumeBackup",
                       "metadata": {"annotations": {"velero.io/pvc-name": c.name},
                                    "creationTimestamp": rfc3339(started - 2), "generateName": f"{b.name}-",
                                    "generation": 5,
                                    "labels": {"velero.io/backup-name": b.name, "velero.io/pvc-uid": c.uid},
                                    "name": name, "namespace": VELERO_NS,
                                    "ownerReferences": [{"apiVersion": "velero.io/v1", "controller": True,
                                                         "kind": "Backup", "name": b.name, "uid": b.uid}],
                                    "resourceVersion": rv.next(), "uid": uid(rng)},
                       "spec": {"backupStorageLocation": "default", "node": pod.node,
                                "pod": {"kind": "Pod", "name": pod.name, "namespace": ns, "uid": pod.uid},
                                "repoIdentifier": "", "tags": {"backup": b.name, "ns": ns, "pod": pod.name,
                                                               "volume": "data"},
                                "uploaderType": "kopia", "volume": "data"},
                       "status": status}


# --- driver ---------------------------------------------------------------------------------------------------------

def write_list(path: Path, objs: Iterable[Obj], kubectl: bool = False) -> int:
    writer = ListWriter(path, kubectl)
    try:
        for obj in objs:
            writer.add(obj)
    finally:
        writer.close()
    return writer.count


def scaled_counts(args: argparse.Namespace) -> dict[str, int]:
    return {k: max(0, round(getattr(args, k) * args.scale)) for k in DEFAULTS}


def generate(out: Path, counts: dict[str, int], seed: int = 1, as_of: str = DEFAULT_AS_OF,
             kubectl: bool = False, log: Callable[[str], None] | None = None) -> dict[str, tuple[int, int]]:
    """Write the cluster into ``out``; returns {file name: (objects, bytes)}."""
    out.mkdir(parents=True, exist_ok=True)
    as_of_epoch = parse_rfc3339(as_of)
    plan = make_plan(counts, seed, as_of_epoch)
    rv = RV()
    storage = storage_objects(plan, rv)
    velero = velero_workloads(plan, rv)
    files: list[tuple[str, Callable[[], Iterable[Obj]]]] = [
        ("namespaces", lambda: namespace_objects(plan, rv)),
        ("nodes", lambda: node_objects(plan, rv)),
        ("storageclasses", lambda: storage["storageclasses"]),
        ("csidrivers", lambda: storage["csidrivers"]),
        ("volumesnapshotclasses", lambda: storage["volumesnapshotclasses"]),
        ("persistentvolumes", lambda: pv_objects(plan, rv)),
        ("persistentvolumeclaims", lambda: pvc_objects(plan, rv)),
        ("pods", lambda: pod_objects(plan, rv)),
        ("deployments", lambda: velero["deployments"]),
        ("daemonsets", lambda: velero["daemonsets"]),
        ("backupstoragelocations", lambda: velero["backupstoragelocations"]),
        ("schedules", lambda: schedule_objects(plan, rv)),
        ("backups", lambda: backup_objects(plan, rv)),
        ("podvolumebackups", lambda: pvb_objects(plan, rv)),
    ]
    result = {}
    for name, make in files:
        started = time.perf_counter()
        path = out / f"{name}.json"
        count = write_list(path, make(), kubectl)
        result[path.name] = (count, path.stat().st_size)
        if log:
            log(f"  {path.name:<28} {count:>8} objects {path.stat().st_size / 1e6:>8.1f} MB "
                f"{time.perf_counter() - started:>6.1f} s")
    (out / "as_of.txt").write_text(as_of + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output directory (created)")
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key}", type=int, default=value, help=f"default {value}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="reference time (RFC 3339, UTC, Z)")
    parser.add_argument("--kubectl-indent", action="store_true",
                        help="kubectl's exact layout (4-space indent, ~2.5x the bytes) instead of one item per line")
    args = parser.parse_args(argv)
    counts = scaled_counts(args)
    started = time.perf_counter()
    print(f"generating into {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
    result = generate(args.out, counts, args.seed, args.as_of, args.kubectl_indent,
                      log=lambda line: print(line, flush=True))
    total = sum(size for _, size in result.values())
    objects = sum(n for n, _ in result.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'total':<28} {objects:>8} objects {total / 1e6:>8.1f} MB "
          f"{time.perf_counter() - started:>6.1f} s (peak RSS {rss:.0f} MB, as of {args.as_of})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
