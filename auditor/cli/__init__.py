"""The ``auditor`` command: one module a command family, each loaded by the root group (``cli/base.py``) only
when one of its commands is run, so that ``auditor --help`` and each command start without the others' imports.

Exit codes: 0 ok, 1 runtime error (a cluster unreachable, an API failure), 2 usage or input error,
3 ``--fail-on`` matched, 4 ``--min-score`` missed.
"""

from auditor.cli.base import main
from auditor.cli.kubectl import kubectl_main

__all__ = ["kubectl_main", "main"]
