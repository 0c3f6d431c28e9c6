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
    ]
    return copy.deepcopy(objects)


#: Values that real clusters and hand-edited dumps hold where they should not.
ODD_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 1.5, 10**30, -(10**30), 1e308, "", " ", [], {}, ["a"], {"a": 1}, "0", "true",
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07", "\x1b[2J\x1b[31mred", "[bold red]markup[/]", "prod[/]",
    "\u202egnp.exe", "\x00\x07\x08\x9b31m", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "2026-11-20T12:00:00+14:00", "1e999999999Ei", "99999999999999999999Gi", "-5Gi", "NaN", "Infinity",
    "0 0 30 2 *", "0 0 31 4 *", "@every 9999999999999999999h", "@every 0s", "@every -1h", "CRON_TZ=Mars/Base 0 * * * *",
    "99999999999999999999h", "2562047h47m16.854775808s", "720h0m0s", "1ns", "x" * 5000,
)
