"""Policies per cluster: ``policies[].clusters`` and the ``clusters:`` section, resolved for one cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import FRAMEWORKS, AuditConfig, load_config
from auditor.errors import ConfigError

H = 3600.0
CONFIG = {
    "defaults": {"rpo": "24h", "retention": "7d"},
    "exclude_namespaces": ["kube-*"],
    "clusters": [
        {"match": "prod-*", "name": "production", "defaults": {"rpo": "4h"}, "exclude_namespaces": ["sandbox"],
         "framework": "iso27001"},
        {"match": ["staging", "prod-eu"], "defaults": {"rpo": "3d", "retention": "2d"}},  # prod-eu: never reached
    ],
    "policies": [
        {"name": "payments-prod", "clusters": ["prod-*"], "namespaces": ["billing*"], "rpo": "1h", "retention": "30d"},
        {"name": "payments", "namespaces": ["billing*"], "rpo": "6h"},
        {"name": "tier-1", "namespace_labels": {"tier": "1"}, "pvc_labels": {"app": "db"}},
    ],
}


def config() -> AuditConfig:
    return AuditConfig.model_validate(CONFIG)


def test_a_policy_with_clusters_applies_only_to_them() -> None:
    prod = config().for_cluster("prod-eu").policy_for("billing", {}, {})
    staging = config().for_cluster("staging").policy_for("billing", {}, {})
    assert (prod.name, prod.rpo, prod.retention) == ("payments-prod", 1 * H, 30 * 86400)
    assert prod.why == ("policies[0] payments-prod: cluster prod-eu matches 'prod-*', namespace billing matches "
                        "'billing*'")
    # the next policy (no clusters: every cluster) matches; its unset retention is the cluster's
    assert (staging.name, staging.rpo, staging.retention) == ("payments", 6 * H, 2 * 86400)
    assert staging.why == ("policies[1] payments: namespace billing matches 'billing*'; retention from the defaults "
                           "of clusters[1] (cluster staging matches 'staging')")


def test_unset_values_of_a_policy_come_from_the_cluster_then_the_top_level() -> None:
    labels = ({"tier": "1"}, {"app": "db"})
    prod = config().for_cluster("prod-us").policy_for("shop", *labels)
    other = config().for_cluster("dev").policy_for("shop", *labels)
    assert (prod.rpo, prod.retention) == (4 * H, 7 * 86400)  # the cluster gives an RPO only
    assert (other.rpo, other.retention) == (24 * H, 7 * 86400)
    assert other.why == ("policies[2] tier-1: namespace label tier=1, PVC label app=db; RPO and retention from the "
                         "top-level defaults")


def test_no_policy_matched_the_first_matching_cluster_entry_gives_the_defaults() -> None:
    prod = config().for_cluster("prod-eu").policy_for("media", {}, {})
    staging = config().for_cluster("staging").policy_for("media", {}, {})
    dev = config().for_cluster("dev").policy_for("media", {}, {})
    assert (prod.name, prod.rpo) == ("production", 4 * H)
    assert prod.why == "no policy matched: the defaults of clusters[0] (cluster prod-eu matches 'prod-*')"
    assert (staging.name, staging.rpo, staging.retention) == ("default (staging)", 3 * 86400, 2 * 86400)
    assert (dev.name, dev.rpo, dev.retention) == ("default", 24 * H, 7 * 86400)
    assert dev.why == "no policy matched: the top-level defaults"


def test_excluded_namespaces_and_framework_per_cluster() -> None:
    prod, staging = config().for_cluster("prod-eu"), config().for_cluster("staging")
    assert prod.excluded("sandbox") and not prod.excluded("kube-system")  # the cluster's list replaces the top one
    assert staging.excluded("kube-system") and not staging.excluded("sandbox")
    assert (prod.framework, staging.framework) == ("iso27001", None)


def test_without_clusters_or_cluster_globs_every_cluster_is_judged_alike() -> None:
    plain = AuditConfig.model_validate({"policies": [{"name": "p", "namespaces": ["a"], "rpo": "2h"}]})
    assert {plain.for_cluster(c).policy_for("a", {}, {}).rpo for c in ("x", "y")} == {2 * H}
    assert plain.for_cluster("x").excluded("kube-public")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("clusters: [{match: 'prod-[ab'}]", "key clusters.0.match: glob 'prod-[ab': '[' is never closed"),
    ("clusters: [{match: 'prod-{eu,us}'}]", "key clusters.0.match: glob 'prod-{eu,us}': braces are not glob syntax"),
    ("clusters: [{match: ''}]", "key clusters.0.match: a cluster glob must be a non-empty string"),
    ("clusters: [{match: []}]", "key clusters.0.match: Tuple should have at least 1 item"),
    ("clusters: [{defaults: {rpo: 1h}}]", "key clusters.0.match: Field required"),
    ("clusters: [{match: prod, rpo: 1h}]", "key clusters.0.rpo: Extra inputs are not permitted"),
    ("clusters: [{match: prod, defaults: {rpo: soon}}]", "key clusters.0.defaults.rpo: not a duration: 'soon'"),
    ("clusters: [{match: prod, framework: iso9001}]", "key clusters.0.framework: unknown framework 'iso9001'"),
    ("policies: [{name: p, clusters: ['a', 'b[']}]", "key policies.0.clusters: glob 'b[': '[' is never closed"),
    ("policies: [{name: p, cluster: prod}]", "key policies.0.cluster: Extra inputs are not permitted"),
])
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


def test_a_single_glob_reads_as_a_list(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, "clusters: [{match: 'prod-*'}]\npolicies: [{name: p, clusters: prod}]\n"))
    assert loaded.clusters[0].match == ("prod-*",) and loaded.policies[0].clusters == ("prod",)


def test_the_known_frameworks_are_the_framework_files() -> None:
    files = Path(__file__).resolve().parents[2] / "rules" / "frameworks"
    assert sorted(FRAMEWORKS) == sorted(p.stem for p in files.glob("*.yaml"))


def test_the_fleet_example_reads_as_documented() -> None:
    example = load_config(Path(__file__).resolve().parents[2] / "examples" / "fleet-policy.yaml")
    prod, staging = example.for_cluster("prod-eu"), example.for_cluster("staging-1")
    assert prod.policy_for("billing", {}, {}).name == "payments-prod"
    assert (staging.policy_for("billing", {}, {}).rpo, staging.policy_for("billing", {}, {}).retention) == (
        6 * H, 7 * 86400)
    assert staging.excluded("preview-42") and not prod.excluded("preview-42") and staging.framework == "iso27001"
    assert example.for_cluster("qa").policy_for("media", {}, {}).name == "default"
