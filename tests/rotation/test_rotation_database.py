"""Rotating a Vault database static role: OpenBao changes the password, drd propagates and proves a login.

Aspects covered: the rotation makes Vault rotate the role, delivers username and password to the Secrets of both
clusters, logs in with them on the sandbox's private PostgreSQL (password authentication), and promotes them in
KV; the password from before no longer logs in (a static role is a hard cut-over, documented as such); the new
password appears in no output of the run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drd.clients.errors import ClientError
from drd.clients.postgres_login import check_login
from drd.clients.vault import VaultClient
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.policy.models.rotation import RotationPolicy
from drd.rotation.run import start_rotation
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox
from drd.settings import Settings
from drd.store import Store
from tests.rotation.support import a_policy, make_engine, secret_value, settings, store, vault, vaulted

__all__ = ["make_engine", "settings", "store", "vault", "vaulted"]


def database_policy(sandbox: Sandbox, settings: Settings) -> None:
    assert sandbox.postgres is not None
    a_policy(
        settings,
        name="shop-db",
        source={
            "type": "databaseStaticRole",
            "role": "shop-app",
            "login": {"host": "127.0.0.1", "port": sandbox.postgres.port, "database": "shop"},
        },
        vault={"path": "drd/shop/db"},
        deliver=[
            {
                "clusters": ["primary-east", "dr-west"],
                "namespace": "shop",
                "secret": "shop-db",
                "keys": {"username": "username", "password": "password"},
            }
        ],
        consumers=[],
        verify=[],
    )


def test_a_static_role_is_rotated_propagated_and_proven_by_a_login(
    vaulted: Sandbox,
    settings: Settings,
    vault: VaultClient,
    store: Store,
    make_engine: Callable[..., Engine],
) -> None:
    """New password in Vault KV and both clusters' Secrets, a login with it works, the old one is refused."""
    database_policy(vaulted, settings)
    before = vault.static_credentials("shop-app")
    config = load_config([settings.config.directory])
    engine = make_engine()
    record = start_rotation(engine, config, config.of_kind(RotationPolicy)["shop-db"], trigger="test")
    final = engine.execute(record.id)
    assert final.phase is Phase.COMPLETED, final.details.get("failure")
    promoted = vault.read_kv("drd/shop/db").data
    assert promoted["username"] == "shop_app"
    assert promoted["password"] != before.password
    for cluster in ("primary-east", "dr-west"):
        assert secret_value(vaulted, cluster, "shop-db", "password") == promoted["password"]
    assert vaulted.postgres is not None
    check_login("127.0.0.1", vaulted.postgres.port, "shop", "shop_app", promoted["password"])
    with pytest.raises(ClientError, match="login refused"):
        check_login("127.0.0.1", vaulted.postgres.port, "shop", "shop_app", before.password)
    (login,) = [c for s in store.steps(record.id) if s.name == "verify" for c in s.outputs["checks"]]
    assert login["name"] == "database-login"
    assert promoted["password"] not in repr([(s.inputs, s.outputs, s.error_message) for s in store.steps(record.id)])
