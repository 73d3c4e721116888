"""Fault injection for the HTTP layer: error rates, added latency, scripted failures.

Faults are decided per request, before routing, from a seeded RNG so a
single-threaded test sees the same sequence on every run. ``error_rate`` picks a
fraction of requests to fail with ``status`` (500, 503 or 429 — the latter two
with ``Retry-After``); ``fail_next`` scripts the next N matching requests;
``latency`` delays every matching response. ``methods`` and ``path_pattern``
narrow which requests are affected (e.g. only writes, only Velero's group).
Taking the whole server down is :meth:`KubeEmulator.go_down`, not a fault here.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from drd.sandbox.kube import errors


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to inject, and into which requests."""

    error_rate: float = 0.0
    latency: float = 0.0
    status: int = 503
    retry_after: int = 1
    methods: frozenset[str] | None = None
    path_pattern: re.Pattern[str] | None = None

    def applies_to(self, method: str, path: str) -> bool:
        """Whether a request is in scope."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.path_pattern is None or self.path_pattern.search(path) is not None


@dataclass(frozen=True, slots=True)
class Decision:
    """The fault chosen for one request: a delay, and maybe an error to answer with."""

    delay: float = 0.0
    error: errors.KubeApiError | None = None


@dataclass
class _Script:
    remaining: int
    status: int
    retry_after: int
    plan: FaultPlan = field(default_factory=FaultPlan)


class Faults:
    """Thread-safe fault configuration and per-request decisions."""

    def __init__(self, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - fault sampling, not security; seeded for reproducibility
        self._plan = FaultPlan()
        self._scripts: list[_Script] = []
        self.injected = 0
        """How many requests have been failed on purpose so far."""
        self.exempt_user_agents: tuple[str, ...] = ()
        """User-Agent prefixes never faulted: in-cluster controllers, which reach a real API server over the
        cluster network, keep working while faults hit clients from outside (drd)."""

    def set(
        self,
        *,
        error_rate: float = 0.0,
        latency: float = 0.0,
        status: int = 503,
        retry_after: int = 1,
        methods: Iterable[str] | None = None,
        path_pattern: str | None = None,
        seed: int | None = None,
    ) -> None:
        """Replace the standing fault plan (all defaults: no faults)."""
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be within [0, 1], not {error_rate}")
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, not {latency}")
        plan = FaultPlan(
            error_rate=error_rate,
            latency=latency,
            status=status,
            retry_after=retry_after,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
            path_pattern=re.compile(path_pattern) if path_pattern else None,
        )
        with self._lock:
            self._plan = plan
            if seed is not None:
                self._rng.seed(seed)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: int = 1,
        methods: Iterable[str] | None = None,
        path_pattern: str | None = None,
    ) -> None:
        """Fail the next ``count`` requests that match, whatever the error rate."""
        plan = FaultPlan(
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
            path_pattern=re.compile(path_pattern) if path_pattern else None,
        )
        with self._lock:
            self._scripts.append(_Script(count, status, retry_after, plan))

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._plan = FaultPlan()
            self._scripts.clear()

    def decide(self, method: str, path: str, user_agent: str = "") -> Decision:
        """The fault for one request (usually none)."""
        if user_agent and user_agent.startswith(self.exempt_user_agents):
            return Decision()
        with self._lock:
            for script in self._scripts:
                if script.remaining > 0 and script.plan.applies_to(method, path):
                    script.remaining -= 1
                    self._scripts = [s for s in self._scripts if s.remaining > 0]
                    self.injected += 1
                    return Decision(error=errors.for_status_code(script.status, retry_after=script.retry_after))
            plan = self._plan
            if not plan.applies_to(method, path):
                return Decision()
            fail = plan.error_rate > 0 and self._rng.random() < plan.error_rate
            if fail:
                self.injected += 1
        error = errors.for_status_code(plan.status, retry_after=plan.retry_after) if fail else None
        return Decision(delay=plan.latency, error=error)
