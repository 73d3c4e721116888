"""The sandbox's Vault manages the shop's database login through OpenBao's database engine.

With ``vault=True`` the sandbox starts a private PostgreSQL (password logins
only) with the database ``shop`` and the login ``shop_app``, and configures
``database/config/shop`` (the superuser as root) and the static role
``database/static-roles/shop-app`` (rotated only when asked). Aspects: the
configuration as an operator would read it; the static credentials log in to
``shop`` and the original password no longer does; ``vault_database=False``
starts no database; stopping the sandbox stops the database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.clients.postgres_login import PostgresLoginRefused, PostgresUnavailable, check_login
from drd.clients.vault import VaultClient
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.postgres import SHOP_DATABASE, SHOP_LOGIN
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import Topology
from drd.sandbox.vault import (
    POSTGRES_ROTATION_STATEMENTS,
    SHOP_CONNECTION,
    SHOP_STATIC_ROLE,
    STATIC_ROLE_ROTATION_PERIOD_SECONDS,
)


def _options(**changes: object) -> SandboxOptions:
    """Vault and its database only: no clusters, so the sandbox starts in a couple of seconds."""
    options = SandboxOptions.fast()
    options.topology = Topology(clusters=(), buckets={}, replication=())
    options.seed_applications = False
    for name, value in changes.items():
        setattr(options, name, value)
    return options


@pytest.fixture(scope="module")
def sandbox(moto_server: MotoS3) -> Iterator[Sandbox]:
    with Sandbox(_options(), moto=moto_server) as environment:
        yield environment


@pytest.fixture
def vault_client(sandbox: Sandbox) -> Iterator[VaultClient]:
    assert sandbox.vault is not None
    client = VaultClient(sandbox.vault.url, token=sandbox.vault.root_token, timeout=5)
    yield client
    client.close()


def test_the_database_connection_is_configured_with_the_superuser_as_root(sandbox):
    """``database/config/shop``: the PostgreSQL plugin, a templated URL to the private server, the superuser."""
    assert sandbox.vault is not None
    assert sandbox.postgres is not None
    config = sandbox.vault.read(f"database/config/{SHOP_CONNECTION}")
    assert config is not None
    assert config["plugin_name"] == "postgresql-database-plugin"
    assert config["allowed_roles"] == [SHOP_STATIC_ROLE]
    assert config["connection_details"] == {
        "connection_url": f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{sandbox.postgres.port}/shop"
        "?sslmode=disable",
        "username": sandbox.postgres.superuser,
    }


def test_the_static_role_manages_shop_app_and_rotates_only_when_asked(sandbox):
    """``database/static-roles/shop-app``: user ``shop_app``, an ALTER USER statement, a year between rotations."""
    assert sandbox.vault is not None
    role = sandbox.vault.read(f"database/static-roles/{SHOP_STATIC_ROLE}")
    assert role is not None
    assert role["db_name"] == SHOP_CONNECTION
    assert role["username"] == SHOP_LOGIN
    assert role["rotation_statements"] == list(POSTGRES_ROTATION_STATEMENTS)
    assert role["rotation_period"] == STATIC_ROLE_ROTATION_PERIOD_SECONDS


def test_the_static_credentials_log_in_to_the_shop_database(sandbox, vault_client):
    """What ``database/static-creds/shop-app`` returns logs in to ``shop`` on the private server."""
    assert sandbox.postgres is not None
    credentials = vault_client.static_credentials(SHOP_STATIC_ROLE)
    assert credentials.username == SHOP_LOGIN
    check_login(sandbox.postgres.host, sandbox.postgres.port, SHOP_DATABASE, credentials.username, credentials.password)


def test_the_private_server_checks_passwords(sandbox):
    """Unlike the machine's trust-auth PostgreSQL, a wrong password for ``shop_app`` is refused."""
    assert sandbox.postgres is not None
    with pytest.raises(PostgresLoginRefused):
        check_login(sandbox.postgres.host, sandbox.postgres.port, SHOP_DATABASE, SHOP_LOGIN, "not-the-password")


def test_without_vault_database_no_database_is_started(moto_server):
    """``vault_database=False`` starts Vault alone: no private server, no database engine mounted."""
    with Sandbox(_options(vault_database=False), moto=moto_server) as environment:
        assert environment.postgres is None
        assert environment.vault is not None
        assert environment.vault.read(f"database/config/{SHOP_CONNECTION}") is None


def test_stopping_the_sandbox_stops_the_database_and_deletes_its_files(moto_server):
    """After ``stop`` the private server no longer answers and its directory is gone."""
    environment = Sandbox(_options(), moto=moto_server).start()
    postgres = environment.postgres
    assert postgres is not None
    directory = postgres.directory
    assert directory is not None
    environment.stop()
    assert not directory.exists()
    with pytest.raises(PostgresUnavailable):
        check_login(postgres.host, postgres.port, SHOP_DATABASE, SHOP_LOGIN, "whatever")
