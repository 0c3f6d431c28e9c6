"""Custom rule files (``--rules-dir``, ``custom_rules_dirs:``): one rule per ``*.yaml``, compiled at load time.

A bad file (YAML, a field, a CEL syntax or type error, an unknown subject, an id that clashes) is a
:class:`~auditor.errors.ConfigError` naming the file, the field and the position in the expression.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor import yamlsafe
from auditor.custom_rules.cost import DEFAULT_LIMIT
from auditor.custom_rules.expressions import Expression, ExpressionError, compile_expression, environment
from auditor.errors import ConfigError
from auditor.load.frameworks import load_frameworks
from auditor.load.rules import catalog_dir, load_catalog
from auditor.model.rules import Rule

#: the subject of a rule file → the kind its findings name (storage locations name their own kind)
SUBJECT_KINDS = {"volume": "PersistentVolumeClaim", "schedule": "Schedule",
                 "storage_location": "BackupStorageLocation", "cluster": "Cluster"}


class RuleTest(BaseModel):
    """One inline test: a subject entry (as the scan document prints it) and the expected outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    expect: Literal["pass", "fail", "skip", "error"]  # skip: ``match`` leaves the subject alone
    as_of: str | None = None  # RFC 3339 (default: the entry's own clock does not matter; 2026-01-01T00:00:00Z)
    volume: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    storage_location: dict[str, Any] | None = None
    cluster: dict[str, Any] | None = None
    message: str | None = None  # the expected message of a failing test, when given


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*-[0-9]+$")
    title: str
    severity: Literal["critical", "high", "medium", "low", "info"]
    subject: Literal["volume", "schedule", "storage_location", "cluster"]
    match: str | None = None
    assert_: str = Field(alias="assert")
    message: str
    description: str = ""
    remediation: str = ""
    frameworks: dict[str, list[str]] = Field(default_factory=dict)
    references: list[str] = Field(default_factory=list)
    tests: list[RuleTest] = Field(default_factory=list)


@dataclass(frozen=True)
class CustomRule:
    """A loaded rule: its catalog entry (for every output), compiled expressions and inline tests."""

    rule: Rule
    subject: str
    path: Path
    match: Expression | None
    assertion: Expression
    message: Expression
    tests: tuple[RuleTest, ...] = ()

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return tuple(e for e in (self.match, self.assertion, self.message) if e is not None)

    @cached_property
    def deep(self) -> bool:
        """Whether an expression has comprehensions (its cost then depends on the subject's lists)."""
        return any(e.cost.depth for e in self.expressions)

    @cached_property
    def within(self) -> int:
        """The longest list (see :class:`~auditor.custom_rules.cost.CostModel`) every expression of the rule
        stays within its cost limit for."""
        return min(e.cost.within() for e in self.expressions)

    @cached_property
    def splits(self) -> bool:
        return any(e.cost.splits for e in self.expressions)


def load_rule_dirs(directories: Iterable[Path], limit: int = DEFAULT_LIMIT) -> tuple[CustomRule, ...]:
    """Every ``*.yaml`` of the directories, sorted by id; ids must be unique and not a built-in rule's."""
    builtin = {r.id for r in load_catalog()}
    known = _known_controls()
    loaded: dict[str, CustomRule] = {}
    for directory in directories:
        directory = Path(directory)
        if not directory.is_dir():
            raise ConfigError(f"{directory}: custom rules directory not found")
        for path in sorted(directory.glob("*.yaml")):
            rule = load_rule_file(path, known, limit)
            if rule.id in builtin:
                raise ConfigError(f"{path}: key id: {rule.id} clashes with the built-in rule {rule.id}")
            if rule.id in loaded:
                raise ConfigError(f"{path}: key id: {rule.id} is already defined in {loaded[rule.id].path}")
            loaded[rule.id] = rule
    return tuple(sorted(loaded.values(), key=lambda r: r.id))


def load_rule_file(path: Path, known_controls: dict[str, set[str]] | None = None,
                   limit: int = DEFAULT_LIMIT) -> CustomRule:
    data = yamlsafe.read_config_file(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (one rule a file)")
    try:
        spec = RuleFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: key {key}: {first['msg']}{more}") from None
    _check_frameworks(path, spec, known_controls if known_controls is not None else _known_controls())
    env = environment(spec.subject)

    def compiled(field: str, source: str, expect: str) -> Expression:
        try:
            return compile_expression(env, source, expect, limit)
        except ExpressionError as exc:
            raise ConfigError(f"{path}: {field}: {exc}") from None

    match = compiled("match", spec.match, "bool") if spec.match is not None else None
    assertion = compiled("assert", spec.assert_, "bool")
    message = compiled("message", spec.message, "string")
    for test_index, test in enumerate(spec.tests):
        others = [s for s in ("volume", "schedule", "storage_location", "cluster")
                  if getattr(test, s) is not None and s != spec.subject]
        if getattr(test, spec.subject) is None or others:
            raise ConfigError(f"{path}: key tests.{test_index}: a test of a {spec.subject} rule gives one "
                              f"'{spec.subject}:' entry")
    rule = Rule.model_construct(
        id=spec.id, title=spec.title, severity=spec.severity, category="custom",
        description=spec.description or spec.title,
        rationale=f"A custom rule ({path.name}): {spec.assert_}", remediation=spec.remediation,
        subject=SUBJECT_KINDS[spec.subject], parameters={}, frameworks=dict(spec.frameworks),
        references=list(spec.references))
    return CustomRule(rule, spec.subject, path, match, assertion, message, tuple(spec.tests))


def _known_controls() -> dict[str, set[str]]:
    return {f.id: {c.id for c in f.controls} for f in load_frameworks(catalog_dir() / "frameworks")}


def _check_frameworks(path: Path, spec: RuleFile, known: dict[str, set[str]]) -> None:
    for framework, controls in spec.frameworks.items():
        if framework not in known:
            raise ConfigError(f"{path}: key frameworks.{framework}: unknown framework (known: "
                              f"{', '.join(sorted(known))})")
        unknown = [c for c in controls if c not in known[framework]]
        if unknown:
            raise ConfigError(f"{path}: key frameworks.{framework}: unknown control(s) {', '.join(unknown)}")
