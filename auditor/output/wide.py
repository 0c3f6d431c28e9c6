"""``-o wide``: the volumes as one table with PV, storage class, methods, covered_by and the last recovery
point, folded to the console's width (readable at 120 columns)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.analyse.coverage import VolumeResult
from auditor.model.analysis import STATUSES
from auditor.model.durations import format_duration
from auditor.output import safe

STATUS_STYLE = {"protected": "green", "stale": "yellow", "unprotected": "red", "unknown": "magenta"}


def clean(value: str | None) -> str:
    """Cluster text on a terminal (see :mod:`auditor.output.safe`); ``-`` for nothing."""
    return safe.clean(value) if value else "-"


def render_volumes(volumes: Sequence[VolumeResult], as_of: datetime, console: Console, *, multi: bool) -> None:
    order = {s: i for i, s in enumerate(STATUSES)}
    table = Table(title=f"Volumes ({len(volumes)})", title_justify="left", show_lines=False, pad_edge=False,
                  box=None, header_style="bold")
    if multi:
        table.add_column("CLUSTER", overflow="fold")
    table.add_column("NAMESPACE/PVC", overflow="fold", min_width=16)
    table.add_column("STATUS", no_wrap=True)
    for name in ("PV", "CLASS", "METHODS", "COVERED BY", "LAST RECOVERY POINT"):
        table.add_column(name, overflow="fold")
    for v in sorted(volumes, key=lambda x: (order.get(x.status, 9), x.cluster, x.namespace, x.pvc)):
        last = "none"
        if v.last_success:
            last = f"{format_duration((as_of - v.last_success).total_seconds())} ago"
        row = [Text(clean(v.key)), Text(v.status, style=STATUS_STYLE.get(v.status, "")), Text(clean(v.pv)),
               Text(clean(v.storage_class)), Text(clean(", ".join(v.methods))), Text(clean(", ".join(v.covered_by))),
               Text(last)]
        table.add_row(*([Text(clean(v.cluster))] if multi else []), *row)
    console.print(table, soft_wrap=False)  # soft wrapping would let the table overflow the width
