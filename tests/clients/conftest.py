"""Fixtures for the client tests: a private PostgreSQL with password logins, and logins Vault manages on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from drd.clients.vault import VaultClient
from drd.sandbox.postgres import PostgresServer
from drd.sandbox.vault import OpenBaoDevServer

TEST_CONNECTION = "tests-postgres"
"""The run's database connection in OpenBao (``database/config/tests-postgres``)."""


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL for the whole run: scram-sha-256 for every connection, so wrong passwords are refused."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def vault_client(vault: OpenBaoDevServer) -> Iterator[VaultClient]:
    """drd's Vault client on the run's OpenBao, with its root token."""
    client = VaultClient(vault.url, token=vault.root_token, timeout=5)
    yield client
    client.close()


@dataclass
class ManagedLogin:
    """A PostgreSQL login whose password a Vault static role manages (one per test)."""

    role: str
    """The static role, ``database/static-roles/<role>``."""
    username: str
    initial_password: str = field(repr=False)
    """The password the login had before Vault took it over (creating the role rotated it away)."""
    postgres: PostgresServer
    database: str = "postgres"


@pytest.fixture
def managed_login(vault: OpenBaoDevServer, private_postgres: PostgresServer) -> Iterator[ManagedLogin]:
    """A fresh login on the private server and a static role for it; both removed afterwards."""
    suffix = secrets.token_hex(4)
    login = ManagedLogin(
        role=f"app-{suffix}",
        username=f"app_{suffix}",
        initial_password=secrets.token_hex(16),
        postgres=private_postgres,
    )
    private_postgres.create_login_role(login.username, login.initial_password)
    vault.configure_postgres_connection(
        TEST_CONNECTION,
        host=private_postgres.host,
        port=private_postgres.port,
        database=login.database,
        username=private_postgres.superuser,
        password=private_postgres.superuser_password,
        allowed_roles=["*"],
    )
    vault.create_static_role(login.role, db_name=TEST_CONNECTION, username=login.username)
    yield login
    if vault.sealed:
        vault.unseal()
    vault.delete_static_role(login.role)  # first, so that Vault stops retrying rotations of a login about to go
    private_postgres.drop_role(login.username)
