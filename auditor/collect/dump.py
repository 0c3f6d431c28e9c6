"""Read a dump directory: files exactly as ``kubectl get ... -o json|yaml`` prints them."""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson
import yaml

from auditor import yamlsafe
from auditor.collect import decode
from auditor.collect.builder import InventoryBuilder
from auditor.collect.fields import FieldReader
from auditor.collect.kinds import BY_GROUP_KIND, TYPED, group_of
from auditor.collect.secrets import SecretPolicy, fingerprint_data
from auditor.errors import InputError
from auditor.model.inventory import Gap, Inventory

SUFFIXES = (".json", ".yaml", ".yml")


def dump_files(root: Path) -> list[Path]:
    """Every dump file under ``root``, in a stable order."""
    if not root.is_dir():
        raise InputError("not a directory", file=str(root))
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found.extend(Path(dirpath, n) for n in sorted(filenames) if n.endswith(SUFFIXES))
    return found


def read_documents(path: Path) -> Iterator[Any]:
    """The top-level documents of one file (a JSON value, or each YAML document)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if path.suffix == ".json":
        try:
            yield orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc}", file=str(path)) from None
        return
    try:
        docs = yamlsafe.load_all(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"invalid YAML{where}: {problem}", file=str(path)) from None
    yield from (d for d in docs if d is not None)


def iter_objects(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, object) pairs of a file, unpacking ``List`` documents; location names file and item."""
    for doc_index, doc in enumerate(read_documents(path)):
        where = str(path) if doc_index == 0 else f"{path} (document {doc_index + 1})"
        if not isinstance(doc, dict):
            raise InputError(f"expected an object or a List, got {type(doc).__name__}", file=where)
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
            items = doc["items"]
            if items is None:
                continue
            if not isinstance(items, list):
                raise InputError(f"expected a list, got {type(items).__name__}", file=where, field="items")
            for i, item in enumerate(items):
                yield f"{where} items[{i}]", item
        else:
            yield where, doc


def add_file(builder: InventoryBuilder, path: Path) -> Iterator[tuple[str, Any, int]]:
    """Add every object of one file to the builder; yields ``(location, raw, count)``: ``raw`` is the parsed
    object (``count`` 1), or None for ``count`` objects decoded straight into their records.

    A JSON file is mapped read-only and decoded item by item: its ``items`` are only delimited, then each is
    decoded typed (the kinds of :data:`~auditor.collect.kinds.TYPED`) or parsed on its own, so no more than one
    item's objects exist at a time, the file is never copied into the heap, and the pages already decoded are
    given back as it goes. YAML files, and JSON the typed look refuses as a whole, are read as documents."""
    if path.suffix != ".json":
        for where, raw in iter_objects(path):
            add_object(builder, raw, where)
            yield where, raw, 1
        return
    with _mapped(path) as data:
        try:
            doc = decode.head(data)
        except (msgspec.DecodeError, msgspec.ValidationError):  # not JSON, not an object, items not a list
            doc = None
        if doc is not None:
            yield from _add_items(builder, data, doc, str(path))
            del doc
            return
    for where, raw in iter_objects(path):  # the general reader says what is wrong
        add_object(builder, raw, where)
        yield where, raw, 1


#: Pages of a mapped dump file already decoded are given back every this many bytes.
_RELEASE_EVERY = 8 << 20


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes as a read-only mapping (its contents, empty files aside): the file is never copied
    into the heap, and the pages already decoded are released as the items go by (:func:`_add_items`). Where
    the file cannot be mapped (a pipe, a file system without mmap) it is read whole, as before."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after the mapping
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    with fh:
        mapped = None
        try:
            if os.fstat(fh.fileno()).st_size > 0:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            mapped = None
        if mapped is None:
            try:
                data = fh.read()
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
            yield data
            return
        try:
            yield mapped
        finally:
            with contextlib.suppress(BufferError):  # a raw item still refers to it: it goes with the last reference
                mapped.close()


