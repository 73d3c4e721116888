"""Process settings: grouped, frozen, documented defaults, ``DRD_*`` environment overrides.

:func:`Settings.from_env` is the only constructor that reads the environment;
command-line flags override its result with :func:`dataclasses.replace`.
Nothing here performs I/O beyond reading the environment mapping it is given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drd import redaction
from drd.errors import ConfigError


@dataclass(frozen=True)
class Secret:
    """A secret value that never shows itself in repr, str or logs."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


def default_state_url(env: Mapping[str, str]) -> str:
    """SQLite file in the XDG state directory (``$XDG_STATE_HOME/drd/drd.sqlite``)."""
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "state")
    return str(Path(base) / "drd" / "drd.sqlite")


@dataclass(frozen=True)
class ConfigSettings:
    """Where the inventory and policies live."""

    directory: str = "policies"
    """Directory of YAML documents (clusters + policies); env ``DRD_CONFIG``."""
    runbooks: str = "runbooks"
    """Directory of runbooks (``*.yaml``, one Runbook each); env ``DRD_RUNBOOKS``."""


@dataclass(frozen=True)
class StoreSettings:
    """The durable store."""

    url: str = ""
    """SQLite path or SQLAlchemy URL (``postgresql://…``); env ``DRD_STATE``; empty means the XDG default."""


@dataclass(frozen=True)
class LogSettings:
    """Logging."""

    level: str = "INFO"
    """Minimum level; env ``DRD_LOG_LEVEL``."""
    format: str = "auto"
    """``json``, ``console`` or ``auto`` (JSON when stderr is not a terminal); env ``DRD_LOG_FORMAT``."""


@dataclass(frozen=True)
class DaemonSettings:
    """The long-running service."""

    listen: str = ":9090"
    """Address of /metrics, /healthz, /readyz; env ``DRD_LISTEN``."""
    shutdown_grace_seconds: float = 25.0
    """On SIGTERM, how long running steps get to reach a recorded state; below a pod's default 30 s grace."""
    reload_poll_seconds: float = 5.0
    """How often the config directory is checked for changes."""


@dataclass(frozen=True)
class LeaderSettings:
    """Leader election through a coordination.k8s.io/v1 Lease."""

    enabled: bool = True
    """Set ``DRD_LEADER_ENABLED=false`` only for a single replica outside Kubernetes."""
    lease_name: str = "drd-leader"
    """Name of the Lease object; env ``DRD_LEADER_LEASE_NAME``."""
    namespace: str = "drd"
    """Namespace of the Lease; env ``DRD_LEADER_NAMESPACE``."""
    lease_duration_seconds: float = 15.0
    """How long a lease is valid without renewal; the longest a failover can take."""
    renew_deadline_seconds: float = 10.0
    """A leader that could not renew for this long stops acting (before the lease expires)."""
    retry_period_seconds: float = 2.0
    """Interval between acquire/renew attempts."""
    cluster: str = ""
    """Inventory cluster holding the Lease; env ``DRD_LEADER_CLUSTER``; empty: in-cluster when running in a pod,
    else the first ``primary`` cluster of the inventory."""


@dataclass(frozen=True)
class NotifySettings:
    """Where failures and objective breaches are announced (besides Kubernetes Events)."""

    webhook_url: Secret = field(default_factory=lambda: Secret(""))
    """Slack-compatible incoming webhook; env ``DRD_WEBHOOK_URL``; its path is a credential, so never logged."""
    min_interval_seconds: float = 3600.0
    """The same notification is not repeated more often than this."""


@dataclass(frozen=True)
class KubeSettings:
    """Access to Kubernetes clusters."""

    kubeconfig: str = ""
    """Kubeconfig file; env ``DRD_KUBECONFIG`` then ``KUBECONFIG``; empty means in-cluster or ~/.kube/config."""
    request_timeout_seconds: float = 10.0
    """Timeout of one API request."""


@dataclass(frozen=True)
class VaultSettings:
    """Vault / OpenBao."""

    addr: str = ""
    """Server address; env ``VAULT_ADDR``."""
    token: Secret = field(default_factory=lambda: Secret(""))
    """Token; env ``VAULT_TOKEN``; never logged."""


@dataclass(frozen=True)
class AwsSettings:
    """AWS APIs (S3, EKS)."""

    endpoint_url: str = ""
    """Override endpoint (the sandbox's moto server); env ``AWS_ENDPOINT_URL``."""
    region: str = "us-east-1"
    """Default region; env ``AWS_DEFAULT_REGION``."""


