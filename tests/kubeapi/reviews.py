"""Access reviews (`kubectl auth can-i`, `kubectl auth whoami`): answered, never stored.

The test server authorises everything, so reviews say "allowed"; tests that need a denial inject a
403 fault on the resource instead.
"""

from __future__ import annotations

from typing import Any

import orjson

from .resources import ResourceType
from .state import Response, State

REVIEW_KEYS = frozenset(
    {
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    }
)


def review(state: State, rt: ResourceType, obj: dict[str, Any]) -> Response:
    """201 with the request echoed and an "allowed" status, as the apiserver answers reviews."""
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    obj["metadata"] = {"creationTimestamp": None}
    if rt.plural == "selfsubjectaccessreviews":
        obj["status"] = {"allowed": True, "reason": "the API test server allows every request"}
    elif rt.plural == "selfsubjectrulesreviews":
        obj["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    else:
        obj["status"] = {"userInfo": {"username": state.settings.username, "groups": ["system:authenticated"]}}
    return Response(201, orjson.dumps(obj))
