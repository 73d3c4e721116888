"""``DrillPolicy``: how often recovery of an application is proven, where, how fast, and how it is checked.

A drill restores the newest good backup of a backup policy into an isolated
``drill-…`` namespace of a DR cluster, runs the ``verify`` checks, measures
the achieved RTO and tears everything down. Rules that need only this
document are checked here (timeouts must fit together, check names are
unique); references to other documents are checked in :mod:`drd.policy.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from drd.policy.durations import Duration, PositiveDuration, format_duration
from drd.policy.locations import Loc
from drd.policy.models.base import Document, Model, Scheduled, raise_violations
from drd.policy.models.checks import Check
from drd.policy.names import DNS_SUBDOMAIN, Matches, Name, Quantity, short

NamespacePrefix = Annotated[
    str,
    Matches(
        r"^[a-z0-9][-a-z0-9]*$",
        'a namespace prefix such as "drill-" (at most 30 lowercase letters, digits and -, not starting with -)',
        30,
        ("drill-",),
    ),
]


class WorkloadKind(StrEnum):
    """Workloads that can be stopped in a drill: scaled to zero, or suspended for CronJobs."""

    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"
    REPLICA_SET = "ReplicaSet"
    CRON_JOB = "CronJob"


@dataclass(frozen=True)
class WorkloadRef:
    """``Deployment/payment-consumer``: a workload in every restored namespace."""

    kind: WorkloadKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def _workload_ref(value: Any) -> WorkloadRef:
    if isinstance(value, WorkloadRef):
        return value
    accepted = f'"kind/name" with kind one of {", ".join(WorkloadKind)}, e.g. "CronJob/newsletter"'
    if not isinstance(value, str) or value.count("/") != 1:
        raise ValueError(f"expected {accepted}")
    kind_text, name = value.split("/")
    kinds = {kind.lower(): kind for kind in WorkloadKind}
    if kind_text.lower() not in kinds:
        raise ValueError(f'cannot stop a "{short(kind_text)}"; expected {accepted}')
    Matches(DNS_SUBDOMAIN, "a valid object name", 253, ()).check(name)
    return WorkloadRef(kinds[kind_text.lower()], name)


WorkloadRefField = Annotated[
    WorkloadRef,
    PlainValidator(_workload_ref),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[A-Za-z]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
            "examples": ["CronJob/newsletter", "Deployment/payment-consumer"],
        }
    ),
]


class ResourceQuota(Model):
    """Caps what a drill namespace may use, so a drill never starves the DR cluster."""

    cpu: Quantity = "16"
    """Total CPU requests."""
    memory: Quantity = "64Gi"
    """Total memory requests."""
    storage: Quantity = "1Ti"
    """Total storage requested by PersistentVolumeClaims."""
    pods: Annotated[int, Field(ge=1, le=100_000)] = 200
    """Number of pods."""


class ContainerResources(Model):
    """CPU and memory for one container."""

    cpu: Quantity
    memory: Quantity


class LimitRange(Model):
    """Defaults for containers that declare no resources (a quota rejects pods without requests otherwise)."""

    default_request: ContainerResources = ContainerResources(cpu="100m", memory="128Mi")
    """Requests given to containers without requests."""
    default_limit: ContainerResources = ContainerResources(cpu="2", memory="2Gi")
    """Limits given to containers without limits."""


class Isolation(Model):
    """How a drill is kept from touching anything but its own namespaces."""

    namespace_prefix: NamespacePrefix = "drill-"
    """Restored namespace ``shop`` becomes ``<prefix>shop``."""
    deny_network: bool = True
    """A NetworkPolicy denies ingress from other namespaces and egress beyond the namespace and DNS."""
    resource_quota: ResourceQuota | None = ResourceQuota()
    """A ResourceQuota per drill namespace; ``null`` for none."""
    limit_range: LimitRange | None = LimitRange()
    """A LimitRange per drill namespace; ``null`` for none."""
    scale_to_zero: tuple[WorkloadRefField, ...] = ()
    """Workloads that must not run in a drill (``CronJob/newsletter`` is suspended, others scaled to 0)."""

    def namespace_for(self, source: str) -> str:
        """The drill namespace a source namespace is restored into."""
        return self.namespace_prefix + source


class Teardown(Model):
    """When drill namespaces are deleted."""

    keep_failed_for: Duration = timedelta(0)
    """Keep the namespaces of a failed drill this long for inspection; default 0s (delete at once)."""
    ttl: PositiveDuration | None = None
    """Hard limit: drill namespaces older than this are deleted whatever happened; default see ``namespaceTtl``."""


class DrillObjectives(Model):
    """What a drill must achieve."""

    rto: PositiveDuration
    """Recovery time objective: restore start to verified application."""


class DrillPolicySpec(Scheduled):
    """How and where recovery of an application is proven."""

    backup_policy: Name
    """The BackupPolicy whose newest good backup is restored."""
    target: Name
    """The inventory cluster restored into; never a ``primary``, nor the backup's own cluster."""
    objectives: DrillObjectives
    """The RTO the drill must meet."""
    allow_partially_failed_backup: bool = False
    """Restore a PartiallyFailed backup when it is the newest; default only Completed backups."""
    isolation: Isolation = Isolation()
    """Namespace mapping, network isolation, quotas, workloads to stop."""
    verify: tuple[Check, ...] = ()
    """The checks that prove the restored application works, run in order, each also bounded by ``timeout``."""
    teardown: Teardown = Teardown()
    """When drill namespaces are deleted."""
    timeout: PositiveDuration | None = None
    """Abort the drill after this long; default twice the RTO (see ``effective_timeout``)."""

    @property
    def effective_timeout(self) -> timedelta:
        """``timeout``, or twice the RTO: long enough to measure a missed RTO, short enough to end a stuck drill."""
        return self.timeout or 2 * self.objectives.rto

    @property
    def namespace_ttl(self) -> timedelta:
        """``teardown.ttl``, or the longer of a day and (timeout + keepFailedFor)."""
        return self.teardown.ttl or max(timedelta(days=1), self.effective_timeout + self.teardown.keep_failed_for)

    @model_validator(mode="after")
    def _fit_together(self) -> DrillPolicySpec:
        violations: list[tuple[Loc, str, Any]] = []
        rto, timeout = self.objectives.rto, self.effective_timeout
        if timeout < rto:
            violations.append(
                (
                    ("timeout",),
                    f"timeout {format_duration(timeout)} is shorter than the rto "
                    f"{format_duration(rto)}: a drill could be aborted before it can meet it",
                    format_duration(timeout),
                )
            )
        needed = timeout + self.teardown.keep_failed_for
        if self.teardown.ttl is not None and self.teardown.ttl < needed:
            violations.append(
                (
                    ("teardown", "ttl"),
                    f"ttl {format_duration(self.teardown.ttl)} is shorter than the "
                    f"drill timeout plus keepFailedFor ({format_duration(needed)}): namespaces would be "
                    "deleted under a running or inspected drill",
                    format_duration(self.teardown.ttl),
                )
            )
        names = [check.name for check in self.verify]
        for index, name in enumerate(names):
            if name is not None and name in names[:index]:
                first = names.index(name)
                violations.append((("verify", index, "name"), f'"{name}" is already the name of verify[{first}]', name))
        raise_violations(self, violations)
        return self


class DrillPolicy(Document):
    """How often and where recovery of an application is proven, and how fast it must be."""

    kind: Literal["DrillPolicy"]
    spec: DrillPolicySpec
