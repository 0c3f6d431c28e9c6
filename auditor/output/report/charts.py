"""SVG charts drawn in Python: embedded inline, no JavaScript, no fonts or images fetched.

Every label comes from the cluster, so every piece of text goes through ``escape``. Each chart carries
a ``<title>`` and the numbers as text, so it reads without colour and survives print.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

FONT = "DejaVu Sans, Verdana, sans-serif"
OUTCOME_COLORS = {"ok": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "running": "#64b5f6",
                  "none": "#eceff1"}
OUTCOME_LABELS = {"ok": "completed", "partial": "partially failed", "failed": "failed", "running": "in progress",
                  "none": "no backup"}


def _svg(width: float, height: float, title: str, body: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:g} {height:g}" '
        f'width="{width:g}" height="{height:g}" role="img" aria-label="{escape(title)}" '
        f'font-family="{FONT}"><title>{escape(title)}</title>{body}</svg>')


def _text(x: float, y: float, text: object, size: float = 11, anchor: str = "start", weight: str = "normal",
          fill: str = "#263238") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}">{escape(str(text))}</text>')


def _ellipsis(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def donut(segments: Sequence[tuple[str, int, str]], center: str, caption: str) -> Markup:
    """A ring of (label, value, colour) with a legend; an empty ring when everything is zero."""
    total = sum(v for _, v, _ in segments)
    cx, cy, r_out, r_in = 90.0, 90.0, 80.0, 50.0
    parts = [f'<circle cx="{cx}" cy="{cy}" r="{(r_out + r_in) / 2}" fill="none" stroke="#eceff1" '
             f'stroke-width="{r_out - r_in}"/>']
    angle = -math.pi / 2
    for _, value, color in segments:
        if not total or not value:
            continue
        sweep = 2 * math.pi * value / total
        if sweep >= 2 * math.pi - 1e-6:
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="{(r_out + r_in) / 2}" fill="none" stroke="{color}" '
                         f'stroke-width="{r_out - r_in}"/>')
            break
        end = angle + sweep
        large = 1 if sweep > math.pi else 0
        p = [(cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in
             ((r_out, angle), (r_out, end), (r_in, end), (r_in, angle))]
        parts.append(f'<path d="M{p[0][0]:.2f},{p[0][1]:.2f} A{r_out},{r_out} 0 {large} 1 {p[1][0]:.2f},{p[1][1]:.2f} '
                     f'L{p[2][0]:.2f},{p[2][1]:.2f} A{r_in},{r_in} 0 {large} 0 {p[3][0]:.2f},{p[3][1]:.2f} Z" '
                     f'fill="{color}"/>')
        angle = end
    parts.append(_text(cx, cy + 2, center, 20, "middle", "bold"))
    parts.append(_text(cx, cy + 18, caption, 8, "middle", fill="#546e7a"))
    for i, (label, value, color) in enumerate(segments):
        y = 30 + i * 22
        share = f" ({value / total:.0%})" if total else ""
        parts.append(f'<rect x="195" y="{y - 10}" width="12" height="12" fill="{color}"/>')
        parts.append(_text(213, y, f"{label}: {value:,}{share}", 11))
    return _svg(400, 180, f"{caption}: " + ", ".join(f"{label} {value}" for label, value, _ in segments),
                "".join(parts))


def stacked_bars(rows: Sequence[tuple[str, Mapping[str, int]]], colors: Mapping[str, str], title: str) -> Markup:
    """One horizontal bar per row, split by status, with the row's total at the end."""
    if not rows:
        return _svg(600, 30, title, _text(0, 18, "no data", 11, fill="#546e7a"))
    label_w, bar_w, row_h = 190.0, 330.0, 20.0
    top = 26.0
    biggest = max(sum(counts.values()) for _, counts in rows) or 1
    parts = []
    x = label_w
    for status, color in colors.items():
        parts.append(f'<rect x="{x:.1f}" y="4" width="10" height="10" fill="{color}"/>')
        parts.append(_text(x + 14, 13, status, 10))
        x += 14 + 7 * len(status) + 14
    for i, (label, counts) in enumerate(rows):
        y = top + i * row_h
        parts.append(_text(label_w - 6, y + 13, _ellipsis(label, 30), 10, "end"))
        x = label_w
        for status, color in colors.items():
            n = counts.get(status, 0)
            if n:
                w = bar_w * n / biggest
                parts.append(f'<rect x="{x:.2f}" y="{y + 3:.1f}" width="{w:.2f}" height="{row_h - 6:.1f}" '
                             f'fill="{color}"><title>{escape(label)}: {n} {escape(status)}</title></rect>')
                x += w
        parts.append(_text(x + 4, y + 13, f"{sum(counts.values()):,}", 10, fill="#546e7a"))
    return _svg(600, top + row_h * len(rows) + 4, title, "".join(parts))


