"""The backup tools whose resources a scan reads, one module each; the only place collecting lists them.

Their kinds are read before the core kinds, in this order (the backup catalogs first, so the backup
namespace is known before ConfigMaps). Adding a tool is a module here plus its line below.
"""

from __future__ import annotations

from auditor.collect.tools import csi, etcd, k8up, kubestash, velero
from auditor.collect.tools.base import CollectTool

TOOLS: tuple[CollectTool, ...] = (velero.TOOL, k8up.TOOL, kubestash.TOOL, etcd.TOOL, csi.TOOL)
