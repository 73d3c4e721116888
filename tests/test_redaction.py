"""Redaction: secret keys, registered values and credential shapes are masked everywhere."""

from __future__ import annotations

import pytest

from drd import redaction


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


@pytest.mark.parametrize("key", ["password", "Token", "secret", "aws_secret_access_key", "db-password", "vault_token"])
def test_values_under_secret_keys_are_masked(key):
    """A value stored under a key that names a secret is masked whatever it is."""
    assert redaction.redact({key: "x1y2z3", "name": "shop"}) == {key: "***", "name": "shop"}


@pytest.mark.parametrize("key", ["secret_name", "tokenizer", "keep_last", "passwordPolicy_ref", "key"])
def test_keys_that_merely_mention_secrets_are_kept(key):
    """Keys such as secret_name refer to secrets without holding them, so they are not masked."""
    assert redaction.redact({key: "value"}) == {key: "value"}


def test_registered_values_are_masked_inside_any_string():
    """Once registered, a secret value is masked inside messages, lists and nested mappings."""
    redaction.register_secret("p4ss-w0rd")
    data = {"message": "login with p4ss-w0rd failed", "items": ["a", "xp4ss-w0rdx"], "nested": {"v": "p4ss-w0rd"}}
    assert redaction.redact(data) == {
        "message": "login with *** failed",
        "items": ["a", "x***x"],
        "nested": {"v": "***"},
    }


def test_short_values_are_not_registered():
    """Values shorter than four characters would mangle ordinary text, so they are not registered."""
    redaction.register_secret("ab")
    assert redaction.redact_text("tab") == "tab"


def test_url_credentials_are_masked():
    """A password in a URL's userinfo is masked, the user and host stay readable."""
    assert redaction.redact_text("postgresql://drd:s3cr3t@db:5432/drd") == "postgresql://drd:***@db:5432/drd"


def test_bearer_tokens_are_masked():
    """Authorization header values of the Bearer kind are masked."""
    assert redaction.redact_text("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer ***"


def test_deeply_nested_values_are_bounded():
    """Pathologically deep structures are masked rather than recursed into without end."""
    deep: dict[str, object] = {}
    node = deep
    for _ in range(100):
        node["n"] = {}
        node = node["n"]  # type: ignore[assignment]
    assert "***" in repr(redaction.redact(deep))
