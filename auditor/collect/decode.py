"""Typed decoding: list pages and dump files straight into records, for the kinds a large cluster has most of.

``msgspec`` decodes JSON into the small wire types below, which declare only the fields some analysis
reads: every other field (managedFields, last-applied-configuration, container specs...) is skipped in C
and never becomes a Python object. Each wire value is then turned into its record by one function per kind.

The wire types accept exactly what the checked reader (:mod:`auditor.collect.slim`, through
:class:`~auditor.collect.fields.FieldReader`) takes as is. Anything else (a number where a string belongs, a
malformed timestamp, a missing name) makes the typed decode refuse the object, and the checked reader then
reads it: it converts what it converts and names the file, object and field of what it refuses. So a
refused object gives the same record or the same error as before, by construction; the typed path is what
every well-formed object takes. A backup tool's module declares its own typed kinds the same way
(``collect/tools/velero.py``: Backups and PodVolumeBackups) with the wire types and functions here.
"""

from __future__ import annotations

import mmap
import sys
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

import msgspec

from auditor.collect import slim
from auditor.collect.secrets import env_value_kind
from auditor.model import records as r
from auditor.model.quantity import parse_quantity
from auditor.model.time import parse_time

_intern = sys.intern

#: One object's or one file's JSON: bytes, a delimited item of a file, or a file mapped read-only.
Json = bytes | msgspec.Raw | mmap.mmap


class Refused(Exception):  # noqa: N818 - a decision, not a failure
    """The typed path does not take this object as is: the checked reader decides."""


# --- wire types (only the fields some analysis reads; unknown fields are ignored) ---------------------------


class _Owner(msgspec.Struct, gc=False):
    kind: str | None = None
    name: str | None = None
    controller: bool | None = None


class WireMeta(msgspec.Struct, gc=False):
    name: str
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    creationTimestamp: str | None = None  # noqa: N815 - the API's field names
    deletionTimestamp: Any = None  # noqa: N815 - only its presence counts
    ownerReferences: list[_Owner] | None = None  # noqa: N815


class _Csi(msgspec.Struct, gc=False):
    driver: str | None = None
    volumeAttributes: dict[str, str] | None = None  # noqa: N815


class _Nfs(msgspec.Struct, gc=False):
    server: str | None = None
    path: str | None = None


class _ClaimSource(msgspec.Struct, gc=False):
    claimName: str | None = None  # noqa: N815


#: ``msgspec.Raw`` of JSON null: a volume-type key present with null counts as absent (as the checked reader).
NULL = b"null"
#: The default of a raw field: the key is absent.
ABSENT = msgspec.Raw(b"")
_NULL_RAW = msgspec.Raw(NULL)


class _Sources(msgspec.Struct, gc=False):
    """The volume-type keys of a PV spec or a pod volume (Velero's ``volumeTypes`` names), first one wins."""

    persistentVolumeClaim: _ClaimSource | None = None  # noqa: N815
    awsElasticBlockStore: msgspec.Raw = ABSENT  # noqa: N815
    azureDisk: msgspec.Raw = ABSENT  # noqa: N815
    azureFile: msgspec.Raw = ABSENT  # noqa: N815
    cephfs: msgspec.Raw = ABSENT
    cinder: msgspec.Raw = ABSENT
    configMap: msgspec.Raw = ABSENT  # noqa: N815
    csi: _Csi | None = None
    downwardAPI: msgspec.Raw = ABSENT  # noqa: N815
    emptyDir: msgspec.Raw = ABSENT  # noqa: N815
    ephemeral: msgspec.Raw = ABSENT
    fc: msgspec.Raw = ABSENT
    flocker: msgspec.Raw = ABSENT
    flexVolume: msgspec.Raw = ABSENT  # noqa: N815
    gitRepo: msgspec.Raw = ABSENT  # noqa: N815
    glusterfs: msgspec.Raw = ABSENT
    gcePersistentDisk: msgspec.Raw = ABSENT  # noqa: N815
    hostPath: msgspec.Raw = ABSENT  # noqa: N815
    iscsi: msgspec.Raw = ABSENT
    local: msgspec.Raw = ABSENT
    nfs: _Nfs | None = None
    photonPersistentDisk: msgspec.Raw = ABSENT  # noqa: N815
    portworxVolume: msgspec.Raw = ABSENT  # noqa: N815
    projected: msgspec.Raw = ABSENT
    quobyte: msgspec.Raw = ABSENT
    rbd: msgspec.Raw = ABSENT
    scaleIO: msgspec.Raw = ABSENT  # noqa: N815
    secret: msgspec.Raw = ABSENT
    storageos: msgspec.Raw = ABSENT
    vsphereVolume: msgspec.Raw = ABSENT  # noqa: N815


