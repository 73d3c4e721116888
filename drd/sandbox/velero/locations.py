"""BackupStorageLocation validation (velero.md §1.4): Available only if the bucket is usable and clean.

Each BSL is validated every ``spec.validationFrequency`` (else the server's
``--store-validation-frequency``; ``0`` turns validation off for that BSL), and every
validation stamps ``status.lastValidationTime``, so a caller that changed something (the
credentials Secret) can wait for a validation *after* its change.
"""

from __future__ import annotations

from datetime import datetime

from drd.clients.errors import StorageError
from drd.clients.kube_resources import VELERO_STORAGE_LOCATIONS
from drd.sandbox.s3 import AwsAuthError
from drd.sandbox.velero.context import SimContext
from drd.sandbox.velero.storage import Location
from drd.velero.timefmt import rfc3339


def validate_locations(
    ctx: SimContext, *, default_period_seconds: float, last_validated: dict[str, datetime] | None = None
) -> None:
    """Validate every BSL that is due (all of them when ``last_validated`` is None)."""
    now = ctx.clock.now()
    for location in ctx.locations():
        period = (
            location.validation_frequency_seconds
            if location.validation_frequency_seconds is not None
            else default_period_seconds
        )
        if last_validated is not None:
            previous = last_validated.get(location.name)
            if period == 0 or (previous is not None and (now - previous).total_seconds() < period):
                continue
            last_validated[location.name] = now
        validate_location(ctx, location)


def validate_location(ctx: SimContext, location: Location) -> None:
    """Set the BSL's phase from ``IsValid()``: list top-level prefixes, reject foreign directories."""
    message = ""
    try:
        if not location.bucket.exists():
            message = f"rpc error: code = Unknown desc = NoSuchBucket: bucket {location.bucket.bucket} does not exist"
        else:
            invalid = location.layout.invalid_top_level_dirs(location.bucket.common_prefixes(location.layout.root))
            if invalid:
                message = f"Backup store contains invalid top-level directories: {invalid}"
    except AwsAuthError as exc:  # worded as Velero's AWS plugin (aws-sdk-go-v2) reports a 403
        message = (
            "rpc error: code = Unknown desc = operation error S3: ListObjectsV2, https response error "
            f"StatusCode: 403, api error {exc.code}: {exc.aws_message}"
        )
    except StorageError as exc:
        message = f"rpc error: code = Unknown desc = {exc}"
    phase = "Unavailable" if message else "Available"
    status: dict[str, object] = {"phase": phase, "lastValidationTime": rfc3339(ctx.clock.now())}
    status["message"] = f'BackupStorageLocation "{location.name}" is unavailable: {message}' if message else None
    ctx.patch(VELERO_STORAGE_LOCATIONS, location.name, {"status": status})
