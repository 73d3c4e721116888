"""BackupStorageLocation validation (velero.md §1.4): Available only if the bucket is usable and clean."""

from __future__ import annotations

from drd.clients.errors import StorageError
from drd.clients.kube_resources import VELERO_STORAGE_LOCATIONS
from drd.sandbox.velero.context import SimContext
from drd.velero.timefmt import rfc3339


def validate_locations(ctx: SimContext) -> None:
    """Set each BSL's phase from ``IsValid()``: list top-level prefixes, reject foreign directories."""
    for location in ctx.locations():
        message = ""
        try:
            if not location.bucket.exists():
                message = (
                    f"rpc error: code = Unknown desc = NoSuchBucket: bucket {location.bucket.bucket} does not exist"
                )
            else:
                invalid = location.layout.invalid_top_level_dirs(location.bucket.common_prefixes(location.layout.root))
                if invalid:
                    message = f"Backup store contains invalid top-level directories: {invalid}"
        except StorageError as exc:
            message = f"rpc error: code = Unknown desc = {exc}"
        phase = "Unavailable" if message else "Available"
        status: dict[str, object] = {"phase": phase, "lastValidationTime": rfc3339(ctx.clock.now())}
        status["message"] = f'BackupStorageLocation "{location.name}" is unavailable: {message}' if message else None
        ctx.patch(VELERO_STORAGE_LOCATIONS, location.name, {"status": status})
