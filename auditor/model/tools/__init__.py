"""The backup tools' records, one module each; :data:`TOOLS` lists the tools whose records the inventory keeps in
``tool_records``.

Velero's, the CSI snapshots' and etcd's records (``velero``, ``csi``, ``etcd`` here) fill core inventory fields
(``inv.backups``...): the analysis is built around them, so they are not listed below. Adding a tool is a module
here plus its line below (and its collect and analyse modules).
"""

from __future__ import annotations

from auditor.model.tools import k8up, kubestash
from auditor.model.tools.base import ToolModel

TOOLS: tuple[ToolModel, ...] = (k8up.TOOL, kubestash.TOOL)
