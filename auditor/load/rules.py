"""The rule catalog: ``rules/<ID>.yaml`` of a source checkout, or the copy shipped inside the wheel."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from auditor.checks.registry import CHECKS
from auditor.errors import RuleLoadError
from auditor.model.rules import Rule


def catalog_dir() -> Path:
    """``rules/`` of a source checkout, or the copy shipped inside the wheel."""
    source = Path(__file__).resolve().parents[2] / "rules"
    if source.is_dir():
        return source
    return Path(str(resources.files("auditor") / "_catalog" / "rules"))


@lru_cache(maxsize=4)
def load_catalog(directory: Path | None = None) -> tuple[Rule, ...]:
    directory = directory or catalog_dir()
    rules = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            rules.append(Rule.model_validate(yaml.safe_load(path.read_text())))
        except (yaml.YAMLError, ValidationError) as exc:
            raise RuleLoadError(f"{path}: {exc}") from None
        if rules[-1].id != path.stem:
            raise RuleLoadError(f"{path}: file name must be the rule id {rules[-1].id}")
    missing = [r.id for r in rules if r.id not in CHECKS]
    if missing:
        raise RuleLoadError(f"rules without a registered check: {', '.join(missing)}")
    return tuple(rules)
