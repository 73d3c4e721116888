"""The sandbox's Vault is a real OpenBao dev server: healthy, KV v2 mounted, sealable through its API."""

from __future__ import annotations

import hvac
import pytest

from drd.sandbox.vault import OpenBaoDevServer


def test_dev_server_is_initialised_unsealed_and_serves_kv_v2(vault: OpenBaoDevServer):
    """hvac, unchanged, writes and reads a KV v2 secret on the sandbox's OpenBao."""
    client = hvac.Client(url=vault.url, token=vault.root_token)
    client.secrets.kv.v2.create_or_update_secret(path="tests/kv-roundtrip", secret={"password": "pw-1"})
    read = client.secrets.kv.v2.read_secret_version(path="tests/kv-roundtrip", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": "pw-1"}
    assert read["data"]["metadata"]["version"] >= 1


def test_sealing_makes_reads_fail_until_unsealed(vault: OpenBaoDevServer):
    """A sealed server refuses reads (503 VaultDown in hvac) and serves them again once unsealed."""
    client = hvac.Client(url=vault.url, token=vault.root_token)
    client.secrets.kv.v2.create_or_update_secret(path="tests/seal", secret={"v": "1"})
    vault.seal()
    try:
        assert vault.sealed
        with pytest.raises(hvac.exceptions.VaultDown):
            client.secrets.kv.v2.read_secret_version(path="tests/seal", raise_on_deleted_version=True)
    finally:
        vault.unseal()
    assert not vault.sealed
    client = hvac.Client(url=vault.url, token=vault.root_token)
    assert client.secrets.kv.v2.read_secret_version(path="tests/seal", raise_on_deleted_version=True)["data"][
        "data"
    ] == {"v": "1"}


def test_reset_unseals_and_removes_every_secret(vault: OpenBaoDevServer):
    """Between tests the server is unsealed and KV v2 is empty again, nested paths included."""
    client = hvac.Client(url=vault.url, token=vault.root_token)
    client.secrets.kv.v2.create_or_update_secret(path="a/b/c", secret={"k": "v"})
    client.secrets.kv.v2.create_or_update_secret(path="top", secret={"k": "v"})
    vault.seal()
    vault.reset()
    assert not vault.sealed
    client = hvac.Client(url=vault.url, token=vault.root_token)
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.list_secrets(path="")
