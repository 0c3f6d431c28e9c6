"""Velero volume policies (the resource-policy ConfigMap), decoded and matched exactly as Velero does.

Source of truth: vmware-tanzu/velero ``internal/resourcepolicies`` (resource_policies.go,
volume_resources.go, volume_resources_validator.go, volume_types_conditions.go). In short:

- the ConfigMap has exactly one ``data`` key; its YAML decodes strictly (yaml.v3, known fields only, no
  duplicate keys) into ``version``, ``volumePolicies`` and ``includeExcludePolicy``;
- ``conditions`` is a map decoded a second time into capacity (string), storageClass, volumeTypes and
  pvcPhase (lists of strings), nfs and csi (objects), pvcLabels (a map of strings); anything else fails;
- ``action`` is an object with ``type`` (skip, snapshot, fs-backup, custom) and ``parameters`` (a map);
- then ``Validate``: version ``v1``, a known action type, capacity bounds in order, a csi condition with
  volumeAttributes names its driver, and includeExcludePolicy has no ``*`` and no item both included and
  excluded.

Any failure makes every backup of the schedule ``FailedValidation`` (nothing is captured). Matching: the
first policy whose conditions all hold wins; an empty or absent condition holds for every volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from yaml.nodes import Node, SequenceNode

from auditor.analyse.go_yaml import DecodeError, Decoder, NonStringKeys, compose_first, go_float_text, join_field
from auditor.model import records as r
from auditor.model.quantity import QuantityError, parse_k8s_quantity

KNOWN_CONDITIONS = ("capacity", "storageClass", "nfs", "csi", "volumeTypes", "pvcLabels", "pvcPhase")
ACTIONS = ("skip", "snapshot", "fs-backup", "custom")
SCOPE_FIELDS = ("includedClusterScopedResources", "excludedClusterScopedResources",
                "includedNamespaceScopedResources", "excludedNamespaceScopedResources")
#: Velero's ``SupportedVolume`` names (volume_types_conditions.go). Others are accepted but never match.
VOLUME_TYPES = ("awsAzureDisk", "awsElasticBlockStore", "azureDisk", "azureFile", "cinder", "cephfs", "configMap",
                "csi", "downwardAPI", "emptyDir", "ephemeral", "fc", "flocker", "flexVolume", "gitRepo",
                "glusterfs", "gcePersistentDisk", "hostPath", "iscsi", "local", "nfs", "photonPersistentDisk",
                "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret", "storageOS", "vsphereVolume")
#: Kubernetes field names whose Velero type name is spelled differently, or that have none.
_K8S_TO_VELERO_TYPE = {"storageos": "storageOS", "persistentVolumeClaim": "", "unknown": ""}


class PolicyError(ValueError):
    """The policy fails Velero's validation. ``field`` is the YAML path (``volumePolicies[0].action``)."""

    def __init__(self, configmap: str, key: str | None, field: str, detail: str) -> None:
        where = f"ConfigMap {configmap}" + (f" key {key}" if key else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{detail}")
        self.configmap = configmap
        self.key = key
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class Capacity:
    """``"min,max"``; a zero bound is no bound (Velero's ``isInRange``)."""

    lower: Decimal = Decimal(0)
    upper: Decimal = Decimal(0)

    def holds(self, size: Decimal) -> bool:
        if self.lower == 0 and self.upper >= size:
            return True
        if self.upper == 0 and self.lower <= size:
            return True
        return self.lower != 0 and self.upper != 0 and self.lower <= size <= self.upper


@dataclass(frozen=True)
class Conditions:
    capacity: Capacity = Capacity()
    storage_classes: tuple[str, ...] = ()
    nfs: tuple[str, str] | None = None  # (server, path); "" is any
    csi: tuple[str, dict[str, str] | None] | None = None  # (driver, volumeAttributes)
    volume_types: tuple[str, ...] = ()
    pvc_labels: dict[str, str] = field(default_factory=dict)
    pvc_phases: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumePolicy:
    conditions: dict[str, Any]  # as written (canonical form, compared between scans)
    action: str
    index: int
    parsed: Conditions = Conditions()
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourcePolicies:
    volume_policies: tuple[VolumePolicy, ...]
    include_exclude: dict[str, tuple[str, ...]] | None = None  # includeExcludePolicy, when present


@dataclass(frozen=True)
class VolumeFacts:
    """What a volume policy can see of one volume (a PVC with its PV, or an inline pod volume)."""

    source: r.VolumeSource
    capacity_bytes: int | None = None
    storage_class: str | None = None  # the PV's storageClassName
    pvc_labels: dict[str, str] = field(default_factory=dict)
    pvc_phase: str | None = None
    is_pvc: bool = False


def decode_policies(cm: r.ConfigMap) -> ResourcePolicies:
    """The ConfigMap's policies, or PolicyError naming the ConfigMap, its key and the field."""
    name = cm.meta.key
    if len(cm.data) != 1:
        raise PolicyError(name, None, "data", f"illegal resource policies ConfigMap: it must have exactly one "
                                              f"data key, it has {len(cm.data)}")
    key, text = next(iter(cm.data.items()))
    try:
        return _decode(text)
    except DecodeError as exc:
        raise PolicyError(name, key, exc.field, exc.detail) from None


def parse_policies(cm: r.ConfigMap) -> tuple[VolumePolicy, ...]:
    return decode_policies(cm).volume_policies


def _decode(text: str) -> ResourcePolicies:
    d = Decoder()
    root = compose_first(text)
    if root is None:  # yaml.v3's Decode returns io.EOF for an empty document
        raise DecodeError("", "the document is empty (EOF)")
    top = d.struct(root, "", ("version", "volumePolicies", "includeExcludePolicy"), "ResourcePolicies") or {}
    version = d.string(top.get("version"), "version")
    raw: list[tuple[int, dict[str, Any] | None, str, dict[str, Any]]] = []
    items = top.get("volumePolicies")
    if items is not None and not d.is_null(items):
        if not isinstance(items, SequenceNode):
            raise DecodeError("volumePolicies", f"cannot unmarshal {d.describe(items)} into []VolumePolicy "
                                                f"(expected a list)")
        for i, item in enumerate(items.value):
            raw.append(_decode_item(d, item, f"volumePolicies[{i}]", i))
    include_exclude = _decode_scope(d, top.get("includeExcludePolicy"))
    # unmarshalResourcePolicies: pvcLabels must be a map of string to string before anything is built
    for i, conditions, _, _ in raw:
        if conditions is not None and "pvcLabels" in conditions:
            labels = conditions["pvcLabels"]
            if not isinstance(labels, dict) or isinstance(labels, NonStringKeys):
                raise DecodeError(f"volumePolicies[{i}].conditions.pvcLabels",
                                  f"pvcLabels must be a map of string to string, got {_go_type(labels)}")
    policies = [VolumePolicy(conditions or {}, action, i, _build_conditions(conditions or {},
                                                                            f"volumePolicies[{i}].conditions"),
                             parameters) for i, conditions, action, parameters in raw]
    # Policies.Validate
    if version != "v1":
        raise DecodeError("version", f"incompatible version number {version!r} with supported version v1")
    for p in policies:
        path = f"volumePolicies[{p.index}]"
        if p.action not in ACTIONS:
            raise DecodeError(f"{path}.action.type", f"invalid action type {p.action!r} (Velero accepts "
                                                     f"{', '.join(ACTIONS)})")
        cap = p.parsed.capacity
        if not (cap.upper >= cap.lower or (cap.lower != 0 and cap.upper == 0)):
            raise DecodeError(f"{path}.conditions.capacity", f"illegal values for capacity: the upper bound "
                                                             f"{cap.upper} is below the lower bound {cap.lower}")
        if p.parsed.csi is not None and p.parsed.csi[0] == "" and p.parsed.csi[1] is not None:
            raise DecodeError(f"{path}.conditions.csi",
                              "csi driver should not be empty when filtering by volume attributes")
    if include_exclude is not None:
        _validate_scope(include_exclude)
    return ResourcePolicies(tuple(policies), include_exclude)


def _decode_item(d: Decoder, item: Node, path: str, index: int,
                 ) -> tuple[int, dict[str, Any] | None, str, dict[str, Any]]:
    fields = d.struct(item, path, ("conditions", "action"), "VolumePolicy", 1) or {}
    conditions: dict[str, Any] | None = None
    node = fields.get("conditions")
    if node is not None and not d.is_null(node):
        value = d.any(node, f"{path}.conditions", 2)
        if not isinstance(value, dict):
            raise DecodeError(f"{path}.conditions", f"cannot unmarshal {d.describe(node)} into "
                                                    f"map[string]interface {{}} (expected a map)")
        conditions = dict(value)
    action = d.struct(fields.get("action"), f"{path}.action", ("type", "parameters"), "Action", 2) or {}
    action_type = d.string(action.get("type"), f"{path}.action.type", 3)
    parameters: dict[str, Any] = {}
    params = action.get("parameters")
    if params is not None and not d.is_null(params):
        value = d.any(params, f"{path}.action.parameters", 3)
        if not isinstance(value, dict):
            raise DecodeError(f"{path}.action.parameters", f"cannot unmarshal {d.describe(params)} into "
                                                           f"map[string]interface {{}} (expected a map)")
        parameters = dict(value)
    return index, conditions, action_type, parameters


def _decode_scope(d: Decoder, node: Node | None) -> dict[str, tuple[str, ...]] | None:
    fields = d.struct(node, "includeExcludePolicy", SCOPE_FIELDS, "IncludeExcludePolicy", 1)
    if fields is None:
        return None
    return {name: d.strings(fields.get(name), f"includeExcludePolicy.{name}", 2) for name in SCOPE_FIELDS}


def _validate_scope(scope: dict[str, tuple[str, ...]]) -> None:
    for kind in ("ClusterScoped", "NamespaceScoped"):
        includes, excludes = scope[f"included{kind}Resources"], scope[f"excluded{kind}Resources"]
        if "*" in includes or "*" in excludes:
            raise DecodeError("includeExcludePolicy", "cannot use '*' in includes or excludes filters in the policy")
        for item in sorted(set(excludes)):
            if item in includes:
                raise DecodeError(f"includeExcludePolicy.excluded{kind}Resources",
                                  f"excludes list cannot contain an item in the includes list: {item}")


# --- conditions: the second decode (map → volumeConditions) ---------------------------------------------

def _go_type(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, NonStringKeys):
        return "map[interface {}]interface {}"
    return {dict: "map[string]interface {}", list: "[]interface {}", str: "string", bool: "bool", int: "int",
            float: "float64"}.get(type(value), type(value).__name__)


def _tag(value: Any) -> str:
    if isinstance(value, dict):
        return "!!map"
    if isinstance(value, list):
        return "!!seq"
    return f"!!str `{str(value)[:40]}`" if isinstance(value, str) else f"!!{_go_type(value)} `{value}`"


def _text(value: Any, path: str) -> str:
    """A value re-encoded by yaml.v3 then decoded into a Go string (ints and floats in Go's spelling)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float_text(value)
    if isinstance(value, str):
        return value
    raise DecodeError(path, f"cannot unmarshal {_tag(value)} into string")


def _texts(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DecodeError(path, f"cannot unmarshal {_tag(value)} into []string (expected a list of strings)")
    return tuple(_text(v, f"{path}[{i}]") for i, v in enumerate(value))


def _object(value: Any, path: str, known: tuple[str, ...], type_name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DecodeError(path, f"cannot unmarshal {_tag(value)} into {type_name} (expected an object)")
    for key in value:
        if key not in known:
            raise DecodeError(join_field(path, key), f"field {key[:80]!r} not found in type {type_name}")
    return value


def _string_map(value: Any, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DecodeError(path, f"cannot unmarshal {_tag(value)} into map[string]string (expected a map)")
    return {str(k): _text(v, join_field(path, str(k))) for k, v in value.items()}


def _build_conditions(raw: dict[str, Any], path: str) -> Conditions:
    for key in raw:
        if key not in KNOWN_CONDITIONS:
            raise DecodeError(join_field(path, key), f"unknown condition {key[:80]!r} (known: "
                                                f"{', '.join(KNOWN_CONDITIONS)})")
    capacity_text = _text(raw.get("capacity"), f"{path}.capacity")  # parsed last, as BuildPolicy does
    nfs = _object(raw.get("nfs"), f"{path}.nfs", ("server", "path"), "nFSVolumeSource")
    csi = _object(raw.get("csi"), f"{path}.csi", ("driver", "volumeAttributes"), "csiVolumeSource")
    return Conditions(
        storage_classes=_texts(raw.get("storageClass"), f"{path}.storageClass"),
        nfs=None if nfs is None else (_text(nfs.get("server"), f"{path}.nfs.server"),
                                      _text(nfs.get("path"), f"{path}.nfs.path")),
        csi=None if csi is None else (_text(csi.get("driver"), f"{path}.csi.driver"),
                                      _string_map(csi.get("volumeAttributes"), f"{path}.csi.volumeAttributes")),
        volume_types=_texts(raw.get("volumeTypes"), f"{path}.volumeTypes"),
        pvc_labels=_string_map(raw.get("pvcLabels"), f"{path}.pvcLabels") or {},
        pvc_phases=_texts(raw.get("pvcPhase"), f"{path}.pvcPhase"),
        capacity=_parse_capacity(capacity_text, f"{path}.capacity"),
    )


_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"


def _parse_capacity(text: str, path: str) -> Capacity:
    """``parseCapacity``: "" is ",", exactly one comma, an empty side is 0 (unbounded)."""
    parts = (text or ",").split(",")
    if len(parts) != 2:
        raise DecodeError(path, f"wrong format of Capacity {text!r:.60}: it must be 'min,max'")
    bounds = []
    for part in parts:
        part = part.strip(_GO_SPACE)
        try:
            bounds.append(parse_k8s_quantity(part) if part else Decimal(0))
        except QuantityError as exc:
            raise DecodeError(path, f"wrong format of Capacity {part!r:.40}: {exc}") from None
    return Capacity(bounds[0], bounds[1])


# --- matching ------------------------------------------------------------------------------------------

def velero_volume_type(source: r.VolumeSource) -> str:
    """The name Velero's ``getVolumeTypeFromPV`` gives a source (``storageos`` is ``storageOS``)."""
    return _K8S_TO_VELERO_TYPE.get(source.type, source.type)


def matches(c: Conditions, v: VolumeFacts) -> bool:
    if not c.capacity.holds(Decimal(v.capacity_bytes or 0)):
        return False
    if c.storage_classes and (not v.storage_class or v.storage_class not in c.storage_classes):
        return False
    src = v.source
    if c.nfs is not None:
        server, path = c.nfs
        if src.type != "nfs" or (server and server != (src.nfs_server or "")) or (path and path != (src.nfs_path
                                                                                                   or "")):
            return False
    if c.csi is not None:
        driver, attributes = c.csi
        if src.type != "csi":
            return False
        if driver and driver != (src.csi_driver or ""):
            return False
        if driver and attributes:
            if not src.csi_attributes:
                return False
            if any(src.csi_attributes.get(k, "") != val for k, val in attributes.items()):
                return False
    if c.volume_types and velero_volume_type(src) not in c.volume_types:
        return False
    if c.pvc_labels and (not v.pvc_labels or any(v.pvc_labels.get(k) != val for k, val in c.pvc_labels.items())):
        return False
    return not (c.pvc_phases and (not v.pvc_phase or v.pvc_phase not in c.pvc_phases))


def match_action(policies: tuple[VolumePolicy, ...], facts: VolumeFacts) -> VolumePolicy | None:
    """The first policy whose conditions all hold, or None (then the legacy rules decide)."""
    for policy in policies:
        if matches(policy.parsed, facts):
            return policy
    return None


def pvc_facts(pvc: r.PersistentVolumeClaim, pv: r.PersistentVolume | None) -> VolumeFacts:
    return VolumeFacts(
        source=pv.source if pv else r.VolumeSource("unknown"),
        capacity_bytes=pv.capacity_bytes if pv else None,
        storage_class=pv.storage_class if pv else None,
        pvc_labels=pvc.meta.labels, pvc_phase=pvc.phase, is_pvc=True,
    )
