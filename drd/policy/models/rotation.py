"""``RotationPolicy``: a credential drd rotates through Vault, where it is delivered, and how the new one is proven.

A rotation creates the new credential (pending), delivers it to every target
Secret, restarts the consumers that need it, verifies it is in use, promotes
it in Vault KV v2 (check-and-set), then deactivates and, after a grace period,
deletes the old one. The old credential stays valid until the new one is
verified (where the source allows two at once: IAM keys, generated values; a
database static role is a hard cut-over done by Vault, documented as such).

Rules that need only this document are checked here (the fields delivered
exist for the source; ``velero-repo-credentials`` is never a target). Clusters
are checked against the inventory in :func:`check_rotation_policy`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from drd.policy.catalog import Catalog, Finding, error
from drd.policy.durations import Duration, PositiveDuration
from drd.policy.locations import Loc
from drd.policy.models.base import Document, Model, raise_violations
from drd.policy.models.checks import HttpCheck, WorkloadsReadyCheck
from drd.policy.models.cluster import Cluster
from drd.policy.names import Matches, Name, ObjectName
from drd.policy.schedule import ScheduleField

NEVER_ROTATED = frozenset({"velero-repo-credentials"})
"""Secrets drd refuses to rotate: Velero's repository key (changing it makes every existing backup unreadable)."""

KvPath = Annotated[
    str,
    Matches(
        r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        'a KV path relative to the mount, such as "drd/shop/api-token" (no leading or trailing "/")',
        512,
        ("drd/shop/api-token",),
    ),
]
IamUser = Annotated[
    str, Matches(r"^[\w+=,.@-]{1,64}$", "an IAM user name (letters, digits and +=,.@_-)", 64, ("velero",))
]
SecretKey = Annotated[
    str, Matches(r"^[-._a-zA-Z0-9]+$", "a Secret data key (letters, digits, -, _ and .)", 253, ("token",))
]


class CredentialField(StrEnum):
    """What a delivered Secret key holds."""

    VALUE = "value"
    """The generated value."""
    ACCESS_KEY_ID = "accessKeyId"
    SECRET_ACCESS_KEY = "secretAccessKey"  # noqa: S105 - a field name, not a secret
    AWS_CREDENTIALS = "awsCredentials"
    """An AWS shared-credentials file with a ``[default]`` profile, as Velero's ``cloud`` key holds."""
    USERNAME = "username"
    PASSWORD = "password"  # noqa: S105 - a field name, not a secret


class GeneratedSource(Model):
    """A random value drd generates (an API token, a shared secret)."""

    type: Literal["generated"]
    length: Annotated[int, Field(ge=16, le=512)] = 32
    """Characters."""
    alphabet: Literal["alphanumeric", "hex"] = "alphanumeric"

    @property
    def fields(self) -> frozenset[CredentialField]:
        return frozenset({CredentialField.VALUE})


class IamAccessKeySource(Model):
    """A new access key of an IAM user (Velero's cloud credentials): two keys may be valid at once."""

    type: Literal["iamAccessKey"]
    user: IamUser
    """The IAM user whose key is rotated."""
    bucket: Annotated[str, Field(min_length=3, max_length=63)] | None = None
    """A bucket the key must be able to list (the verification's real S3 call); default: none, STS only."""
    prefix: str = ""
    """The prefix listed in ``bucket``."""

    @property
    def fields(self) -> frozenset[CredentialField]:
        return frozenset(
            {CredentialField.ACCESS_KEY_ID, CredentialField.SECRET_ACCESS_KEY, CredentialField.AWS_CREDENTIALS}
        )


class DatabaseLogin(Model):
    """Where the verification logs in with the new password."""

    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 5432
    database: Annotated[str, Field(min_length=1, max_length=63)]


class DatabaseStaticRoleSource(Model):
    """A Vault database static role: Vault changes the password (a hard cut-over), drd propagates and verifies it."""

    type: Literal["databaseStaticRole"]
    mount: Name = "database"
    role: Name
    login: DatabaseLogin

    @property
    def fields(self) -> frozenset[CredentialField]:
        return frozenset({CredentialField.USERNAME, CredentialField.PASSWORD})


