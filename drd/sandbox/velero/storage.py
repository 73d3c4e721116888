"""From a BackupStorageLocation object to the bucket it points at (velero.md §1.4), with Velero's credentials.

Velero reads a location's credentials from the Kubernetes Secret the BSL names
(``spec.credential {name, key}``, else the ``cloud-credentials`` Secret's ``cloud`` key it
mounts), an AWS INI file whose profile is ``config.profile`` (default ``default``), **for
every operation** (secrets.md §4.1): a rotated Secret takes effect on the next backup,
restore, sync or validation, without a restart. The simulator does the same: each
:class:`Location` reads the Secret when its bucket is first used, and the sandbox's
:class:`~drd.sandbox.s3.AwsAuthentication` decides, as AWS would, whether those credentials
may call S3 at all.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from drd.clients.errors import StorageAccessDenied
from drd.clients.objectstore import S3Bucket, S3Endpoint
from drd.sandbox.s3 import AwsAuthentication
from drd.velero.layout import BucketLayout

DEFAULT_CREDENTIALS_SECRET = "cloud-credentials"  # noqa: S105 - a Secret's name, not a secret
DEFAULT_CREDENTIALS_KEY = "cloud"

SecretReader = Callable[[str], Mapping[str, Any] | None]
"""Reads a Secret of the Velero namespace by name (None if it does not exist)."""


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
    validation_frequency_seconds: float | None = None
    """``spec.validationFrequency``; None means the server default, 0 disables validation."""


@dataclass(frozen=True)
class Credentials:
    """An access key as Velero's AWS plugin reads it from the credentials file."""

    access_key_id: str
    secret_access_key: str


class BucketResolver:
    """Builds a BSL's bucket whose S3 client uses the credentials in the BSL's Secret (see the module docstring).

    ``authentication`` None trusts any credentials (moto's own behaviour).
    """

    def __init__(self, authentication: AwsAuthentication | None = None) -> None:
        self._authentication = authentication
        self._clients: dict[tuple[str, str, str, str], Any] = {}
        self._lock = threading.Lock()

    def location(self, bsl: Mapping[str, Any], secrets: SecretReader) -> Location:
        """Resolve a BSL object; its Secret is read when the bucket is first used."""
        spec = bsl.get("spec") or {}
        config = spec.get("config") or {}
        storage = spec.get("objectStorage") or {}
        region = str(config.get("region") or "us-east-1")
        url = str(config.get("s3Url") or "")
        bucket_name = str(storage.get("bucket") or "")
        credential = spec.get("credential") or {}
        secret_name = str(credential.get("name") or DEFAULT_CREDENTIALS_SECRET)
        secret_key = str(credential.get("key") or DEFAULT_CREDENTIALS_KEY)
        profile = str(config.get("profile") or "default")
        endpoint = S3Endpoint(region=region, endpoint_url=url or None)
        system = f's3 bucket "{bucket_name}" ({region})'

        def connect() -> Any:
            found = read_credentials(secrets, secret_name, secret_key, profile=profile, system=system)
            if self._authentication is not None:
                self._authentication.authenticate(found.access_key_id, found.secret_access_key, system=system)
            return self._client(endpoint, found)

        sync = spec.get("backupSyncPeriod")
        validation = spec.get("validationFrequency")
        return Location(
            name=str(bsl["metadata"]["name"]),
            bucket=S3Bucket(endpoint, bucket_name, client=_ConnectOnUse(connect)),
            layout=BucketLayout(str(storage.get("prefix") or "")),
            read_only=spec.get("accessMode") == "ReadOnly",
            available=(bsl.get("status") or {}).get("phase") == "Available",
            is_default=bool(spec.get("default")),
            sync_period_seconds=_seconds(sync) if sync is not None else None,
            validation_frequency_seconds=_seconds(validation) if validation is not None else None,
        )

    def _client(self, endpoint: S3Endpoint, credentials: Credentials) -> Any:
        key = (endpoint.endpoint_url or "", endpoint.region, credentials.access_key_id, credentials.secret_access_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = S3Endpoint(
                    region=endpoint.region,
                    endpoint_url=endpoint.endpoint_url,
                    access_key_id=credentials.access_key_id,
                    secret_access_key=credentials.secret_access_key,
                ).client()
        return client


def read_credentials(
    secrets: SecretReader, name: str, key: str, *, profile: str = "default", system: str
) -> Credentials:
    """The access key of ``profile`` in the INI file stored under ``key`` of Secret ``name``."""
    secret = secrets(name)
    if secret is None:
        raise StorageAccessDenied(f'unable to get credentials: secrets "{name}" not found', system=system)
    encoded = (secret.get("data") or {}).get(key)
    if not encoded:
        raise StorageAccessDenied(f'unable to get credentials: secret "{name}" has no key "{key}"', system=system)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(base64.b64decode(str(encoded)).decode())
    except (binascii.Error, UnicodeDecodeError, configparser.Error) as exc:
        raise StorageAccessDenied(
            f'unable to get credentials: secret "{name}" key "{key}" is not an AWS credentials file '
            f"({type(exc).__name__})",
            system=system,
        ) from exc
    section = parser[profile] if parser.has_section(profile) else None
    access_key_id = section.get("aws_access_key_id", "").strip() if section is not None else ""
    secret_access_key = section.get("aws_secret_access_key", "").strip() if section is not None else ""
    if not access_key_id or not secret_access_key:
        raise StorageAccessDenied(
            f'unable to get credentials: no aws_access_key_id/aws_secret_access_key in profile "{profile}" of '
            f'secret "{name}" key "{key}"',
            system=system,
        )
    return Credentials(access_key_id, secret_access_key)


class _ConnectOnUse:
    """Stands for a boto3 S3 client, made on first use: reading the Secret and authenticating happen then."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._connect()
        return getattr(self._client, name)


def _seconds(value: Any) -> float:
    from drd.velero.timefmt import parse_go_duration

    try:
        return parse_go_duration(str(value))
    except ValueError:
        return 60.0