def _release(data: bytes | mmap.mmap, end: int) -> None:
    """Give back the mapped pages before ``end``: they were decoded and are not read again."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        data.madvise(mmap.MADV_DONTNEED, 0, end - end % mmap.PAGESIZE)


#: Items of one kind are decoded as one array, as a live list page is: runs start this long after a change of
#: kind or a refused run (a mixed ``kubectl get all`` List decodes little twice) and double up to the longest.
_RUN_FIRST, _RUN_MOST = 8, 64


def _add_items(builder: InventoryBuilder, data: bytes | mmap.mmap, doc: Any, where: str,
               ) -> Iterator[tuple[str, Any, int]]:
    items = decode.ItemDecoder()
    if not (isinstance(doc.kind, str) and doc.kind.endswith("List") and doc.items is not msgspec.UNSET):
        yield where, _add_json(builder, data, where, items), 1
        return
    raws = doc.items or []
    _release(data, len(data))  # delimiting the items read the whole file: only what is decoded comes back
    done = released = 0
    i, n, run = 0, len(raws), _RUN_FIRST
    while i < n:
        last = items.last
        if last is None:  # the kind is not known yet, or not typed: one item alone
            end = i + 1
            yield f"{where} items[{i}]", _add_json(builder, raws[i], where, items, i), 1
        else:
            end = min(n, i + run)
            whole = yield from _add_run(builder, raws, i, end, where, items, last)
            run = min(run * 2, _RUN_MOST) if whole else _RUN_FIRST
        done += sum(len(item) for item in raws[i:end])  # a lower bound of where the run ends in the file
        i = end
        if done - released >= _RELEASE_EVERY:
            _release(data, done)
            released = done
    raws.clear()


def _add_run(builder: InventoryBuilder, raws: list[msgspec.Raw], start: int, end: int, where: str,
             items: decode.ItemDecoder, last: tuple[Any, Any, decode.Typed],
             ) -> Generator[tuple[str, Any, int], None, bool]:
    """Items ``start:end`` decoded as one array of the kind of the item before them, each record added as
    :func:`_add_json` adds it. An item it does not take as is (another kind, refused, no namespace) goes through
    :func:`_add_json` in its turn, and so does every item of a run that does not decode as a whole: the records,
    their order and the messages are those of one item at a time. Returns whether every item was taken."""
    api_version, kind, typed = last
    wires = typed.wires(raws[start:end])
    if wires is None:
        for i in range(start, end):
            yield f"{where} items[{i}]", _add_json(builder, raws[i], where, items, i), 1
        return False
    resource = BY_GROUP_KIND[(group_of(api_version), kind)]
    field, namespaced, build = resource.field, resource.namespaced, typed.build
    records: list[Any] = []
    indices: list[int] = []
    whole = True
    for i, wire in enumerate(wires, start):
        if wire.kind == kind and wire.apiVersion == api_version and type(wire.kind) is str \
                and type(wire.apiVersion) is str:
            try:
                record = build(wire)
            except decode.Refused:
                record = None
            if record is not None and (record.meta.namespace or not namespaced):
                records.append(record)
                indices.append(i)
                continue
        whole = False
        if records:  # the records before it arrive first
            builder.add_items(field, records, kind, where, indices)
            yield where, None, len(records)
            records, indices = [], []
        yield f"{where} items[{i}]", _add_json(builder, raws[i], where, items, i), 1
    if records:
        builder.add_items(field, records, kind, where, indices)
        yield where, None, len(records)
    return whole


def _add_json(builder: InventoryBuilder, data: decode.Json, where: str, items: decode.ItemDecoder,
              index: int | None = None) -> Any:
    """One object's JSON into the builder: typed when its kind is and it takes it, else parsed and checked.
    ``index``: its place in the file's ``items`` (the builder keeps it, not a location string per object)."""
    try:
        api_version, kind, record = items.guess(data)
    except msgspec.ValidationError:  # not an object: add_object names it
        api_version = kind = record = None
    if record is None and isinstance(api_version, str) and isinstance(kind, str):
        typed = TYPED.get((group_of(api_version), kind))
        with contextlib.suppress(decode.Refused):
            record = items.record(data, typed, api_version, kind)
    if record is not None:
        resource = BY_GROUP_KIND[(group_of(api_version), kind)]
        if record.meta.namespace or not resource.namespaced:
            builder.add(resource.field, record, kind, where, index)
            return None
    raw = orjson.loads(memoryview(data))
    add_object(builder, raw, where if index is None else f"{where} items[{index}]")
    return raw