class _PodVolume(_Sources, gc=False):
    name: str = ""


class _Named(msgspec.Struct, gc=False):
    name: str


class _Env(msgspec.Struct, gc=False):
    name: str | None = None
    value: Any = None  # only what kind of value it is is kept


class _Container(msgspec.Struct, gc=False):
    name: str | None = None
    volumeMounts: list[_Named] | None = None  # noqa: N815
    volumeDevices: list[_Named] | None = None  # noqa: N815
    env: list[_Env] | None = None


class _Condition(msgspec.Struct, gc=False):
    type: str | None = None
    status: str | None = None


class _PodSpec(msgspec.Struct, gc=False):
    nodeName: str | None = None  # noqa: N815
    volumes: list[_PodVolume] | None = None
    initContainers: list[_Container] | None = None  # noqa: N815
    containers: list[_Container] | None = None


class _PodStatus(msgspec.Struct, gc=False):
    phase: str | None = None
    conditions: list[_Condition] | None = None


class _Pod(msgspec.Struct, gc=False):
    metadata: WireMeta
    apiVersion: Any = None  # noqa: N815 - a dump's items are checked against the kind they were decoded as
    kind: Any = None
    spec: _PodSpec | None = None
    status: _PodStatus | None = None


class _ClaimRef(msgspec.Struct, gc=False):
    namespace: str | None = None
    name: str | None = None


class _Storage(msgspec.Struct, gc=False):
    storage: str | None = None


class _PVSpec(_Sources, gc=False):
    storageClassName: str | None = None  # noqa: N815
    capacity: _Storage | None = None
    claimRef: _ClaimRef | None = None  # noqa: N815
    persistentVolumeReclaimPolicy: str | None = None  # noqa: N815
    volumeMode: str | None = None  # noqa: N815


class _Phase(msgspec.Struct, gc=False):
    phase: str | None = None


class _PV(msgspec.Struct, gc=False):
    metadata: WireMeta
    apiVersion: Any = None  # noqa: N815 - a dump's items are checked against the kind they were decoded as
    kind: Any = None
    spec: _PVSpec | None = None
    status: _Phase | None = None


class _Resources(msgspec.Struct, gc=False):
    requests: _Storage | None = None


class _PVCSpec(msgspec.Struct, gc=False):
    storageClassName: str | None = None  # noqa: N815
    volumeName: str | None = None  # noqa: N815
    volumeMode: str | None = None  # noqa: N815
    accessModes: list[str] | None = None  # noqa: N815
    resources: _Resources | None = None


class _PVC(msgspec.Struct, gc=False):
    metadata: WireMeta
    apiVersion: Any = None  # noqa: N815 - a dump's items are checked against the kind they were decoded as
    kind: Any = None
    spec: _PVCSpec | None = None
    status: _Phase | None = None


# --- shared values ---------------------------------------------------------------------------------------------
# At 230,000 records most strings repeat (namespaces, phases, node names, label values, owner kinds): one shared
# copy of each, and one shared label mapping per distinct label set, keeps a large inventory small. Records are
# immutable and their mappings read-only by convention, so sharing is invisible to readers.

K = TypeVar("K")
V = TypeVar("V")


class _Memo(Generic[K, V]):
    """One shared value per distinct key; emptied when full, so that a long read holds a bounded table."""

    def __init__(self, make: Callable[[K], V], limit: int = 4096) -> None:
        self.make = make
        self.limit = limit
        self.table: dict[K, V] = {}

    def __call__(self, key: K) -> V:
        shared = self.table.get(key)
        if shared is None:
            if len(self.table) >= self.limit:
                self.table.clear()
            shared = self.table[key] = self.make(key)
        return shared


