"""Vault / OpenBao over hvac: KV v2 secrets, database static roles and server health, with typed errors.

hvac's exceptions, and the ``requests`` connection errors beneath them, stop
here and become :mod:`drd.clients.errors` Vault errors naming the server, the
mount and the path: a sealed server is :class:`VaultSealed` (temporary), a
denied token :class:`VaultForbidden`, a missing path or version
:class:`VaultNotFound`, a stale check-and-set :class:`VaultCasMismatch`, and
anything about reaching the server :class:`VaultUnavailable`. A static-role
rotation Vault could not finish is :class:`VaultRotationIncomplete` (temporary:
Vault keeps retrying in the background, so the password may still change later).

Secret values never leave through an error or a repr: messages carry only
Vault's own error text (which never echoes request data), and
:class:`KvSecret` and :class:`StaticCredentials` mask their values. The token is passed explicitly; an empty
token is *not* replaced by ``VAULT_TOKEN`` or ``~/.vault-token`` as hvac would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import hvac
import hvac.exceptions
import hvac.utils

from drd import redaction
from drd.clients.errors import (
    VaultError,
    VaultForbidden,
    VaultInvalidRequest,
    VaultNotFound,
    VaultSealed,
    VaultUnavailable,
)
from drd.errors import ConfigError
from drd.settings import VaultSettings
from drd.velero.timefmt import parse_rfc3339

DEFAULT_MOUNT = "secret"
DATABASE_MOUNT = "database"
_MAX_MESSAGE = 300
_RETRYING = re.compile(r"retries will continue in the background")
_NO_SUCH_ROLE = re.compile(r"^unknown role\b|no static role found")
_STATUS = {
    hvac.exceptions.InvalidRequest: 400,
    hvac.exceptions.Unauthorized: 401,
    hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404,
    hvac.exceptions.PreconditionFailed: 412,
    hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500,
    hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.VaultDown: 503,
}


class VaultCasMismatch(VaultInvalidRequest):
    """A check-and-set write named a version that is not the current one: re-read, then decide."""


class VaultRotationIncomplete(VaultUnavailable):
    """Vault could not finish rotating a static role's password and keeps retrying in the background.

    Temporary: retrying by hand is safe. Until a retry succeeds the old password stays
    readable and valid, but the cut-over may then happen at any moment without notice, so
    whoever asked must keep watching ``last_vault_rotation``.
    """


@dataclass(frozen=True, slots=True, eq=False)
class KvSecret:
    """One version of a KV v2 secret. Its repr and str show the keys, never the values."""

    data: Mapping[str, Any]
    version: int
    created_time: datetime | None
    mount: str = DEFAULT_MOUNT
    path: str = ""
    custom_metadata: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        masked = dict.fromkeys(self.data, redaction.MASK)
        return f"KvSecret(mount={self.mount!r}, path={self.path!r}, version={self.version}, data={masked!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class KvVersion:
    """One version in a secret's history (from its metadata: no data)."""

    version: int
    created_time: datetime | None
    deletion_time: datetime | None
    destroyed: bool

    @property
    def readable(self) -> bool:
        """Neither soft-deleted nor destroyed."""
        return self.deletion_time is None and not self.destroyed


