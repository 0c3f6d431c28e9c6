"""Clusters scanned at once are analysed and judged in their worker processes (``pipeline.ClusterJudge``): the
rules left to the scan's own process are exactly those that read what spans the clusters or the history store;
a worker's log lines reach the user once, in the order of a sequential run; a defect in one cluster's analysis
is its row and the others go on; custom rules, a framework focus per cluster and a history store give the
document a sequential run gives. (Dumps and live clusters without these: tests/test_scan_parity.py.)"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor import demo
from auditor.analyse.coverage import ClusterAnalysis, analyse_cluster
from auditor.analyse.protection_state import protection_state
from auditor.checks.governance import LATE_RULES
from auditor.checks.registry import CHECKS, CheckContext, RunContext
from auditor.collect.dump import read_dump
from auditor.collect.secrets import SecretPolicy
from auditor.config import load_config
from auditor.load.rules import load_catalog
from auditor.model.rules import Finding
from auditor.model.time import parse_time
from auditor.output.document import build_document
from auditor.pipeline import PREVIOUS_RULES, RUN_RULES, ScanOptions, run_scan
from tests.bench_generator import generate

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-20T12:00:00Z"
KEY = b"workers-test-fingerprint-key-0123456789abcdef"


class _Touched(dict[str, frozenset[str]]):
    """A mapping that remembers being read."""

    def __init__(self, seen: set[str], name: str) -> None:
        super().__init__()
        self.seen, self.name = seen, name

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.seen.add(self.name)
        return super().get(*args, **kwargs)

    def __iter__(self) -> Any:
        self.seen.add(self.name)
        return super().__iter__()

    def __getitem__(self, key: str) -> frozenset[str]:
        self.seen.add(self.name)
        return super().__getitem__(key)


class _TouchedTuple(tuple[Any, ...]):
    seen: set[str]

    def __iter__(self) -> Any:
        self.seen.add("exceptions")
        return super().__iter__()


def _watched(analysis: ClusterAnalysis, seen: set[str]) -> ClusterAnalysis:
    """The same analysis, remembering whether ``previous`` was read."""
    class Watched(ClusterAnalysis):
        def __getattribute__(self, name: str) -> Any:
            if name == "previous":
                seen.add("previous")
            return super().__getattribute__(name)

    return Watched(**{f.name: getattr(analysis, f.name) for f in dataclasses.fields(analysis)})


def test_the_rules_left_to_the_scan_are_exactly_those_reading_the_run_or_the_store() -> None:
    """Every check runs on the demo's production cluster (with waivers, fingerprints, a previous state): those
    a worker judges read neither the run's fingerprints and exceptions nor the previous state; each rule left
    to the scan's process reads what it is left for."""
    config = load_config(demo.CONFIG_FILE)
    inventory = read_dump(demo.CLUSTER_DIRS[demo.CLUSTER_NAME], None, SecretPolicy(read_values=True, key=KEY))
    analysis = analyse_cluster(inventory, config, parse_time(AS_OF))
    analysis = dataclasses.replace(analysis, previous=protection_state(analysis))
    reads: dict[str, set[str]] = {}
    for rule in load_catalog():
        if rule.id in LATE_RULES:
            continue
        seen: set[str] = set()
        waivers = _TouchedTuple(config.exceptions.waivers)
        waivers.seen = seen
        run = RunContext(fingerprint_clusters=_Touched(seen, "fingerprints"), exceptions=waivers)
        list(CHECKS[rule.id](CheckContext(_watched(analysis, seen), rule, dict(rule.parameters), run)))
        reads[rule.id] = seen
    assert {r for r, seen in reads.items() if seen & {"fingerprints", "exceptions"}} == set(RUN_RULES)
    assert {r for r, seen in reads.items() if "previous" in seen} == set(PREVIOUS_RULES)


def _messages(records: Iterable[logging.LogRecord], part: str) -> list[str]:
    return [r.getMessage() for r in records if part in r.getMessage()]


