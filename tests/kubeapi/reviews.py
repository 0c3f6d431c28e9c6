"""Access reviews: answered, never stored.

Self reviews (`kubectl auth can-i`, `kubectl auth whoami`) say "allowed": the test server authorises every
request, and tests that need a denial inject a 403 fault on the resource instead.

TokenReview and SubjectAccessReview (what a server delegating its authentication to the API server asks,
like kube-rbac-proxy) answer from `Settings.tokens` and `Settings.grants`: a token is authenticated only if
a test registered it, and a non-resource URL is allowed only for a registered (user or group, verb, path).
"""

from __future__ import annotations

from typing import Any

import orjson

from .errors import bad_request
from .resources import ResourceType
from .state import Response, State

REVIEW_KEYS = frozenset(
    {
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
    }
)


def _token_review(state: State, spec: dict[str, Any]) -> dict[str, Any]:
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise bad_request("TokenReview spec.token: Required value")
    user = state.settings.tokens.get(token)
    if user is None:
        return {"authenticated": False, "error": "invalid bearer token"}
    return {"authenticated": True, "user": user, "audiences": spec.get("audiences") or []}


def _access_review(state: State, spec: dict[str, Any]) -> dict[str, Any]:
    attributes = spec.get("nonResourceAttributes")
    user, groups = spec.get("user"), spec.get("groups") or []
    if not user and not groups:
        raise bad_request("SubjectAccessReview spec.user: Required value: at least one of user or group")
    if not isinstance(attributes, dict):
        return {"allowed": False, "reason": "the API test server grants non-resource URLs only"}
    who = [str(user), *(f"group:{g}" for g in groups)]
    verb, path = attributes.get("verb"), attributes.get("path")
    if any((w, verb, path) in state.settings.grants for w in who):
        return {"allowed": True, "reason": f"granted {verb} {path}"}
    return {"allowed": False, "reason": ""}


def review(state: State, rt: ResourceType, obj: dict[str, Any]) -> Response:
    """201 with the request echoed and its status, as the apiserver answers reviews."""
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    obj["metadata"] = {"creationTimestamp": None}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if rt.plural == "selfsubjectaccessreviews":
        obj["status"] = {"allowed": True, "reason": "the API test server allows every request"}
    elif rt.plural == "selfsubjectrulesreviews":
        obj["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif rt.plural == "tokenreviews":
        obj["status"] = _token_review(state, spec)
    elif rt.plural == "subjectaccessreviews":
        obj["status"] = _access_review(state, spec)
    else:
        obj["status"] = {"userInfo": {"username": state.settings.username, "groups": ["system:authenticated"]}}
    return Response(201, orjson.dumps(obj))
