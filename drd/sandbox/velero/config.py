"""Timings and injectable faults of the Velero simulator."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VeleroTimings:
    """How fast the simulated Velero works; real defaults are in velero.md §0."""

    backup_seconds: float = 1.0
    """Time a backup spends InProgress (scaled by the item count, at least this)."""
    restore_seconds: float = 1.0
    """Time a restore spends InProgress."""
    progress_interval_seconds: float = 0.25
    """How often progress counters are patched (Velero: at most every 1 s)."""
    sync_period_seconds: float = 60.0
    """--backup-sync-period (default 1m)."""
    validation_period_seconds: float = 60.0
    """--store-validation-frequency (default 1m)."""
    gc_period_seconds: float = 3600.0
    """--garbage-collection-frequency (default 1h)."""
    schedule_period_seconds: float = 60.0
    """How often Schedules are reconciled (Velero: 1 min)."""
    server_status_ttl_seconds: float = 60.0
    """ServerStatusRequests are deleted this long after processing (§1.8)."""
    download_url_ttl_seconds: float = 600.0
    """DownloadRequest URLs are valid 10 minutes (§1.7)."""

    @classmethod
    def interactive(cls) -> VeleroTimings:
        """Timings for a person watching (``drd sandbox up`` and the demo): seconds, not minutes."""
        return cls(
            backup_seconds=2.0,
            restore_seconds=2.0,
            progress_interval_seconds=0.25,
            sync_period_seconds=2.0,
            validation_period_seconds=5.0,
            gc_period_seconds=30.0,
            schedule_period_seconds=2.0,
        )

    @classmethod
    def fast(cls) -> VeleroTimings:
        """Timings for tests: everything within a fraction of a second."""
        return cls(
            backup_seconds=0.05,
            restore_seconds=0.05,
            progress_interval_seconds=0.02,
            sync_period_seconds=0.2,
            validation_period_seconds=0.2,
            gc_period_seconds=0.5,
            schedule_period_seconds=0.2,
        )


@dataclass
class VeleroFaults:
    """Outcomes to force, for tests and the demo. Changing a field takes effect on the next operation."""

    backup_outcome: str | None = None
    """None (honest), ``Failed``, ``PartiallyFailed`` or ``Stuck`` (stays InProgress until cleared)."""
    restore_outcome: str | None = None
    """None (honest), ``Failed``, ``PartiallyFailed`` or ``Stuck``."""
    slowdown: float = 1.0
    """Multiplier on backup and restore durations."""
    upload_fails: bool = False
    """Object-store PUTs of backups fail (the backup ends Failed, nothing left in the bucket)."""
    paused: bool = False
    """The Velero server is down: nothing is reconciled until cleared (objects queue up)."""

    def clear(self) -> None:
        """Back to honest behaviour."""
        self.backup_outcome = None
        self.restore_outcome = None
        self.slowdown = 1.0
        self.upload_fails = False
        self.paused = False
