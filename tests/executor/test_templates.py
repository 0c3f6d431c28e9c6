"""Backups from config templates: checked against Velero's CRD when loaded, named like scheduled backups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from auditor.config.templates import BACKUP_SPEC_FIELDS, BackupTemplate
from auditor.executor.templates import backup_from_template

CRD = Path(__file__).resolve().parents[1] / "kubeapi" / "crds" / "velero" / "velero.io_backups.yaml"


def test_the_field_table_is_the_crds() -> None:
    crd = yaml.safe_load(CRD.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert {name: field["type"] for name, field in spec.items()} == BACKUP_SPEC_FIELDS


def test_a_template_becomes_a_backup() -> None:
    t = BackupTemplate(name="before-upgrade", labels={"team": "shop"},
                       spec={"includedNamespaces": ["shop"], "ttl": "72h0m0s", "snapshotMoveData": True})
    b = backup_from_template(t, "velero", datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC))
    assert b["metadata"] == {"name": "before-upgrade-20261126010203", "namespace": "velero",
                             "labels": {"team": "shop", "backup-auditor.io/created-by": "backup-auditor",
                                        "backup-auditor.io/template": "before-upgrade"}}
    assert b["spec"] == {"includedNamespaces": ["shop"], "ttl": "72h0m0s", "snapshotMoveData": True}
    b["spec"]["includedNamespaces"].append("x")
    assert t.spec["includedNamespaces"] == ["shop"], "the template is not modified"


@pytest.mark.parametrize(("spec", "message"), [
    ({"includeNamespaces": ["shop"]}, "spec.includeNamespaces: not a field of a Velero BackupSpec"),
    ({"includedNamespace": ["shop"]}, "did you mean includedNamespaces?"),
    ({"includedNamespaces": "shop"}, "spec.includedNamespaces: expected array, got str"),
    ({"snapshotMoveData": "yes"}, "spec.snapshotMoveData: expected boolean, got str"),
])
def test_a_bad_spec_is_named(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BackupTemplate(name="x", spec=spec)


def test_names_leave_room_for_the_timestamp() -> None:
    with pytest.raises(ValidationError):
        BackupTemplate(name="a" * 49, spec={})
    with pytest.raises(ValidationError):
        BackupTemplate(name="Not_DNS", spec={})
    BackupTemplate(name="a" * 48, spec={})


def test_backup_run_from_a_template_dry_and_live(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from tests.kubeapi.server import KubeAPIServer

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"velero_namespace": "backups", "executor": {"templates": [
        {"name": "before-upgrade", "spec": {"includedNamespaces": ["shop"], "snapshotMoveData": True}}]}}))

    def auditor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auditor", "backup", "run", *args], capture_output=True,
                              text=True, timeout=60)

    dry = auditor("--template", "before-upgrade", "--config", str(config), "--demo", "--dry-run", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    obj = json.loads(dry.stdout)
    assert obj["metadata"]["namespace"] == "backups" and obj["metadata"]["name"].startswith("before-upgrade-")
    assert obj["spec"] == {"includedNamespaces": ["shop"], "snapshotMoveData": True}
    both = auditor("--template", "x", "--schedule", "velero/y", "--demo", "--dry-run")
    assert both.returncode == 2 and "exactly one of --schedule" in both.stderr
    unknown = auditor("--template", "nope", "--config", str(config), "--demo", "--dry-run")
    assert unknown.returncode == 2 and "no backup template 'nope'" in unknown.stderr
    with KubeAPIServer() as server:
        server.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "backups"}})
        kc = server.write_kubeconfig(tmp_path / "kc")
        live = auditor("--template", "before-upgrade", "--config", str(config), "--kubeconfig", str(kc), "-o", "json")
        assert live.returncode == 0, live.stderr
        [made] = server.list_objects("velero.io", "v1", "backups", "backups")
    assert made["metadata"]["labels"]["backup-auditor.io/created-by"] == "backup-auditor"
