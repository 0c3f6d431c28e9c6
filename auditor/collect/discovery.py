"""Which kinds the cluster serves, as far as discovery can prove it.

Only a successful discovery answer proves a kind absent: ``/apis`` not listing its group version, or
the group version's resource list not naming it. Then the kind is ``not-served`` and hides nothing.
When discovery fails (``/apis`` or one group version answers 500, 503, 403, a stall...), nothing is
proven: the failure is recorded as a gap of its own, the kinds it concerns are read anyway, and any
failure of those lists (even a 404) is a gap of that kind, never "not installed".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.builder import InventoryBuilder
from auditor.collect.kinds import ResourceKind
from auditor.errors import ApiStatusError
from auditor.model.inventory import Gap

GetJson = Callable[[str], Any]


@dataclass
class Served:
    """Per group version: the resources it serves, or None when its discovery failed (nothing proven)."""

    group_versions: dict[str, frozenset[str] | None] = field(default_factory=dict)
    listed: frozenset[str] | None = None  # group versions ``/apis`` names (None: ``/apis`` failed)

    def absent(self, kind: ResourceKind) -> str | None:
        """Why discovery proves ``kind`` absent, or None when it is served or discovery could not tell."""
        gv = kind.api_version
        if kind.group and self.listed is not None and gv not in self.listed:
            return f"the cluster does not serve {gv} (not installed)"
        resources = self.group_versions.get(gv)
        if resources is not None and kind.plural not in resources:
            return f"{gv} is served without {kind.plural} (an older release that lacks it)"
        return None


def discover(get_json: GetJson, kinds: Iterable[ResourceKind], builder: InventoryBuilder) -> Served:
    """Read ``/apis`` and the resource list of every group version ``kinds`` need; failures become gaps."""
    served = Served()
    try:
        served.listed = _group_versions(get_json("/apis"))
    except (ApiStatusError, _MalformedDiscoveryError) as exc:
        builder.gap(Gap("apis", _reason(exc), f"API discovery failed ({_message(exc)}): no group can be proven "
                                              "absent, every list was tried"))
    needed = sorted({k.api_version: k for k in kinds}.items())
    for gv, kind in needed:
        if kind.group and served.listed is not None and gv not in served.listed:
            continue  # proven absent: no need to ask
        path = f"/apis/{gv}" if kind.group else f"/api/{gv}"
        try:
            served.group_versions[gv] = _resources(get_json(path))
        except (ApiStatusError, _MalformedDiscoveryError) as exc:
            served.group_versions[gv] = None
            builder.gap(Gap(f"apis/{gv}", _reason(exc), f"discovery of {gv} failed ({_message(exc)}): its kinds "
                                                        "cannot be proven absent, their lists were tried"))
    return served


class _MalformedDiscoveryError(Exception):
    pass


def _group_versions(doc: Any) -> frozenset[str]:
    """``groupVersion`` of every version of every group an APIGroupList names."""
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not isinstance(groups, list):
        raise _MalformedDiscoveryError("the answer to /apis is not an APIGroupList")
    out = set()
    for group in groups:
        versions = group.get("versions") if isinstance(group, dict) else None
        for version in versions if isinstance(versions, list) else []:
            gv = version.get("groupVersion") if isinstance(version, dict) else None
            if isinstance(gv, str):
                out.add(gv)
    return frozenset(out)


def _resources(doc: Any) -> frozenset[str]:
    """Resource names (plurals, without subresources) of an APIResourceList."""
    resources = doc.get("resources") if isinstance(doc, dict) else None
    if not isinstance(resources, list):
        raise _MalformedDiscoveryError("the answer is not an APIResourceList")
    return frozenset(r["name"] for r in resources
                     if isinstance(r, dict) and isinstance(r.get("name"), str) and "/" not in r["name"])


def _reason(exc: ApiStatusError | _MalformedDiscoveryError) -> str:
    return "forbidden" if getattr(exc, "status", None) == 403 else "error"


def _message(exc: ApiStatusError | _MalformedDiscoveryError) -> str:
    status = getattr(exc, "status", 0)
    message = getattr(exc, "message", None) or str(exc)
    return f"HTTP {status}: {message}" if status else message
