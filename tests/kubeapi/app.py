"""Request dispatch independent of HTTP I/O: discovery, health, OpenAPI and the resource verbs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from . import discovery, listing, writes
from .errors import ApiError, resource_not_found
from .objects import decode_body
from .routing import Route, parse_resource_path
from .state import Response, State, Target
from .watch import WatchPlan

_HEALTH = ("healthz", "livez", "readyz")


def _json(doc: Any, content_type: str = "application/json") -> Response:
    return Response(200, orjson.dumps(doc), content_type)


class App:
    """Turns a parsed request into a Response or a WatchPlan (streamed by the HTTP layer)."""

    def __init__(self, state: State, git_version: str) -> None:
        self.state = state
        self.git_version = git_version
        self.host = "127.0.0.1"

    def route(self, method: str, path: str, query: dict[str, str]) -> Route | None:
        """The resource route of a path, or None for non-resource paths (discovery, health)."""
        segments = [s for s in path.split("/") if s]
        if not segments or segments[0] not in ("api", "apis"):
            return None
        return parse_resource_path(self.state.registry, method, segments, query)

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
        route: Route | None,
    ) -> Response | WatchPlan:
        """Serve one request; raises ApiError for failures."""
        if route is not None:
            return self._resource(route, query, headers, body)
        if method != "GET":
            raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
        return self._non_resource(path, headers)

    def _non_resource(self, path: str, headers: Mapping[str, str]) -> Response:
        registry = self.state.registry
        segments = [s for s in path.split("/") if s]
        accept = headers.get("Accept", "")
        aggregated = "as=APIGroupDiscoveryList" in accept
        if not segments:
            return _json(
                {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"]}
            )
        head = segments[0]
        if head in _HEALTH:
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if head == "version" and len(segments) == 1:
            return _json(discovery.version_info(self.git_version))
        if head == "api" and len(segments) == 1:
            if aggregated:
                return _json(discovery.aggregated(registry, core=True), discovery.AGGREGATED_CT)
            return _json(discovery.api_versions(self.host))
        if head == "apis" and len(segments) == 1:
            if aggregated:
                return _json(discovery.aggregated(registry, core=False), discovery.AGGREGATED_CT)
            return _json(discovery.api_group_list(registry))
        doc: dict[str, Any] | None = None
        if head == "api" and len(segments) == 2:
            doc = discovery.resource_list(registry, "", segments[1])
        elif head == "apis" and len(segments) == 2:
            doc = discovery.api_group(registry, segments[1])
        elif head == "apis" and len(segments) == 3:
            doc = discovery.resource_list(registry, segments[1], segments[2])
        if doc is not None:
            return _json(doc)
        if head == "openapi" and segments[1:2] == ["v3"]:
            if len(segments) == 2:
                return _json(discovery.openapi_root(registry))
            spec = discovery.openapi_gv(registry, "/".join(segments[2:]))
            if spec is not None:
                return _json(spec)
        raise resource_not_found()

    def _resource(
        self, route: Route, query: dict[str, str], headers: Mapping[str, str], raw: bytes
    ) -> Response | WatchPlan:
        state, t, verb = self.state, route.target, route.verb
        accept = headers.get("Accept", "")
        content_type = headers.get("Content-Type", "application/json")
        if verb == "list":
            return listing.list_objects(state, t, query, accept)
        if verb == "watch":
            if t.name:  # watch of a single object: the collection filtered by name
                fs = f"metadata.name={t.name}"
                query = {
                    **query,
                    "fieldSelector": f"{query['fieldSelector']},{fs}" if query.get("fieldSelector") else fs,
                }
                t = Target(t.rt, t.namespace)
            return WatchPlan(state, t, query, accept)
        if verb == "get":
            return listing.get_object(state, t, query, accept)
        if verb == "patch":
            return writes.patch(state, t, raw, content_type, query)
        body = decode_body(raw, content_type) if raw.strip() else None
        if verb == "create":
            return writes.create(state, t, body, query)
        if verb == "update":
            return writes.update(state, t, body, query)
        if verb == "delete":
            return writes.delete(state, t, body, query)
        if verb == "deletecollection":
            return writes.delete_collection(state, t, body, query)
        raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
