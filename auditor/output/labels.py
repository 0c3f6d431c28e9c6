"""Prometheus label values from cluster data: every metric family uses this one bound."""

from __future__ import annotations

MAX_LABEL_LENGTH = 253  # a Kubernetes DNS subdomain name; longer values are cut


def label(value: object) -> str:
    """A label value from cluster data: text, control characters replaced, capped in length."""
    text = "" if value is None else str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= MAX_LABEL_LENGTH else text[: MAX_LABEL_LENGTH - 1] + "~"
