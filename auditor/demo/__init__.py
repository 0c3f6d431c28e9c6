"""The embedded demo fleet: two cluster dumps, a bucket copy and a policy, judged at a fixed time.

``demo-prod`` is the main cluster (the bucket catalog and the previous scan are its); ``demo-staging``
is a small second cluster that shares its cloud key.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.model.time import parse_time

DEMO_DIR = Path(__file__).resolve().parent
CLUSTER_NAME = "demo-prod"
STAGING_NAME = "demo-staging"
CLUSTERS_DIR = DEMO_DIR / "clusters"
CLUSTER_DIR = CLUSTERS_DIR / CLUSTER_NAME  # demo-prod
STAGING_DIR = CLUSTERS_DIR / STAGING_NAME
CLUSTER_DIRS = {CLUSTER_NAME: CLUSTER_DIR, STAGING_NAME: STAGING_DIR}  # each carries .auditor-snapshot.json
CATALOG_DIR = DEMO_DIR / "catalog"  # demo-prod's default BackupStorageLocation prefix
CONFIG_FILE = DEMO_DIR / "config.yaml"
PREVIOUS_SCAN = DEMO_DIR / "previous-scan.json"  # what a scan the day before saw (GOV-002)


def demo_as_of() -> datetime:
    """The demo's reference time: its timestamps are written relative to it."""
    return parse_time((DEMO_DIR / "as_of.txt").read_text().strip())


def previous_states() -> dict[str, Any]:
    """The protection state of the demo cluster a day earlier, as a history store would hold it."""
    # deferred: the analysis (0.2 s); every command's flags name this package (cli/shared.py), few run the demo
    from auditor.analyse.protection import ProtectionState

    return {CLUSTER_NAME: ProtectionState.from_dict(json.loads(PREVIOUS_SCAN.read_text()))}
