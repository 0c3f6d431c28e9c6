"""The embedded demo cluster: a realistic dump, a bucket copy and a policy, judged at a fixed time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from auditor.collect.fields import parse_time

DEMO_DIR = Path(__file__).resolve().parent
CLUSTER_DIR = DEMO_DIR / "cluster"
CATALOG_DIR = DEMO_DIR / "catalog"
CONFIG_FILE = DEMO_DIR / "config.yaml"
CLUSTER_NAME = "demo-prod"


def demo_as_of() -> datetime:
    """The demo's reference time: its timestamps are written relative to it."""
    return parse_time((DEMO_DIR / "as_of.txt").read_text().strip())
