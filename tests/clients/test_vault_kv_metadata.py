"""KV v2 metadata through drd's Vault adapter, against a real OpenBao dev server.

Aspects: reading a secret's metadata (current version, kept versions, custom
metadata); merging custom metadata keeps the other keys and removes only keys
given as None; the merge leaves the secret's other settings alone (hvac's
``update_metadata`` would reset ``delete_version_after``); a missing secret is
VaultNotFound; a sealed Vault is VaultSealed; only strings are accepted.
"""

from __future__ import annotations

import hvac
import pytest

from drd.clients.errors import VaultNotFound, VaultSealed


def test_metadata_of_a_new_secret_has_its_version_and_no_custom_metadata(vault_client):
    """A secret written twice has current version 2, versions 1 and 2, and empty custom metadata."""
    vault_client.write_kv("meta/fresh", {"password": "a"})
    vault_client.write_kv("meta/fresh", {"password": "b"})
    metadata = vault_client.read_kv_metadata("meta/fresh")
    assert metadata.current_version == 2
    assert [v.version for v in metadata.versions] == [1, 2]
    assert dict(metadata.custom_metadata) == {}
    assert (metadata.mount, metadata.path) == ("secret", "meta/fresh")


def test_setting_custom_metadata_merges_and_keeps_the_other_keys(vault_client):
    """Setting one label changes that label and keeps every other key."""
    vault_client.write_kv("meta/labels", {"password": "a"})
    vault_client.set_kv_custom_metadata("meta/labels", {"drd/current": "1", "owner": "shop-team"})
    vault_client.set_kv_custom_metadata("meta/labels", {"drd/current": "2", "drd/previous": "1"})
    assert dict(vault_client.read_kv_metadata("meta/labels").custom_metadata) == {
        "drd/current": "2",
        "drd/previous": "1",
        "owner": "shop-team",
    }


def test_a_key_set_to_none_is_removed_and_the_others_kept(vault_client):
    """A label given as None is removed (a finished rotation clears its pending version)."""
    vault_client.write_kv("meta/pending", {"password": "a"})
    vault_client.set_kv_custom_metadata("meta/pending", {"drd/current": "1", "drd/pending": "2"})
    vault_client.set_kv_custom_metadata("meta/pending", {"drd/pending": None})
    assert dict(vault_client.read_kv_metadata("meta/pending").custom_metadata) == {"drd/current": "1"}


def test_the_custom_metadata_of_a_version_read_is_the_same(vault_client):
    """Custom metadata is per secret, not per version: a read of the latest version carries it."""
    vault_client.write_kv("meta/read", {"password": "a"})
    vault_client.set_kv_custom_metadata("meta/read", {"drd/current": "1"})
    assert dict(vault_client.read_kv("meta/read").custom_metadata) == {"drd/current": "1"}


def test_setting_custom_metadata_leaves_the_secrets_other_settings_alone(vault_client, vault):
    """``delete_version_after``, ``max_versions`` and ``cas_required`` survive a custom-metadata merge."""
    vault_client.write_kv("meta/settings", {"password": "a"})
    kv = hvac.Client(url=vault.url, token=vault.root_token).secrets.kv.v2
    kv.update_metadata(path="meta/settings", max_versions=5, cas_required=True, delete_version_after="720h")
    vault_client.set_kv_custom_metadata("meta/settings", {"drd/current": "1"})
    raw = kv.read_secret_metadata(path="meta/settings")["data"]
    assert (raw["delete_version_after"], raw["max_versions"], raw["cas_required"]) == ("720h0m0s", 5, True)


def test_metadata_of_a_missing_secret_is_vault_not_found(vault_client):
    """Reading or setting metadata of a secret that does not exist is VaultNotFound naming the path."""
    with pytest.raises(VaultNotFound, match="read metadata secret/meta/absent"):
        vault_client.read_kv_metadata("meta/absent")
    with pytest.raises(VaultNotFound, match="update metadata secret/meta/absent"):
        vault_client.set_kv_custom_metadata("meta/absent", {"drd/current": "1"})


def test_setting_custom_metadata_in_a_sealed_vault_is_vault_sealed(vault_client, vault):
    """While Vault is sealed the merge is VaultSealed, temporary."""
    vault_client.write_kv("meta/sealed", {"password": "a"})
    vault.seal()
    with pytest.raises(VaultSealed, match="update metadata secret/meta/sealed: Vault is sealed"):
        vault_client.set_kv_custom_metadata("meta/sealed", {"drd/current": "1"})


def test_custom_metadata_values_must_be_strings(vault_client):
    """A non-string value is refused before anything is sent."""
    with pytest.raises(TypeError, match="strings"):
        vault_client.set_kv_custom_metadata("meta/typed", {"drd/current": 1})
