"""From a BackupStorageLocation object to the bucket it points at (velero.md §1.4)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drd.clients.objectstore import S3Bucket, S3Endpoint
from drd.velero.layout import BucketLayout


@dataclass(frozen=True)
class Location:
    """A BSL as the simulator uses it."""

    name: str
    bucket: S3Bucket
    layout: BucketLayout
    read_only: bool
    available: bool
    is_default: bool
    sync_period_seconds: float | None
    """``spec.backupSyncPeriod``; None means the server default, 0 disables sync."""


class BucketResolver:
    """Builds (and caches) S3 clients for BSLs, with the credentials Velero would mount."""

    def __init__(self, *, access_key_id: str, secret_access_key: str) -> None:
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._cache: dict[tuple[str, str, str], S3Bucket] = {}
        self._lock = threading.Lock()

    def location(self, bsl: Mapping[str, Any]) -> Location:
        """Resolve a BSL object."""
        spec = bsl.get("spec") or {}
        config = spec.get("config") or {}
        storage = spec.get("objectStorage") or {}
        region = str(config.get("region") or "us-east-1")
        url = str(config.get("s3Url") or "")
        bucket_name = str(storage.get("bucket") or "")
        key = (url, region, bucket_name)
        with self._lock:
            bucket = self._cache.get(key)
            if bucket is None:
                endpoint = S3Endpoint(
                    region=region,
                    endpoint_url=url or None,
                    access_key_id=self._access_key_id,
                    secret_access_key=self._secret_access_key,
                )
                bucket = self._cache[key] = S3Bucket(endpoint, bucket_name)
        sync = spec.get("backupSyncPeriod")
        return Location(
            name=str(bsl["metadata"]["name"]),
            bucket=bucket,
            layout=BucketLayout(str(storage.get("prefix") or "")),
            read_only=spec.get("accessMode") == "ReadOnly",
            available=(bsl.get("status") or {}).get("phase") == "Available",
            is_default=bool(spec.get("default")),
            sync_period_seconds=_seconds(sync) if sync is not None else None,
        )


def _seconds(value: Any) -> float:
    from drd.velero.timefmt import parse_go_duration

    try:
        return parse_go_duration(str(value))
    except ValueError:
        return 60.0