_map_of = _Memo[tuple[tuple[str, str], ...], dict[str, str]](lambda key: {_intern(k): _intern(v) for k, v in key})
_owners_of = _Memo[tuple[tuple[str | None, str | None, bool | None], ...], tuple[r.OwnerRef, ...]](
    lambda key: tuple(r.OwnerRef(kind=_intern(kind or ""), name=_intern(name or ""), controller=bool(controller))
                      for kind, name, controller in key))
_strs_of = _Memo[tuple[str, ...], tuple[str, ...]](lambda key: tuple(_intern(i) for i in key))
_env_of = _Memo[tuple[str, str, str], r.EnvLiteral](
    lambda key: r.EnvLiteral(container=_intern(key[0]), name=_intern(key[1]), value_kind=key[2]))
_literals_of = _Memo[tuple[r.EnvLiteral, ...], tuple[r.EnvLiteral, ...]](lambda key: key)
#: The one empty mapping every record without labels or kept annotations shares (64 bytes each otherwise).
_EMPTY = slim.EMPTY_MAP


def interned(value: str | None) -> str | None:
    return None if value is None else _intern(value)


def _shared_map(value: dict[str, str] | None) -> dict[str, str]:
    """A string map as one shared dict of interned strings per distinct content (insertion order kept)."""
    return _map_of(tuple(value.items())) if value else _EMPTY


#: ``KEPT_ANNOTATION_PREFIXES`` are each a whole ``domain/`` (tests/collect/test_typed_decode.py checks it): a
#: key is kept when its part up to the first ``/`` is one of them (a set lookup where ``startswith`` would try
#: every prefix on every key).
KEPT_DOMAINS = frozenset(slim.KEPT_ANNOTATION_PREFIXES)


#: The kept keys of each distinct set of annotation keys (objects of one kind repeat a few key sets).
_kept_keys = _Memo[tuple[str, ...], tuple[str, ...]](
    lambda keys: tuple(k for k in keys if k[:k.find("/") + 1] in KEPT_DOMAINS))


def _kept_annotations(value: dict[str, str] | None) -> dict[str, str]:
    if not value:
        return _EMPTY
    kept = _kept_keys(tuple(value))
    if not kept:
        return _EMPTY
    return _shared_map({k: value[k] for k in kept})


def _owners(refs: list[_Owner] | None) -> tuple[r.OwnerRef, ...]:
    return _owners_of(tuple((o.kind, o.name, o.controller) for o in refs)) if refs else ()


def _strs(value: list[str] | None) -> tuple[str, ...]:
    """A list of strings as a shared tuple (``("ReadWriteOnce",)`` and the like repeat everywhere)."""
    return _strs_of(tuple(value)) if value else ()


def timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise Refused from None


@lru_cache(maxsize=1024)
def _quantity(text: str) -> int:
    return parse_quantity(text)


def _storage(value: _Storage | None) -> int | None:
    if value is None or value.storage is None:
        return None
    try:
        return _quantity(value.storage)
    except ValueError:
        raise Refused from None


#: The tables behind :func:`_shared_map` and :func:`timestamp`, looked up inline by :func:`meta` (its calls are
#: the hottest of a large read): a miss goes through the functions themselves. (A memo empties its table in
#: place, so this stays its table.)
_MAPS = _map_of.table


def meta(m: WireMeta) -> r.Meta:
    name = m.name
    if not name:
        raise Refused
    namespace = m.namespace
    labels = m.labels
    if labels:
        key = tuple(labels.items())
        labels = _MAPS.get(key) or _map_of(key)
    else:
        labels = _EMPTY
    return r.Meta(
        name=name, namespace=None if namespace is None else _intern(namespace), uid=m.uid, labels=labels,
        annotations=_kept_annotations(m.annotations), created=timestamp(m.creationTimestamp),
        deleting=m.deletionTimestamp is not None, owners=_owners(m.ownerReferences),
    )


def bare_meta(m: WireMeta) -> r.Meta:
    """Name, namespace and uid only, for kinds whose record takes the few values it needs from labels and
    annotations into fields of its own (:func:`slim.bare` is the checked reader's twin)."""
    if not m.name:
        raise Refused
    return r.Meta(name=m.name, namespace=interned(m.namespace), uid=m.uid, labels=_EMPTY, annotations=_EMPTY)


_PLAIN_SOURCES = {key: r.VolumeSource(key) for key in (*slim.VOLUME_TYPES, "unknown") if key not in ("csi", "nfs")}


