"""Settings: every documented default is pinned, env overrides are typed, bad values name the variable."""

from __future__ import annotations

import pytest

from drd.errors import ConfigError
from drd.settings import Settings


def test_defaults_are_pinned():
    """The documented defaults do not change silently."""
    settings = Settings.from_env({"HOME": "/home/op"})
    assert settings.config.directory == "policies"
    assert settings.store.url == "/home/op/.local/state/drd/drd.sqlite"
    assert (settings.log.level, settings.log.format) == ("INFO", "auto")
    assert settings.daemon.listen == ":9090"
    assert settings.daemon.shutdown_grace_seconds == 25.0
    assert settings.daemon.reload_poll_seconds == 5.0
    assert settings.leader.enabled is True
    assert (settings.leader.lease_name, settings.leader.namespace) == ("drd-leader", "drd")
    assert settings.leader.lease_duration_seconds == 15.0
    assert settings.leader.renew_deadline_seconds == 10.0
    assert settings.leader.retry_period_seconds == 2.0
    assert settings.leader.cluster == ""
    assert not settings.notify.webhook_url
    assert settings.notify.min_interval_seconds == 3600.0
    assert settings.kube.kubeconfig == ""
    assert settings.kube.request_timeout_seconds == 10.0
    assert settings.vault.addr == ""
    assert not settings.vault.token
    assert (settings.aws.endpoint_url, settings.aws.region) == ("", "us-east-1")
    assert settings.prometheus.url == ""


def test_state_defaults_to_the_xdg_state_directory():
    """Without DRD_STATE the store is a SQLite file under $XDG_STATE_HOME/drd."""
    settings = Settings.from_env({"XDG_STATE_HOME": "/var/lib/x"})
    assert settings.store.url == "/var/lib/x/drd/drd.sqlite"


def test_environment_overrides_defaults():
    """DRD_* variables override the defaults with typed values."""
    settings = Settings.from_env(
        {
            "DRD_CONFIG": "/etc/drd",
            "DRD_STATE": "postgresql://drd@db/drd",
            "DRD_LOG_LEVEL": "debug",
            "DRD_LEADER_ENABLED": "false",
            "DRD_LEADER_LEASE_SECONDS": "30",
            "KUBECONFIG": "/tmp/kc",
        }
    )
    assert settings.config.directory == "/etc/drd"
    assert settings.store.url == "postgresql://drd@db/drd"
    assert settings.log.level == "DEBUG"
    assert settings.leader.enabled is False
    assert settings.leader.lease_duration_seconds == 30.0
    assert settings.kube.kubeconfig == "/tmp/kc"


def test_drd_kubeconfig_wins_over_kubeconfig():
    """DRD_KUBECONFIG takes precedence over the generic KUBECONFIG."""
    settings = Settings.from_env({"DRD_KUBECONFIG": "/a", "KUBECONFIG": "/b"})
    assert settings.kube.kubeconfig == "/a"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DRD_LEADER_LEASE_SECONDS", "soon", "DRD_LEADER_LEASE_SECONDS='soon': expected a number of seconds"),
        ("DRD_SHUTDOWN_GRACE_SECONDS", "-1", "DRD_SHUTDOWN_GRACE_SECONDS='-1': must not be negative"),
        ("DRD_LEADER_ENABLED", "maybe", "DRD_LEADER_ENABLED='maybe': expected true or false"),
        ("DRD_LOG_FORMAT", "xml", "DRD_LOG_FORMAT='xml': expected one of auto, json, console"),
    ],
)
def test_bad_values_name_the_variable_and_the_accepted_form(variable, value, expected):
    """A malformed environment value is a ConfigError naming the variable and what is accepted."""
    with pytest.raises(ConfigError) as error:
        Settings.from_env({variable: value})
    assert expected in str(error.value)


def test_effective_settings_mask_the_vault_token_and_url_passwords():
    """The start-up log line of settings never shows the Vault token, the webhook URL or a database password."""
    settings = Settings.from_env(
        {
            "VAULT_TOKEN": "s.very-secret",
            "DRD_STATE": "postgresql://drd:hunter22@db/drd",
            "DRD_WEBHOOK_URL": "https://hooks.example.com/services/T0/B0/XYZ",
        }
    )
    effective = settings.effective()
    assert effective["vault"]["token"] == "***"
    assert effective["notify"]["webhook_url"] == "***"
    assert effective["store"]["url"] == "postgresql://drd:***@db/drd"
    assert "very-secret" not in repr(settings)
