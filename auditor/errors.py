"""Typed errors. Library code raises these; only the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error the tool reports to a user as one clear line."""

    exit_code = 1


class ConfigError(AuditorError):
    """The user's configuration (a file or a flag) is invalid."""

    exit_code = 2


class InputError(AuditorError):
    """A dump, catalog or object could not be read: names the file, the object and the field."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, obj: str | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.obj = obj
        self.field = field
        self.detail = message
        where = ", ".join(p for p in (file, obj, f"field {field}" if field else None) if p)
        super().__init__(f"{where}: {message}" if where else message)


class ClusterAccessError(AuditorError):
    """A cluster could not be reached or authenticated to at all (not a partial gap)."""


class RuleLoadError(AuditorError):
    """The rule catalog is inconsistent (a rule without a check, a bad parameter...)."""


class StoreError(AuditorError):
    """The history store cannot be opened, migrated, read or written (the message hides any password)."""


class StoreSchemaError(StoreError):
    """The store's schema is newer than this binary knows (another version upgraded it): names both revisions."""

    exit_code = 2


class ScanNotFoundError(StoreError):
    """A scan id given on the command line is not in the history store."""

    exit_code = 2


class ClusterNotFoundError(StoreError):
    """A cluster named on the command line has no scan in the history store."""

    exit_code = 2


class ApiStatusError(Exception):
    """An HTTP error answer of the Kubernetes API after retries; carries the status and the server's message
    (not an ``AuditorError``: callers decide what it means, e.g. 404 or 403 on one resource)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
