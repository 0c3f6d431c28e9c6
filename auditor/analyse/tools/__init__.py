"""The backup tools the analysis reads, one module each; the only place the analysis lists them.

Order matters and is kept: it orders ``covered_by``, recovery points of equal time, the gaps table and
which tool's credential marker is tried first. Adding a tool is a module here plus its line below.
"""

from __future__ import annotations

from auditor.analyse.tools import csi, k8up, kubestash, velero
from auditor.analyse.tools.base import BackupTool

TOOLS: tuple[BackupTool, ...] = (velero.TOOL, csi.TOOL, k8up.TOOL, kubestash.TOOL)


def credential_tool(used_by: set[str] | tuple[str, ...]) -> str:
    """The tool a credential belongs to, from what uses it: the first tool whose marker appears, else the
    tool that owns the unclaimed ones."""
    text = " ".join(sorted(used_by))
    for tool in TOOLS:
        if tool.credential_marker and tool.credential_marker in text:
            return tool.name
    return next(t.name for t in TOOLS if t.default_credentials)
