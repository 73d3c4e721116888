"""Keep secret values out of logs, errors, evidence, the store and CLI output.

Three nets, applied together by :func:`redact`:

* keys that name a secret (``password``, ``token``, ``secret_access_key``…) have
  their values replaced whatever they are;
* values registered at run time (a Vault secret read, a Kubernetes Secret's
  data) are masked wherever they appear inside any string;
* well-known shapes (URL credentials, ``Bearer`` tokens) are masked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "access_key",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
        "session_token",
        "private_key",
        "client_secret",
        "credential",
        "credentials",
        "authorization",
        "vault_token",
        "bearer",
    }
)
_SECRET_SUFFIXES = ("_password", "_token", "_secret", "_secret_key", "_private_key")
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_MIN_REGISTERED_LENGTH = 4

_lock = threading.Lock()
_registered: set[str] = set()


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret value (compared case-insensitively, ``-`` as ``_``)."""
    normalised = key.lower().replace("-", "_")
    return normalised in _SECRET_KEYS or normalised.endswith(_SECRET_SUFFIXES)


def register_secret(value: str) -> None:
    """Remember a secret value so that it is masked wherever it appears later.

    Values shorter than four characters are ignored: masking them would mangle ordinary text.
    """
    if len(value) >= _MIN_REGISTERED_LENGTH:
        with _lock:
            _registered.add(value)


def forget_secrets() -> None:
    """Drop every registered value (tests; a process that rotated everything)."""
    with _lock:
        _registered.clear()


def redact_text(text: str) -> str:
    """Mask registered values and credential shapes inside one string."""
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m[1]} {MASK}", text)
    with _lock:
        values = sorted(_registered, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact(value: Any, *, _depth: int = 0) -> Any:
    """Return a copy of ``value`` (str, mapping, list…) with every secret masked."""
    if _depth > 32:
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", errors="replace"))
    if isinstance(value, Mapping):
        return {
            k: (
                MASK
                if isinstance(k, str) and is_secret_key(k) and v not in (None, "")
                else redact(v, _depth=_depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, _depth=_depth + 1) for v in value]
    return value
