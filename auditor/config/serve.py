"""What only ``auditor serve`` reads: the restore preflight pairs it judges on every scan interval
(the scheduled ``reports:`` and ``executor:`` jobs have their own modules)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from auditor.config.base import Strict


class PreflightPair(Strict):
    """``preflight:`` in ``auditor serve``: the newest good backup of a schedule in a scanned cluster, judged
    against a DR target on every scan interval (docs/preflight.md)."""

    schedule: str = Field(pattern=r"^[^/]+/[^/]+$")  # NAMESPACE/NAME of the Velero Schedule
    source_cluster: str | None = None  # the scanned cluster holding it (default: the only one, or any)
    target_context: str | None = Field(None, description="The target cluster's kubeconfig context.")
    target_snapshot: Path | None = Field(None, description="The target cluster as a dump directory.")
    name: str | None = None  # the ``target`` label (default: the context or the dump's cluster)
    velero_catalog: Path | None = Field(None, description="Local copy of the BackupStorageLocation prefix: the "
                                                          "backup's own files, the source of truth.")
    namespace_mapping: dict[str, str] = Field(default_factory=dict, description="The Restore's namespaceMapping.")
    storage_class_mapping: dict[str, str] = Field(
        default_factory=dict, description="Storage class mapping, on top of the target's change-storage-class-config.")

    @model_validator(mode="after")
    def _one_target(self) -> PreflightPair:
        if (self.target_context is None) == (self.target_snapshot is None):
            raise ValueError("give exactly one of target_context or target_snapshot")
        return self