@dataclass(frozen=True, slots=True)
class KvMetadata:
    """A KV v2 secret's metadata: its versions and its version-independent ``custom_metadata``."""

    current_version: int
    versions: tuple[KvVersion, ...]
    """Every version Vault still keeps, oldest first (pruned versions are gone)."""
    custom_metadata: Mapping[str, str]
    mount: str = DEFAULT_MOUNT
    path: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class StaticCredentials:
    """A database static role's current credentials. Its repr and str never show the password."""

    username: str
    password: str = field(repr=False)
    last_vault_rotation: datetime
    """When Vault last changed the password (creating the role counts)."""
    ttl: int
    """Seconds until Vault's next scheduled rotation, as of the read."""
    rotation_period: int = 0
    """Seconds between scheduled rotations."""
    role: str = ""
    mount: str = DATABASE_MOUNT

    def __repr__(self) -> str:
        return (
            f"StaticCredentials(mount={self.mount!r}, role={self.role!r}, username={self.username!r}, "
            f"password={redaction.MASK!r}, last_vault_rotation={self.last_vault_rotation.isoformat()!r}, "
            f"ttl={self.ttl})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class VaultHealth:
    """``sys/health``: whether the server can serve secrets."""

    initialized: bool
    sealed: bool
    version: str
    standby: bool = False

    @property
    def serving(self) -> bool:
        """Initialized, unsealed and active."""
        return self.initialized and not self.sealed and not self.standby


class VaultClient:
    """One Vault (or OpenBao) server, one token."""

    def __init__(self, addr: str, *, token: str, namespace: str | None = None, timeout: float = 10.0) -> None:
        if not addr:
            raise ConfigError("the Vault address is not set: set VAULT_ADDR (for example http://127.0.0.1:8200)")
        self.addr = addr.rstrip("/")
        self.namespace = namespace or None
        self.timeout = timeout
        self._client = hvac.Client(url=self.addr, token=token, namespace=self.namespace, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: VaultSettings, *, timeout: float = 10.0) -> VaultClient:
        """A client for ``VAULT_ADDR`` with ``VAULT_TOKEN``."""
        return cls(settings.addr, token=settings.token.value, timeout=timeout)

    @property
    def system(self) -> str:
        where = f"{self.addr}, namespace {self.namespace}" if self.namespace else self.addr
        return f'vault "{where}"'

    def __repr__(self) -> str:
        return f"VaultClient(addr={self.addr!r}, namespace={self.namespace!r})"

    def close(self) -> None:
        """Release pooled connections."""
        self._client.adapter.close()

    # KV v2
    def read_kv(self, path: str, *, mount: str = DEFAULT_MOUNT, version: int | None = None) -> KvSecret:
        """The latest (or the given) version of a secret; VaultNotFound when absent, deleted or destroyed."""
        action = f"read {mount}/{path}" + (f" version {version}" if version is not None else "")
        with self._translated(action):
            response = self._client.secrets.kv.v2.read_secret_version(
                path=path, version=version, mount_point=mount, raise_on_deleted_version=True
            )
        body = response["data"]
        metadata = body.get("metadata") or {}
        return KvSecret(
            data=MappingProxyType(dict(body.get("data") or {})),
            version=int(metadata.get("version", 0)),
            created_time=parse_rfc3339(metadata.get("created_time")),
            mount=mount,
            path=path,
            custom_metadata=MappingProxyType(dict(metadata.get("custom_metadata") or {})),
        )

    def write_kv(
        self, path: str, data: Mapping[str, Any], *, mount: str = DEFAULT_MOUNT, cas: int | None = None
    ) -> int:
        """Write ``data`` as a new version and return its number.

        ``cas=0`` creates only (fails if the secret exists); ``cas=N`` writes only if
        N is the current version. Either failure is :class:`VaultCasMismatch`.
        """
        if not isinstance(data, Mapping) or not all(isinstance(key, str) for key in data):
            raise TypeError("KV data must be a mapping with string keys")
        with self._translated(f"write {mount}/{path}"):
            response = self._client.secrets.kv.v2.create_or_update_secret(
                path=path, secret=dict(data), cas=cas, mount_point=mount
            )
        return int(response["data"]["version"])

    def kv_versions(self, path: str, *, mount: str = DEFAULT_MOUNT) -> list[KvVersion]:
        """Every version Vault still keeps of a secret, oldest first (pruned versions are gone)."""
        return list(self.read_kv_metadata(path, mount=mount).versions)

    def delete_kv(self, path: str, *, mount: str = DEFAULT_MOUNT) -> None:
        """Remove a secret with every version and its metadata (absent already: nothing to do)."""
        with self._translated(f"delete {mount}/{path}"):
            self._client.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=mount)

    def read_kv_metadata(self, path: str, *, mount: str = DEFAULT_MOUNT) -> KvMetadata:
        """A secret's metadata: current version, kept versions and custom metadata; VaultNotFound when absent."""
        with self._translated(f"read metadata {mount}/{path}"):
            response = self._client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
        body = response.get("data") or {}
        versions = body.get("versions") or {}
        return KvMetadata(
            current_version=int(body.get("current_version") or 0),
            versions=tuple(
                sorted(
                    (
                        KvVersion(
                            version=int(number),
                            created_time=parse_rfc3339(info.get("created_time")),
                            deletion_time=parse_rfc3339(info.get("deletion_time")),
                            destroyed=bool(info.get("destroyed")),
                        )
                        for number, info in versions.items()
                    ),
                    key=lambda v: v.version,
                )
            ),
            custom_metadata=MappingProxyType({str(k): str(v) for k, v in (body.get("custom_metadata") or {}).items()}),
            mount=mount,
            path=path,
        )

    def set_kv_custom_metadata(
        self, path: str, custom_metadata: Mapping[str, str | None], *, mount: str = DEFAULT_MOUNT
    ) -> None:
        """Merge keys into a secret's ``custom_metadata``; a key given as None is removed, others are kept.

        A JSON merge patch (``PATCH metadata/<path>``), so the secret's other metadata settings
        (``max_versions``, ``cas_required``, ``delete_version_after``) are left as they are —
        unlike hvac's ``update_metadata``, which resets ``delete_version_after``. The secret
        must exist (VaultNotFound otherwise).
        """
        if not isinstance(custom_metadata, Mapping) or not all(
            isinstance(key, str) and (value is None or isinstance(value, str)) for key, value in custom_metadata.items()
        ):
            raise TypeError("custom metadata must map strings to strings (or None to remove a key)")
        url = hvac.utils.format_url("/v1/{mount}/metadata/{path}", mount=mount, path=path)
        with self._translated(f"update metadata {mount}/{path}"):
            self._client.adapter.request(
                "PATCH",
                url,
                json={"custom_metadata": dict(custom_metadata)},
                headers={"Content-Type": "application/merge-patch+json"},
            )

    # Database static roles
    def static_credentials(self, role: str, *, mount: str = DATABASE_MOUNT) -> StaticCredentials:
        """A static role's current username and password (``GET <mount>/static-creds/<role>``)."""
        action = f"read {mount}/static-creds/{role}"
        with self._translated(action):
            response = self._client.secrets.database.get_static_credentials(role, mount_point=mount)
        body = response.get("data") or {}
        rotated = parse_rfc3339(body.get("last_vault_rotation"))
        if rotated is None or not body.get("username") or not isinstance(body.get("password"), str):
            raise VaultInvalidRequest(
                f"{action}: the answer lacks username, password or last_vault_rotation", system=self.system
            )
        return StaticCredentials(
            username=str(body["username"]),
            password=body["password"],
            last_vault_rotation=rotated,
            ttl=int(body.get("ttl") or 0),
            rotation_period=int(body.get("rotation_period") or 0),
            role=role,
            mount=mount,
        )

    def rotate_static_role(self, role: str, *, mount: str = DATABASE_MOUNT) -> None:
        """Have Vault change the static role's password now (``POST <mount>/rotate-role/<role>``).

        A hard cut-over: the old password is refused as soon as this returns. When Vault
        cannot finish (the database is down, the statement fails) this raises
        :class:`VaultRotationIncomplete`: temporary, and Vault retries by itself.
        """
        with self._translated(f"rotate {mount}/rotate-role/{role}"):
            self._client.secrets.database.rotate_static_role_credentials(role, mount_point=mount)

    # Server
    def health(self) -> VaultHealth:
        """``sys/health``, sealed or not (a sealed server is a health result, not an error).

        VaultUnavailable when the server cannot be reached or answers without a health document.
        """
        with self._translated("health"):
            answer = self._client.sys.read_health_status(method="GET")
        if isinstance(answer, dict):
            document: Mapping[str, Any] = answer
        else:  # hvac hands back the raw response for 429 (standby), 501 (uninitialised), 503 (sealed)
            try:
                parsed = answer.json()
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise VaultUnavailable(
                    f"health: HTTP {answer.status_code} without a health document", system=self.system
                )
            document = parsed
        return VaultHealth(
            initialized=bool(document.get("initialized")),
            sealed=bool(document.get("sealed")),
            version=str(document.get("version", "")),
            standby=bool(document.get("standby")),
        )

    # Plumbing
    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """hvac's and requests' exceptions inside the block become drd's Vault errors naming ``action``."""
        try:
            yield
        except hvac.exceptions.VaultError as exc:
            raise self._error(exc, action) from exc
        except OSError as exc:  # requests' ConnectionError and Timeout derive from OSError
            raise VaultUnavailable(f"{action}: unreachable ({type(exc).__name__})", system=self.system) from exc

    def _error(self, exc: hvac.exceptions.VaultError, action: str) -> VaultError:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), None)
        said = _said(exc)
        error_type: type[VaultError] = VaultUnavailable
        message = said or type(exc).__name__
        if isinstance(exc, hvac.exceptions.VaultDown) and "sealed" in said.lower():
            return VaultSealed(f"{action}: Vault is sealed", system=self.system, status=status, delay=30.0)
        if isinstance(exc, hvac.exceptions.InternalServerError) and _RETRYING.search(said):
            return VaultRotationIncomplete(
                f"{action}: the rotation did not finish and Vault retries it in the background, so the password "
                f"may still change later without notice ({said})",
                system=self.system,
                status=status,
            )
        if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
            error_type = VaultForbidden
            message = "permission denied (the token is invalid or expired, or no policy grants this path)"
        elif isinstance(exc, hvac.exceptions.InvalidPath):
            error_type, message = VaultNotFound, _not_found(exc, said)
        elif isinstance(exc, hvac.exceptions.InvalidRequest) and _NO_SUCH_ROLE.search(said):
            error_type, message = VaultNotFound, "no such role"
        elif isinstance(exc, hvac.exceptions.InvalidRequest):
            error_type = VaultCasMismatch if "check-and-set" in said else VaultInvalidRequest
        elif isinstance(exc, hvac.exceptions.ParamValidationError | hvac.exceptions.UnsupportedOperation):
            error_type = VaultInvalidRequest
        return error_type(f"{action}: {message}", system=self.system, status=status)


def _said(exc: hvac.exceptions.VaultError) -> str:
    """Vault's own error text, redacted and bounded (it names paths, never request data)."""
    errors = exc.errors if isinstance(exc.errors, list) else [exc.errors] if exc.errors else []
    text = "; ".join(" ".join(str(e).split()) for e in errors if e)
    text = redaction.redact_text(text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _not_found(exc: hvac.exceptions.VaultError, said: str) -> str:
    """Why a 404: no secret, a deleted or destroyed version (Vault sends the envelope), or no such mount."""
    envelope = exc.json if isinstance(exc.json, dict) else {}
    metadata = (envelope.get("data") or {}).get("metadata") or {}
    if metadata.get("destroyed"):
        return f"version {metadata.get('version')} was destroyed"
    if metadata.get("deletion_time"):
        return f"version {metadata.get('version')} was deleted at {metadata['deletion_time']}"
    if "no handler for route" in said:
        return "no secrets engine is mounted there"
    return "no such secret (or version)"
