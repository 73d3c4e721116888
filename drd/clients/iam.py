"""AWS IAM access keys over boto3, and a real check that a key works: what rotating Velero's credentials needs.

One :class:`IamAccount` per AWS account and endpoint. ``endpoint_url`` (else boto3's own
``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_IAM`` handling) points it at moto in tests and the
sandbox. The credentials it is built with are the *administrator's* (those allowed to manage
the user's keys); :meth:`IamAccount.check_access` signs its requests with the key under test.

botocore's exceptions stop here and become :mod:`drd.clients.errors` IAM errors naming the
user and the access key id. A secret access key never appears in a message, a repr or a log:
:class:`NewAccessKey` holds it in a :class:`~drd.settings.Secret` and registers it with
:mod:`drd.redaction` the moment IAM returns it.

Classification (secrets.md §1.3, §4.4): ``InvalidAccessKeyId`` (S3) and ``InvalidClientTokenId``
(STS) are :class:`CredentialsNotYetValid`, temporary, because a new key is rejected for seconds
while IAM propagates it (callers poll with a budget); ``SignatureDoesNotMatch`` and
``AccessDenied`` are :class:`CredentialsRejected`, permanent; a third key is
:class:`AccessKeyLimitExceeded`; a missing user or key is :class:`IamNotFound`, except that
deleting a key that is already gone succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from drd import redaction
from drd.clients.errors import (
    AccessKeyLimitExceeded,
    BucketNotFound,
    CredentialsNotYetValid,
    CredentialsRejected,
    IamError,
    IamNotFound,
    IamRefused,
    IamUnavailable,
)
from drd.settings import Secret

ACTIVE = "Active"
INACTIVE = "Inactive"

_NOT_YET_VALID = {"InvalidAccessKeyId", "InvalidClientTokenId"}
_REJECTED = {"SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException", "Forbidden", "403"}
_UNAVAILABLE = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceFailure",
    "InternalError",
    "InternalFailure",
    "SlowDown",
}
_NO_SUCH_BUCKET = {"NoSuchBucket"}


@dataclass(frozen=True, slots=True)
class AccessKeyInfo:
    """One of a user's access keys as ``ListAccessKeys`` describes it (never its secret)."""

    id: str
    status: str
    """``Active`` or ``Inactive``."""
    created: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    """A key just created: the only moment AWS reveals its secret. ``repr``/``str`` show the id only."""

    user: str
    id: str
    secret: Secret = field(repr=False)
    created: datetime | None = None

    def __str__(self) -> str:
        return f"access key {self.id} of IAM user {self.user}"


