"""Vault / OpenBao over hvac: KV v2 secrets and server health, with typed errors.

hvac's exceptions, and the ``requests`` connection errors beneath them, stop
here and become :mod:`drd.clients.errors` Vault errors naming the server, the
mount and the path: a sealed server is :class:`VaultSealed` (temporary), a
denied token :class:`VaultForbidden`, a missing path or version
:class:`VaultNotFound`, a stale check-and-set :class:`VaultCasMismatch`, and
anything about reaching the server :class:`VaultUnavailable`.

Secret values never leave through an error or a repr: messages carry only
Vault's own error text (which never echoes request data), and
:class:`KvSecret` masks its values. The token is passed explicitly; an empty
token is *not* replaced by ``VAULT_TOKEN`` or ``~/.vault-token`` as hvac would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import hvac
import hvac.exceptions

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
_MAX_MESSAGE = 300
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
        with self._translated(f"read metadata {mount}/{path}"):
            response = self._client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
        versions = (response.get("data") or {}).get("versions") or {}
        return sorted(
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
        if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
            error_type = VaultForbidden
            message = "permission denied (the token is invalid or expired, or no policy grants this path)"
        elif isinstance(exc, hvac.exceptions.InvalidPath):
            error_type, message = VaultNotFound, _not_found(exc, said)
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
