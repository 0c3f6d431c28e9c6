"""Create a Backup in the cluster and follow it to a terminal phase; never create a second one.

A Backup's name is deterministic (schedule + UTC second), so a retry of the same run after a crash or a
409 adopts the object that exists instead of creating another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from auditor.collect.live import ApiStatusError, LiveSource, status_message
from auditor.errors import AuditorError
from auditor.executor.velero import TERMINAL


class ExecutorError(AuditorError):
    """The backup could not be created or did not finish: the message says why."""


def create(api: Any, obj: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """POST ``obj``; returns (the stored object, created). An existing object of that name is adopted."""
    meta = obj["metadata"]
    path = f"/apis/velero.io/v1/namespaces/{meta['namespace']}/backups"
    method, url, headers, body, post = api.param_serialize(
        method="POST", resource_path=path, body=obj,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers, body=body, post_params=post, _request_timeout=30)
    data = response.read()
    if response.status in (200, 201):
        return orjson.loads(data), True
    if response.status == 409:
        return get(api, meta["namespace"], meta["name"]), False
    raise ExecutorError(f"cannot create Backup {meta['namespace']}/{meta['name']}: "
                        f"{status_message(data, response.status)}")


def get(api: Any, namespace: str, name: str) -> dict[str, Any]:
    try:
        obj = LiveSource(api, "executor").get_json(f"/apis/velero.io/v1/namespaces/{namespace}/backups/{name}")
    except ApiStatusError as exc:
        raise ExecutorError(f"cannot read Backup {namespace}/{name}: {exc.message}") from None
    if not isinstance(obj, dict):
        raise ExecutorError(f"Backup {namespace}/{name}: unexpected answer")
    return obj


def wait(api: Any, namespace: str, name: str, timeout: float, poll: float = 2.0,
         on_phase: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Follow the Backup until Completed, PartiallyFailed, Failed or FailedValidation (or the timeout:
    WaitingForPluginOperations may legitimately take hours, so the caller chooses)."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        obj = get(api, namespace, name)
        phase = str((obj.get("status") or {}).get("phase") or "New")
        if phase != seen and on_phase:
            on_phase(phase)
        seen = phase
        if phase in TERMINAL:
            return obj
        if time.monotonic() >= deadline:
            raise ExecutorError(f"Backup {namespace}/{name} is still {phase} after {timeout:.0f} s "
                                "(it keeps running; check it with `velero backup describe`)")
        time.sleep(poll)