class IamAccount:
    """IAM access keys of one AWS account, plus :meth:`check_access` (see the module docstring)."""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url or None
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._iam = client if client is not None else self._client("iam")

    @property
    def system(self) -> str:
        return f"aws iam ({self.endpoint_url})" if self.endpoint_url else "aws iam"

    # ------------------------------------------------------------------ users and keys

    def ensure_user(self, user: str) -> None:
        """Create the IAM user unless it exists."""
        try:
            with self._translated(f"create user {user}"):
                self._iam.create_user(UserName=user)
        except IamError as exc:
            if exc.code != "EntityAlreadyExists":
                raise

    def list_access_keys(self, user: str) -> list[AccessKeyInfo]:
        """The user's keys (at most two), oldest first."""
        with self._translated(f"list access keys of user {user}"):
            pages = self._iam.get_paginator("list_access_keys").paginate(UserName=user)
            found = [item for page in pages for item in page.get("AccessKeyMetadata", [])]
        keys = [AccessKeyInfo(str(k["AccessKeyId"]), str(k.get("Status", "")), k.get("CreateDate")) for k in found]
        return sorted(keys, key=lambda k: (k.created is None, k.created.timestamp() if k.created else 0.0))

    def create_access_key(self, user: str) -> NewAccessKey:
        """A new Active key; :class:`AccessKeyLimitExceeded` when the user already has two."""
        with self._translated(f"create access key for user {user}"):
            created = self._iam.create_access_key(UserName=user)["AccessKey"]
        secret = str(created["SecretAccessKey"])
        redaction.register_secret(secret)
        return NewAccessKey(
            user=user, id=str(created["AccessKeyId"]), secret=Secret(secret), created=created.get("CreateDate")
        )

    def set_access_key_status(self, user: str, key_id: str, *, active: bool) -> None:
        """Activate or deactivate a key (reversible, unlike deletion)."""
        status = ACTIVE if active else INACTIVE
        with self._translated(f"set access key {key_id} of user {user} {status}"):
            self._iam.update_access_key(UserName=user, AccessKeyId=key_id, Status=status)

    def delete_access_key(self, user: str, key_id: str) -> None:
        """Delete a key. A key already gone (``NoSuchEntity``) is not an error: deleting is idempotent."""
        try:
            with self._translated(f"delete access key {key_id} of user {user}"):
                self._iam.delete_access_key(UserName=user, AccessKeyId=key_id)
        except IamNotFound:
            return

    def access_key_owner(self, key_id: str) -> str | None:
        """The user a key belongs to (``GetAccessKeyLastUsed``), None if no such key exists."""
        try:
            with self._translated(f"find the owner of access key {key_id}"):
                found = self._iam.get_access_key_last_used(AccessKeyId=key_id)
        except IamNotFound:
            return None
        user = found.get("UserName")
        return str(user) if user else None

    # ------------------------------------------------------------------ checking a key

    def check_access(
        self, key_id: str, secret: Secret | str, *, bucket: str | None, prefix: str = "", region: str | None = None
    ) -> None:
        """Prove the key works: ``sts:GetCallerIdentity`` and S3 ``ListObjectsV2`` (one key under ``prefix``).

        Without a ``bucket`` only STS is asked (the key exists and its signature is right, nothing about S3).

        Both requests are signed with ``key_id``/``secret``. Raises :class:`CredentialsNotYetValid`
        (temporary: poll), :class:`CredentialsRejected`, :class:`BucketNotFound` or :class:`IamUnavailable`.
        """
        value = secret.value if isinstance(secret, Secret) else secret
        region = region or self.region
        system = f"aws access key {key_id}"
        sts = self._client("sts", region=region, access_key_id=key_id, secret_access_key=value)
        with self._translated("sts get caller identity", system=system):
            sts.get_caller_identity()
        if bucket:
            s3 = self._client("s3", region=region, access_key_id=key_id, secret_access_key=value)
            with self._translated(f"list s3://{bucket}/{prefix}", system=system):
                s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)

    # ------------------------------------------------------------------ plumbing

    def _client(
        self,
        service: str,
        *,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> Any:
        return boto3.client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key_id or self._access_key_id,
            aws_secret_access_key=secret_access_key or self._secret_access_key,
            config=botocore.config.Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    @contextmanager
    def _translated(self, action: str, *, system: str | None = None) -> Iterator[None]:
        """botocore's exceptions inside the block become :class:`IamError` naming ``action``."""
        where = system or self.system
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            raise _error(exc, action, where) from exc
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
            raise IamUnavailable(f"{action}: unreachable ({type(exc).__name__})", system=where) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise IamRefused(f"{action}: {type(exc).__name__}", system=where, code=type(exc).__name__) from exc


IamClient = IamAccount
"""The name the rotation workflow uses."""


def _error(exc: botocore.exceptions.ClientError, action: str, system: str) -> Exception:
    error: Mapping[str, Any] = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = _first_line(str(error.get("Message", "")))
    if code in _NO_SUCH_BUCKET:
        return BucketNotFound(f"{action}: the bucket does not exist", system=system, status=status)
    kind: Callable[..., IamError]
    if code == "NoSuchEntity":
        kind = IamNotFound
    elif code == "LimitExceeded":
        kind = AccessKeyLimitExceeded
        message = f"the user already has the maximum of two access keys; delete one first ({message})"
    elif code in _NOT_YET_VALID:
        kind = CredentialsNotYetValid
        message = f"AWS does not know this key (yet: a new key takes seconds to propagate) ({message})"
    elif code in _REJECTED:
        kind = CredentialsRejected
    elif code in _UNAVAILABLE or (status is not None and (status >= 500 or status == 429)):
        kind = IamUnavailable
    else:
        kind = IamRefused
    text = f"{action}: {code}: {message}" if message else f"{action}: {code or status}"
    return kind(redaction.redact_text(text), system=system, code=code, status=status)


def _first_line(message: str) -> str:
    text = message.strip()
    if not text or text.startswith("<"):
        return ""
    return text.splitlines()[0]
