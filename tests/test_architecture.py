"""The stairs are locked: ``make lint`` runs import-linter's contracts (pyproject.toml, docs/architecture.md),
and they fail when an import breaks them. Each case plants one bad import in a copy of the package."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``auditor/`` and the contracts, linted on its own (never the installed package)."""
    root = tmp_path_factory.mktemp("house")
    shutil.copytree(ROOT / "auditor", root / "auditor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--config", "pyproject.toml", "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def plant(root: Path, module: str, line: str) -> Path:
    """A copy of ``root`` whose ``module`` (a file under auditor/) gains ``line`` after its imports."""
    planted = Path(tempfile.mkdtemp(prefix="planted-", dir=root.parent)) / "house"
    shutil.copytree(root, planted)
    path = planted / "auditor" / module
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    assert sep, f"{module} has no future import to plant after"
    path.write_text(head + sep + line + "\n" + rest)
    return planted


def test_the_tree_keeps_every_contract(copy: Path) -> None:
    result = lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "line", "contract", "named"), [
    # the ground floor reaching up to the orchestrator
    ("model/rules.py", "import auditor.pipeline  # noqa", "Layers:", "auditor.model.rules -> auditor.pipeline"),
    # the analysis talking to a cluster
    ("analyse/gaps.py", "import kubernetes  # noqa", "are pure", "auditor.analyse.gaps -> kubernetes"),
    # a check reading the live source
    ("checks/system.py", "from auditor.collect import live  # noqa", "are pure",
     "auditor.checks.system -> auditor.collect.live"),
    # two modules of one package importing each other (coverage already imports gaps)
    ("analyse/gaps.py", "import auditor.analyse.coverage  # noqa", "No import cycle", "auditor.analyse"),
    # the ground floor naming an analysis type for mypy only: an arrow all the same
    ("model/rules.py", "from typing import TYPE_CHECKING  # noqa\nif TYPE_CHECKING:\n"
                       "    from auditor.analyse.coverage import ClusterAnalysis  # noqa", "Layers:",
     "auditor.model.rules -> auditor.analyse.coverage"),
])
def test_a_planted_import_fails_lint(copy: Path, module: str, line: str, contract: str, named: str) -> None:
    result = lint(plant(copy, module, line))
    assert result.returncode != 0, result.stdout
    broken = result.stdout.partition("Broken contracts")[2]
    assert contract in broken and named in broken, result.stdout


def deferred_imports(source: str) -> list[tuple[int, str, str]]:
    """Every import inside a function or method of ``source``: (line, the import, the comment that says why,
    or "" when none). The comment is on the import's own lines or on the line above the block of imports it
    belongs to."""
    lines = source.splitlines()
    found: list[tuple[int, str, str]] = []

    def comment_of(node: ast.stmt) -> str:
        own = [lines[i].partition("#")[2].strip() for i in range(node.lineno - 1, node.end_lineno or node.lineno)]
        if any(own):
            return next(c for c in own if c)
        above = node.lineno - 2
        while above >= 0 and lines[above].strip().startswith(("from ", "import ")):  # the block's first import
            above -= 1
        return lines[above].strip()[1:].strip() if above >= 0 and lines[above].strip().startswith("#") else ""

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child.lineno, ast.unparse(child), comment_of(child)))
            walk(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    walk(ast.parse(source), False)
    return found


def unexplained(found: list[tuple[int, str, str]]) -> list[str]:
    """The deferred imports without a reason; a cycle is no reason (cycles are fixed, not deferred)."""
    return [f"{line}: {text}" + (f"  # {why}" if why else "") for line, text, why in found
            if not why or "cycle" in why.lower() or "circular" in why.lower()]


def test_every_import_inside_a_function_says_why() -> None:
    """An import inside a function defers a measured cost or an optional dependency, and a comment says so
    (docs/architecture.md); anything else belongs at the top of its module."""
    problems = [f"{path.relative_to(ROOT)}:{problem}" for path in sorted((ROOT / "auditor").rglob("*.py"))
                for problem in unexplained(deferred_imports(path.read_text()))]
    assert problems == []


def test_the_deferred_import_check_can_fail() -> None:
    source = '''
import ast
import os


def a():
    import json

    # deferred: the report model (0.5 s), not for --help
    from auditor.output import report
    from auditor.output.report import build

    import yaml  # deferred: only for YAML output
    return json, report, build, yaml


class B:
    def c(self):
        from auditor import pipeline  # an import cycle otherwise
        return pipeline
'''
    assert [line for line, _, _ in deferred_imports(source)] == [7, 10, 11, 13, 19]
    assert unexplained(deferred_imports(source)) == [
        "7: import json", "19: from auditor import pipeline  # an import cycle otherwise"]