def _source(v: _Sources) -> r.VolumeSource:
    """The first volume type present (in ``VOLUME_TYPES`` order), as :func:`slim._volume_source` reads it."""
    for key in slim.VOLUME_TYPES:
        value = getattr(v, key)
        if value is ABSENT or value is None:  # an absent key holds the shared default
            continue
        if type(value) is msgspec.Raw:
            if value == _NULL_RAW:  # a key present with null counts as absent
                continue
            return _PLAIN_SOURCES[key]
        if key == "csi":
            return r.VolumeSource("csi", csi_driver=interned(value.driver),
                                  csi_attributes=_shared_map(value.volumeAttributes))
        if key == "nfs":
            return r.VolumeSource("nfs", nfs_server=interned(value.server), nfs_path=interned(value.path))
        return _PLAIN_SOURCES[key]
    return _PLAIN_SOURCES["unknown"]


# --- wire → record -------------------------------------------------------------------------------------------


def pod(w: _Pod) -> r.Pod:
    spec = w.spec or _PodSpec()
    status = w.status or _PodStatus()
    volumes = []
    for v in spec.volumes or ():
        if not v.name:
            raise Refused
        source = _source(v)
        claim = None
        if source.type == "persistentVolumeClaim" and v.persistentVolumeClaim is not None:
            claim = interned(v.persistentVolumeClaim.claimName)
        volumes.append(r.PodVolume(name=_intern(v.name), source=source, claim_name=claim))
    mounted: list[str] = []
    devices: list[str] = []
    env_literals: list[r.EnvLiteral] = []
    for group in (spec.initContainers, spec.containers):
        for c in group or ():
            for m in c.volumeMounts or ():
                mounted.append(_intern(m.name))
            for d in c.volumeDevices or ():
                devices.append(_intern(d.name))
            if c.env:
                container = c.name or ""
                for e in c.env:
                    value = e.value
                    if value is not None and value != "":
                        literal = _env_of((container, e.name or "", env_value_kind(value)))
                        env_literals.append(literal)
    ready = False
    for cond in status.conditions or ():
        if cond.type == "Ready":
            ready = cond.status == "True"
    return r.Pod(
        meta=meta(w.metadata), phase=interned(status.phase), node_name=interned(spec.nodeName), ready=ready,
        volumes=tuple(volumes), mounted=tuple(dict.fromkeys(mounted)),
        block_devices=tuple(dict.fromkeys(devices)) if devices else (),
        env_literals=_literals_of(tuple(env_literals)) if env_literals else (),
    )


def persistent_volume(w: _PV) -> r.PersistentVolume:
    spec = w.spec or _PVSpec()
    claim = spec.claimRef or _ClaimRef()
    return r.PersistentVolume(
        meta=meta(w.metadata), source=_source(spec), storage_class=interned(spec.storageClassName) or None,
        capacity_bytes=_storage(spec.capacity), claim_namespace=interned(claim.namespace),
        claim_name=interned(claim.name), phase=interned(w.status.phase) if w.status else None,
        reclaim_policy=interned(spec.persistentVolumeReclaimPolicy),
        volume_mode=interned(spec.volumeMode) or "Filesystem",
    )


def persistent_volume_claim(w: _PVC) -> r.PersistentVolumeClaim:
    spec = w.spec or _PVCSpec()
    return r.PersistentVolumeClaim(
        meta=meta(w.metadata), storage_class=interned(spec.storageClassName) or None,
        volume_name=interned(spec.volumeName) or None, phase=interned(w.status.phase) if w.status else None,
        volume_mode=interned(spec.volumeMode) or "Filesystem", access_modes=_strs(spec.accessModes),
        requested_bytes=_storage(spec.resources.requests) if spec.resources else None,
    )


#: Backups of one schedule share one spec: each distinct (spec bytes, CSI class annotations) is built once.
# --- per-kind decoders ------------------------------------------------------------------------------------------


class _ListMeta(msgspec.Struct, gc=False):
    continue_: str | None = msgspec.field(default=None, name="continue")


