"""The stairs are locked: ``make lint`` runs import-linter's contracts (pyproject.toml, docs/architecture.md),
and they fail when an import breaks them. Each case plants one bad import in a copy of the package."""

from __future__ import annotations

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
])
def test_a_planted_import_fails_lint(copy: Path, module: str, line: str, contract: str, named: str) -> None:
    result = lint(plant(copy, module, line))
    assert result.returncode != 0, result.stdout
    broken = result.stdout.partition("Broken contracts")[2]
    assert contract in broken and named in broken, result.stdout