def columns(buckets: Sequence[tuple[str, int, str]], title: str, marker_after: int | None = None,
            marker_label: str = "") -> Markup:
    """Vertical bars (a distribution); an optional dashed line after bucket ``marker_after`` (e.g. the RPO)."""
    width, height, left, bottom, top = 600.0, 200.0, 30.0, 40.0, 20.0
    n = max(len(buckets), 1)
    slot = (width - left) / n
    biggest = max((v for _, v, _ in buckets), default=0) or 1
    plot_h = height - bottom - top
    parts = [f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#90a4ae"/>']
    for i, (label, value, color) in enumerate(buckets):
        h = plot_h * value / biggest
        x = left + i * slot + slot * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                     f'fill="{color}"/>')
        parts.append(_text(x + slot * 0.35, height - bottom - h - 4, f"{value:,}", 10, "middle"))
        parts.append(_text(x + slot * 0.35, height - bottom + 14, label, 9, "middle"))
    if marker_after is not None:
        mx = left + (marker_after + 1) * slot
        parts.append(f'<line x1="{mx:.1f}" y1="{top - 8}" x2="{mx:.1f}" y2="{height - bottom + 20}" '
                     f'stroke="#263238" stroke-dasharray="4,3"/>')
        parts.append(_text(mx, height - 6, marker_label, 10, "middle", "bold"))
    return _svg(width, height, title + ": " + ", ".join(f"{label} {v}" for label, v, _ in buckets),
                "".join(parts))


def trend_line(points: Sequence[tuple[date, float]], title: str, target: float | None = None) -> Markup:
    """A line of daily values in [0, 1] (shares), with an optional dashed target."""
    width, height, left, right, top, bottom = 600.0, 180.0, 40.0, 10.0, 14.0, 30.0
    pts = sorted(points)
    if not pts:
        return _svg(width, 30, title, _text(0, 18, "no history", 11, fill="#546e7a"))
    first, last = pts[0][0], pts[-1][0]
    span = max((last - first).days, 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(d: date, v: float) -> tuple[float, float]:
        return left + plot_w * (d - first).days / span, top + plot_h * (1 - max(0.0, min(1.0, v)))

    parts = []
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eceff1"/>')
        parts.append(_text(left - 4, y + 4, f"{frac:.0%}", 9, "end", fill="#546e7a"))
    if target is not None:
        y = xy(first, target)[1]
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#2e7d32" '
                     f'stroke-dasharray="4,3"/>')
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(d, v) for d, v in pts))
    parts.append(f'<polyline points="{coords}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for d, v in pts:
        x, y = xy(d, v)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1565c0"><title>{d.isoformat()}: '
                     f'{v:.1%}</title></circle>')
    parts.append(_text(left, height - 8, first.isoformat(), 9, fill="#546e7a"))
    parts.append(_text(width - right, height - 8, last.isoformat(), 9, "end", fill="#546e7a"))
    parts.append(_text(width - right, top - 2, f"latest {pts[-1][1]:.1%}", 10, "end", "bold"))
    return _svg(width, height, f"{title}: {pts[-1][1]:.1%} on {last.isoformat()}", "".join(parts))


def heatmap(rows: Sequence[tuple[str, Mapping[date, str]]], days: Sequence[date], title: str,
            tooltips: bool = True) -> Markup:
    """One row per schedule, one cell per day, coloured by the day's outcome (``OUTCOME_COLORS``).

    Days without a backup are the row's background; ``tooltips`` adds a title per cell (screen only).
    """
    label_w, cell, top = 200.0, 12.0, 34.0
    width = label_w + cell * max(len(days), 1) + 10
    parts = []
    x = label_w
    for outcome, color in OUTCOME_COLORS.items():
        parts.append(f'<rect x="{x:.1f}" y="4" width="10" height="10" fill="{color}" stroke="#b0bec5" '
                     f'stroke-width="0.5"/>')
        parts.append(_text(x + 14, 13, OUTCOME_LABELS[outcome], 10))
        x += 14 + 6.6 * len(OUTCOME_LABELS[outcome]) + 12
    if days:
        parts.append(_text(label_w, top - 6, days[0].isoformat(), 9, fill="#546e7a"))
        parts.append(_text(label_w + cell * len(days), top - 6, days[-1].isoformat(), 9, "end", fill="#546e7a"))
    for i, (label, by_day) in enumerate(rows):
        y = top + i * (cell + 2)
        parts.append(_text(label_w - 6, y + 10, _ellipsis(label, 32), 10, "end"))
        parts.append(f'<rect x="{label_w}" y="{y:.1f}" width="{cell * len(days) - 2:.1f}" height="{cell:.1f}" '
                     f'fill="{OUTCOME_COLORS["none"]}"/>')
        for j, d in enumerate(days):
            outcome = by_day.get(d, "none")
            if outcome == "none":
                continue
            tip = (f'<title>{escape(label)} {d.isoformat()}: {escape(OUTCOME_LABELS.get(outcome, outcome))}</title>'
                   if tooltips else "")
            parts.append(f'<rect x="{label_w + j * cell:.1f}" y="{y:.1f}" width="{cell - 2:.1f}" '
                         f'height="{cell:.1f}" fill="{OUTCOME_COLORS.get(outcome, "#eceff1")}">{tip}</rect>')
    return _svg(max(width, 600, x), top + len(rows) * (cell + 2) + 4, title, "".join(parts))
