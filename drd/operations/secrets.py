"""Reading and writing Vault KV v2 secrets for workflows and runbook steps, without ever showing a value.

:func:`read_secret` returns a :class:`SecretValue`, which prints, formats and
reprs as ``***``; the value comes out only through :meth:`SecretValue.reveal`.
Every value read or written is also registered with :mod:`drd.redaction`, so
if it is ever revealed into text that reaches a log, an error, the store or
the CLI, it is masked there too. Errors are the client's typed Vault errors
(``VaultSealed`` is temporary: rotation goes to HOLD, not FAILED), plus
:class:`SecretFieldMissing` when the secret exists without the field asked for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog

from drd import redaction
from drd.clients.vault import DEFAULT_MOUNT, VaultClient
from drd.errors import PermanentError

log = structlog.get_logger(__name__)


class SecretFieldMissing(PermanentError):
    """The secret exists but has no such field (the message lists the fields it has: names, not values)."""


class SecretValue:
    """One secret value: masked in ``str``, ``repr`` and f-strings; :meth:`reveal` gives it."""

    __slots__ = ("_value", "field", "mount", "path", "version")

    def __init__(self, value: str, *, mount: str, path: str, field: str, version: int) -> None:
        self._value = value
        self.mount = mount
        self.path = path
        self.field = field
        self.version = version

    def reveal(self) -> str:
        """The secret itself: hand it straight to where it is needed, never to a log or a message."""
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue({self.mount}/{self.path}#{self.field}, version {self.version}, {redaction.MASK})"

    def __str__(self) -> str:
        return redaction.MASK

    def __format__(self, spec: str) -> str:
        return redaction.MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a SecretValue cannot be pickled: store the Vault path, not the value")


def read_secret(
    vault: VaultClient, path: str, *, field: str, mount: str = DEFAULT_MOUNT, version: int | None = None
) -> SecretValue:
    """One field of the latest (or the given) version of a KV v2 secret.

    Non-string values (numbers, nested objects) come back as their JSON text.
    """
    secret = vault.read_kv(path, mount=mount, version=version)
    if field not in secret.data:
        fields = ", ".join(sorted(secret.data)) or "none"
        raise SecretFieldMissing(
            f"{mount}/{path} (version {secret.version}) has no field {field!r}; its fields: {fields}"
        )
    raw = secret.data[field]
    value = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)
    redaction.register_secret(value)
    return SecretValue(value, mount=mount, path=path, field=field, version=secret.version)


def write_secret(
    vault: VaultClient,
    path: str,
    data: Mapping[str, str | SecretValue | Any],
    *,
    mount: str = DEFAULT_MOUNT,
    cas: int | None = None,
) -> int:
    """Write ``data`` as a new version (SecretValues are revealed into it) and return the version number.

    ``cas=0`` creates only; ``cas=N`` writes only over version N (``VaultCasMismatch`` otherwise).
    """
    plain = {key: value.reveal() if isinstance(value, SecretValue) else value for key, value in data.items()}
    for value in plain.values():
        if isinstance(value, str):
            redaction.register_secret(value)
    version = vault.write_kv(path, plain, mount=mount, cas=cas)
    log.info("secret_written", mount=mount, path=path, version=version, fields=sorted(plain))
    return version
