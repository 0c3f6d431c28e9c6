"""The history store (SQLAlchemy 2 + Alembic): SQLite by default, PostgreSQL by URL. See docs/history.md."""

from auditor.store.api import Store
from auditor.store.identity import finding_identity, identity
from auditor.store.url import default_store_path, resolve_url
from auditor.store.views import ClusterDiff, FleetRow, OpenFinding, ScanRef, ScanSummary, StoredFinding

__all__ = ["ClusterDiff", "FleetRow", "OpenFinding", "ScanRef", "ScanSummary", "Store", "StoredFinding",
           "default_store_path", "finding_identity", "identity", "resolve_url"]
