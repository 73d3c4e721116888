"""Exit codes of the command-line contract (design.md): scripts rely on them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the process tells its caller."""

    OK = 0
    """The operation succeeded."""
    FAILED = 1
    """The operation ran and failed: a drill failed, a restore was refused."""
    USAGE = 2
    """Usage or configuration error: nothing was attempted."""
    INTERRUPTED = 130
    """Ctrl-C."""
