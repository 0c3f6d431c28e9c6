"""Property-based tests over resource policies (fixed budget, derandomized: CI stays deterministic).

1. Any document, random or a mutation of a valid one, decodes or fails with PolicyError: never another
   exception, and an accepted policy matches any volume without raising.
2. The decoder accepts exactly the documents Velero's rules accept, judged by an independent oracle written
   from the field/type table of ``internal/resourcepolicies`` (volume_resources_validator.go
   ``volumeConditions``, resource_policies.go ``ResourcePolicies``/``Action``/``IncludeExcludePolicy``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.analyse.resource_policy import PolicyError, VolumeFacts, decode_policies, match_action
from auditor.model import records as r

BUDGET = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])

CONDITIONS = ("capacity", "storageClass", "nfs", "csi", "volumeTypes", "pvcLabels", "pvcPhase")
ACTIONS = ("skip", "snapshot", "fs-backup", "custom")
SCOPES = ("includedClusterScopedResources", "excludedClusterScopedResources",
          "includedNamespaceScopedResources", "excludedNamespaceScopedResources")
#: Capacity strings whose validity is known from Kubernetes' quantity grammar and Velero's bound rule.
CAPACITIES = {"0,100Gi": True, "10Gi,": True, ",": True, "": True, "20Gi,0": True, "0,0": True, "1Gi,2Gi": True,
              "5Gi,1Gi": False, "10Gi": False, "0,Infinity": False, "1,2,3": False, "0,1K": False, "x,1": False,
              "1e3,1E6": True, " 1Gi , 2Gi ": True, "0,-1": False}

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-.0123456789", min_size=1, max_size=12)
scalars = st.one_of(names, st.integers(-5, 5), st.booleans(), st.none())
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(names, inner, max_size=3)), max_leaves=6)


def _maybe_wrong(good: st.SearchStrategy[Any], one_in: int = 10) -> st.SearchStrategy[Any]:
    """Mostly well-typed values, sometimes anything at all (so both verdicts are well sampled)."""
    return st.integers(1, one_in).flatmap(lambda i: anything if i == 1 else good)


condition_values: dict[str, st.SearchStrategy[Any]] = {
    "capacity": _maybe_wrong(st.sampled_from(sorted(CAPACITIES))),
    "storageClass": _maybe_wrong(st.lists(names, max_size=3)),
    "volumeTypes": _maybe_wrong(st.lists(st.sampled_from(["csi", "nfs", "storageOS", "hostPath", "local"]),
                                         max_size=3)),
    "pvcPhase": _maybe_wrong(st.lists(st.sampled_from(["Bound", "Pending", "Lost"]), max_size=2)),
    "nfs": _maybe_wrong(st.fixed_dictionaries({}, optional={"server": names, "path": names})),
    "csi": _maybe_wrong(st.fixed_dictionaries({}, optional={
        "driver": names, "volumeAttributes": st.one_of(st.none(), st.dictionaries(names, names, max_size=2))})),
    "pvcLabels": _maybe_wrong(st.dictionaries(names, names, max_size=2)),
}


@st.composite
def conditions(draw: st.DrawFn) -> Any:
    keys = draw(st.lists(st.sampled_from([*CONDITIONS, *CONDITIONS, "unknown"]), unique=True, max_size=3))
    out = {k: draw(condition_values.get(k, anything)) for k in keys}
    return draw(_maybe_wrong(st.just(out)))


@st.composite
def action(draw: st.DrawFn) -> Any:
    out: dict[str, Any] = {"type": draw(_maybe_wrong(st.sampled_from(ACTIONS), 6).flatmap(
        lambda t: st.sampled_from(["Skip", "delete", ""]) if t not in ACTIONS else st.just(t)))}
    if draw(st.booleans()):
        out["parameters"] = draw(st.one_of(st.dictionaries(names, scalars, max_size=2), anything))
    if draw(st.integers(0, 9)) == 0:
        out["when"] = "always"
    return draw(_maybe_wrong(st.just(out)))


@st.composite
def documents(draw: st.DrawFn) -> Any:
    doc: dict[str, Any] = {"version": draw(_maybe_wrong(st.just("v1")))}
    items = draw(st.lists(st.fixed_dictionaries({"conditions": conditions(), "action": action()}), max_size=3))
    doc["volumePolicies"] = draw(_maybe_wrong(st.just(items)))
    if draw(st.booleans()):
        doc["includeExcludePolicy"] = draw(st.fixed_dictionaries({}, optional={
            k: _maybe_wrong(st.lists(st.sampled_from(["pods", "secrets", "configmaps", "persistentvolumes"]),
                                     max_size=2).flatmap(lambda v: st.sampled_from([v, v, v, [*v, "*"]])))
            for k in SCOPES}))
    if draw(st.integers(0, 19)) == 0:
        doc["extra"] = 1
    return doc


# --- the oracle: Velero's field/type table, written independently of the decoder ---------------------------

def _scalar(v: Any) -> bool:
    return not isinstance(v, list | dict)


def _strings(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(_scalar(x) for x in v))


def _object(v: Any, keys: set[str]) -> bool:
    return v is None or (isinstance(v, dict) and set(v) <= keys)


def _string_map(v: Any) -> bool:
    return v is None or (isinstance(v, dict) and all(_scalar(x) for x in v.values()))


def _conditions_ok(c: Any) -> bool:
    if c is None:
        return True
    if not isinstance(c, dict) or not set(c) <= set(CONDITIONS):
        return False
    if "pvcLabels" in c and not isinstance(c["pvcLabels"], dict):  # unmarshalResourcePolicies' own check
        return False
    capacity = c.get("capacity")  # a number or a boolean has no comma, so only the table's strings can pass
    if capacity is not None and not (isinstance(capacity, str) and CAPACITIES.get(capacity, False)):
        return False
    csi = c.get("csi")
    return (all(_strings(c.get(k)) for k in ("storageClass", "volumeTypes", "pvcPhase"))
            and _object(c.get("nfs"), {"server", "path"}) and all(_scalar(v) for v in (c.get("nfs") or {}).values())
            and _object(csi, {"driver", "volumeAttributes"}) and _scalar((csi or {}).get("driver"))
            and _string_map((csi or {}).get("volumeAttributes")) and _string_map(c.get("pvcLabels"))
            and not (csi is not None and csi.get("driver") in (None, "") and csi.get("volumeAttributes") is not None))


def velero_accepts(doc: Any) -> bool:
    if not isinstance(doc, dict) or not set(doc) <= {"version", "volumePolicies", "includeExcludePolicy"}:
        return False
    items = doc.get("volumePolicies")
    if items is not None and not isinstance(items, list):
        return False
    for item in items or []:
        if not _object(item, {"conditions", "action"}):
            return False
        item = item or {}
        act = item.get("action")
        if not _object(act, {"type", "parameters"}) or not _conditions_ok(item.get("conditions")):
            return False
        params = (act or {}).get("parameters")
        if params is not None and not isinstance(params, dict):
            return False
    scope = doc.get("includeExcludePolicy")
    if scope is not None and not (isinstance(scope, dict) and set(scope) <= set(SCOPES)
                                  and all(_strings(v) for v in scope.values())):
        return False
    if doc.get("version") != "v1":
        return False
    for item in items or []:
        if (((item or {}).get("action") or {}).get("type")) not in ACTIONS:
            return False
    if scope:
        for kind in ("Cluster", "Namespace"):
            inc = scope.get(f"included{kind}ScopedResources") or []
            exc = scope.get(f"excluded{kind}ScopedResources") or []
            if "*" in inc or "*" in exc or set(inc) & set(exc):
                return False
    return True


def decode_text(text: str) -> Any:
    return decode_policies(r.ConfigMap(meta=r.Meta(name="policy", namespace="velero"), data={"policy.yaml": text}))


VOLUMES = [VolumeFacts(r.VolumeSource("csi", csi_driver="a", csi_attributes={"k": "v"}), 5 * 2**30, "a",
                       {"a": "b"}, "Bound", True),
           VolumeFacts(r.VolumeSource("nfs", nfs_server="a", nfs_path="/x"), None, None, {}, None, True),
           VolumeFacts(r.VolumeSource("storageos"), 0, "", {}, "Pending", True)]


@BUDGET
@given(documents())
def test_decoder_agrees_with_velero_rules(doc: Any) -> None:
    text = yaml.safe_dump(doc, sort_keys=False)
    try:
        policies = decode_text(text)
    except PolicyError as exc:
        assert not velero_accepts(doc), f"rejected a policy Velero accepts: {exc}\n{text}"
        assert str(exc).startswith("ConfigMap velero/policy key policy.yaml")
        return
    assert velero_accepts(doc), f"accepted a policy Velero rejects:\n{text}"
    for volume in VOLUMES:
        match_action(policies.volume_policies, volume)


VALID = """version: v1
volumePolicies:
- conditions:
    capacity: "0,100Gi"
    storageClass: [gp2, ebs-sc]
    csi: {driver: ebs.csi.aws.com, volumeAttributes: {type: io2}}
    pvcLabels: {app: db}
  action: {type: snapshot}
- conditions: {nfs: {server: 10.0.0.1, path: /export}, volumeTypes: [nfs, storageOS], pvcPhase: [Bound]}
  action: {type: fs-backup, parameters: {a: 1}}
includeExcludePolicy:
  excludedNamespaceScopedResources: [secrets]
"""


@BUDGET
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 3),
                          st.sampled_from([*":-[]{}&*!|>'\"#,?%@` \n\t0aZ~<", "<<", "*a", "&a ", "\\x00"])),
                min_size=1, max_size=6))
def test_mutated_documents_never_crash(edits: list[tuple[int, int, str]]) -> None:
    text = VALID
    for at, drop, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + drop:]
    try:
        policies = decode_text(text)
    except PolicyError:
        return
    for volume in VOLUMES:
        match_action(policies.volume_policies, volume)


@BUDGET
@given(st.text(max_size=200))
def test_random_text_never_crashes(text: str) -> None:
    with contextlib.suppress(PolicyError):
        decode_text(text)
