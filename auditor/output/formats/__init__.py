"""The output formats, one module each; importing this package registers every one (``auditor.formats``).

Adding a format is adding a module here that calls :func:`auditor.formats.register`: nothing lists the
modules, :func:`discover` imports whatever the package holds. A module imports its renderer only when it
renders, so listing the formats (CLI start-up, config checks) stays cheap.
"""

from __future__ import annotations

import importlib
import pkgutil


def discover() -> None:
    """Import every module of this package (again after ``__path__`` grew: a module already imported is kept)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


discover()
