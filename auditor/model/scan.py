"""What the history store knows beyond one scan, carried by a scan's result (``analyse/scan.py``): how long
findings have been open, and the executor's runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FindingAge:
    """How long the oldest open finding of a rule has been open in a cluster (from the history store)."""

    cluster: str
    rule_id: str
    severity: str
    seconds: float


@dataclass(frozen=True)
class RunStats:
    """Executor runs of one backend (the kind of object it creates) with one outcome, from the history store."""

    backend: str
    outcome: str
    count: int
    seconds_sum: float = 0.0  # over the runs that ended
    seconds_count: int = 0
