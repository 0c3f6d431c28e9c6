"""The compliance frameworks (``rules/frameworks/*.yaml``): controls mapped to rules."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from auditor.analyse.compliance import Framework
from auditor.errors import RuleLoadError
from auditor.load.rules import catalog_dir


def frameworks_dir() -> Path:
    return catalog_dir() / "frameworks"


def load_frameworks(directory: Path | None = None) -> tuple[Framework, ...]:
    directory = directory or frameworks_dir()
    frameworks = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            frameworks.append(Framework.model_validate(yaml.safe_load(path.read_text())))
        except (yaml.YAMLError, ValidationError) as exc:
            raise RuleLoadError(f"{path}: {exc}") from None
    return tuple(frameworks)
