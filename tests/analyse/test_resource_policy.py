"""Velero's own resource-policy test tables, replayed against our decoder and matcher.

Cases come from vmware-tanzu/velero ``internal/resourcepolicies``: resource_policies_test.go
(TestLoadResourcePolicies, TestGetResourceMatchedAction, TestGetMatchAction, TestPVCPhaseMatch),
volume_resources_validator_test.go (TestCapacityConditionValidate, TestValidate), volume_resources_test.go
(TestParseCapacity, TestCapacityIsInRange, TestStorageClassConditionMatch, TestNFSConditionMatch,
TestCSIConditionMatch, TestPVCLabelsMatch, TestUnmarshalVolumeConditions) and volume_types_conditions_test.go.
Velero's Go structs are written here as the YAML a user would put in the ConfigMap. Where Velero's
TestLoadResourcePolicies indents its YAML with tabs (so it fails on the tabs alone), the case is written with
spaces and must still fail for the reason its name gives.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from auditor.analyse.resource_policy import (
    Capacity,
    Conditions,
    PolicyError,
    VolumeFacts,
    decode_policies,
    match_action,
    matches,
)
from auditor.model import records as r
from auditor.model.quantity import QuantityError, parse_k8s_quantity

GI = 2**30


def config_map(text: str, key: str = "policy.yaml", **extra: str) -> r.ConfigMap:
    return r.ConfigMap(meta=r.Meta(name="policy", namespace="velero"), data={key: text, **extra})


def decode(text: str) -> Any:
    return decode_policies(config_map(text))


def error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as exc:
        decode(text)
    return exc.value


def policy(conditions: str, action: str = "type: skip") -> str:
    """One volume policy with the given conditions block (already indented by 4)."""
    return f"version: v1\nvolumePolicies:\n- conditions:\n{conditions}\n  action:\n    {action}\n"


# --- TestLoadResourcePolicies (resource_policies_test.go) -----------------------------------------------

LOAD_CASES = [
    ("unknown key in yaml", policy('    capacity: "0,100Gi"\n    unknown: {}\n    storageClass:\n    - gp2\n'
                                   '    - ebs-sc'), True),
    ("reduplicated key in yaml", policy('    capacity: "0,100Gi"\n    capacity: "0,100Gi"\n    storageClass:\n'
                                        '    - gp2\n    - ebs-sc'), True),
    ("error format of storageClass", policy('    capacity: "0,100Gi"\n    storageClass: gp2'), True),
    ("error format of csi", policy('    capacity: "0,100Gi"\n    csi: gp2'), True),
    ("error format of nfs", policy('    capacity: "0,100Gi"\n    csi: {}\n    nfs: abc'), True),
    ("supported format volume policies", policy("    capacity: '0,100Gi'\n    csi:\n      driver: aws.efs.csi.driver"),
     False),
    ("supported format csi driver with volumeAttributes",
     policy("    capacity: '0,100Gi'\n    csi:\n      driver: aws.efs.csi.driver\n      volumeAttributes:\n"
            "        key1: value1"), False),
    ("supported format pvcLabels", policy("    pvcLabels:\n      environment: production\n      app: database"),
     False),
    ("error format of pvcLabels (not a map)", policy('    pvcLabels: "production"'), True),
    ("supported format pvcLabels with extra keys",
     policy("    pvcLabels:\n      environment: production\n      region: us-west"), False),
]


@pytest.mark.parametrize(("text", "want_error"), [c[1:] for c in LOAD_CASES], ids=[c[0] for c in LOAD_CASES])
def test_velero_load_cases(text: str, want_error: bool) -> None:
    if want_error:
        assert error(text).field.startswith("volumePolicies[0].conditions")
    else:
        assert len(decode(text).volume_policies) == 1


# --- TestValidate (volume_resources_validator_test.go) -------------------------------------------------

VALIDATE_CASES: list[tuple[str, str, str | None]] = [
    # (name, YAML, the field the error names; None when Velero accepts it)
    ("unknown key in yaml", policy('    capacity: "0,10Gi"\n    unknown: ""\n    storageClass: [gp2, ebs-sc]\n'
                                   '    csi: {driver: aws.efs.csi.driver}'), "volumePolicies[0].conditions.unknown"),
    ("error format of capacity", policy('    capacity: "10Gi"\n    storageClass: [gp2, ebs-sc]'),
     "volumePolicies[0].conditions.capacity"),
    ("error format of storageClass", policy('    capacity: "0,10Gi"\n    storageClass: ebs-sc'),
     "volumePolicies[0].conditions.storageClass"),
    ("error format of csi", policy('    capacity: "0,10Gi"\n    csi: aws.efs.csi.driver'),
     "volumePolicies[0].conditions.csi"),
    ("error format of csi driver", policy("    csi: {driver: [aws.efs.csi.driver]}"),
     "volumePolicies[0].conditions.csi.driver"),
    ("error format of csi driver volumeAttributes", policy("    csi: {driver: aws.efs.csi.driver, "
                                                           "volumeAttributes: test}"),
     "volumePolicies[0].conditions.csi.volumeAttributes"),
    ("unsupported version", policy('    capacity: "0,10Gi"').replace("v1", "v2"), "version"),
    ("unsupported action", policy('    capacity: "0,10Gi"', "type: unsupported"), "volumePolicies[0].action.type"),
    ("error format of nfs", policy('    nfs: aws.efs.csi.driver'), "volumePolicies[0].conditions.nfs"),
    ("supported format volume policies only csi driver", policy("    csi: {driver: aws.efs.csi.driver}"), None),
    ("unsupported format volume policies only csi volumeattributes",
     policy("    csi: {volumeAttributes: {key1: value1}}"), "volumePolicies[0].conditions.csi"),
    ("supported format volume policies with csi driver and volumeattributes",
     policy("    csi: {driver: aws.efs.csi.driver, volumeAttributes: {key1: value1}}"), None),
    ("supported format volume policies", policy('    capacity: "0,10Gi"\n    storageClass: [gp2, ebs-sc]\n'
                                                '    csi: {driver: aws.efs.csi.driver}\n'
                                                '    nfs: {server: 192.168.20.90, path: /mnt/data/}'), None),
    ("action type snapshot", policy('    capacity: "0,10Gi"', "type: snapshot"), None),
    ("action type fs-backup", policy('    capacity: "0,10Gi"', "type: fs-backup"), None),
    ("action types fs-backup and snapshot", "version: v1\nvolumePolicies:\n- conditions: {storageClass: [gp2]}\n"
     "  action: {type: snapshot}\n- conditions: {nfs: {server: 192.168.20.90, path: /mnt/data/}}\n"
     "  action: {type: fs-backup}\n", None),
    ("pvcLabels valid map", policy("    pvcLabels: {environment: production, app: database}"), None),
    ("pvcLabels not a map", policy("    pvcLabels: production"), "volumePolicies[0].conditions.pvcLabels"),
    ("'*' in the filters of include exclude policy - 1", policy("    pvcLabels: {environment: production}")
     + "includeExcludePolicy:\n  includedClusterScopedResources: ['*']\n  excludedClusterScopedResources: [crds]\n"
       "  includedNamespaceScopedResources: [pods]\n  excludedNamespaceScopedResources: [secrets]\n",
     "includeExcludePolicy"),
    ("'*' in the filters of include exclude policy - 2", policy("    pvcLabels: {environment: production}")
     + "includeExcludePolicy:\n  includedClusterScopedResources: [persistentvolumes]\n"
       "  excludedClusterScopedResources: [crds]\n  includedNamespaceScopedResources: [pods]\n"
       "  excludedNamespaceScopedResources: ['*']\n", "includeExcludePolicy"),
    ("dup item in both the include and exclude filters", policy("    pvcLabels: {environment: production}")
     + "includeExcludePolicy:\n  includedClusterScopedResources: [persistentvolumes]\n"
       "  excludedClusterScopedResources: [crds]\n  includedNamespaceScopedResources: [pods, configmaps]\n"
       "  excludedNamespaceScopedResources: [secrets, pods]\n",
     "includeExcludePolicy.excludedNamespaceScopedResources"),
    ("valid volume policies and valid include/exclude policy", policy("    pvcLabels: {environment: production}")
     + "includeExcludePolicy:\n  includedClusterScopedResources: [persistentvolumes]\n"
       "  excludedClusterScopedResources: [crds]\n  includedNamespaceScopedResources: [pods, configmaps]\n"
       "  excludedNamespaceScopedResources: [secrets]\n", None),
    # TestUnmarshalVolumeConditions (volume_resources_test.go)
    ("invalid capacity field name", policy('    Capacity: "1Gi,10Gi"'), "volumePolicies[0].conditions.Capacity"),
]


@pytest.mark.parametrize(("text", "field"), [c[1:] for c in VALIDATE_CASES], ids=[c[0] for c in VALIDATE_CASES])
def test_velero_validate_cases(text: str, field: str | None) -> None:
    if field is None:
        decode(text)
    else:
        exc = error(text)
        assert exc.field == field, str(exc)
        assert exc.configmap == "velero/policy" and exc.key == "policy.yaml"
        assert str(exc).startswith(f"ConfigMap velero/policy key policy.yaml: {field}: ")


# --- capacity (TestCapacityConditionValidate, TestParseCapacity, TestCapacityIsInRange) ------------------

@pytest.mark.parametrize(("capacity", "valid"), [
    ("0,0", True), ("0,100", True), ("100,50", False), ("100,100", True), ("100,0", True), ("100,200", True),
    ("200,100", False),
    ("10Gi,20Gi", True), ("10Gi,", True), ("", True), (",", True), (" 1Gi , 2Gi ", True),
    ("10Gi", False), ("0,Infinity", False), ("0,1K", False), ("0,10 Gi", False), ("1,2,3", False),
    ("0,1e", False), ("0,.5Gi", True), ("-1,5", True), ("0,-5", False),
])
def test_capacity_validation(capacity: str, valid: bool) -> None:
    text = policy(f'    capacity: "{capacity}"')
    if valid:
        decode(text)
    else:
        assert error(text).field == "volumePolicies[0].conditions.capacity"


@pytest.mark.parametrize(("lower", "upper", "size", "inside"), [
    (0, 10 * GI, 5 * GI, True), (0, 10 * GI, 15 * GI, False), (20 * GI, 0, 25 * GI, True), (20 * GI, 0, 15 * GI, False),
    (10 * GI, 20 * GI, 15 * GI, True), (10 * GI, 20 * GI, 5 * GI, False), (10 * GI, 20 * GI, 25 * GI, False),
    (0, 0, 5 * GI, True),
])
def test_capacity_in_range(lower: int, upper: int, size: int, inside: bool) -> None:
    assert Capacity(Decimal(lower), Decimal(upper)).holds(Decimal(size)) is inside


def test_capacity_parsed_with_units() -> None:
    cond = decode(policy('    capacity: "20Gi,0"')).volume_policies[0].parsed
    assert cond.capacity == Capacity(Decimal(20 * GI), Decimal(0))  # 0: no upper bound
    assert decode(policy('    capacity: "0,0"')).volume_policies[0].parsed.capacity == Capacity()


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("20Gi", 20 * GI), ("1.5Gi", 3 * GI // 2), ("500M", 500 * 10**6), ("1k", 1000), ("100m", Decimal("0.1")),
    ("1e3", 1000), ("1E", 10**18), (".5", Decimal("0.5")), ("1.", 1), ("-1", -1), ("+2", 2), ("1e-12", Decimal("1e-9")),
    ("100Ei", 2**63 - 1),
])
def test_k8s_quantity(text: str, value: Any) -> None:
    assert parse_k8s_quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "Infinity", "1K", "10 Gi", "1e", "1Gb", "0x10", "1.2.3", "NaN", "1e1e1"])
def test_k8s_quantity_rejects(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_k8s_quantity(text)


# --- matching (TestGetResourceMatchedAction, TestGetMatchAction and the condition tables) ----------------

def facts(type_: str = "csi", driver: str | None = None, attributes: dict[str, str] | None = None,
          size: int | None = None, storage_class: str | None = None, server: str | None = None,
          path: str | None = None, labels: dict[str, str] | None = None, phase: str | None = None) -> VolumeFacts:
    source = r.VolumeSource(type_, csi_driver=driver, csi_attributes=attributes or {}, nfs_server=server,
                            nfs_path=path)
    return VolumeFacts(source, size, storage_class, labels or {}, phase, True)


RESOURCE_POLICIES = """version: v1
volumePolicies:
- conditions: {capacity: "0,10Gi", storageClass: [gp2, ebs-sc], csi: {driver: aws.efs.csi.driver}}
  action: {type: skip}
