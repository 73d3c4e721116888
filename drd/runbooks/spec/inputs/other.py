"""Inputs of the remaining step types: Jobs, probes, Vault, approvals, notifications, sleep and assertions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool, model_validator

from drd.policy.durations import PositiveDuration
from drd.policy.frozen import FrozenMap
from drd.policy.models.base import Model, raise_violations
from drd.policy.models.checks import Command, HttpPath, Image, Port
from drd.policy.models.upgrade import ConditionField, check_thresholds
from drd.policy.names import EnvMap, Matches, Name, ServiceName
from drd.runbooks.spec.inputs.common import ClusterInputs, FrozenDict

Url = Annotated[
    str,
    Matches(
        r"^https?://[^\s/$.?#][^\s]*$", "an http:// or https:// URL without spaces", 2048, ("http://shop.example/",)
    ),
]
Host = Annotated[
    str,
    Matches(
        r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$|^\[[0-9a-fA-F:]+\]$",
        "a host name or an IP address",
        253,
        ("db.shop.svc", "10.0.0.7"),
    ),
]
VaultPath = Annotated[
    str,
    Matches(
        r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        'a Vault path such as "shop/postgres" (no leading "/")',
        512,
        ("shop/postgres",),
    ),
]
Mount = Annotated[str, Matches(r"^[A-Za-z0-9_.-]+$", "a Vault mount such as secret", 128, ("secret",))]
Message = Annotated[str, Field(min_length=1, max_length=4096)]


class JobRunInputs(ClusterInputs):
    """Run a container as a Kubernetes Job named by the step's idempotency key and wait for it."""

    namespace: Name
    """Where the Job runs."""
    image: Image
    """The container image; pin a tag or digest."""
    command: Command
    """The command and its arguments."""
    env: EnvMap = Field(default_factory=FrozenMap)
    """Environment variables (plain values; never secrets)."""
    backoff_limit: Annotated[int, Field(ge=0, le=10)] = 0
    """Pod retries inside the Job."""


class HttpCheckInputs(Model):
    """Probe an HTTP endpoint: a URL, or a Service through the cluster API server's service proxy."""

    url: Url | None = None
    """A URL the daemon can reach."""
    cluster: Name | None = None
    """With ``namespace``, ``service`` and ``port``: probe a Service through the API server."""
    namespace: Name | None = None
    """The Service's namespace."""
    service: ServiceName | None = None
    """The Service."""
    port: Port | None = None
    """The Service port."""
    path: HttpPath = "/"
    """The request path (proxy form only)."""
    method: Literal["GET", "HEAD"] = "GET"
    """``GET`` or ``HEAD``; nothing that changes state."""
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    """The status that passes."""
    contains: Annotated[str, Field(max_length=4096)] | None = None
    """Text the body must contain."""

    @model_validator(mode="after")
    def _one_way_to_reach(self) -> HttpCheckInputs:
        proxy = (self.cluster, self.namespace, self.service, self.port)
        if self.url is not None and any(item is not None for item in proxy):
            raise_violations(self, [(("url",), "give url, or cluster, namespace, service and port, not both", None)])
        elif self.url is None and any(item is None for item in proxy):
            raise_violations(self, [((), "give url, or cluster, namespace, service and port", None)])
        return self


class TcpCheckInputs(Model):
    """Open a TCP connection."""

    host: Host
    """The host."""
    port: Port
    """The port."""


class PrometheusCheckInputs(Model):
    """Sample a PromQL query ``samples`` times, ``interval`` apart, against ``passIf`` and ``failIf``.

    Passes when every sample has data and every series meets ``passIf``; fails when
    any value meets ``failIf``; anything else (no data, NaN, a value in between) is
    inconclusive, never a pass.
    """

    query: Annotated[str, Field(min_length=1, max_length=8192)]
    """A PromQL expression giving an instant vector or a scalar, e.g. the API server's 5xx ratio."""
    pass_if: ConditionField
    """Every series of every sample must meet this, e.g. ``"<= 0.01"``."""
    fail_if: ConditionField
    """Any value meeting this fails the step, e.g. ``"> 0.05"``; must not overlap ``passIf``."""
    samples: Annotated[int, Field(ge=1, le=100)] = 3
    """How many measurements are taken."""
    interval: PositiveDuration = timedelta(minutes=1)
    """Time between measurements."""
    on_inconclusive: Literal["fail", "report"] = "fail"
    """``fail`` the step, or ``report`` the verdict in the outputs and succeed (a later step decides, e.g. an
    approval guarded by ``when``); an inconclusive verdict is never a pass."""
    url: Url | None = None
    """The Prometheus server's base URL; default the ``DRD_PROMETHEUS_URL`` setting."""

    @model_validator(mode="after")
    def _thresholds_disjoint(self) -> PrometheusCheckInputs:
        check_thresholds(self, self.pass_if, self.fail_if)
        return self


class VaultReadInputs(Model):
    """Read a KV v2 secret; its value is secret and is never shown or stored."""

    path: VaultPath
    """The secret's path under the mount."""
    mount: Mount = "secret"
    """The KV v2 mount."""
    field: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    """One field; the whole secret when omitted."""


class VaultWriteInputs(Model):
    """Write a new version of a KV v2 secret."""

    path: VaultPath
    """The secret's path under the mount."""
    mount: Mount = "secret"
    """The KV v2 mount."""
    data: Annotated[FrozenDict, Field(min_length=1)]
    """Field → value."""


class ApprovalInputs(Model):
    """Wait until a human approves (or rejects) the rest of the run; the run keeps its lock meanwhile."""

    message: Message
    """What is being approved, shown with the plan of the remaining steps."""
    approvers: tuple[Annotated[str, Field(min_length=1, max_length=253)], ...] = ()
    """Who may approve (users, or ``group:<name>``); anyone allowed to approve runs when empty."""
    timeout: PositiveDuration = timedelta(hours=24)
    """Rejected when nobody decides within this."""


class NotifyInputs(Model):
    """Send a message to drd's notification channel."""

    message: Message
    """The text (never put secrets in it)."""
    severity: Literal["info", "warning", "critical"] = "info"
    """How loud."""


class SleepInputs(Model):
    """Wait for a while (a soak, a propagation delay)."""

    duration: PositiveDuration
    """How long."""


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, bool) else value


class AssertInputs(Model):
    """Fail the step unless every condition is true."""

    that: Annotated[tuple[StrictBool, ...], BeforeValidator(_as_list), Field(min_length=1)]
    """Conditions: expressions that give true or false (or one expression giving a list of them)."""
    message: Message = "assertion failed"
    """Why the step failed, when it does."""
