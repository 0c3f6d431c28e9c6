"""Custom rules in the compliance frameworks: a rule's ``frameworks:`` adds it to those controls' rules, so
its checks count in the framework scores like a built-in rule's."""

from __future__ import annotations

from collections.abc import Sequence

from auditor.analyse.compliance import Framework
from auditor.custom_rules.loader import CustomRule


def with_custom_rules(frameworks: Sequence[Framework], rules: Sequence[CustomRule]) -> tuple[Framework, ...]:
    out = []
    for framework in frameworks:
        controls = []
        for control in framework.controls:
            extra = tuple(r.id for r in rules if control.id in r.rule.frameworks.get(framework.id, ()))
            controls.append(control.model_copy(update={"rules": control.rules + extra}) if extra else control)
        out.append(framework.model_copy(update={"controls": tuple(controls)}))
    return tuple(out)
