"""What ``/readyz`` answers: whether this replica is ready, and every reason it is not.

:class:`Readiness` is a frozen snapshot the daemon assembles from the leader
elector, the configuration source and the cluster checks; ``ready`` is
computed from it by one rule so that no caller can disagree with the body:

* the **leader is known** (this replica has read the Lease and it names a
  holder, itself or another) — until then it cannot know whether to act;
* the **configuration is valid** — a bad file never stops the daemon, which
  keeps running the last good configuration, but it is not ready until the
  file is fixed, and the body says which file, where and what;
* every **inventory cluster is reachable**;
* nothing in ``other_problems`` (for example: the store is unreachable, or
  the daemon is shutting down).

Being a standby (another replica leads) is ready: readiness is health, not
leadership. Nothing in the body is a secret: :meth:`Readiness.to_json` runs
everything through :mod:`drd.redaction`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from drd import redaction
from drd.errors import Problem


@dataclass(frozen=True, slots=True)
class LeaderStatus:
    """What this replica knows of the leader Lease."""

    known: bool
    """The Lease has been read and names a holder."""
    is_self: bool = False
    """This replica holds it (and acts)."""
    holder: str | None = None
    """The holder's identity, when known."""

    @classmethod
    def unknown(cls) -> LeaderStatus:
        """The Lease has not been read yet (start-up, or the API server is unreachable)."""
        return cls(known=False)


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    """The outcome of the last configuration load."""

    valid: bool
    """The last load found no problem."""
    errors: tuple[Problem, ...] = ()
    """The problems the last load found, located (file, line, path)."""
    loaded_at: datetime | None = None
    """When the configuration in force was loaded; None when none has ever loaded."""


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """Whether one inventory cluster answered its last check."""

    reachable: bool
    error: str | None = None
    """Why not (or a problem found while reachable, such as Velero not installed)."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """A snapshot of everything ``/readyz`` reports."""

    leader: LeaderStatus
    config: ConfigStatus
    clusters: Mapping[str, ClusterStatus] = field(default_factory=dict)
    other_problems: tuple[str, ...] = ()
    """Further reasons not to be ready, as sentences (store unreachable, shutting down…)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "clusters", MappingProxyType(dict(self.clusters)))

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why this replica is not ready, one human-readable sentence each; empty when it is."""
        found: list[str] = []
        if not self.leader.known:
            found.append("leader unknown: the leader Lease has not been read yet")
        if not self.config.valid:
            count = len(self.config.errors)
            running = (
                f"running the configuration loaded at {_iso(self.config.loaded_at)}"
                if self.config.loaded_at
                else "no configuration has loaded yet"
            )
            found.append(f"configuration invalid ({count} problem{'s' if count != 1 else ''}); {running}")
            found.extend(str(problem) for problem in self.config.errors)
        elif self.config.loaded_at is None:
            found.append("no configuration has loaded yet")
        for name, cluster in sorted(self.clusters.items()):
            if not cluster.reachable:
                found.append(f'cluster "{name}" unreachable' + (f": {cluster.error}" if cluster.error else ""))
        found.extend(self.other_problems)
        return tuple(found)

    @property
    def ready(self) -> bool:
        """True when there is no reason not to be."""
        return not self.reasons

    def to_dict(self) -> dict[str, Any]:
        """The ``/readyz`` body as JSON-ready data, redacted."""
        body = {
            "ready": self.ready,
            "leader": {"known": self.leader.known, "self": self.leader.is_self, "holder": self.leader.holder},
            "config": {
                "valid": self.config.valid,
                "errors": [
                    {"file": p.file, "line": p.line, "path": p.path, "message": p.message} for p in self.config.errors
                ],
                "loaded_at": _iso(self.config.loaded_at) if self.config.loaded_at else None,
            },
            "clusters": {
                name: {"reachable": status.reachable, "error": status.error}
                for name, status in sorted(self.clusters.items())
            },
            "reasons": list(self.reasons),
        }
        redacted: dict[str, Any] = redaction.redact(body)
        return redacted

    def to_json(self) -> str:
        """The ``/readyz`` body, redacted."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else ""
