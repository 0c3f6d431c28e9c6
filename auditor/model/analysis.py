"""The analysis's results that other layers name without loading the analysis: volume statuses, framework
scores, the exceptions register. ``analyse/`` builds them; ``model/scan.py`` holds them in a scan's result."""

from __future__ import annotations

#: A volume's verdict (``analyse/coverage.py``), in the order every output lists them.
STATUSES = ("protected", "stale", "unprotected", "unknown")
