"""``auditor explain pvc NS/NAME``: the whole decision chain for one volume, schedule by schedule."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from auditor.analyse.coverage import ClusterAnalysis, VolumeResult
from auditor.errors import InputError
from auditor.model.durations import format_duration
from auditor.output.safe import text


def _say(console: Console, line: str) -> None:
    """A line of data: printed without markup, control characters escaped."""
    console.print(text(line), soft_wrap=True)


def find_volume(analysis: ClusterAnalysis, key: str) -> VolumeResult:
    for v in analysis.volumes:
        if v.key == key:
            return v
    raise InputError(f"no PersistentVolumeClaim {key} in cluster {analysis.inventory.cluster}")


def explain(analysis: ClusterAnalysis, key: str, console: Console) -> None:
    v = find_volume(analysis, key)
    inv = analysis.inventory
    as_of = analysis.as_of
    pvc = inv.pvc_by_key[(v.namespace, v.pvc)]
    pv = inv.pv_by_name.get(pvc.volume_name or "")
    console.print(text(f"PVC {v.key} in cluster {v.cluster}", style="bold"))
    volume = "-"
    if pv:
        driver = f" {pv.source.csi_driver}" if pv.source.csi_driver else ""
        volume = f"{pv.meta.name} ({pv.source.type}{driver})"
    _say(console, f"  phase {pvc.phase}, storage class {pvc.storage_class or '-'}, volume {volume}")
    _say(console, f"  policy {v.policy.name}: RPO {format_duration(v.policy.rpo)}, retention "
                  f"{format_duration(v.policy.retention)}" + ("" if v.audited else " (namespace not audited)"))
    if v.policy.why:
        _say(console, f"    why: {v.policy.why}")
    style = {"protected": "green", "stale": "yellow", "unprotected": "red", "unknown": "magenta"}[v.status]
    console.print(Text(f"  status: {v.status.upper()}", style=f"bold {style}"))
    for reason in v.reasons:
        _say(console, f"    - {reason}")
    pods = inv.pods_by_claim.get((v.namespace, v.pvc), ())
    console.print(Text("Pods that mount it", style="bold"))
    for pod in pods:
        _say(console, f"  {pod.meta.name}: {pod.phase} on {pod.node_name or '-'}; annotations "
                      f"{ {k: val for k, val in pod.meta.annotations.items() if k.startswith('backup.velero.io')} }")
    if not pods:
        _say(console, "  none (file-system backup needs a Running pod)")
    console.print(Text("Velero schedules", style="bold"))
    for key_, state in sorted(analysis.schedules.items()):
        capture = analysis.planner.capture(state.ctx, pvc)
        if not state.enabled:
            why = "paused" if state.paused else (state.cron_error or "FailedValidation")
            head = f"  {key_} ({state.schedule.cron}): not enabled ({why}), covers nothing"
        elif analysis.planner.policy_problem(state.ctx) is not None:
            head = (f"  {key_} ({state.schedule.cron}): its resource policy fails Velero's validation, so every "
                    f"backup ends FailedValidation and captures nothing (COV-006)")
        elif capture.captured:
            head = f"  {key_} ({state.schedule.cron}): captures it by {', '.join(capture.methods)}"
        elif capture.in_scope:
            head = f"  {key_} ({state.schedule.cron}): in scope, but no data path captures it"
        else:
            head = f"  {key_} ({state.schedule.cron}): out of scope"
        _say(console, head)
        for reason in capture.reasons:
            _say(console, f"      - {reason}")
    if not analysis.schedules:
        _say(console, "  none")
    others = [c for c in v.covered_by if ":" in c]
    if others:
        console.print(Text("Other tools", style="bold"))
        for c in others:
            _say(console, f"  {c}")
    console.print(Text("Recovery points (newest first)", style="bold"))
    for p in v.recovery_points:
        _say(console, f"  {p.time:%Y-%m-%d %H:%M:%SZ} ({format_duration((as_of - p.time).total_seconds())} ago) "
                      f"{p.method} via {p.tool}: {p.source} [{p.evidence}]")
    if not v.recovery_points:
        _say(console, "  none")
    if v.attempts:
        console.print(Text("Backups that did not prove a copy", style="bold"))
        for a in v.attempts:
            _say(console, f"  {a.time:%Y-%m-%d %H:%M:%SZ} {a.source}: {a.outcome} — {a.detail}")
