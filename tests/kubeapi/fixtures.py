"""pytest fixtures for the Kubernetes API test server (registered from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import KubeAPIServer


@pytest.fixture
def kube_api() -> Iterator[KubeAPIServer]:
    """A fresh, empty (built-in namespaces and bundled CRDs only) server for one test."""
    with KubeAPIServer() as server:
        yield server


@pytest.fixture(scope="session")
def kube_api_session() -> Iterator[KubeAPIServer]:
    """One server per test session (per xdist worker); tests must not depend on its exact contents."""
    with KubeAPIServer() as server:
        yield server
