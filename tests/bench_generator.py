"""The benchmark's cluster generator for tests: bench/generate.py (bench/ is not a package), imported once
under a private name, and a small cluster with the real shapes (managedFields, long annotations) made with it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-20T12:00:00Z"
_NAME = "_bench_generate"


def generator() -> ModuleType:
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(_NAME, ROOT / "bench" / "generate.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module  # dataclasses resolve annotations through sys.modules
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


def generate(out: Path, counts: dict[str, int], seed: int, as_of: str = AS_OF) -> Path:
    """A generated cluster's dump files in ``out`` (made if missing); returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    generator().generate(out, dict(counts), seed=seed, as_of=as_of, log=lambda _: None)
    return out
