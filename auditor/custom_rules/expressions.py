"""CEL expressions of custom rules: compiled (parsed and type-checked) once, evaluated with a cost bound.

The implementation is Google's C++ CEL through ``cel-expr-python`` (chosen by measurement, see
docs/custom-rules.md). Its runtime has no cost limit of its own, so the cost of an evaluation is bounded
before it starts, as Kubernetes estimates the cost of its CEL: :mod:`auditor.custom_rules.cost`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

from auditor.custom_rules.cost import CostModel, cost_model

#: a subject kind (the rule file's ``subject``) → the CEL variable holding its scan-document entry
SUBJECT_VARIABLES = {"volume": "volume", "schedule": "schedule", "storage_location": "storage_location",
                     "cluster": "cluster"}

_ENTRY = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
_ERROR_LINE = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")


class ExpressionError(ValueError):
    """A CEL expression that does not compile: ``where`` is ``line L, column C`` of the expression."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class EvaluationError(RuntimeError):
    """An evaluation that failed (a missing key, a bad conversion, a type mismatch) or would cost too much."""


@cache
def environment(subject: str) -> Any:
    """A CEL environment that declares only the subject's variable and ``as_of`` (so a volume rule that
    names ``schedule`` fails at load time), with the strings extension (``join``, ``split``, ...). One per
    subject, shared by its rules: a subject's variables are converted once for all of them."""
    return cel.NewEnv(variables={SUBJECT_VARIABLES[subject]: _ENTRY, "as_of": cel.Type.TIMESTAMP},
                      extensions=[ext_strings.ExtStrings()])


@dataclass(frozen=True)
class Expression:
    """One compiled expression and what bounds its cost."""

    source: str
    program: Any  # cel.Expression
    cost: CostModel
    deep: bool = False  # has comprehensions: the cost depends on the subject's lists

    def evaluate(self, activation: Any, size: int) -> Any:
        """The Python value (a bool or a string for rules); ``size`` bounds the lists of the variables (see
        :class:`CostModel`; an expression without comprehensions has a fixed cost, checked when compiled)."""
        if self.deep:
            estimate = self.cost.estimate(size)
            if estimate > self.cost.limit:
                raise EvaluationError(f"estimated cost {estimate:,} exceeds the limit of {self.cost.limit:,} "
                                      f"(lists of up to {size} items, comprehensions nested {self.cost.depth} deep)")
        try:
            return self.program.eval(activation).value()  # an error value raises here too
        except RuntimeError as exc:  # a missing key, no overload for the operands' runtime types...
            raise EvaluationError(_runtime_message(exc)) from None


def compile_expression(env: Any, source: str, expect: str, limit: int) -> Expression:
    """Parse and type-check ``source``; ``expect`` is the CEL type the result must have (``bool`` or
    ``string``; ``dyn`` results are checked when evaluated). Raises :class:`ExpressionError`."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("line 1, column 1", "empty expression")
    try:
        program = env.compile(source)
    except RuntimeError as exc:
        raise _compile_error(str(exc)) from None
    returned = program.return_type().name()
    if returned not in (expect.upper(), "DYN"):
        raise ExpressionError("line 1, column 1", f"the expression returns {returned.lower()}, expected {expect}")
    cost = cost_model(program.serialize(), limit)
    if not cost.depth and cost.estimate(1) > limit:
        raise ExpressionError("line 1, column 1", f"the expression's cost {cost.estimate(1):,} exceeds the limit "
                                                  f"of {limit:,}")
    return Expression(source, program, cost, bool(cost.depth))


def activation(env: Any, variable: str, entry: dict[str, Any], as_of: datetime) -> Any:
    """The variables of one subject, converted once and shared by every rule on that subject."""
    return env.Activation(data={variable: entry, "as_of": as_of})


def _compile_error(text: str) -> ExpressionError:
    match = _ERROR_LINE.search(text)
    if match is None:
        return ExpressionError("line 1, column 1", text.replace("INVALID_ARGUMENT: ", "").splitlines()[0])
    line, column, message = match.groups()
    return ExpressionError(f"line {line}, column {column}", message.strip())


def _runtime_message(exc: RuntimeError) -> str:
    text = str(exc).strip()
    for prefix in ("INVALID_ARGUMENT: ", "NOT_FOUND: ", "UNKNOWN: ", "OUT_OF_RANGE: "):
        text = text.removeprefix(prefix)
    return re.sub(r"\s*\[[A-Z_]+\]$", "", text)