Source = Annotated[GeneratedSource | IamAccessKeySource | DatabaseStaticRoleSource, Field(discriminator="type")]


class VaultLocation(Model):
    """Where the current credential lives in Vault KV v2."""

    mount: Name = "secret"
    path: KvPath


class Delivery(Model):
    """A Kubernetes Secret in some clusters that receives the credential."""

    clusters: Annotated[tuple[Name, ...], Field(min_length=1, max_length=200)]
    namespace: Name
    secret: ObjectName
    keys: Annotated[Mapping[SecretKey, CredentialField], Field(min_length=1, max_length=20)]
    """Secret data key → what it holds."""
    required: bool = True
    """Promotion waits until every required target has the new credential (an unreachable cluster pauses it)."""


class ConsumerKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"
    DAEMON_SET = "DaemonSet"


class Consumer(Model):
    """A workload restarted (rolling) after delivery because it reads the Secret only at start."""

    clusters: Annotated[tuple[Name, ...], Field(min_length=1, max_length=200)]
    namespace: Name
    kind: ConsumerKind
    name: ObjectName


Verification = Annotated[HttpCheck | WorkloadsReadyCheck, Field(discriminator="type")]


class RotationPolicySpec(Model):
    """What is rotated, when, where it goes and how the new one is proven."""

    source: Source
    vault: VaultLocation
    schedule: ScheduleField | None = None
    """When to rotate (cron, a macro or ``@every``); omitted: only by ``drd rotate run`` or ``maxAge``."""
    max_age: PositiveDuration | None = None
    """Rotate when the current credential is older than this."""
    deliver: Annotated[tuple[Delivery, ...], Field(min_length=1, max_length=50)]
    consumers: tuple[Consumer, ...] = ()
    verify: tuple[Verification, ...] = ()
    """Checks run in every required delivery cluster and namespace after the consumers restarted."""
    verify_timeout: PositiveDuration = timedelta(minutes=5)
    """How long the new credential may take to be proven (IAM propagation, BSL validation, rollouts)."""
    grace_period: Duration = timedelta(hours=1)
    """Between promotion and deleting the old credential (it is deactivated at promotion, where possible)."""

    @model_validator(mode="after")
    def _deliverable(self) -> RotationPolicySpec:
        violations: list[tuple[Loc, str, Any]] = []
        offered = self.source.fields
        for index, delivery in enumerate(self.deliver):
            if delivery.secret in NEVER_ROTATED:
                violations.append(
                    (
                        ("deliver", index, "secret"),
                        f"{delivery.secret} is never rotated: it is Velero's repository key and changing it makes "
                        "every existing backup unreadable; drd keeps it in Vault (escrow) instead",
                        delivery.secret,
                    )
                )
            for key, field in delivery.keys.items():
                if field not in offered:
                    accepted = ", ".join(sorted(offered))
                    violations.append(
                        (
                            ("deliver", index, "keys", key),
                            f'a {self.source.type} source has no field "{field}" (it offers: {accepted})',
                            field,
                        )
                    )
        raise_violations(self, violations)
        return self


class RotationPolicy(Document):
    """A rotated credential."""

    kind: Literal["RotationPolicy"]
    spec: RotationPolicySpec


def check_rotation_policy(policy: RotationPolicy, catalog: Catalog) -> Iterator[Finding]:
    """Cross-document rules: every cluster a delivery or consumer names is in the inventory."""
    clusters = catalog.of_kind(Cluster)
    known = ", ".join(sorted(clusters)) or "none"
    places: list[tuple[Loc, tuple[str, ...]]] = [
        (("spec", "deliver", i, "clusters"), d.clusters) for i, d in enumerate(policy.spec.deliver)
    ]
    places += [(("spec", "consumers", i, "clusters"), c.clusters) for i, c in enumerate(policy.spec.consumers)]
    for where, names in places:
        for position, name in enumerate(names):
            if name not in clusters and not catalog.is_invalid(Cluster, name):
                yield error((*where, position), f'cluster "{name}" is not in the inventory (known: {known})')
