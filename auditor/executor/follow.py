"""Follow one object to an end state with a watch, falling back to polling when watching is not possible.

A Backup can sit in ``WaitingForPluginOperations`` or ``Finalizing`` for hours, so the executor watches
(one idle connection, no request every few seconds) and re-reads the object whenever a stream ends:
a change between two streams is never missed. Where the API refuses watches (an RBAC role with
``get`` but not ``watch``, a proxy that cuts long requests), it polls instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import urllib3

from auditor.collect.kinds import ResourceKind
from auditor.collect.live import LiveSource, status_message, watch_lines
from auditor.errors import ApiStatusError, AuditorError

log = logging.getLogger(__name__)

Done = Callable[[dict[str, Any]], bool]
OnChange = Callable[[dict[str, Any]], None]


class FollowError(AuditorError):
    """The object vanished, or could not be read: the message names it."""


class FollowTimeoutError(FollowError):
    """The object did not reach an end state in time (it may still get there)."""

    def __init__(self, message: str, last: dict[str, Any]) -> None:
        super().__init__(message)
        self.last = last


class _WatchRefusedError(Exception):
    pass


def read(api: Any, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any]:
    try:
        obj = LiveSource(api, "executor").get_json(f"{kind.list_path(namespace)}/{name}")
    except ApiStatusError as exc:
        raise FollowError(f"cannot read {kind.kind} {namespace}/{name}: {exc.message}") from None
    if not isinstance(obj, dict):
        raise FollowError(f"{kind.kind} {namespace}/{name}: unexpected answer")
    return obj


def follow(api: Any, kind: ResourceKind, namespace: str, name: str, done: Done, timeout: float, *,
           on_change: OnChange | None = None, poll: float = 2.0, use_watch: bool = True) -> dict[str, Any]:
    """Return the object once ``done(obj)``; raise :class:`FollowTimeoutError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    obj = read(api, kind, namespace, name)
    while True:
        if on_change:
            on_change(obj)
        if done(obj):
            return obj
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FollowTimeoutError(f"{kind.kind} {namespace}/{name} did not finish within {timeout:.0f} s", obj)
        if use_watch:
            try:
                changed = _watch_once(api, kind, namespace, name, obj, done, remaining, on_change)
                if changed is not None and done(changed):
                    return changed
            except _WatchRefusedError as exc:
                log.info("cannot watch %s %s/%s (%s): polling every %.0f s", kind.kind, namespace, name, exc, poll)
                use_watch = False
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                log.debug("watch of %s %s/%s broke (%s): reading it again", kind.kind, namespace, name, exc)
                time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        else:
            time.sleep(min(poll, max(0.0, remaining)))
        obj = read(api, kind, namespace, name)  # after every stream: nothing between two streams is missed


def _watch_once(api: Any, kind: ResourceKind, namespace: str, name: str, obj: dict[str, Any], done: Done,
                remaining: float, on_change: OnChange | None) -> dict[str, Any] | None:
    """One watch stream from the object's resourceVersion; the newest state seen, or None."""
    rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    query: list[tuple[str, Any]] = [("watch", "true"), ("fieldSelector", f"metadata.name={name}"),
                                    ("timeoutSeconds", max(1, min(int(remaining) + 1, 300)))]
    if rv:
        query.append(("resourceVersion", rv))
    method, url, headers, body, post = api.param_serialize(
        method="GET", resource_path=kind.list_path(namespace), query_params=query,
        header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                            _request_timeout=(10.0, min(remaining, 300.0) + 30.0))
    if response.status != 200:
        message = status_message(response.read(), response.status)
        if response.status == 410:
            return None  # history expired: the caller reads the object again
        raise _WatchRefusedError(f"HTTP {response.status}: {message}")
    newest: dict[str, Any] | None = None
    try:
        for event in watch_lines(response.response):
            etype, item = event.get("type"), event.get("object") or {}
            if etype == "ERROR":
                return newest  # e.g. 410 inside the stream: read again
            if etype == "DELETED":
                raise FollowError(f"{kind.kind} {namespace}/{name} was deleted while the executor followed it")
            if etype in ("ADDED", "MODIFIED") and (item.get("metadata") or {}).get("name") == name:
                newest = item
                if on_change:
                    on_change(item)
                if done(item):
                    return item
    finally:
        response.response.release_conn()
    return newest