def add_object(builder: InventoryBuilder, raw: Any, where: str) -> None:
    """Slim one raw object into the builder; unknown kinds are counted, never fatal."""
    if not isinstance(raw, dict):
        raise InputError(f"expected an object, got {type(raw).__name__}", file=where)
    api_version, kind = raw.get("apiVersion"), raw.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        reader = FieldReader(raw, where)  # names the object if it can
        raise reader.error("apiVersion" if not isinstance(api_version, str) else "kind", "required field is missing")
    resource = BY_GROUP_KIND.get((group_of(api_version), kind))
    if resource is None:
        builder.unknown_kinds[f"{api_version}/{kind}"] += 1
        return
    reader = FieldReader(raw, where)
    record = resource.slim(reader)
    if resource.namespaced and not record.meta.namespace:
        raise reader.error("metadata.namespace", f"a {kind} is namespaced: the field is required "
                                                 f"(kubectl get -A -o json writes it)")
    builder.add(resource.field, record, kind, where)
    if kind == "Secret" and builder.secret_policy.active and builder.secret_policy.key and raw.get("data"):
        key = (record.meta.namespace or "", record.meta.name)
        builder.secret_fingerprints[key] = fingerprint_data(raw["data"], builder.secret_policy.key)


def read_dump(root: Path, cluster: str | None = None, secrets: SecretPolicy | None = None) -> Inventory:
    """The inventory of a dump directory; the cluster is named after the directory unless told.

    Credential Secrets' values (if the dump has them) are fingerprinted as they are read, per ``secrets``.
    """
    root = Path(root)
    files = dump_files(root)
    manifest = _read_manifest(root / MANIFEST)
    name = cluster or manifest.get("cluster") or root.resolve().name
    builder = InventoryBuilder(str(name), f"snapshot:{root}")
    builder.server_version = manifest.get("server_version")
    builder.secret_policy = secrets or SecretPolicy(read_values=False)
    for g in manifest.get("gaps", []):
        builder.gap(g)
    _refuse_parent_of_dumps(root)
    objects = 0
    system_namespace_in: dict[str, str] = {}  # top-level folder -> a file holding kube-system's Namespace
    for path in files:
        if path.name.startswith("."):
            continue
        for where, raw, count in add_file(builder, path):
            objects += count
            if raw is not None and _is_system_namespace(raw):
                system_namespace_in.setdefault(_top_folder(root, path), where)
    if objects == 0:
        raise InputError("no Kubernetes objects in it: a dump is what `auditor snapshot DIR` or "
                         "`kubectl get ... -A -o json > DIR/FILE.json` writes (is this the right directory?)",
                         file=str(root))
    if len(system_namespace_in) > 1:
        folders = ", ".join(sorted(f"{d}/" for d in system_namespace_in))
        raise InputError(f"it holds several clusters' dumps ({folders} each have a kube-system Namespace): "
                         f"pass each dump with its own --snapshot", file=str(root))
    return builder.build()


def _refuse_parent_of_dumps(root: Path) -> None:
    """A folder of dumps (each with its ``auditor snapshot`` manifest) is not one cluster: never merge them."""
    nested = sorted({m.parent.relative_to(root).as_posix() for m in root.glob(f"*/**/{MANIFEST}")})
    if nested:
        raise InputError(f"it holds other dumps ({', '.join(d + '/' for d in nested[:5])}"
                         f"{', ...' if len(nested) > 5 else ''}): pass each one with its own --snapshot",
                         file=str(root))


def _is_system_namespace(raw: Any) -> bool:
    meta = raw.get("metadata") if isinstance(raw, dict) else None
    return isinstance(raw, dict) and raw.get("kind") == "Namespace" and isinstance(meta, dict) \
        and meta.get("name") == "kube-system"


def _top_folder(root: Path, path: Path) -> str:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else "."


MANIFEST = ".auditor-snapshot.json"


def _read_manifest(path: Path) -> dict[str, Any]:
    """A dump written by ``auditor snapshot`` carries the live scan's cluster name, gaps and server version."""
    if not path.is_file():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
        gaps = [Gap(resource=g["resource"], reason=g["reason"], message=g["message"], namespace=g.get("namespace"),
                    name=g.get("name"))
                for g in data.get("gaps", [])]
        return {"cluster": data.get("cluster"), "server_version": data.get("server_version"), "gaps": gaps}
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"invalid snapshot manifest: {exc}", file=str(path)) from None
