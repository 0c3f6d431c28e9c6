"""The filters of scan, demo and report (``-n``, ``-A``, ``--cluster``, ``--status``, ``--severity``, ``--rule``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from auditor.cli.options import _complete
from auditor.model.analysis import STATUSES
from auditor.model.rules import SEVERITIES

F = TypeVar("F", bound=Callable[..., Any])

FILTER_KEYS = ("namespaces", "all_namespaces", "clusters", "statuses", "severity", "rule_prefixes")


def filter_options(fn: F) -> F:
    options = [
        click.option("-n", "--namespace", "namespaces", multiple=True, metavar="NS",
                     shell_complete=_complete("namespaces"),
                     help="Only volumes and findings in this namespace (repeatable; globs like 'shop-*')."),
        click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace (the default)."),
        click.option("--cluster", "clusters", multiple=True, metavar="NAME",
                     help="Only this cluster (repeatable)."),
        click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
                     help="Only volumes with this status, and their findings (repeatable)."),
        click.option("--severity", type=click.Choice(SEVERITIES),
                     help="Only findings of this severity and worse."),
        click.option("--rule", "rule_prefixes", multiple=True, metavar="ID|PREFIX",
                     help="Only findings of this rule, or of the rules starting with it (COV, ACME-; repeatable)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def pop_filter(kwargs: dict[str, Any]) -> Any:
    """The :class:`~auditor.output.filters.ScanFilter` of the flags, removed from ``kwargs``."""
    from auditor.output.filters import ScanFilter  # deferred: the analysis's types (0.4 s), not for --help

    values = {k: kwargs.pop(k, None) for k in FILTER_KEYS}
    if values["all_namespaces"] and values["namespaces"]:
        raise click.UsageError("-A/--all-namespaces and -n/--namespace exclude each other")
    return ScanFilter(namespaces=tuple(values["namespaces"] or ()), clusters=tuple(values["clusters"] or ()),
                      statuses=tuple(values["statuses"] or ()), severity=values["severity"],
                      rules=tuple(values["rule_prefixes"] or ()))
