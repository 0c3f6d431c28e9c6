"""`KubeAPIServer`: a Kubernetes API test server on 127.0.0.1 for the official client and kubectl."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import yaml

from . import objects as ob
from .app import App
from .faults import Fault, FaultSet
from .handler import KubeHTTPServer, RequestRecord
from .lifecycle import after_commit
from .resources import Registry, load_crd_objects
from .seeding import Seeder, expand, gc_paused, namespace_object, read_file, seed_files
from .state import Settings, State
from .store import Store

CRD_ROOT = Path(__file__).parent / "crds"
BUILTIN_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


class KubeAPIServer:
    """In-memory Kubernetes API server speaking the REST protocol over plain HTTP.

    Start it (`start()` or a `with` block), point a client at `url` or at `write_kubeconfig()`,
    seed it with `kubectl get -o json|yaml` output, and inspect `requests` afterwards.
    """

    def __init__(
        self,
        crd_dirs: Iterable[str | Path] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        git_version: str = "v1.36.0",
        history: int = 10_000,
        builtin_namespaces: bool = True,
        enforce_namespaces: bool = True,
    ) -> None:
        self.host = host
        self._port = port
        self.settings = Settings(enforce_namespaces=enforce_namespaces)
        self.state = State(Store(history), Registry(), self.settings)
        self.app = App(self.state, git_version)
        self.faults = FaultSet()
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []  # tracebacks of handler bugs answered with 500
        self.unknown_kinds: Counter[str] = Counter()
        self._httpd: KubeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        dirs = [CRD_ROOT] if crd_dirs is None else [Path(d) for d in crd_dirs]
        self.seed(load_crd_objects(dirs))
        if builtin_namespaces:
            self.seed(namespace_object(n) for n in BUILTIN_NAMESPACES)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> KubeAPIServer:
        """Serve in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        self.state.stopping.clear()
        self._httpd = KubeHTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_address[1]
        self.app.host = f"{self.host}:{self._port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kubeapi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end watches and close open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.state.stopping.set()
        with self.state.store.changed:
            self.state.store.changed.notify_all()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after `start()`)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123."""
        return f"http://{self.host}:{self._port}"

    # --- settings ---------------------------------------------------------------------------------

    @property
    def continue_token_ttl(self) -> float:
        """Seconds a continue token stays valid (default 300); older tokens get 410 Expired."""
        return self.settings.continue_token_ttl

    @continue_token_ttl.setter
    def continue_token_ttl(self, seconds: float) -> None:
        self.settings.continue_token_ttl = seconds

    def expire_continue_tokens(self) -> None:
        """Invalidate every continue token issued so far (next use answers 410 Expired)."""
        self.settings.token_epoch += 1

    @property
    def resource_version(self) -> int:
        """The current global resourceVersion."""
        return self.state.store.rv

    # --- faults and request log -------------------------------------------------------------------

    def add_fault(
        self,
        method: str | None = "GET",
        path_regex: str = ".*",
        query: dict[str, str] | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        latency: float | None = None,
        reset: bool = False,
        times: int | None = None,
        body: Any = None,
        stall: bool = False,
    ) -> Fault:
        """Inject a fault into matching requests (see `faults.Fault`); returns its handle."""
        return self.faults.add(Fault(method, path_regex, query, status, retry_after, latency, reset, times, body,
                                     stall))

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.clear()

    def reset_requests(self) -> None:
        """Forget the request log."""
        self.requests.clear()

    # --- seeding ----------------------------------------------------------------------------------

    def seed(self, objects: Iterable[dict[str, Any]]) -> int:
        """Bulk-load objects (single objects or Lists); returns how many were stored."""
        with gc_paused():
            seeder = Seeder(self.state, self.unknown_kinds)
            seeder.add(o for doc in objects for o in expand(doc))
            return seeder.finish()

    def seed_dir(self, path: str | Path) -> int:
        """Bulk-load every .json/.yaml/.yml file under a directory (recursively) or one file."""
        with gc_paused():
            seeder = Seeder(self.state, self.unknown_kinds)
            for file in seed_files(Path(path)):
                seeder.add(read_file(file))
            return seeder.finish()

    # --- kubeconfig -------------------------------------------------------------------------------

    def kubeconfig_dict(self, context: str = "test", namespace: str | None = None) -> dict[str, Any]:
        """A kubeconfig pointing at this server with a bearer-token user."""
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": "test-token"}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }

    def write_kubeconfig(self, path: str | Path, context: str = "test", namespace: str | None = None) -> Path:
        """Write `kubeconfig_dict()` as YAML; returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump(self.kubeconfig_dict(context, namespace), sort_keys=False))
        return p

    # --- direct state access for tests (emit watch events) ----------------------------------------

    def _type(self, group: str, version: str, plural: str) -> Any:
        rt = self.state.registry.lookup(group, version, plural)
        if rt is None:
            raise KeyError(f"unknown resource {plural}.{group}/{version}")
        return rt

    def get_object(
        self, group: str, version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """The stored object (a private copy), or None."""
        rt = self._type(group, version, plural)
        entry = self.state.store.get(rt.key, (namespace or "") if rt.namespaced else "", name)
        return ob.served_obj(entry, rt) if entry is not None else None

    def list_objects(self, group: str, version: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """All stored objects of a type (optionally one namespace), in key order."""
        rt = self._type(group, version, plural)
        entries, _, _, _ = self.state.store.page(rt.key, namespace if rt.namespaced else None, None, 0, None)
        return [ob.served_obj(e, rt) for e in entries]

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object as-is (status included), emitting ADDED/MODIFIED."""
        rt = self.state.registry.by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if rt is None:
            raise KeyError(f"unknown kind {obj.get('apiVersion')}/{obj.get('kind')}")
        obj = ob.require_object(orjson.loads(orjson.dumps(obj)))
        meta = obj["metadata"]
        if not meta.get("name"):
            raise ValueError("put_object needs metadata.name")
        store = self.state.store
        storage = self.state.registry.storage_type(*rt.key) or rt
        with store.lock:
            if rt.namespaced:
                meta["namespace"] = meta.get("namespace") or "default"
                self._ensure_namespace(meta["namespace"])
            else:
                meta.pop("namespace", None)
            old = store.get(rt.key, meta.get("namespace", ""), meta["name"])
            previous = old.obj()["metadata"] if old is not None else {}
            meta.setdefault("uid", previous.get("uid") or ob.new_uid())
            meta.setdefault("creationTimestamp", previous.get("creationTimestamp") or ob.now_rfc3339())
            meta.setdefault("generation", previous.get("generation") or 1)
            entry = ob.make_entry(storage, obj, store.next_rv())
            store.commit(rt.key, entry)
        after_commit(self.state, rt, obj)
        return ob.served_obj(entry, rt)

    def update_object(
        self, group: str, version: str, plural: str, namespace: str | None, name: str,
        mutate: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any] | None:
        """Read-modify-write one object atomically (what a controller's status update does): `mutate`
        changes a private copy in place; the write bumps the resourceVersion and emits MODIFIED.
        Returns the stored object, or None when there is no such object (nothing is written)."""
        with self.state.store.lock:  # reentrant: put_object takes it again
            obj = self.get_object(group, version, plural, namespace, name)
            if obj is None:
                return None
            mutate(obj)
            obj["metadata"].pop("resourceVersion", None)
            return self.put_object(obj)

    def _ensure_namespace(self, name: str) -> None:
        store, ns_rt = self.state.store, self.state.registry.storage_type("", "namespaces")
        if ns_rt is not None and store.get(ns_rt.key, "", name) is None:
            store.commit(ns_rt.key, ob.make_entry(ns_rt, namespace_object(name), store.next_rv()))

    def delete_object(
        self, group: str, version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """Remove an object immediately (ignoring finalizers), emitting DELETED; returns it or None."""
        rt = self._type(group, version, plural)
        store = self.state.store
        storage = self.state.registry.storage_type(*rt.key) or rt
        with store.lock:
            entry = store.get(rt.key, (namespace or "") if rt.namespaced else "", name)
            if entry is None:
                return None
            obj = entry.obj()
            final = ob.make_entry(storage, obj, store.next_rv())
            store.remove(rt.key, final)
        after_commit(self.state, rt, obj, deleted=True)
        return ob.served_obj(final, rt)


def write_merged_kubeconfig(path: Path, servers: Mapping[str, KubeAPIServer], current: str) -> Path:
    """One kubeconfig with a cluster, user and context per server (each named by its key), as a user of several
    clusters keeps them; ``current`` is its current context. Returns ``path``."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for name, server in servers.items():
        part = server.kubeconfig_dict(name)
        for key in ("clusters", "users", "contexts"):
            merged[key] += part[key]
    merged["current-context"] = current
    path.write_text(yaml.safe_dump(merged))
    return path