def test_worker_log_lines_reach_the_user_once_in_order_and_a_defect_is_only_its_clusters_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A check that crashes on every cluster and an analysis that fails on one: with --parallel 3 the warnings
    come once each, in the order of the clusters (as --parallel 1 logs them), the failed cluster is an error row,
    the others are judged, and the document is the sequential one."""
    import auditor.pipeline as pipeline

    counts = {"namespaces": 6, "pvcs": 30, "pods": 50, "schedules": 3, "backups": 40, "pvbs": 50, "nodes": 2}
    dumps = [generate(tmp_path / name, counts, seed=seed, as_of=AS_OF)
             for name, seed in (("first", 1), ("broken", 2), ("third", 3))]
    real = pipeline.analyse_cluster

    def analyse(inventory: Any, *args: Any) -> ClusterAnalysis:
        if inventory.cluster == "broken":
            raise KeyError("spec")
        return real(inventory, *args)

    def crash(ctx: CheckContext) -> list[Finding]:
        raise RuntimeError(f"no luck on {ctx.analysis.inventory.cluster}")

    monkeypatch.setattr(pipeline, "analyse_cluster", analyse)
    monkeypatch.setitem(CHECKS, "COV-001", crash)
    options = ScanOptions(snapshots=tuple(dumps), as_of=parse_time(AS_OF), secret_values=False)
    documents, logged = [], []
    for parallel in (1, 3):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            result = run_scan(dataclasses.replace(options, parallel=parallel))
        documents.append(json.dumps(build_document(result), default=str))
        logged.append(_messages(caplog.records, "failed"))
        assert [c.name for c in result.clusters] == ["first", "broken", "third"]
        broken = result.clusters[1]
        assert broken.analysis is None and broken.error == ("the analysis failed on this cluster's data: "
                                                            "KeyError: 'spec'")
        assert all(c.analysis is not None and c.results for c in (result.clusters[0], result.clusters[2]))
        errors = [f for c in result.clusters for f in c.results if f.rule_id == "COV-001"]
        assert [f.cluster for f in errors] == ["first", "third"] and {f.status for f in errors} == {"error"}
    assert logged[1] == logged[0] == [
        "check COV-001 failed on cluster first: RuntimeError: no luck on first",
        "analysis of cluster broken failed: KeyError: 'spec'",
        "check COV-001 failed on cluster third: RuntimeError: no luck on third"]
    assert documents[1] == documents[0]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "AUDITOR_STORE": "", "NO_COLOR": "1"})


def test_custom_rules_a_framework_per_cluster_and_a_store_give_the_sequential_document(tmp_path: Path) -> None:
    """The demo's two clusters and a generated one, with custom CEL rules, a framework focus for one cluster,
    waivers from annotations and fingerprints across clusters, scanned twice into a history store (the second
    scan compares each cluster with the first: GOV-002, read in the scan's process): --parallel 3 prints what
    --parallel 1 prints, each with its own store."""
    policy = yaml.safe_load(demo.CONFIG_FILE.read_text())
    policy["clusters"] = [{"match": demo.STAGING_NAME, "framework": "iso27001"}]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(policy))
    key = tmp_path / "key"
    key.write_bytes(KEY)
    counts = {"namespaces": 6, "pvcs": 30, "pods": 50, "schedules": 3, "backups": 40, "pvbs": 50, "nodes": 2}
    dumps = [demo.CLUSTER_DIRS[demo.CLUSTER_NAME], generate(tmp_path / "generated", counts, seed=5, as_of=AS_OF),
             demo.CLUSTER_DIRS[demo.STAGING_NAME]]
    args = ["scan", *(a for d in dumps for a in ("--snapshot", str(d))), "--config", str(config),
            "--rules-dir", str(ROOT / "examples" / "custom-rules"), "--fingerprint-key-file", str(key),
            "--velero-catalog", f"{demo.CLUSTER_NAME}={demo.CATALOG_DIR}", "-o", "json"]
    outputs, firsts = [], []
    for parallel in ("1", "3"):
        store = f"sqlite:///{tmp_path / f'history-{parallel}.db'}"
        first = _cli(*args, "--parallel", parallel, "--store", store, "--as-of", "2026-11-19T12:00:00Z")
        assert first.returncode in (0, 3), first.stderr[-2000:]
        second = _cli(*args, "--parallel", parallel, "--store", store, "--as-of", AS_OF)
        assert second.returncode in (0, 3), second.stderr[-2000:]
        outputs.append(second.stdout)
        firsts.append(first.stdout)
    assert outputs[1] == outputs[0] and firsts[1] == firsts[0]
    doc = json.loads(outputs[0])
    assert [c["name"] for c in doc["clusters"]] == [demo.CLUSTER_NAME, "generated", demo.STAGING_NAME]
    assert any(f["rule_id"].startswith("ACME-") for f in doc["findings"]), "the custom rules were not judged"

    def unknown_history(text: str) -> set[str]:
        """Clusters whose DORA control with GOV-002 has results not evaluated (no previous scan)."""
        return {c["cluster"] for c in json.loads(text)["compliance"] if c["framework"] == "dora"
                for control in c["controls"] if "GOV-002" in control["rules"] and control["not_evaluated"]}

    # the first scan had no previous one; the second read each cluster's from the store (demo-staging is judged
    # by ISO 27001 alone)
    assert unknown_history(firsts[0]) == {demo.CLUSTER_NAME, "generated"}
    assert unknown_history(outputs[0]) == set()
