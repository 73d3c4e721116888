"""Engine crash hooks for tests: act (or die) at one step boundary, once."""

from __future__ import annotations

from collections.abc import Callable


def at_step(point: str, step: str, action: Callable[[], None]) -> Callable[[str, str], None]:
    """An engine crash hook calling ``action`` once, the first time ``point`` of ``step`` is reached.

    ``point`` is ``after-start``, ``after-effect`` or ``after-finish``; ``action`` may change the world
    (seal Vault, take a cluster down) or raise to stand for drd being killed there.
    """
    fired: list[bool] = []

    def hook(at: str, step_id: str) -> None:
        if (at, step_id) == (point, step) and not fired:
            fired.append(True)
            action()

    return hook