- conditions: {csi: {driver: files.csi.driver, volumeAttributes: {protocol: nfs}}}
  action: {type: skip}
- conditions: {capacity: "10,100Gi", storageClass: [gp2, ebs-sc], csi: {driver: aws.efs.csi.driver}}
  action: {type: snapshot}
- conditions: {storageClass: [gp2, ebs-sc], csi: {driver: aws.efs.csi.driver}}
  action: {type: fs-backup}
- conditions: {pvcLabels: {environment: production}}
  action: {type: snapshot}
"""

MATCHED_ACTION_CASES = [
    ("match policy", facts(driver="aws.efs.csi.driver", size=5 * GI, storage_class="ebs-sc"), "skip"),
    ("match policy AFS NFS", facts(driver="files.csi.driver", attributes={"protocol": "nfs"}, size=5 * GI,
                                   storage_class="afs-nfs"), "skip"),
    ("match policy AFS SMB", facts(driver="files.csi.driver", size=5 * GI, storage_class="afs-smb"), None),
    ("both matches return the first policy", facts(driver="aws.efs.csi.driver", size=50 * GI,
                                                   storage_class="ebs-sc"), "snapshot"),
    ("mismatch all policies", facts("nfs", size=50 * GI, storage_class="ebs-sc"), None),
    ("match pvcLabels condition", facts("unknown", size=5 * GI, storage_class="some-class",
                                        labels={"environment": "production", "team": "backend"}), "snapshot"),
    ("mismatch pvcLabels condition", facts("unknown", size=5 * GI, storage_class="some-class",
                                           labels={"environment": "staging"}), None),
]


@pytest.mark.parametrize(("volume", "action"), [c[1:] for c in MATCHED_ACTION_CASES],
                         ids=[c[0] for c in MATCHED_ACTION_CASES])
def test_velero_matched_action(volume: VolumeFacts, action: str | None) -> None:
    matched = match_action(decode(RESOURCE_POLICIES).volume_policies, volume)
    assert (matched.action if matched else None) == action


def test_nil_condition_always_matches() -> None:
    policies = decode("version: v1\nvolumePolicies:\n- conditions: {}\n  action: {type: skip}\n").volume_policies
    assert match_action(policies, facts("unknown", size=5 * GI, labels={"environment": "staging"})) is not None


SKIP = "action:\n    type: skip"
GET_MATCH_ACTION_CASES = [
    ("empty csi", "    csi: {}", facts(driver="ebs.csi.aws.com"), True),
    ("empty csi with pv no csi driver", "    csi: {}", facts("unknown", size=GI), False),
    ("Skip AFS CSI condition with Disk volumes", "    csi: {driver: files.csi.driver}",
     facts(driver="disks.csi.driver"), False),
    ("Skip AFS CSI condition with AFS volumes", "    csi: {driver: files.csi.driver}",
     facts(driver="files.csi.driver"), True),
    ("Skip AFS NFS CSI condition with Disk volumes", "    csi: {driver: files.csi.driver, volumeAttributes: "
     "{protocol: nfs}}", facts(driver="disks.csi.driver"), False),
    ("Skip AFS NFS CSI condition with AFS SMB volumes", "    csi: {driver: files.csi.driver, volumeAttributes: "
     "{protocol: nfs}}", facts(driver="files.csi.driver", attributes={"key1": "val1"}), False),
    ("Skip AFS NFS CSI condition with AFS NFS volumes", "    csi: {driver: files.csi.driver, volumeAttributes: "
     "{protocol: nfs}}", facts(driver="files.csi.driver", attributes={"protocol": "nfs"}), True),
    ("csi not configured and testing capacity condition", '    capacity: "0,100Gi"',
     facts(driver="ebs.csi.aws.com", size=GI), True),
    ("empty nfs", "    nfs: {}", facts("nfs", server="192.168.1.20"), True),
    ("nfs not configured", '    capacity: "0,100Gi"', facts("nfs", server="192.168.1.20", size=GI), True),
    ("empty nfs with pv no nfs volume source", '    capacity: "0,100Gi"\n    nfs: {}', facts("unknown", size=GI),
     False),
    ("match volume by types", '    capacity: "0,100Gi"\n    volumeTypes: [local, hostPath]',
     facts("hostPath", size=GI), True),
    ("mismatch volume by types", '    capacity: "0,100Gi"\n    volumeTypes: [local]', facts("hostPath", size=GI),
     False),
    ("PVC labels match", '    capacity: "0,100Gi"\n    pvcLabels: {environment: production}',
     facts("unknown", size=GI, labels={"environment": "production"}), True),
    ("PVC labels match, criteria label is a subset",
     '    capacity: "0,100Gi"\n    pvcLabels: {environment: production}',
     facts("unknown", size=GI, labels={"environment": "production", "app": "backend"}), True),
    ("PVC labels don't match exactly", '    capacity: "0,100Gi"\n    pvcLabels: {environment: production, '
     'app: frontend}', facts("unknown", size=GI, labels={"environment": "production"}), False),
    ("PVC labels mismatch", '    capacity: "0,100Gi"\n    pvcLabels: {environment: production}',
     facts("unknown", size=GI, labels={"environment": "staging"}), False),
    ("PVC phase Pending should skip", '    pvcPhase: ["Pending"]', facts("unknown", phase="Pending"), True),
    ("PVC phase Bound should not skip", '    pvcPhase: ["Pending"]', facts("unknown", phase="Bound"), False),
    ("PVC phase multiple phases", '    pvcPhase: ["Pending", "Lost"]', facts("unknown", phase="Lost"), True),
    # volume_types_conditions_test.go: Velero's spelling of in-tree types
    ("in-tree storageOS", "    volumeTypes: [storageOS]", facts("storageos"), True),
    ("in-tree scaleIO", "    volumeTypes: [scaleIO]", facts("scaleIO"), True),
    ("Kubernetes spelling storageos is not Velero's", "    volumeTypes: [storageos]", facts("storageos"), False),
    ("volume type names are case-sensitive", "    volumeTypes: [CSI]", facts(driver="x"), False),
    # TestStorageClassConditionMatch
    ("empty storage class list matches all", "    storageClass: []", facts(storage_class="ebs-sc"), True),
    ("empty volume storage class", "    storageClass: [gp2]", facts(storage_class=None), False),
    ("storage class is compared whole, not as a substring", "    storageClass: [ceph-rbd-retain]",
     facts(storage_class="ceph-rbd"), False),
    # TestNFSConditionMatch
    ("nfs server", "    nfs: {server: 192.168.10.20}", facts("nfs", server="192.168.10.20"), True),
    ("nfs server mismatch", "    nfs: {server: 192.168.10.20}", facts("nfs", server=""), False),
    ("nfs path only", "    nfs: {path: /mnt/data}", facts("nfs", server="192.168.10.20", path="/mnt/data"), True),
    ("nfs null is no condition", "    nfs: null", facts(driver="x"), True),
    # TestCSIConditionMatch
    ("csi attributes on a volume without them", "    csi: {driver: test, volumeAttributes: {protocol: nfs}}",
     facts(driver="test"), False),
    ("csi attributes value differs", "    csi: {driver: test, volumeAttributes: {protocol: nfs}}",
     facts(driver="test", attributes={"protocol": ""}), False),
    ("csi driver, volume has attributes", "    csi: {driver: test}", facts(driver="test",
                                                                            attributes={"protocol": "nfs"}), True),
]


@pytest.mark.parametrize(("conditions", "volume", "skip"), [c[1:] for c in GET_MATCH_ACTION_CASES],
                         ids=[c[0] for c in GET_MATCH_ACTION_CASES])
def test_velero_get_match_action(conditions: str, volume: VolumeFacts, skip: bool) -> None:
    matched = match_action(decode(policy(conditions, "type: skip")).volume_policies, volume)
    assert (matched is not None and matched.action == "skip") is skip


@pytest.mark.parametrize(("labels", "volume_labels", "match"), [
    ({"environment": "production"}, {"environment": "production", "app": "database"}, True),
    ({"environment": "production", "app": "database"}, {"environment": "production", "app": "database"}, True),
    ({"environment": "production"}, {"environment": "staging", "app": "database"}, False),
    ({"environment": "production", "region": "us-west"}, {"environment": "production", "app": "database"}, False),
    ({}, {"environment": "staging"}, True),
    ({"environment": "production"}, {}, False),
])
def test_velero_pvc_labels_match(labels: dict[str, str], volume_labels: dict[str, str], match: bool) -> None:
    assert matches(Conditions(pvc_labels=labels), facts("unknown", labels=volume_labels)) is match


# --- what the issue saw: each malformed policy is one PolicyError naming the field, never a crash ---------

ISSUE_CASES = [
    ("storageClass as a string", "    storageClass: ceph-rbd", "volumePolicies[0].conditions.storageClass"),
    ("volumeTypes as a string", "    volumeTypes: csi", "volumePolicies[0].conditions.volumeTypes"),
    ("pvcPhase as a string", "    pvcPhase: Bound", "volumePolicies[0].conditions.pvcPhase"),
    ("csi as a string", "    csi: rbd.csi.ceph.com", "volumePolicies[0].conditions.csi"),
    ("nfs as a string", "    nfs: x", "volumePolicies[0].conditions.nfs"),
    ("pvcLabels as a list", "    pvcLabels: [a]", "volumePolicies[0].conditions.pvcLabels"),
    ("pvcLabels null", "    pvcLabels: ~", "volumePolicies[0].conditions.pvcLabels"),
    ("pvcLabels with a list value", "    pvcLabels: {a: [b]}", "volumePolicies[0].conditions.pvcLabels.a"),
    ("capacity infinity", '    capacity: "0,Infinity"', "volumePolicies[0].conditions.capacity"),
    ("capacity a number", "    capacity: 10", "volumePolicies[0].conditions.capacity"),
    ("unknown csi key", "    csi: {driver: x, class: y}", "volumePolicies[0].conditions.csi.class"),
    ("csi attributes an empty map without driver", "    csi: {volumeAttributes: {}}",
     "volumePolicies[0].conditions.csi"),
]


@pytest.mark.parametrize(("conditions", "field"), [c[1:] for c in ISSUE_CASES], ids=[c[0] for c in ISSUE_CASES])
def test_malformed_conditions(conditions: str, field: str) -> None:
    assert error(policy(conditions)).field == field


@pytest.mark.parametrize(("text", "field"), [
    ("version: v1\nvolumePolicies:\n- conditions: {}\n  action: skip\n", "volumePolicies[0].action"),
    ("version: v1\nvolumePolicies:\n- conditions: {}\n  action: {type: snapshot, when: always}\n",
     "volumePolicies[0].action.when"),
    ("version: v1\nvolumePolicies:\n- conditions: [{storageClass: [a]}]\n  action: {type: skip}\n",
     "volumePolicies[0].conditions"),
    ("version: v1\nvolumePolicies:\n- conditions: {}\n", "volumePolicies[0].action.type"),
    ("version: v1\nvolumePolicies:\n- conditions: {}\n  action: {type: Skip}\n", "volumePolicies[0].action.type"),
    ("version: v1\nvolumePolicies:\n- conditions: {}\n  action: {type: skip, parameters: x}\n",
     "volumePolicies[0].action.parameters"),
    ("version: v1\nvolumePolicies: {a: b}\n", "volumePolicies"),
    ("version: v1\nvolumePolicy: []\n", "volumePolicy"),
    ("version: 1\n", "version"),
    ("volumePolicies: []\n", "version"),
    ("version: v1\nversion: v1\n", "version"),
    ("", ""),
    ("just text", ""),
    ("version: [v1\n", ""),
    ("version: v1\nvolumePolicies: " + "[" * 5000 + "]" * 5000 + "\n", ""),
])
def test_malformed_documents(text: str, field: str) -> None:
    assert error(text).field.startswith(field)


def test_yaml_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    text = "version: v1\nvolumePolicies:\n- conditions:\n    pvcLabels: {}\n  action:\n    type: skip\n" \
           "    parameters:\n" + "".join(f"      {line}\n" for line in lines)
    assert "aliasing" in error(text).detail


def test_config_map_must_have_one_key() -> None:
    with pytest.raises(PolicyError) as exc:
        decode_policies(config_map("version: v1\n", other="x"))
    assert exc.value.field == "data" and exc.value.key is None


def test_go_yaml_scalars_keep_their_text() -> None:
    """yaml.v3 decodes into Go strings: ``yes`` stays "yes", ``1.10`` (a float re-encoded) becomes "1.1"."""
    p = decode(policy("    storageClass: [yes, 'no', 010, 0x1F, 1.10, 1e6, ~, true]")).volume_policies[0]
    assert p.parsed.storage_classes == ("yes", "no", "8", "31", "1.1", "1e+06", "", "true")
    labels = decode(policy("    pvcLabels: {tier: 1, on: yes}")).volume_policies[0].parsed.pvc_labels
    assert labels == {"tier": "1", "on": "yes"}


def test_pvc_labels_with_non_string_keys_are_rejected() -> None:
    assert "map[interface {}]interface {}" in error(policy("    pvcLabels: {1: a}")).detail


def test_multiple_documents_only_the_first_counts() -> None:
    assert decode("version: v1\n---\nnot: [valid\n").volume_policies == ()


def test_custom_action_and_parameters_are_accepted() -> None:
    p = decode(policy("    storageClass: [gp2]", "type: custom\n    parameters: {plugin: x, n: 2}")).volume_policies[0]
    assert p.action == "custom" and p.parameters == {"plugin": "x", "n": 2}


def test_merge_keys() -> None:
    text = "version: v1\nvolumePolicies:\n- conditions:\n    <<: {storageClass: [gp2]}\n    capacity: '0,1Gi'\n" \
           "  action: {type: skip}\n"
    cond = decode(text).volume_policies[0].parsed
    assert cond.storage_classes == ("gp2",) and cond.capacity.upper == GI

