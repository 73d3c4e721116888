"""drd's Vault adapter against a real OpenBao dev server.

Aspects: KV v2 write/read/versions and check-and-set; health, sealed or not;
every failure typed (sealed → VaultSealed, temporary; missing path, version or
mount → VaultNotFound; bad token → VaultForbidden; stale CAS →
VaultCasMismatch; nobody listening → VaultUnavailable); secret values never in
reprs or error messages; no silent fallback to ``VAULT_TOKEN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import hvac
import pytest

from drd.clients.errors import VaultForbidden, VaultNotFound, VaultSealed, VaultUnavailable
from drd.clients.vault import KvSecret, VaultCasMismatch, VaultClient
from drd.errors import ConfigError, PermanentError, TemporaryError
from drd.sandbox.vault import OpenBaoDevServer
from drd.settings import Secret, VaultSettings
from tests.support.web import closed_port


@pytest.fixture
def client(vault: OpenBaoDevServer) -> Iterator[VaultClient]:
    vault_client = VaultClient(vault.url, token=vault.root_token, timeout=5)
    yield vault_client
    vault_client.close()


@pytest.fixture
def sealed(vault: OpenBaoDevServer) -> Iterator[OpenBaoDevServer]:
    """The server, sealed for the test (the ``vault`` fixture unseals it afterwards)."""
    vault.seal()
    return vault


def test_write_then_read_returns_data_version_and_creation_time(client):
    """A written secret reads back with its data, version 1 and a recent creation time."""
    assert client.write_kv("app/db", {"username": "shop", "password": "pw-1"}) == 1
    secret = client.read_kv("app/db")
    assert dict(secret.data) == {"username": "shop", "password": "pw-1"}
    assert secret.version == 1
    assert secret.created_time is not None
    assert abs(datetime.now(UTC) - secret.created_time) < timedelta(minutes=1)


def test_each_write_is_a_new_version_and_old_versions_stay_readable(client):
    """Writes return increasing versions; reading with ``version`` returns that one."""
    client.write_kv("app/api", {"token": "t-1"})
    assert client.write_kv("app/api", {"token": "t-2"}) == 2
    assert dict(client.read_kv("app/api", version=1).data) == {"token": "t-1"}
    assert client.read_kv("app/api").version == 2


def test_a_missing_path_is_permanent_vault_not_found_naming_it(client):
    """Reading a path with no secret is VaultNotFound, permanent, naming mount and path."""
    with pytest.raises(VaultNotFound) as error:
        client.read_kv("app/nothing-here")
    assert isinstance(error.value, PermanentError)
    assert str(error.value) == f'vault "{client.addr}": read secret/app/nothing-here: no such secret (or version)'


def test_a_deleted_version_is_vault_not_found_saying_so(client, vault):
    """A soft-deleted latest version is VaultNotFound that says it was deleted, not that it never existed."""
    client.write_kv("app/gone", {"password": "pw"})
    hvac.Client(url=vault.url, token=vault.root_token).secrets.kv.v2.delete_latest_version_of_secret("app/gone")
    with pytest.raises(VaultNotFound, match="version 1 was deleted at "):
        client.read_kv("app/gone")


def test_an_unknown_mount_is_vault_not_found_saying_nothing_is_mounted(client):
    """A mount with no secrets engine is VaultNotFound that says so."""
    with pytest.raises(VaultNotFound, match="no secrets engine is mounted there"):
        client.read_kv("app/db", mount="kv-nope")


def test_create_only_write_over_an_existing_secret_is_a_cas_mismatch(client):
    """``cas=0`` on an existing secret is VaultCasMismatch, and the secret keeps its version."""
    client.write_kv("app/once", {"password": "first"})
    with pytest.raises(VaultCasMismatch) as error:
        client.write_kv("app/once", {"password": "second-secret-value"}, cas=0)
    assert "check-and-set parameter did not match the current version" in str(error.value)
    assert "second-secret-value" not in str(error.value)
    assert client.read_kv("app/once").version == 1


def test_write_with_the_current_version_as_cas_succeeds(client):
    """``cas=N`` writes when N is the current version."""
    client.write_kv("app/rotating", {"password": "v1"})
    assert client.write_kv("app/rotating", {"password": "v2"}, cas=1) == 2


def test_kv_versions_lists_history_oldest_first_with_deletions(client, vault):
    """Versions come oldest first; a deleted one is not readable, the others are."""
    for value in ("a", "b", "c"):
        client.write_kv("app/history", {"v": value})
    hvac.Client(url=vault.url, token=vault.root_token).secrets.kv.v2.delete_secret_versions("app/history", versions=[2])
    versions = client.kv_versions("app/history")
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.readable for v in versions] == [True, False, True]


def test_a_bad_token_is_permanent_vault_forbidden(vault):
    """A token Vault does not know is VaultForbidden, permanent."""
    with pytest.raises(VaultForbidden) as error:
        VaultClient(vault.url, token="not-a-token").read_kv("app/db")
    assert isinstance(error.value, PermanentError)
    assert "not-a-token" not in str(error.value)


def test_an_empty_token_does_not_fall_back_to_vault_token(vault, monkeypatch):
    """With ``token=""`` the client does not borrow ``VAULT_TOKEN``: the read is refused."""
    monkeypatch.setenv("VAULT_TOKEN", vault.root_token)
    with pytest.raises(VaultForbidden):
        VaultClient(vault.url, token="").read_kv("app/db")


def test_reading_from_a_sealed_vault_is_temporary_vault_sealed(client, sealed):
    """While sealed, a read is VaultSealed, a TemporaryError with a delay."""
    with pytest.raises(VaultSealed) as error:
        client.read_kv("app/db")
    assert isinstance(error.value, TemporaryError)
    assert error.value.delay > 0
    assert str(error.value).endswith("read secret/app/db: Vault is sealed")


def test_writing_to_a_sealed_vault_is_vault_sealed(client, sealed):
    """While sealed, a write is VaultSealed too."""
    with pytest.raises(VaultSealed):
        client.write_kv("app/db", {"password": "pw"})


def test_health_of_a_serving_vault(client):
    """An unsealed dev server is initialised, unsealed, active and reports its version."""
    health = client.health()
    assert (health.initialized, health.sealed, health.serving) == (True, False, True)
    assert health.version


def test_health_of_a_sealed_vault_is_a_result(client, sealed):
    """A sealed server's health is reported, not raised."""
    health = client.health()
    assert health.sealed
    assert not health.serving


