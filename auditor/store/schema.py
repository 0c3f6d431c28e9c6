"""The store's tables at the newest schema revision (the migrations in ``migrations/versions`` build them).

A scan (one ``auditor scan`` run) has one row per cluster; each cluster scan has its volumes' statuses,
its findings (with stable identities and when each was first seen) and the protection state GOV-002
compares with. The scan document is kept zlib-compressed: at 20,000 PVCs it is ~12 MB of JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from auditor.store.types import JSONType, UTCDateTime

#: Named constraints: SQLite migrations (batch mode) can only drop or alter constraints that have a name.
NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Scan(Base):
    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tool_version: Mapped[str] = mapped_column(String(40))
    document: Mapped[bytes | None] = mapped_column(LargeBinary)


class ClusterScan(Base):
    __tablename__ = "cluster_scans"
    __table_args__ = (UniqueConstraint("scan_id", "cluster"),
                      Index("ix_cluster_scans_cluster_as_of", "cluster", "as_of"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    cluster: Mapped[str] = mapped_column(String(255))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    complete: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(1024))
    volumes_audited: Mapped[int] = mapped_column(Integer)
    volumes_protected: Mapped[int] = mapped_column(Integer)
    volumes_stale: Mapped[int] = mapped_column(Integer)
    volumes_unprotected: Mapped[int] = mapped_column(Integer)
    volumes_unknown: Mapped[int] = mapped_column(Integer)
    findings_open: Mapped[int] = mapped_column(Integer)
    findings_by_severity: Mapped[dict[str, int]] = mapped_column(JSONType)
    new_findings: Mapped[int] = mapped_column(Integer)
    resolved_findings: Mapped[int] = mapped_column(Integer)
    compliance: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # framework -> score
    # ProtectionState.to_dict(): up to ~10 MB of JSON, read only by GOV-002's query (deferred: a fleet's listing
    # of cluster scans would otherwise decode every one)
    protection: Mapped[dict[str, Any] | None] = mapped_column(JSONType, deferred=True)
    # revision 0005: who the cluster is (kube-system namespace uid), how often its agent scans, and whether
    # retention reduced the row to its summary (its volumes, findings and document dropped)
    cluster_uid: Mapped[str | None] = mapped_column(String(64))
    interval_seconds: Mapped[float | None] = mapped_column(Float)
    summary_only: Mapped[bool] = mapped_column(Boolean, server_default="0")


class ClusterIdentity(Base):
    """A cluster as agents name it (revision 0005): one row per (name, kube-system uid) ever recorded.

    Two rows with one name and different uids are two clusters claiming one name (GOV-007): their scans
    stay apart (every per-cluster read matches the uid too). ``uid`` is empty when the scan could not read
    the kube-system namespace (a dump without it)."""

    __tablename__ = "cluster_identities"
    __table_args__ = (UniqueConstraint("name", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    uid: Mapped[str] = mapped_column(String(64), server_default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)  # as_of of its first scan
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)  # as_of of its newest scan (silence: GOV-006)
    last_recorded: Mapped[datetime] = mapped_column(UTCDateTime)  # wall clock when the newest scan was stored
    interval_seconds: Mapped[float | None] = mapped_column(Float)  # its agent's interval (None: not an agent)


class Volume(Base):
    __tablename__ = "volumes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_scan_id: Mapped[int] = mapped_column(ForeignKey("cluster_scans.id", ondelete="CASCADE"), index=True)
    namespace: Mapped[str] = mapped_column(String(253))
    pvc: Mapped[str] = mapped_column(String(253))
    status: Mapped[str] = mapped_column(String(16))
    audited: Mapped[bool] = mapped_column(Boolean)
    last_success: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy: Mapped[str] = mapped_column(String(253))
    methods: Mapped[str] = mapped_column(String(255))  # comma-separated


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_cluster_scan_identity", "cluster_scan_id", "identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_scan_id: Mapped[int] = mapped_column(ForeignKey("cluster_scans.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(1024))  # rule|cluster|kind|namespace|name
    rule_id: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str | None] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(253))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportManifest(Base):
    """A report written from a scan (revision 0002): what, where, and its checksum."""

    __tablename__ = "report_manifests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    format: Mapped[str] = mapped_column(String(255))  # "html", or several: "html,pdf,json"
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ExecutorRun(Base):
    """A backup the built-in executor ran, recorded under its identity before anything is created (0002, 0003)."""

    __tablename__ = "executor_runs"
    __table_args__ = (Index("ix_executor_runs_cluster_started", "cluster", "started_at"),
                      Index("ix_executor_runs_identity", "identity", unique=True))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(253))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32))  # planned | created | succeeded | failed
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    identity: Mapped[str] = mapped_column(String(512), server_default="")  # cluster|kind|namespace/target|object
    namespace: Mapped[str | None] = mapped_column(String(253))
    target: Mapped[str] = mapped_column(String(253), server_default="")  # the Schedule or PVC it ran for
    object_name: Mapped[str] = mapped_column(String(253), server_default="")  # the Backup/VolumeSnapshot


class WaiverEvent(Base):
    """A waiver appeared, changed or vanished between two scans (revision 0004w): the register's history."""

    __tablename__ = "waiver_events"
    __table_args__ = (Index("ix_waiver_events_waiver_at", "waiver", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # the as_of of the scan that saw it
    waiver: Mapped[str] = mapped_column(String(512))  # the waiver's key (its id, or a key from its scope)
    event: Mapped[str] = mapped_column(String(16))  # appeared | changed | vanished
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the waiver as it read then
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the waiver then (rules, scope, reason, owner...)
