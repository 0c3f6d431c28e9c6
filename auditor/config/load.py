"""Reading the config and exceptions files: every error is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditor import yamlsafe
from auditor.config.audit import AuditConfig
from auditor.config.waivers import ExceptionRule, ExceptionsFile
from auditor.errors import ConfigError


def _validation_message(path: Path, exc: ValidationError, data: Any = None) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    job = _job_location(first["loc"], data)
    if job is not None:
        return f"{path}: {job}: {message}{more}"
    return f"{path}: key {key}: {message}{more}"


def _job_location(loc: tuple[int | str, ...], data: Any) -> str | None:
    """``executor.jobs[1] (name nightly): cron`` for an error inside a job: the user finds it by its name."""
    if len(loc) < 3 or loc[:2] != ("executor", "jobs") or not isinstance(loc[2], int):
        return None
    try:
        name = data["executor"]["jobs"][loc[2]].get("name")
    except (KeyError, IndexError, TypeError, AttributeError):
        name = None
    where = f"executor.jobs[{loc[2]}]" + (f" (name {name})" if isinstance(name, str) else "")
    return f"{where}: {'.'.join(str(p) for p in loc[3:])}" if len(loc) > 3 else where


def load_exceptions(path: Path) -> tuple[ExceptionRule, ...]:
    """An exceptions file: ``exceptions: [{rules, selector, reason, owner, expires}]``; errors name the key."""
    data = yamlsafe.read_config_file(path)
    if isinstance(data, list):
        data = {"exceptions": data}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with key exceptions")
    try:
        parsed = ExceptionsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc)) from None
    return tuple(e.model_copy(update={"source": str(path)}) for e in parsed.exceptions)


def load_config(path: Path | None) -> AuditConfig:
    """The config at ``path`` (defaults when None); errors name the file and the key."""
    if path is None:
        return AuditConfig()
    data = yamlsafe.read_config_file(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        config = AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc, data)) from None
    if config.custom_rules_dirs:
        base = Path(path).parent
        config = config.model_copy(update={"custom_rules_dirs": tuple(base / d for d in config.custom_rules_dirs)})
    return config
