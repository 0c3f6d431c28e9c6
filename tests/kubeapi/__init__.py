"""Kubernetes API test server (see README.md): `from tests.kubeapi import KubeAPIServer`."""

from .server import KubeAPIServer

__all__ = ["KubeAPIServer"]
