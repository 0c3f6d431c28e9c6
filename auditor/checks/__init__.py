"""Checks: one small registered function per rule of the catalog in ``rules/``.

Importing this package registers every check (the modules below import ``register``).
"""

from auditor.checks import (  # noqa: F401  (registration on import)
    coverage,
    credentials,
    fleet,
    freshness,
    governance,
    history,
    locations,
    preflight,
    resource_policies,
    system,
)
from auditor.checks.registry import CHECKS, evaluate

__all__ = ["CHECKS", "evaluate"]
