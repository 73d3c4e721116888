"""Leader election timings and identity, validated so that two replicas can never act at once.

The three durations are client-go's: ``lease_duration`` (how long others wait, on their
own clocks, before taking over a lease that stopped changing), ``renew_deadline`` (how long
a leader keeps acting without a successful renewal) and ``retry_period`` (how often a
replica tries). Safety rests on ``renew_deadline < lease_duration``; the gap absorbs the
difference in clock *rates* between nodes (see docs/leader-election.md).
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass

from drd.errors import ConfigError

JITTER = 0.5
"""A candidate waits ``retry_period × [1, 1 + JITTER)`` between attempts so replicas drift apart.

client-go uses 1.2; drd keeps the worst-case take-over (``lease_duration + 2 × (1 + JITTER) × retry_period``
after the leader's last renewal) tighter.
"""


def default_identity() -> str:
    """``<hostname>_<8 random hex digits>``: unique per process, even for two processes on one host."""
    return f"{socket.gethostname()}_{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class ElectionTiming:
    """The three durations of leader election, in seconds; invalid combinations raise ConfigError."""

    lease_duration: float
    renew_deadline: float
    retry_period: float

    def __post_init__(self) -> None:
        for name in ("lease_duration", "renew_deadline", "retry_period"):
            value = getattr(self, name)
            if not value > 0:  # also rejects NaN
                raise ConfigError(f"leader election: {name} must be a positive number of seconds, got {value!r}")
        if self.renew_deadline >= self.lease_duration:
            raise ConfigError(
                f"leader election: renew_deadline ({self.renew_deadline:g}s) must be shorter than lease_duration "
                f"({self.lease_duration:g}s), so that a leader which cannot renew stops acting before another "
                "replica may take over (DRD_LEADER_RENEW_SECONDS < DRD_LEADER_LEASE_SECONDS)"
            )
        if self.retry_period > self.renew_deadline / 2:
            raise ConfigError(
                f"leader election: retry_period ({self.retry_period:g}s) must be at most half of renew_deadline "
                f"({self.renew_deadline:g}s), so that a leader gets at least two renewal attempts before it must "
                "step down (DRD_LEADER_RETRY_SECONDS)"
            )


def check_names(*, lease_name: str, namespace: str, identity: str) -> None:
    """Reject empty names with the fix in the message."""
    if not lease_name or not namespace:
        raise ConfigError("leader election: the lease name and namespace must not be empty")
    if not identity:
        raise ConfigError("leader election: the identity must not be empty (omit it for <hostname>_<random>)")
