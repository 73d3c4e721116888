"""Lease records (coordination.k8s.io/v1) as leader election and runbook locks read and write them.

Pure data and formatting, no I/O: :mod:`drd.daemon.leader` and the runbook locks do the talking.
A ``coordination.k8s.io/v1`` Lease's spec holds ``holderIdentity``,
``leaseDurationSeconds``, ``acquireTime``, ``renewTime`` (both MicroTime:
RFC 3339 in UTC with microseconds) and ``leaseTransitions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from drd.clients.kube_resources import LEASES

MANAGED_BY = {"app.kubernetes.io/managed-by": "drd"}
"""Labels of a Lease drd creates."""


def micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime: ``2026-11-22T03:04:05.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def duration_seconds(lease_duration: float) -> int:
    """``leaseDurationSeconds`` is a whole number: round up, so others never wait less than we promised."""
    return max(1, math.ceil(lease_duration))


@dataclass(frozen=True, slots=True)
class LeaseSpec:
    """The election record of a Lease, as read (missing fields tolerated) or to be written."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0

    @classmethod
    def of(cls, lease: dict[str, Any]) -> LeaseSpec:
        """The record of a Lease object; tolerant of missing or mistyped fields (a hand-made Lease)."""
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=_int(spec.get("leaseDurationSeconds")),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            transitions=_int(spec.get("leaseTransitions")),
        )

    def to_spec(self) -> dict[str, Any]:
        """The ``spec`` dict to write."""
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration_seconds,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
            "leaseTransitions": self.transitions,
        }


def claimed(current: LeaseSpec | None, *, identity: str, now: str, duration_seconds: int) -> LeaseSpec:
    """The record to write to hold the lease: a renewal keeps acquireTime and the transition count,
    a take-over (or a first creation, ``current=None``) starts a new term and counts a transition."""
    if current is None:
        return LeaseSpec(identity, duration_seconds, now, now, 0)
    if current.holder == identity:
        return replace(
            current, duration_seconds=duration_seconds, acquire_time=current.acquire_time or now, renew_time=now
        )
    return LeaseSpec(identity, duration_seconds, now, now, current.transitions + 1)


def released(current: LeaseSpec, *, now: str) -> LeaseSpec:
    """The record that gives the lease up: nobody holds it, so anyone may take it at once (client-go's release)."""
    return replace(current, holder="", duration_seconds=1, acquire_time=now, renew_time=now)


def new_lease(*, name: str, namespace: str, spec: LeaseSpec) -> dict[str, Any]:
    """A Lease object to create."""
    return {
        "apiVersion": LEASES.api_version,
        "kind": LEASES.kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec.to_spec(),
    }


def with_spec(lease: dict[str, Any], spec: LeaseSpec) -> dict[str, Any]:
    """The same object (metadata and resourceVersion kept, for optimistic concurrency) with a new record."""
    return {**lease, "spec": {**(lease.get("spec") or {}), **spec.to_spec()}}


@dataclass(frozen=True, slots=True)
class LeaseObservation:
    """What one elector knows of the lease, for ``/readyz`` and ``drd status``.

    Times are this process's own wall clock at the moment it *observed* something, never the
    holder's timestamps: a holder with a skewed clock cannot make it look fresh or stale.
    """

    holder: str | None
    """The identity in the lease when last read; None when unknown, absent or released."""
    holder_since: datetime | None
    """When this process first saw ``holder`` hold the lease."""
    last_renewal_observed: datetime | None
    """When this process last saw the record change (a renewal, an acquisition, a release)."""
    expires: datetime | None
    """When the holder's lease runs out unless renewed, by this process's clock."""
    transitions: int
    """``leaseTransitions`` as last read."""
    leading: bool
    """Whether this process is the leader now."""
    error: str | None
    """Why the last attempt to read or write the lease failed; None when it worked."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (ISO times)."""
        return {
            "holder": self.holder,
            "holder_since": _iso(self.holder_since),
            "last_renewal_observed": _iso(self.last_renewal_observed),
            "expires": _iso(self.expires),
            "transitions": self.transitions,
            "leading": self.leading,
            "error": self.error,
        }


def expiry(observed_at: datetime | None, spec: LeaseSpec | None, *, default_seconds: int) -> datetime | None:
    """Local wall time at which an observed record lapses (None when nobody holds it).

    The holder's own ``leaseDurationSeconds`` counts; ``default_seconds`` stands in when a hand-made Lease lacks it.
    """
    if observed_at is None or spec is None or not spec.holder:
        return None
    return observed_at + timedelta(seconds=spec.duration_seconds or default_seconds)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0
