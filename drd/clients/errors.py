"""Typed errors of the external systems drd talks to.

Each is classified once as permanent or temporary (see :mod:`drd.errors`) and
names the system (``kubernetes cluster "dr-west"``, ``s3 bucket "velero-dr"``)
so that a message at 3 a.m. says *where* the problem is. Messages never carry
secret values: adapters pass names and statuses, never request bodies.
"""

from __future__ import annotations

from drd.errors import DrdError, PermanentError, TemporaryError


class ClientError(DrdError):
    """An external system refused or failed a request."""

    def __init__(self, message: str, *, system: str, status: int | None = None, delay: float = 5.0) -> None:
        Exception.__init__(self, f"{system}: {message}")
        self.system = system
        self.status = status
        self.delay = delay


# Kubernetes
class KubeError(ClientError):
    """A Kubernetes API request failed."""

    causes: tuple[dict[str, str], ...] = ()
    """The ``Status``'s ``details.causes`` (an eviction's ``DisruptionBudget`` refusal, a field's problem)."""


class KubeNotFound(KubeError, PermanentError):
    """404: the object (or its namespace, or its resource type) does not exist."""


class KubeAlreadyExists(KubeError, PermanentError):
    """409 AlreadyExists on create."""


class KubeConflict(KubeError, TemporaryError):
    """409 Conflict: stale resourceVersion; re-read and retry."""


class KubeInvalid(KubeError, PermanentError):
    """422 Invalid or 400 BadRequest: the request itself is wrong."""


class KubeForbidden(KubeError, PermanentError):
    """401/403: drd lacks the permission (or the namespace is terminating)."""


class KubeGone(KubeError, TemporaryError):
    """410 Expired: a watch must restart from a fresh list."""


class KubeUnavailable(KubeError, TemporaryError):
    """5xx, 429 or a connection failure: the cluster may come back."""


# Object storage
class StorageError(ClientError):
    """An object-storage request failed."""


class BucketNotFound(StorageError, PermanentError):
    """The bucket does not exist (it vanished, or the name is wrong)."""


class ObjectNotFound(StorageError, PermanentError):
    """The key does not exist."""


class StorageAccessDenied(StorageError, PermanentError):
    """Credentials are wrong or lack permission."""


class StorageUnavailable(StorageError, TemporaryError):
    """5xx, throttling or a connection failure."""


# Vault
class VaultError(ClientError):
    """A Vault request failed."""


class VaultSealed(VaultError, TemporaryError):
    """Vault is sealed; nothing can be read or written until it is unsealed."""


class VaultForbidden(VaultError, PermanentError):
    """The token lacks permission or is invalid."""


class VaultNotFound(VaultError, PermanentError):
    """The path does not exist."""


class VaultInvalidRequest(VaultError, PermanentError):
    """400: for example a check-and-set on a stale version."""


class VaultUnavailable(VaultError, TemporaryError):
    """5xx or a connection failure."""


# AWS IAM and credential checks (messages name the user and the access key id, never the secret)
class IamError(ClientError):
    """An IAM, STS or credential-check request failed; ``code`` is AWS's error code (``NoSuchEntity``)."""

    def __init__(
        self, message: str, *, system: str, code: str = "", status: int | None = None, delay: float = 5.0
    ) -> None:
        super().__init__(message, system=system, status=status, delay=delay)
        self.code = code


class IamNotFound(IamError, PermanentError):
    """``NoSuchEntity``: the user or the access key does not exist."""


class IamRefused(IamError, PermanentError):
    """IAM refused the request as it stands (access denied, invalid input, …)."""


class AccessKeyLimitExceeded(IamRefused):
    """``LimitExceeded``: the user already has two access keys; one must be deleted before another is created."""


class IamUnavailable(IamError, TemporaryError):
    """Throttling, a 5xx or a lost connection: the request may succeed later."""


class CredentialsNotYetValid(IamError, TemporaryError):
    """``InvalidAccessKeyId``/``InvalidClientTokenId``: unknown to AWS *yet* (IAM propagates new keys in seconds).

    Callers checking a new key poll with a bounded budget; a key that stays unknown was deleted or never existed.
    """


class CredentialsRejected(IamError, PermanentError):
    """``SignatureDoesNotMatch`` (wrong secret) or ``AccessDenied`` (the key works but lacks permission)."""
