"""drd's Vault adapter for database static roles, against a real OpenBao and a private PostgreSQL.

Aspects: a static role's credentials read back and log in; creating the role has
already rotated the login's original password away; ``rotate-role`` is a hard
cut-over (old password refused at once, new one accepted); a rotation Vault
cannot finish is temporary VaultRotationIncomplete saying Vault retries in the
background; a sealed Vault is temporary VaultSealed; an unknown role is
VaultNotFound; the password never shows in a repr or an error.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from drd.clients.errors import VaultNotFound, VaultSealed
from drd.clients.postgres_login import PostgresLoginRefused, check_login
from drd.clients.vault import StaticCredentials, VaultRotationIncomplete
from drd.errors import PermanentError, TemporaryError


def _login(login, password):
    check_login(login.postgres.host, login.postgres.port, login.database, login.username, password)


def test_static_credentials_name_the_login_and_its_password_logs_in(vault_client, managed_login):
    """The static role's credentials carry the login's name, a rotation time and a TTL; the password works."""
    credentials = vault_client.static_credentials(managed_login.role)
    assert credentials.username == managed_login.username
    assert credentials.role == managed_login.role
    assert isinstance(credentials.last_vault_rotation, datetime)
    assert credentials.last_vault_rotation.tzinfo is not None
    assert 0 < credentials.ttl <= credentials.rotation_period
    _login(managed_login, credentials.password)


def test_creating_the_static_role_already_rotated_the_original_password_away(vault_client, managed_login):
    """Vault rotates on creation: the login's original password is refused, Vault's differs from it."""
    assert vault_client.static_credentials(managed_login.role).password != managed_login.initial_password
    with pytest.raises(PostgresLoginRefused):
        _login(managed_login, managed_login.initial_password)


def test_rotate_role_refuses_the_old_password_at_once_and_accepts_the_new(vault_client, managed_login):
    """After ``rotate_static_role`` returns, the old password is refused and the new one logs in."""
    before = vault_client.static_credentials(managed_login.role)
    vault_client.rotate_static_role(managed_login.role)
    after = vault_client.static_credentials(managed_login.role)
    assert after.password != before.password
    assert after.last_vault_rotation > before.last_vault_rotation
    with pytest.raises(PostgresLoginRefused):
        _login(managed_login, before.password)
    _login(managed_login, after.password)


def test_a_rotation_vault_cannot_finish_is_temporary_and_says_vault_retries_in_the_background(
    vault_client, managed_login
):
    """Vault's 500 "retries will continue in the background" is VaultRotationIncomplete, a TemporaryError."""
    password = vault_client.static_credentials(managed_login.role).password
    postgres = managed_login.postgres
    postgres.psql(f'ALTER ROLE "{managed_login.username}" RENAME TO "{managed_login.username}_away"')
    try:
        with pytest.raises(VaultRotationIncomplete) as error:
            vault_client.rotate_static_role(managed_login.role)
    finally:
        postgres.psql(f'ALTER ROLE "{managed_login.username}_away" RENAME TO "{managed_login.username}"')
    assert isinstance(error.value, TemporaryError)
    assert error.value.status == 500
    message = str(error.value)
    assert f"rotate database/rotate-role/{managed_login.role}: " in message
    assert "Vault retries it in the background" in message
    assert "may still change later without notice" in message
    assert password not in message


def test_reading_static_credentials_from_a_sealed_vault_is_temporary_vault_sealed(vault_client, managed_login, vault):
    """While Vault is sealed, reading a static role's credentials is VaultSealed saying so."""
    vault.seal()
    with pytest.raises(VaultSealed) as error:
        vault_client.static_credentials(managed_login.role)
    assert isinstance(error.value, TemporaryError)
    assert str(error.value).endswith(f"read database/static-creds/{managed_login.role}: Vault is sealed")


def test_rotating_in_a_sealed_vault_is_temporary_vault_sealed(vault_client, managed_login, vault):
    """While Vault is sealed, asking for a rotation is VaultSealed too (nothing rotated)."""
    vault.seal()
    with pytest.raises(VaultSealed, match="Vault is sealed"):
        vault_client.rotate_static_role(managed_login.role)


def test_an_unknown_static_role_is_permanent_vault_not_found(vault_client, managed_login):
    """Reading or rotating a role the engine does not have is VaultNotFound, permanent."""
    with pytest.raises(VaultNotFound, match="read database/static-creds/no-such-role: no such role") as error:
        vault_client.static_credentials("no-such-role")
    assert isinstance(error.value, PermanentError)
    with pytest.raises(VaultNotFound, match="no such role"):
        vault_client.rotate_static_role("no-such-role")


def test_static_credentials_repr_and_str_never_show_the_password():
    """A StaticCredentials shows role, user, rotation time and TTL, never the password."""
    credentials = StaticCredentials(
        username="shop_app",
        password="s3cret-pw-value",
        last_vault_rotation=datetime.fromisoformat("2026-01-02T03:04:05+00:00"),
        ttl=60,
        role="shop-app",
    )
    assert repr(credentials) == (
        "StaticCredentials(mount='database', role='shop-app', username='shop_app', password='***', "
        "last_vault_rotation='2026-01-02T03:04:05+00:00', ttl=60)"
    )
    assert "s3cret-pw-value" not in str(credentials)
