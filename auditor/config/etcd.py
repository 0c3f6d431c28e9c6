"""``etcd:`` — etcd snapshot evidence for SYS-002: where the executor's manifests are, and the RPO."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator, model_validator

from auditor.config.base import DEFAULT_RPO, Strict, duration
from auditor.model.globs import config_glob


class EtcdSnapshotSource(Strict):
    """Where the executor's etcd snapshot manifests of matching clusters are: a directory or an ``s3://`` prefix.
    The scan reads the ``.json`` manifests only, never a snapshot."""

    cluster: str = "*"  # glob on the cluster name
    dir: Path | None = None
    s3: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_ca_file: Path | None = None
    s3_profile: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> EtcdSnapshotSource:
        if (self.dir is None) == (self.s3 is None):
            raise ValueError("give exactly one of dir or s3")
        if self.s3 is not None and not self.s3.startswith("s3://"):
            raise ValueError(f"s3 must be an s3://bucket/prefix URL (got {self.s3!r})")
        return self


class EtcdConfig(Strict):
    """etcd snapshot evidence (``etcd:``) for SYS-002: where the executor's manifests are, and the RPO."""

    snapshots: tuple[EtcdSnapshotSource, ...] = ()
    rpo: float = DEFAULT_RPO

    _parse = field_validator("rpo", mode="before")(classmethod(lambda cls, v: duration(v)))

    def sources_for(self, cluster: str) -> tuple[EtcdSnapshotSource, ...]:
        return tuple(s for s in self.snapshots if config_glob(cluster, s.cluster))
