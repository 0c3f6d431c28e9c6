"""The rule catalog: ``rules/<ID>.yaml`` of a source checkout, or the copy shipped inside the wheel."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from auditor.errors import RuleLoadError
from auditor.model.rules import Rule


def catalog_dir() -> Path:
    """``rules/`` of a source checkout, or the copy shipped inside the wheel."""
    source = Path(__file__).resolve().parents[2] / "rules"
    if source.is_dir():
        return source
    return Path(str(resources.files("auditor") / "_catalog" / "rules"))


def _rule(path: Path) -> Rule:
    try:
        rule = Rule.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise RuleLoadError(f"{path}: {exc}") from None
    if rule.id != path.stem:
        raise RuleLoadError(f"{path}: file name must be the rule id {rule.id}")
    return rule


def load_rules(ids: Iterable[str], directory: Path | None = None) -> tuple[Rule, ...]:
    """Only these rules of the catalog (``auditor fleet`` needs GOV-006 and GOV-007, not 37 files and every
    check)."""
    directory = directory or catalog_dir()
    return tuple(_rule(directory / f"{rule_id}.yaml") for rule_id in ids)


@lru_cache(maxsize=4)
def load_catalog(directory: Path | None = None) -> tuple[Rule, ...]:
    # deferred: importing the registry registers every check (0.45 s); load_rules needs none
    from auditor.checks.registry import CHECKS

    directory = directory or catalog_dir()
    rules = [_rule(path) for path in sorted(directory.glob("*.yaml"))]
    missing = [r.id for r in rules if r.id not in CHECKS]
    if missing:
        raise RuleLoadError(f"rules without a registered check: {', '.join(missing)}")
    return tuple(rules)
