"""Reading and writing Vault secrets for workflows, against a real OpenBao dev server.

Aspects: a read field is a SecretValue that never shows itself (str, repr,
f-string, pickling) but reveals on request and is registered for redaction;
a missing field says which fields exist; writes return versions, honour
check-and-set and accept SecretValues; a sealed Vault is a temporary error.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest
import structlog

from drd import redaction
from drd.clients.errors import VaultNotFound, VaultSealed
from drd.clients.vault import VaultCasMismatch, VaultClient
from drd.operations.secrets import SecretFieldMissing, SecretValue, read_secret, write_secret
from drd.sandbox.vault import OpenBaoDevServer


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


@pytest.fixture
def client(vault: OpenBaoDevServer) -> Iterator[VaultClient]:
    vault_client = VaultClient(vault.url, token=vault.root_token, timeout=5)
    yield vault_client
    vault_client.close()


def test_read_secret_reveals_the_field_only_on_request(client):
    """The field's value comes out through ``reveal()``, with the version it was read from."""
    write_secret(client, "shop/db", {"username": "shop", "password": "pw-Qr7-first"})
    secret = read_secret(client, "shop/db", field="password")
    assert (secret.reveal(), secret.version) == ("pw-Qr7-first", 1)


def test_a_secret_value_never_shows_itself(client):
    """str, repr and f-strings of a SecretValue show *** and where it came from, never the value."""
    write_secret(client, "shop/db", {"password": "pw-Qr7-first"})
    secret = read_secret(client, "shop/db", field="password")
    assert str(secret) == f"{secret}" == f"{secret:>20}" == "***"
    assert repr(secret) == "SecretValue(secret/shop/db#password, version 1, ***)"


def test_a_secret_value_cannot_be_pickled():
    """Pickling (into a job store, a cache) is refused: store the path, not the value."""
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(SecretValue("pw", mount="secret", path="p", field="f", version=1))


def test_a_read_value_is_masked_wherever_it_is_later_redacted(client):
    """Once read, the value is registered: if it leaks into text, redaction masks it."""
    write_secret(client, "shop/api", {"token": "tok-9f8e7d6c"})
    revealed = read_secret(client, "shop/api", field="token").reveal()
    assert redaction.redact_text(f"calling with {revealed} failed") == "calling with *** failed"


def test_a_non_string_field_is_read_as_json(client):
    """Numbers and objects in KV data come back as their JSON text."""
    write_secret(client, "shop/limits", {"pool": {"max": 10}})
    assert read_secret(client, "shop/limits", field="pool").reveal() == '{"max": 10}'


def test_a_missing_field_names_the_fields_there_are(client):
    """Asking for a field the secret lacks is SecretFieldMissing listing its fields, not their values."""
    write_secret(client, "shop/db", {"username": "shop", "password": "pw-Qr7-first"})
    with pytest.raises(SecretFieldMissing) as error:
        read_secret(client, "shop/db", field="passwd")
    assert str(error.value) == "secret/shop/db (version 1) has no field 'passwd'; its fields: password, username"


def test_a_missing_secret_is_vault_not_found(client):
    """Reading a path with no secret is VaultNotFound."""
    with pytest.raises(VaultNotFound):
        read_secret(client, "shop/none", field="password")


def test_an_older_version_can_be_read(client):
    """``version`` reads that version (the credential a rotation is replacing)."""
    write_secret(client, "shop/db", {"password": "old-password"})
    write_secret(client, "shop/db", {"password": "new-password"})
    assert read_secret(client, "shop/db", field="password", version=1).reveal() == "old-password"


def test_write_secret_returns_increasing_versions_and_honours_cas(client):
    """Writes return the new version; a stale ``cas`` is VaultCasMismatch."""
    assert write_secret(client, "shop/db", {"password": "a1b2c3d4"}, cas=0) == 1
    assert write_secret(client, "shop/db", {"password": "e5f6g7h8"}, cas=1) == 2
    with pytest.raises(VaultCasMismatch):
        write_secret(client, "shop/db", {"password": "i9j0k1l2"}, cas=1)


def test_write_secret_accepts_secret_values(client):
    """A SecretValue in the data is written as its value (copying a credential between paths)."""
    write_secret(client, "shop/db", {"password": "pw-copy-me"})
    secret = read_secret(client, "shop/db", field="password")
    write_secret(client, "drill/db", {"password": secret})
    assert read_secret(client, "drill/db", field="password").reveal() == "pw-copy-me"


def test_write_secret_logs_fields_never_values(client):
    """The log event of a write names mount, path, version and fields, and no value."""
    with structlog.testing.capture_logs() as events:
        write_secret(client, "shop/db", {"password": "pw-never-logged"})
    assert events == [
        {
            "event": "secret_written",
            "log_level": "info",
            "mount": "secret",
            "path": "shop/db",
            "version": 1,
            "fields": ["password"],
        }
    ]


def test_a_sealed_vault_is_a_temporary_error(client, vault):
    """While Vault is sealed, reading is VaultSealed (a rotation waits, it does not fail)."""
    write_secret(client, "shop/db", {"password": "pw-sealed"})
    vault.seal()
    with pytest.raises(VaultSealed):
        read_secret(client, "shop/db", field="password")
