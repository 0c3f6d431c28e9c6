"""A small real-shaped cluster and the mutations the property-based tests apply to it.

The cluster has a volume of each status (protected, stale, unprotected, unknown), Velero with CSI and
node-agent, a resource policy, credentials, PodVolumeBackups, DataUploads, VolumeSnapshots, k8up and a
restore, so that a mutation of any field reaches some analysis or check.
"""

from __future__ import annotations

import copy
from typing import Any

from tests import factories as f
from tests.checks.rule_fixtures import app, csi_backup


def fuzz_cluster() -> list[dict[str, Any]]:
    """Every object of the cluster (a fresh copy each call)."""
    objects: list[dict[str, Any]] = [
        *f.base_cluster(), *app("shop"), *app("billing", "ledger"), *app("legacy", "files"), *app("ml", "models"),
        f.service_account(), f.secret("cloud-credentials", data={"cloud": f.AWS_KEY}),
        f.schedule("shop-daily", includedNamespaces=["shop"]),
        f.schedule("billing-hourly", cron="0 * * * *", includedNamespaces=["billing"],
                   resourcePolicy={"kind": "configmap", "name": "skip-nfs"}),
        f.schedule("ml-6h", cron="@every 6h", includedNamespaces=["ml"], defaultVolumesToFsBackup=True),
        f.schedule("legacy-weekly", cron="CRON_TZ=Europe/Berlin 0 3 * * 0", paused=True,
                   includedNamespaces=["legacy"]),
        csi_backup("shop-daily-1", "shop-daily", hours_ago=3),
        csi_backup("billing-hourly-1", "billing-hourly", hours_ago=30),
        f.backup("billing-hourly-2", schedule_name="billing-hourly", hours_ago=2, phase="Failed",
                 status={"failureReason": "found a backup with status \"InProgress\""}),
        f.backup("ml-6h-1", schedule_name="ml-6h", hours_ago=5, defaultVolumesToFsBackup=True),
        f.pod_volume_backup("ml-6h-1-abcde", "ml-6h-1", "ml", "models-0", "models", "models"),
        f.config_map("skip-nfs", {"policy.yaml": "version: v1\nvolumePolicies:\n- conditions:\n"
                                                 "    nfs: {}\n  action:\n    type: skip\n"}),
        f.restore("shop-drill-1", "shop-daily-1", hours_ago=10),
        *app("archive", "cold"),
        f.schedule("archive-daily", includedNamespaces=["archive"]),
        # Completed, but its counts do not prove the snapshot: unknown
        csi_backup("archive-daily-1", "archive-daily", hours_ago=4,
                   status={"csiVolumeSnapshotsAttempted": 1, "csiVolumeSnapshotsCompleted": 0}),
    ]
    return copy.deepcopy(objects)


#: Values that real clusters and hand-edited dumps hold where they should not.
ODD_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 1.5, 10**30, -(10**30), 1e308, "", " ", [], {}, ["a"], {"a": 1}, "0", "true",
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07", "\x1b[2J\x1b[31mred", "[bold red]markup[/]", "prod[/]",
    "\u202egnp.exe", "\x00\x07\x08\x9b31m", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "2026-11-20T12:00:00-14:00", "1e999999999Ei", "99999999999999999999Gi", "-5Gi", "NaN", "Infinity",
    "0 0 30 2 *", "0 0 31 4 *", "@every 9999999999999999999h", "@every 0s", "@every -1h", "CRON_TZ=Mars/Base 0 * * * *",
    "99999999999999999999h", "2562047h47m16.854775808s", "720h0m0s", "1ns", "x" * 5000,
)


CRONS = ("0 0 30 2 *", "0 0 31 4 *", "@every 9999999999999999999h", "@every 0s", "@every -1h", "61 * * * *",
         "CRON_TZ=Mars/Base 0 * * * *", "TZ=Europe/Berlin 0 2 * * *", "@yearly", "0 0 29 2 *", "", 5, None)
DURATIONS = ("99999999999999999999h", "2562047h47m16.854775808s", "2562048h", "1ns", "-1h", "0s", "1.5h", "x", 30)
TIMES = ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-11-20T12:00:00-14:00", "2026-11-20T12:05:00Z",
         "yesterday", "", 1700000000, None)
QUANTITIES = ("1e999999999Ei", "99999999999999999999Gi", "-5Gi", "NaN", "Infinity", "0", "1.5Ti", "10", 10, None)

#: Fields the analysis parses, by kind, with values aimed at them: half of the mutations pick one of these.
TARGETS: tuple[tuple[str, tuple[str, ...], tuple[Any, ...]], ...] = (
    ("Schedule", ("spec", "schedule"), CRONS),
    ("Schedule", ("spec", "template", "ttl"), DURATIONS),
    ("Schedule", ("spec", "paused"), (True, False, "true", "yes", 1, None)),
    ("Schedule", ("status", "lastBackup"), TIMES),
    ("Schedule", ("metadata", "creationTimestamp"), TIMES),
    ("Backup", ("status", "startTimestamp"), TIMES),
    ("Backup", ("status", "completionTimestamp"), TIMES),
    ("Backup", ("status", "expiration"), TIMES),
    ("Backup", ("metadata", "creationTimestamp"), TIMES),
    ("Backup", ("spec", "ttl"), DURATIONS),
    ("Backup", ("status", "phase"), ("Completed", "Failed", "PartiallyFailed", "InProgress", "Bogus", "", None, 3)),
    ("Backup", ("status", "csiVolumeSnapshotsCompleted"), (0, 1, 10**30, -1, "1", "x", None)),
    ("Backup", ("metadata", "labels", "velero.io/schedule-name"), ("shop-daily", "gone", "", None, 1)),
    ("PodVolumeBackup", ("status", "completionTimestamp"), TIMES),
    ("PodVolumeBackup", ("status", "phase"), ("Completed", "Failed", "InProgress", "", None)),
    ("PersistentVolumeClaim", ("spec", "resources", "requests", "storage"), QUANTITIES),
    ("PersistentVolumeClaim", ("status", "capacity", "storage"), QUANTITIES),
    ("PersistentVolume", ("spec", "capacity", "storage"), QUANTITIES),
    ("BackupStorageLocation", ("status", "lastValidationTime"), TIMES),
    ("Secret", ("metadata", "creationTimestamp"), TIMES),
    ("Restore", ("status", "completionTimestamp"), TIMES),
)

#: Well-formed values among the targets: they may rightly change a verdict (a Backup that now says Completed
#: proves a copy), so the "no invented protection" property is checked only for examples without them.
WELL_FORMED: tuple[Any, ...] = ("Completed", "PartiallyFailed", "InProgress", "shop-daily", "2026-11-20T12:05:00Z",
                                "0s", "1.5h", "1ns", "0 0 29 2 *", "@yearly", "TZ=Europe/Berlin 0 2 * * *", 0, 1, "1",
                                False, True, "true", "1.5Ti", "10", 10, "0")
