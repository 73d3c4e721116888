"""drd's typed errors.

Every error drd raises on purpose derives from :class:`DrdError`. Errors are
classified once, by type, into *permanent* (retrying cannot help: a policy is
invalid, a version skew is forbidden) and *temporary* (retry later: an API was
throttled, Velero is not ready yet). The scheduler's job wrapper and the
runbook engine decide retry-or-give-up by reading only this type.

Messages must never contain secret values; callers pass names, not contents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class DrdError(Exception):
    """Base of every error drd raises deliberately."""


class ConfigError(DrdError):
    """Configuration or usage is wrong; the CLI exits with code 2."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in a configuration file.

    ``path`` is the location inside the document in dotted/indexed form
    (``drills[2].verify[0].url``); ``file`` is the file as the user named it;
    ``line`` (1-based) points an editor at the spot when it is known.
    """

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        location = f"{where}: {self.path}" if self.path else where
        return f"{location}: {self.message}"


class PolicyError(ConfigError):
    """One or more documents are invalid; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("PolicyError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))


class PermanentError(DrdError):
    """Retrying will not help; the operation fails (or compensates)."""


class TemporaryError(DrdError):
    """The operation may succeed later; ``delay`` is the suggested wait in seconds."""

    def __init__(self, message: str, *, delay: float = 10.0) -> None:
        super().__init__(message)
        self.delay = delay


class VerificationFailed(PermanentError):
    """A check that must pass did not; nothing is reported as passed."""


class NotLeader(TemporaryError):
    """This replica does not hold the leader lease and must not act."""