def test_an_unreachable_vault_is_temporary_vault_unavailable():
    """Nobody listening is VaultUnavailable, for reads and for health alike."""
    client = VaultClient(f"http://127.0.0.1:{closed_port()}", token="t", timeout=2)
    with pytest.raises(VaultUnavailable) as error:
        client.read_kv("app/db")
    assert isinstance(error.value, TemporaryError)
    with pytest.raises(VaultUnavailable):
        client.health()


def test_kv_secret_repr_and_str_mask_every_value():
    """A KvSecret shows its keys and version, never a value."""
    secret = KvSecret(data={"password": "hunter2-pw"}, version=3, created_time=None, path="app/db")
    assert repr(secret) == "KvSecret(mount='secret', path='app/db', version=3, data={'password': '***'})"
    assert "hunter2-pw" not in str(secret)


def test_from_settings_uses_address_and_token(vault):
    """``from_settings`` connects with VAULT_ADDR and VAULT_TOKEN as settings hold them."""
    client = VaultClient.from_settings(VaultSettings(addr=vault.url, token=Secret(vault.root_token)))
    assert client.write_kv("app/settings", {"k": "v"}) >= 1


def test_a_missing_address_is_a_config_error():
    """Without an address there is nothing to connect to: ConfigError naming VAULT_ADDR."""
    with pytest.raises(ConfigError, match="VAULT_ADDR"):
        VaultClient.from_settings(VaultSettings())


def test_client_repr_does_not_show_the_token(vault):
    """The client's repr names the server, not the token."""
    assert vault.root_token not in repr(VaultClient(vault.url, token=vault.root_token))
