"""A credential's fields, the Secret data they become, and digests that stand for them in every record.

A credential is a mapping of :class:`~drd.policy.models.rotation.CredentialField`
names to values (``value``; ``accessKeyId``/``secretAccessKey``;
``username``/``password``). Nothing outside Vault and the delivered Secrets
ever holds a value: steps, the store, logs and evidence carry only
:func:`digest` (12 hex digits of a SHA-256), which tells two credentials apart
without revealing either. Every value made or read here is registered with
:mod:`drd.redaction`, so it is masked should it ever reach text.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from collections.abc import Mapping

from drd import redaction
from drd.policy.models.rotation import CredentialField, GeneratedSource

ALPHABETS = {"alphanumeric": string.ascii_letters + string.digits, "hex": "0123456789abcdef"}


def generate(source: GeneratedSource) -> dict[str, str]:
    """A new random value (``secrets``, the OS's CSPRNG)."""
    alphabet = ALPHABETS[source.alphabet]
    value = "".join(secrets.choice(alphabet) for _ in range(source.length))
    redaction.register_secret(value)
    return {CredentialField.VALUE.value: value}


def digest(credential: Mapping[str, str]) -> str:
    """12 hex digits standing for the credential (its fields and values), never revealing it."""
    canonical = json.dumps({k: credential[k] for k in sorted(credential)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def secret_data(credential: Mapping[str, str], keys: Mapping[str, CredentialField]) -> dict[str, str]:
    """The data of a delivered Secret: each key holds the field it names (``awsCredentials`` is rendered)."""
    data = {}
    for key, field in keys.items():
        if field is CredentialField.AWS_CREDENTIALS:
            data[key] = aws_credentials_file(credential)
        else:
            data[key] = credential[field.value]
        redaction.register_secret(data[key])
    return data


def aws_credentials_file(credential: Mapping[str, str]) -> str:
    """An AWS shared-credentials file with the key as its ``[default]`` profile (Velero's ``cloud`` key)."""
    return (
        "[default]\n"
        f"aws_access_key_id={credential[CredentialField.ACCESS_KEY_ID.value]}\n"
        f"aws_secret_access_key={credential[CredentialField.SECRET_ACCESS_KEY.value]}\n"
    )


def remember(credential: Mapping[str, str]) -> None:
    """Register every value of a credential read back (from Vault) with the redaction module."""
    for value in credential.values():
        if isinstance(value, str) and value:
            redaction.register_secret(value)
