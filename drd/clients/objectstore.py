"""S3 object storage over boto3: what Velero's bucket layout needs, with typed errors.

One :class:`S3Bucket` per bucket. botocore's exceptions stop here: they become
:mod:`drd.clients.errors` storage errors naming the bucket and key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from drd.clients.errors import BucketNotFound, ObjectNotFound, StorageAccessDenied, StorageError, StorageUnavailable

_NOT_FOUND_BUCKET = {"NoSuchBucket"}
_NOT_FOUND_KEY = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"}


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """A listed object."""

    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class S3Endpoint:
    """Where and how to reach S3 (the sandbox passes moto's URL and dummy credentials)."""

    region: str
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def client(self) -> Any:
        """A boto3 S3 client; path-style addressing so loopback endpoints work."""
        return boto3.client(
            "s3",
            region_name=self.region,
            endpoint_url=self.endpoint_url or None,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=botocore.config.Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )


class S3Bucket:
    """Operations on one bucket."""

    def __init__(self, endpoint: S3Endpoint, bucket: str, *, client: Any = None) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self._s3 = client if client is not None else endpoint.client()

    @property
    def system(self) -> str:
        return f's3 bucket "{self.bucket}" ({self.endpoint.region})'

    def create(self) -> None:
        """Create the bucket in the endpoint's region (idempotent)."""
        params: dict[str, Any] = {"Bucket": self.bucket}
        if self.endpoint.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.endpoint.region}
        try:
            self._s3.create_bucket(**params)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise self._error(exc, "create bucket") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._unavailable(exc) from exc

    def destroy(self) -> None:
        """Delete every object and then the bucket itself (a vanished bucket, for fault injection)."""
        self.delete_prefix("")
        with self._translated("delete bucket"):
            self._s3.delete_bucket(Bucket=self.bucket)

    def exists(self) -> bool:
        """Whether the bucket exists and is reachable with these credentials."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _NOT_FOUND_BUCKET | _NOT_FOUND_KEY:
                return False
            raise self._error(exc, "head bucket") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._unavailable(exc) from exc
        return True

    def put(self, key: str, body: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Write an object."""
        with self._translated(f"put {key!r}"):
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        """Read an object's bytes."""
        with self._translated(f"get {key!r}"):
            body: bytes = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def has(self, key: str) -> bool:
        """Whether the key exists."""
        try:
            with self._translated(f"head {key!r}"):
                self._s3.head_object(Bucket=self.bucket, Key=key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Delete one key (deleting a missing key is not an error, as in S3)."""
        with self._translated(f"delete {key!r}"):
            self._s3.delete_object(Bucket=self.bucket, Key=key)

    def objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, paginated."""
        paginator = self._s3.get_paginator("list_objects_v2")
        with self._translated(f"list {prefix!r}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"], int(item["Size"]), item["ETag"].strip('"'), item["LastModified"])

    def common_prefixes(self, prefix: str = "") -> list[str]:
        """Velero's ``ListCommonPrefixes(prefix, "/")``: the "directories" directly under ``prefix``."""
        paginator = self._s3.get_paginator("list_objects_v2")
        found: list[str] = []
        with self._translated(f"list {prefix!r}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        return found

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix`` (Velero's DeleteBackup/DeleteRestore); returns how many."""
        keys = [info.key for info in self.objects(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def presigned_get(self, key: str, *, expires_seconds: int = 600) -> str:
        """A pre-signed GET URL (DownloadRequest's downloadURL; Velero uses 10 minutes)."""
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds
        )
        return url

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """botocore's exceptions inside the block become drd's storage errors naming ``action``."""
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            raise self._error(exc, action) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._unavailable(exc) from exc

    def _error(self, exc: botocore.exceptions.ClientError, action: str) -> StorageError:
        code = _code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = f"{action}: {code or 'error'}"
        if code in _NOT_FOUND_BUCKET:
            return BucketNotFound(f"{action}: the bucket does not exist", system=self.system, status=status)
        if code in _NOT_FOUND_KEY:
            return ObjectNotFound(f"{action}: no such key", system=self.system, status=status)
        if code in _DENIED:
            return StorageAccessDenied(f"{action}: access denied ({code})", system=self.system, status=status)
        return StorageUnavailable(message, system=self.system, status=status)

    def _unavailable(self, exc: Exception) -> StorageUnavailable:
        return StorageUnavailable(f"unreachable: {type(exc).__name__}", system=self.system)


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
