"""URL routing: which discovery document or (resource type, namespace, name, subresource, verb)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError, resource_not_found
from .resources import Registry
from .state import Target

_SUBRESOURCES = ("status",)


@dataclass(frozen=True)
class Route:
    """A resource request: the target and the Kubernetes verb (get, list, watch, create, ...)."""

    target: Target
    verb: str


def _truthy(value: str | None) -> bool:
    return value in ("true", "1", "True")


def parse_resource_path(registry: Registry, method: str, segments: list[str], query: dict[str, str]) -> Route | None:
    """Map `/api/v1/...` or `/apis/g/v/...` segments to a Route; None when it is a discovery path."""
    if segments[0] == "api":
        if len(segments) < 3:
            return None
        group, version, rest = "", segments[1], segments[2:]
    else:
        if len(segments) < 4:
            return None
        group, version, rest = segments[1], segments[2], segments[3:]
    watch_prefix = rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
        if not rest:
            raise resource_not_found()
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        nested = registry.lookup(group, version, rest[2])
        if nested is not None and nested.namespaced:
            namespace, rest = rest[1], rest[2:]
    rt = registry.lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        raise resource_not_found()
    if namespace and not rt.namespaced:
        raise resource_not_found()
    name = rest[1] if len(rest) >= 2 else ""
    sub = rest[2] if len(rest) == 3 else ""
    if sub and (sub not in _SUBRESOURCES or not rt.status_subresource):
        raise resource_not_found()
    if name and rt.namespaced and not namespace:
        raise resource_not_found()
    target = Target(rt, namespace, name, sub)
    watch = watch_prefix or _truthy(query.get("watch"))
    if name:
        verb = {"GET": "watch" if watch else "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
    else:
        verb = {"GET": "watch" if watch else "list", "POST": "create", "DELETE": "deletecollection"}.get(method)
        if verb in ("create", "deletecollection") and rt.namespaced and not namespace:
            verb = None
    if verb is None or (watch and method != "GET"):
        raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
    if sub and verb not in ("get", "update", "patch"):
        raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
    if verb not in rt.verbs:
        raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
    return Route(target, verb)


def forbidden_message(route: Route | None, username: str) -> str:
    """The RBAC denial text the apiserver produces for this request."""
    if route is None:
        return f'forbidden: User "{username}" cannot access this path'
    t = route.target
    res = f"{t.rt.plural}/{t.subresource}" if t.subresource else t.rt.plural
    subject = f"{t.rt.plural}.{t.rt.group}" if t.rt.group else t.rt.plural
    if t.name:
        subject += f' "{t.name}"'
    scope = f'in the namespace "{t.namespace}"' if t.namespace else "at the cluster scope"
    return (
        f'{subject} is forbidden: User "{username}" cannot {route.verb} resource "{res}" '
        f'in API group "{t.rt.group}" {scope}'
    )
