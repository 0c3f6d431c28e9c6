"""Which API group/version/kinds a cluster serves (its discovery), for the restore preflight.

A live cluster answers ``/api/v1``, ``/apis`` and ``/apis/<group>/<version>``. A dump records the same
answers in ``.auditor-api-resources.json``: a ``List`` whose items are the ``APIResourceList`` documents
``kubectl get --raw /apis/<group>/<version>`` prints, plus the ``APIGroupList`` of ``kubectl get --raw /apis``
(for the preferred versions). A dump without the file says nothing about what is served: the checks that
need it are *unknown*, never passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from auditor.errors import ApiStatusError, InputError
from auditor.model.served import ServedResources

API_RESOURCES_FILE = ".auditor-api-resources.json"


def from_documents(docs: list[Any], where: str) -> ServedResources:
    """Fold ``APIResourceList`` and ``APIGroupList`` documents into one :class:`ServedResources`."""
    kinds: dict[tuple[str, str], list[str]] = {}
    preferred: dict[str, str] = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise InputError("expected an APIResourceList or APIGroupList object", file=where, field=f"items[{i}]")
        if doc.get("kind") == "APIGroupList":
            for group in doc.get("groups") or []:
                pv = (group or {}).get("preferredVersion") or {}
                if isinstance(group, dict) and isinstance(group.get("name"), str) \
                        and isinstance(pv.get("version"), str):
                    preferred[group["name"]] = pv["version"]
            continue
        gv = doc.get("groupVersion")
        if not isinstance(gv, str) or not gv:
            raise InputError("APIResourceList without groupVersion", file=where, field=f"items[{i}].groupVersion")
        group, _, version = gv.rpartition("/")
        for j, res in enumerate(doc.get("resources") or []):
            if not isinstance(res, dict) or not isinstance(res.get("kind"), str):
                raise InputError("resource without kind", file=where, field=f"items[{i}].resources[{j}].kind")
            if "/" in str(res.get("name", "")):
                continue  # subresources (deployments/scale) name their parent's kind or another one
            versions = kinds.setdefault((group, res["kind"]), [])
            if version not in versions:
                versions.append(version)
    return ServedResources(kinds={k: tuple(v) for k, v in kinds.items()}, preferred=preferred)


def read_served_dump(root: Path) -> ServedResources | None:
    """The dump's recorded discovery, or None when it recorded none."""
    path = Path(root) / API_RESOURCES_FILE
    if not path.is_file():
        return None
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"cannot read served API resources: {exc}", file=str(path)) from None
    items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else None
    if not isinstance(items, list):
        raise InputError("expected a List of APIResourceList documents", file=str(path), field="items")
    return from_documents(items, str(path))


def discovery_documents(source: Any) -> tuple[list[Any], list[str]]:
    """``/apis`` and every group/version's resource list (with the core ``/api/v1``); the group/versions
    whose list failed are returned apart. A failure of ``/apis`` itself propagates (``ApiStatusError``)."""
    groups = source.get_json("/apis")
    docs: list[Any] = [groups]
    unreadable: list[str] = []
    gvs: list[str] = ["v1"] + [v["groupVersion"] for g in (groups.get("groups") or [])
                               for v in (g.get("versions") or [])
                               if isinstance(v, dict) and isinstance(v.get("groupVersion"), str)]
    for gv in gvs:
        try:
            docs.append(source.get_json("/api/v1" if gv == "v1" else f"/apis/{gv}"))
        except ApiStatusError:
            unreadable.append(gv)
    return docs, unreadable


def write_served_file(directory: Path, source: Any) -> bool:
    """Record the cluster's discovery in a dump (``auditor snapshot``); False when ``/apis`` failed."""
    try:
        docs, _ = discovery_documents(source)
    except ApiStatusError:
        return False
    Path(directory, API_RESOURCES_FILE).write_bytes(orjson.dumps(served_file_document(docs),
                                                                 option=orjson.OPT_INDENT_2))
    return True


def read_served_live(source: Any) -> ServedResources:
    """Discovery through a :class:`~auditor.collect.live.LiveSource`; a group/version whose list fails is
    recorded as unreadable (its kinds become unknown). A failure of ``/apis`` itself propagates."""
    docs, unreadable = discovery_documents(source)
    served = from_documents(docs, f"cluster {source.cluster} discovery")
    return ServedResources(served.kinds, served.preferred, tuple(unreadable))


def served_file_document(docs: list[Any]) -> dict[str, Any]:
    """The ``.auditor-api-resources.json`` document for discovery answers (what a dump records)."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": docs}
