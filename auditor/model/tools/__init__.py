"""The backup tools with records of their own, one module each; the only place the model lists them.

Velero's, the CSI snapshot and etcd records are core records (``model/records.py``): the analysis is built
around them. Adding a tool is a module here plus its line below (and its collect and analyse modules).
"""

from __future__ import annotations

from auditor.model.tools import k8up, kubestash
from auditor.model.tools.base import ToolModel

TOOLS: tuple[ToolModel, ...] = (k8up.TOOL, kubestash.TOOL)