class Typed:
    """How one kind is decoded: its wire type, its record builder, and decoders of one item and of a list page."""

    def __init__(self, wire: type[Any], build: Callable[[Any], Any]) -> None:
        self.wire = wire
        self.build = build
        self.item = msgspec.json.Decoder(wire)
        page = msgspec.defstruct(f"{wire.__name__}Page", [("items", list[wire] | None, None),  # type: ignore[valid-type]
                                                           ("metadata", _ListMeta | None, None)], gc=False)
        self.page = msgspec.json.Decoder(page)
        self.items = msgspec.json.Decoder(list[wire])  # type: ignore[valid-type]

    def wires(self, raws: list[msgspec.Raw]) -> list[Any] | None:
        """The wire values of consecutive items of a dump, decoded as one array (as a list page is: one call
        instead of one per item); None when any of them does not decode (each item is then decoded alone)."""
        try:
            return self.items.decode(b"".join((b"[", b",".join(raws), b"]")))
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None

    def from_json(self, data: Json) -> Any:
        """The record of one object's JSON; :class:`Refused` when the typed path does not take it."""
        try:
            return self.build(self.item.decode(data))
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise Refused from None

    def page_records(self, data: bytes) -> tuple[list[Any], str | None]:
        """Every record of a list page and its continue token; :class:`Refused` for the whole page when any item
        is refused (the checked reader then reads the page, naming what is wrong)."""
        try:
            page: Any = self.page.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise Refused from None
        build = self.build
        records = [build(item) for item in page.items or ()]
        return records, page.metadata.continue_ if page.metadata else None


#: The core kinds decoded typed (the kinds table names them as ``ResourceKind.typed``, as a backup tool's module
#: does for its own); the other kinds (a few hundred objects at most) take the checked reader.
PODS = Typed(_Pod, pod)
PERSISTENT_VOLUMES = Typed(_PV, persistent_volume)
PERSISTENT_VOLUME_CLAIMS = Typed(_PVC, persistent_volume_claim)


class _Head(msgspec.Struct, gc=False):
    apiVersion: Any = None  # noqa: N815
    kind: Any = None
    items: list[msgspec.Raw] | msgspec.UnsetType | None = msgspec.UNSET


class _Kind(msgspec.Struct, gc=False):
    apiVersion: Any = None  # noqa: N815
    kind: Any = None


_HEAD = msgspec.json.Decoder(_Head)
_KIND = msgspec.json.Decoder(_Kind)


def head(data: Json) -> _Head:
    """``apiVersion``, ``kind`` and the raw ``items`` of one JSON document, everything else skipped (raises
    ``msgspec.DecodeError`` or ``msgspec.ValidationError`` when it is not JSON or not such an object)."""
    return _HEAD.decode(data)


def kind_of(data: Json) -> tuple[Any, Any]:
    """``(apiVersion, kind)`` of one object's JSON; raises ``msgspec.ValidationError`` when it is not an object."""
    k = _KIND.decode(data)
    return k.apiVersion, k.kind


class ItemDecoder:
    """Records of a dump's items, each decoded once when it is of the kind of the item before it (the usual
    case: a file per kind), else after a look at its ``apiVersion`` and ``kind``."""

    def __init__(self) -> None:
        self._last: tuple[Any, Any, Typed] | None = None

    @property
    def last(self) -> tuple[Any, Any, Typed] | None:
        """``(apiVersion, kind, typed)`` of the last item decoded typed: the kind the next items likely have."""
        return self._last

    def record(self, data: Json, typed: Typed | None, api_version: Any, kind: Any) -> Any:
        """The record of one item known to be ``typed``; :class:`Refused` when the typed path does not take it."""
        if typed is None:
            raise Refused
        try:
            wire = typed.item.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise Refused from None
        self._last = (api_version, kind, typed)
        return typed.build(wire)

    def guess(self, data: Json) -> tuple[Any, Any, Any]:
        """``(apiVersion, kind, record or None)``: the record when the item has the kind of the one before."""
        if self._last is not None:
            api_version, kind, typed = self._last
            try:
                wire = typed.item.decode(data)
            except (msgspec.ValidationError, msgspec.DecodeError):
                wire = None
            if wire is not None and wire.apiVersion == api_version and wire.kind == kind \
                    and type(wire.kind) is str and type(wire.apiVersion) is str:
                try:
                    return api_version, kind, typed.build(wire)
                except Refused:
                    return api_version, kind, None
        api_version, kind = kind_of(data)
        return api_version, kind, None
