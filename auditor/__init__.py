"""backup-auditor: the truth about Kubernetes backups.

The package is one pipeline, and its folders say so:
``collect`` (sources → immutable inventory) → ``analyse`` (pure coverage and freshness) →
``checks`` (the rule catalog's registered checks) → ``output`` (console, JSON, metrics, reports).
"""

__version__ = "0.1.0"
