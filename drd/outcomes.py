"""The vocabulary every workflow reports in: Velero's phases, and one Outcome per unit of work.

Workflows *return* an :class:`Outcome`; exactly one place (the recorder in the
daemon/CLI) writes it to the store, the metrics and the canonical log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    """Lifecycle of a run, named as Velero names its phases."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    WAITING = "Waiting"
    COMPLETED = "Completed"
    PARTIALLY_FAILED = "PartiallyFailed"
    FAILED = "Failed"
    FAILED_VALIDATION = "FailedValidation"
    SKIPPED = "Skipped"

    @property
    def terminal(self) -> bool:
        """True once the run can no longer change."""
        return self in _TERMINAL

    @property
    def succeeded(self) -> bool:
        """Only a full success counts as success; PartiallyFailed never does."""
        return self is Phase.COMPLETED


_TERMINAL = frozenset({Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED, Phase.FAILED_VALIDATION, Phase.SKIPPED})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one unit of work (a backup, a drill, a restore, a rotation…) achieved."""

    kind: str
    subject: str
    phase: Phase
    started: datetime
    finished: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float:
        """Wall time of the unit of work."""
        return (self.finished - self.started).total_seconds()

    def fields(self) -> dict[str, Any]:
        """Flat key/values for the canonical log line."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "phase": self.phase.value,
            "duration_s": round(self.duration_seconds, 3),
            **dict(self.details),
        }
