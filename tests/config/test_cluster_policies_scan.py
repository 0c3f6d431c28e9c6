"""Each cluster of a fleet judged by its own policy: the demo's two clusters, prod strict and staging lax."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor import demo
from auditor.config import load_config
from auditor.output.document import build_document
from auditor.pipeline import ScanOptions, run_scan

PROD, STAGING = demo.CLUSTER_NAME, demo.STAGING_NAME
H = 3600


def per_cluster_config(tmp_path: Path) -> Path:
    """The demo's own policy plus per-cluster settings: prod's defaults at 4h, its shop at 8h; staging at 3d,
    its ci namespace not audited, focused on ISO 27001."""
    data = yaml.safe_load(demo.CONFIG_FILE.read_text())
    data["clusters"] = [
        {"match": PROD, "name": "production", "defaults": {"rpo": "4h"}},
        {"match": "demo-stag*", "defaults": {"rpo": "3d", "retention": "3d"}, "framework": "iso27001",
         "exclude_namespaces": ["kube-*", "ci"]},
    ]
    data["policies"].insert(0, {"name": "shop-prod", "clusters": [PROD], "namespaces": ["shop"], "rpo": "8h"})
    path = tmp_path / "fleet-policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def scan(config: Path, framework: str | None = None) -> dict[str, Any]:
    options = ScanOptions(snapshots=tuple(demo.CLUSTER_DIRS.values()), catalogs=(f"{PROD}={demo.CATALOG_DIR}",),
                          config=load_config(config), as_of=demo.demo_as_of(), previous=demo.previous_states(),
                          framework=framework)
    result = run_scan(options)
    # every rule each cluster was judged by (passing or not), beside the document
    return {**build_document(result), "evaluated": {c.name: {r.rule_id for r in c.results} for c in result.clusters},
            "rules": [r.id for r in result.rules]}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return scan(demo.CONFIG_FILE), scan(per_cluster_config(tmp_path_factory.mktemp("policy")))


def volumes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{v['cluster']}/{v['namespace']}/{v['pvc']}": v for v in doc["volumes"]}


def test_each_cluster_gets_its_own_rpo_and_the_verdicts_follow(documents: tuple[dict[str, Any], ...]) -> None:
    before, after = (volumes(d) for d in documents)
    # the same PVC name in both clusters: prod's shop policy applies in prod only
    pg_prod, pg_staging = after[f"{PROD}/shop/data-postgres-0"], after[f"{STAGING}/shop/data-postgres-0"]
    assert (pg_prod["policy"], pg_prod["rpo_seconds"]) == ("shop-prod", 8 * H)
    assert (pg_staging["policy"], pg_staging["rpo_seconds"]) == ("default (demo-stag*)", 72 * H)
    # its newest recovery point is about 10h old: protected under tier-1's 12h, stale under shop-prod's 8h
    assert before[f"{PROD}/shop/data-postgres-0"]["status"] == "protected"
    assert pg_prod["status"] == "stale"
    assert any("beyond the RPO of 8h" in r for r in pg_prod["reasons"]), pg_prod["reasons"]
    # a volume no policy names: prod's defaults (4h) now make its 6h-old point stale
    media = after[f"{PROD}/media/media-library"]
    assert (media["policy"], media["rpo_seconds"], before[f"{PROD}/media/media-library"]["status"],
            media["status"]) == ("production", 4 * H, "protected", "stale")
    # policies without clusters still apply everywhere, with the cluster's defaults for what they leave unset
    assert after[f"{PROD}/billing/ledger-data"]["policy"] == "payments"
    # staging: its own defaults, its own excluded namespaces
    assert after[f"{STAGING}/registry/registry-data"]["retention_seconds"] == 72 * H
    assert before[f"{STAGING}/ci/build-cache"]["audited"] is True
    assert after[f"{STAGING}/ci/build-cache"]["audited"] is False


def test_findings_follow_the_verdicts(documents: tuple[dict[str, Any], ...]) -> None:
    def stale(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(f["cluster"], f["namespace"], f["name"]) for f in doc["findings"]
                if f["rule_id"] == "FRS-001" and f["status"] == "open"}

    before, after = documents
    # prod's points 6h to 10h old are now beyond their RPO (4h, 8h); staging's 3d raised nothing new
    assert stale(after) - stale(before) == {(PROD, "shop", "data-postgres-0"), (PROD, "media", "media-library"),
                                            (PROD, "wiki", "wiki-content")}


def test_framework_focus_per_cluster(documents: tuple[dict[str, Any], ...]) -> None:
    def frameworks(doc: dict[str, Any]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for entry in doc["compliance"]:
            out.setdefault(entry["cluster"], set()).add(entry["framework"])
        return out

    before, after = documents
    assert frameworks(after) == {PROD: frameworks(before)[PROD], STAGING: {"iso27001"}}
    assert len(frameworks(after)[PROD]) == 6
    iso = {r for c in next(e for e in after["compliance"] if e["cluster"] == STAGING)["controls"] for r in c["rules"]}
    # staging is judged by ISO 27001's rules only, prod by all of them
    assert after["evaluated"][STAGING] == before["evaluated"][STAGING] & iso
    assert after["evaluated"][STAGING] < before["evaluated"][STAGING]
    assert after["evaluated"][PROD] == before["evaluated"][PROD]
    # the scan's rule list holds every rule some cluster was judged by: here prod's, all of them
    assert after["rules"] == before["rules"]


def test_the_framework_flag_wins_over_the_clusters(tmp_path: Path) -> None:
    doc = scan(per_cluster_config(tmp_path), framework="soc2")
    assert {(e["cluster"], e["framework"]) for e in doc["compliance"]} == {(PROD, "soc2"), (STAGING, "soc2")}


def test_without_a_clusters_section_nothing_changes(documents: tuple[dict[str, Any], ...],
                                                    tmp_path: Path) -> None:
    data = yaml.safe_load(demo.CONFIG_FILE.read_text())
    data["clusters"] = [{"match": "other-*", "defaults": {"rpo": "1m"}}]
    data["policies"][0]["clusters"] = ["demo-*"]
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump(data))
    assert volumes(scan(path)) == volumes(documents[0])


def explain(config: Path, pvc: str) -> str:
    run = subprocess.run([sys.executable, "-m", "auditor", "explain", "pvc", pvc, "--demo", "--config", str(config)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_explain_says_which_policy_applied_and_why(tmp_path: Path) -> None:
    config = per_cluster_config(tmp_path)
    shop = explain(config, "shop/data-postgres-0")
    prod, staging = shop.split(f"PVC shop/data-postgres-0 in cluster {STAGING}")
    assert "policy shop-prod: RPO 8h, retention 7d" in prod
    assert ("why: policies[0] shop-prod: cluster demo-prod matches 'demo-prod', namespace shop matches 'shop'; "
            "retention from the defaults of clusters[0] (cluster demo-prod matches 'demo-prod')") in prod
    assert "policy default (demo-stag*): RPO 3d, retention 3d" in staging
    assert "why: no policy matched: the defaults of clusters[1] (cluster demo-staging matches 'demo-stag*')" in staging
    billing = explain(config, "billing/ledger-data")
    assert "why: policies[1] payments: namespace billing matches 'billing*'" in billing
    plain = explain(demo.CONFIG_FILE, "media/media-library")
    assert "policy default: RPO 1d, retention 7d" in plain and "why: no policy matched: the top-level defaults" in plain