@dataclass(frozen=True)
class PrometheusSettings:
    """The Prometheus server metric gates (``check.prometheus``) query."""

    url: str = ""
    """Base URL of its HTTP API (``http://prometheus.monitoring:9090``); env ``DRD_PROMETHEUS_URL``; empty: not
    configured, and a metric gate without its own ``url`` fails saying so."""


@dataclass(frozen=True)
class Settings:
    """All settings, grouped by concern."""

    config: ConfigSettings = field(default_factory=ConfigSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    log: LogSettings = field(default_factory=LogSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    leader: LeaderSettings = field(default_factory=LeaderSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    kube: KubeSettings = field(default_factory=KubeSettings)
    vault: VaultSettings = field(default_factory=VaultSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); bad values raise ConfigError naming the variable."""
        env = os.environ if env is None else env
        read = _Reader(env)
        return cls(
            config=ConfigSettings(
                directory=read.text("DRD_CONFIG", ConfigSettings.directory),
                runbooks=read.text("DRD_RUNBOOKS", ConfigSettings.runbooks),
            ),
            store=StoreSettings(url=read.text("DRD_STATE", "") or default_state_url(env)),
            log=LogSettings(
                level=read.choice("DRD_LOG_LEVEL", LogSettings.level, ("DEBUG", "INFO", "WARNING", "ERROR")),
                format=read.choice("DRD_LOG_FORMAT", LogSettings.format, ("auto", "json", "console")),
            ),
            daemon=DaemonSettings(
                listen=read.text("DRD_LISTEN", DaemonSettings.listen),
                shutdown_grace_seconds=read.number("DRD_SHUTDOWN_GRACE_SECONDS", DaemonSettings.shutdown_grace_seconds),
                reload_poll_seconds=read.number("DRD_RELOAD_POLL_SECONDS", DaemonSettings.reload_poll_seconds),
            ),
            leader=LeaderSettings(
                enabled=read.flag("DRD_LEADER_ENABLED", LeaderSettings.enabled),
                lease_name=read.text("DRD_LEADER_LEASE_NAME", LeaderSettings.lease_name),
                namespace=read.text("DRD_LEADER_NAMESPACE", LeaderSettings.namespace),
                lease_duration_seconds=read.number("DRD_LEADER_LEASE_SECONDS", LeaderSettings.lease_duration_seconds),
                renew_deadline_seconds=read.number("DRD_LEADER_RENEW_SECONDS", LeaderSettings.renew_deadline_seconds),
                retry_period_seconds=read.number("DRD_LEADER_RETRY_SECONDS", LeaderSettings.retry_period_seconds),
                cluster=read.text("DRD_LEADER_CLUSTER", ""),
            ),
            notify=NotifySettings(
                webhook_url=Secret(read.text("DRD_WEBHOOK_URL", "")),
                min_interval_seconds=read.number(
                    "DRD_NOTIFY_MIN_INTERVAL_SECONDS", NotifySettings.min_interval_seconds
                ),
            ),
            kube=KubeSettings(
                kubeconfig=read.text("DRD_KUBECONFIG", "") or read.text("KUBECONFIG", ""),
                request_timeout_seconds=read.number(
                    "DRD_KUBE_REQUEST_TIMEOUT_SECONDS", KubeSettings.request_timeout_seconds
                ),
            ),
            vault=VaultSettings(addr=read.text("VAULT_ADDR", ""), token=Secret(read.text("VAULT_TOKEN", ""))),
            aws=AwsSettings(
                endpoint_url=read.text("AWS_ENDPOINT_URL", ""),
                region=read.text("AWS_DEFAULT_REGION", AwsSettings.region),
            ),
            prometheus=PrometheusSettings(url=read.text("DRD_PROMETHEUS_URL", "")),
        )

    def effective(self) -> dict[str, Any]:
        """The settings as a dict safe to log once at start-up (secrets masked)."""
        data = asdict(self)
        data["vault"]["token"] = redaction.MASK if self.vault.token else ""
        data["notify"]["webhook_url"] = redaction.MASK if self.notify.webhook_url else ""
        masked: dict[str, Any] = redaction.redact(data)
        return masked


class _Reader:
    """Typed reads of environment variables with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str) -> str:
        return self._env.get(name, default).strip() or default

    def number(self, name: str, default: float) -> float:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: expected a number of seconds, e.g. 15 or 2.5") from None
        if value < 0:
            raise ConfigError(f"{name}={raw!r}: must not be negative")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={raw!r}: expected true or false")

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        for option in allowed:
            if raw.lower() == option.lower():
                return option
        raise ConfigError(f"{name}={raw!r}: expected one of {', '.join(allowed)}")
