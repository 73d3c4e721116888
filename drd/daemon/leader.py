"""Leader election over a ``coordination.k8s.io/v1`` Lease: of several drd replicas, exactly one acts.

The algorithm is client-go's ``leaderelection``. Every ``retry_period`` a replica reads
the Lease and

* creates it, holding it, when it is absent;
* takes it over when nobody holds it (released), or when its record has not changed for
  ``leaseDurationSeconds`` **measured on this replica's clock from the moment it saw the
  record change** (another node's ``renewTime`` is never compared with our clock);
* renews it (``renewTime`` = now) when it is already ours.

Every write is a PUT carrying the resourceVersion that was read, so two replicas racing
on one version cannot both win: the loser gets a Conflict, re-reads and re-decides.
``leaseTransitions`` counts holder changes.

The leader must prove it still holds the lease: a renewal counts from the moment its
write was *sent*, and if no renewal succeeds within ``renew_deadline`` the elector stops
leading — :attr:`LeaderElector.is_leader` turns false by itself at that instant (even if
the loop thread is stuck in a request), and ``on_stopped_leading`` runs then, without
waiting for a hanging request. Others can take over only ``lease_duration`` after they
saw that write, and ``renew_deadline < lease_duration`` is enforced, so the old leader
has stopped acting before a new one starts (given clocks that tick at similar rates: see
docs/leader-election.md). On a graceful stop the elector stops acting *first*, then
releases the lease (empty holder) so another replica takes over at its next attempt.

Why not ``kubernetes.leaderelection`` (the house rule's first choice): drd.daemon may not
import ``kubernetes`` (only drd.clients speaks to the API), and that elector is built on
the client's typed APIs and model classes, reads wall time itself (``time.time()``,
naive ``datetime.now()``), runs ``onstarted_leading`` on a thread of its own, renews with
blocking calls that can overrun the renew deadline, and returns for good after losing.
drd needs an injected :class:`~drd.clock.Clock` (tests drive time), drd's typed errors
(:class:`~drd.clients.errors.KubeConflict`, ``KubeUnavailable``…) and the stop-acting-first
guarantee above, so it runs the same algorithm over :class:`~drd.clients.kube.KubeClient`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drd import logs
from drd.clients.errors import KubeAlreadyExists, KubeConflict, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import LEASES
from drd.clock import Clock
from drd.daemon import leader_config
from drd.errors import ConfigError, TemporaryError
from drd.operations import leases as leader_lease
from drd.operations.leases import LeaseObservation, LeaseSpec
from drd.settings import LeaderSettings

log = logs.get_logger(__name__)

CONFLICT_ROUNDS = 3
"""How many times one attempt re-reads and retries after a 409 Conflict."""
_TICK = 0.02
"""Seconds between checks of a deadline or a stop request while waiting."""


class LeaseNamespaceMissing(ConfigError):
    """The Lease's namespace does not exist: drd does not create it (the Helm chart and ``drd sandbox`` do)."""


class LeaseRequestTimeout(TemporaryError):
    """The API did not answer before the leader's renew deadline."""


@dataclass(frozen=True, slots=True)
class _Attempt:
    acquired: bool = False
    started: float = 0.0
    """Monotonic time just before the successful write: the lease is proven from then on."""
    error: Exception | None = None


class LeaderElector:
    """Campaigns for one Lease and keeps it while the API lets it renew.

    Use :meth:`start`/:meth:`stop` (a thread of its own) or :meth:`run` (the caller's thread);
    :meth:`step` is one round, for callers that drive time themselves. Callbacks run on the
    elector's thread and must return promptly: ``on_stopped_leading`` returns once the work
    it guards has stopped; ``on_started_leading`` raising makes the elector step down and
    release the lease; ``on_new_leader(identity)`` is told of each new holder, this one included.
    """

    def __init__(
        self,
        kube: KubeClient,
        *,
        lease_name: str,
        namespace: str,
        identity: str | None = None,
        lease_duration: float,
        renew_deadline: float,
        retry_period: float,
        clock: Clock,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        release_on_cancel: bool = True,
    ) -> None:
        identity = leader_config.default_identity() if identity is None else identity
        leader_config.check_names(lease_name=lease_name, namespace=namespace, identity=identity)
        leader_config.ElectionTiming(lease_duration, renew_deadline, retry_period)  # raises ConfigError
        self.lease_name = lease_name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._kube = kube
        self._clock = clock
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_new_leader = on_new_leader
        self._jitter = random.Random()  # noqa: S311 - retry jitter, not security

        self._lock = threading.Lock()
        self._leading = False
        self._valid_until = 0.0
        self._observed: LeaseSpec | None = None
        self._observed_at = 0.0
        self._observed_wall: datetime | None = None
        self._holder_since: datetime | None = None
        self._reported_holder: str | None = None
        self._error: str | None = None

        self._inflight: threading.Thread | None = None
        self._stop = threading.Event()
        self._release_on_exit = release_on_cancel
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls,
        kube: KubeClient,
        settings: LeaderSettings,
        *,
        clock: Clock,
        identity: str | None = None,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        release_on_cancel: bool = True,
    ) -> LeaderElector:
        """An elector configured from ``DRD_LEADER_*`` settings."""
        return cls(
            kube,
            lease_name=settings.lease_name,
            namespace=settings.namespace,
            identity=identity,
            lease_duration=settings.lease_duration_seconds,
            renew_deadline=settings.renew_deadline_seconds,
            retry_period=settings.retry_period_seconds,
            clock=clock,
            on_started_leading=on_started_leading,
            on_stopped_leading=on_stopped_leading,
            on_new_leader=on_new_leader,
            release_on_cancel=release_on_cancel,
        )

    # ------------------------------------------------------------------ what others read

    @property
    def is_leader(self) -> bool:
        """Whether this replica may act now: it leads and its last renewal is younger than ``renew_deadline``."""
        with self._lock:
            return self._leading and self._clock.monotonic() < self._valid_until

    @property
    def leader_identity(self) -> str | None:
        """The holder seen at the last read of the lease (this replica's identity when leading); None if none."""
        with self._lock:
            return (self._observed.holder or None) if self._observed else None

    @property
    def lease_observed(self) -> LeaseObservation:
        """What this replica knows of the lease, for ``/readyz``."""
        leading = self.is_leader
        with self._lock:
            spec = self._observed
            return LeaseObservation(
                holder=(spec.holder or None) if spec else None,
                holder_since=self._holder_since if spec and spec.holder else None,
                last_renewal_observed=self._observed_wall,
                expires=leader_lease.expiry(self._observed_wall, spec, default_seconds=self._duration_seconds),
                transitions=spec.transitions if spec else 0,
                leading=leading,
                error=self._error,
            )

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Campaign on a background thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("leader elector already started")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="drd-leader-elector", daemon=True)
        self._thread.start()

    def stop(self, *, release: bool | None = None, timeout: float | None = None) -> None:
        """Stop campaigning: stop acting, then (``release``, default ``release_on_cancel``) hand the lease over."""
        self._release_on_exit = self.release_on_cancel if release is None else release
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self, stop: threading.Event) -> None:
        """Campaign, lead and renew until ``stop`` is set; then stop acting and (maybe) release. Never raises."""
        self._stop = stop
        log.info("leader_election_started", lease=self._lease_ref, identity=self.identity)
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception:
                    log.exception("leader_election_step_failed", lease=self._lease_ref)
                self._pause(stop, self._next_delay())
        finally:
            self._shutdown()

    def step(self) -> bool:
        """One round: step down if the renew deadline has passed, acquire or renew once, report; returns is_leader."""
        self._check_deadline()
        attempt = self._attempt()
        self._record_error(attempt.error)
        self._report_new_leader()
        with self._lock:
            leading, holder = self._leading, self._observed.holder if self._observed else ""
        if attempt.acquired and self._clock.monotonic() < attempt.started + self.renew_deadline:
            with self._lock:
                self._valid_until = attempt.started + self.renew_deadline
                self._leading = True
            if not leading:
                self._started_leading()
        elif leading and holder != self.identity:
            self._stop_leading("lease_taken", holder=holder or None)
        else:
            self._check_deadline()
        return self.is_leader

    def release(self) -> bool:
        """Stop acting, then give the lease up (empty holder) so another replica can take it at once.

        Returns whether a lease of ours was released. Best effort: if the API cannot be
        reached, the lease simply expires for the others after ``lease_duration``.
        """
        return self._release(reason="released")

    def _release(self, *, reason: str) -> bool:
        self._stop_leading(reason)
        with self._lock:
            ours = self._observed is not None and self._observed.holder == self.identity
        if not ours:
            return False
        try:
            for _ in range(CONFLICT_ROUNDS):
                lease = self._kube.find(LEASES, self.lease_name, namespace=self.namespace)
                if lease is None or LeaseSpec.of(lease).holder != self.identity:
                    return False
                released = leader_lease.released(LeaseSpec.of(lease), now=leader_lease.micro_time(self._clock.now()))
                try:
                    updated = self._kube.replace(
                        LEASES, leader_lease.with_spec(lease, released), namespace=self.namespace
                    )
                except KubeConflict:
                    continue
                self._observe(updated)
                self._report_new_leader()
                log.info("leader_released", lease=self._lease_ref, identity=self.identity)
                return True
        except Exception as exc:
            log.warning("leader_release_failed", lease=self._lease_ref, identity=self.identity, error=str(exc))
        return False

    # ------------------------------------------------------------------ transitions

    def _started_leading(self) -> None:
        with self._lock:
            transitions = self._observed.transitions if self._observed else 0
        log.info("leader_acquired", lease=self._lease_ref, identity=self.identity, transitions=transitions)
        if self._on_started is None:
            return
        try:
            self._on_started()
        except Exception:
            log.exception("leader_callback_failed", callback="on_started_leading", lease=self._lease_ref)
            self._release(reason="callback_failed")

    def _stop_leading(self, reason: str, **fields: Any) -> None:
        with self._lock:
            if not self._leading:
                return
            self._leading = False
        level = log.info if reason in ("released", "stopped") else log.warning
        level("leader_lost", lease=self._lease_ref, identity=self.identity, reason=reason, **fields)
        if self._on_stopped is None:
            return
        try:
            self._on_stopped()
        except Exception:
            log.exception("leader_callback_failed", callback="on_stopped_leading", lease=self._lease_ref)

    def _check_deadline(self) -> None:
        with self._lock:
            overdue = self._leading and self._clock.monotonic() >= self._valid_until
        if overdue:
            self._stop_leading("renew_deadline_exceeded", renew_deadline_seconds=self.renew_deadline)

    def _report_new_leader(self) -> None:
        with self._lock:
            holder = (self._observed.holder or None) if self._observed else None
            if holder == self._reported_holder:
                return
            self._reported_holder = holder
        if holder is None:
            return
        if holder != self.identity:
            log.info("leader_observed", lease=self._lease_ref, identity=self.identity, leader=holder)
        if self._on_new_leader is None:
            return
        try:
            self._on_new_leader(holder)
        except Exception:
            log.exception("leader_callback_failed", callback="on_new_leader", lease=self._lease_ref)

    def _record_error(self, error: Exception | None) -> None:
        message = str(error) if error is not None else None
        with self._lock:
            previous, self._error = self._error, message
        if message is not None and message != previous:
            level = log.error if isinstance(error, ConfigError) else log.warning
            level("leader_election_failed", lease=self._lease_ref, identity=self.identity, error=message)
        elif message is None and previous is not None:
            log.info("leader_election_recovered", lease=self._lease_ref, identity=self.identity)

    # ------------------------------------------------------------------ one attempt

    def _attempt(self) -> _Attempt:
        """Acquire or renew on a helper thread, so a hanging API cannot hold the leader past its deadline."""
        if self._inflight is not None and not self._await(self._inflight):
            return _Attempt(error=LeaseRequestTimeout("the previous lease request has not finished", delay=0))
        box: list[_Attempt] = []
        thread = threading.Thread(target=self._attempt_into, args=(box,), name="drd-leader-attempt", daemon=True)
        self._inflight = thread
        thread.start()
        if not self._await(thread):
            return _Attempt(
                error=LeaseRequestTimeout(
                    f"lease {self._lease_ref}: no answer from the API within the renew deadline", delay=0
                )
            )
        self._inflight = None
        return box[0] if box else _Attempt()

    def _await(self, thread: threading.Thread) -> bool:
        """Wait for an attempt thread; give up once a leader's deadline passes or on stop. Whether it finished."""
        while thread.is_alive():
            thread.join(_TICK)
            with self._lock:
                overdue = self._leading and self._clock.monotonic() >= self._valid_until
            if overdue or self._stop.is_set():
                return not thread.is_alive()
        return True

    def _attempt_into(self, box: list[_Attempt]) -> None:
        try:
            box.append(self._try_acquire_or_renew())
        except Exception as exc:  # every failure becomes this attempt's error; the loop goes on
            box.append(_Attempt(error=exc))

    def _try_acquire_or_renew(self) -> _Attempt:
        for _ in range(CONFLICT_ROUNDS):
            lease = self._kube.find(LEASES, self.lease_name, namespace=self.namespace)
            if self._stop.is_set():
                return _Attempt()
            if lease is None:
                started, record = self._clock.monotonic(), self._claim(None)
                body = leader_lease.new_lease(name=self.lease_name, namespace=self.namespace, spec=record)
                try:
                    created = self._kube.create(LEASES, body, namespace=self.namespace)
                except KubeAlreadyExists:
                    continue
                except KubeNotFound as exc:
                    raise self._missing_namespace(exc) from exc
                self._observe(created)
                return _Attempt(acquired=True, started=started)
            current = self._observe(lease)
            if current.holder and current.holder != self.identity and not self._expired():
                return _Attempt()
            started, record = self._clock.monotonic(), self._claim(current)
            try:
                updated = self._kube.replace(LEASES, leader_lease.with_spec(lease, record), namespace=self.namespace)
            except KubeConflict:
                continue
            self._observe(updated)
            return _Attempt(acquired=True, started=started)
        return _Attempt()

    def _claim(self, current: LeaseSpec | None) -> LeaseSpec:
        now = leader_lease.micro_time(self._clock.now())
        return leader_lease.claimed(current, identity=self.identity, now=now, duration_seconds=self._duration_seconds)

    def _observe(self, lease: dict[str, Any]) -> LeaseSpec:
        """Remember the record; its observation time moves only when the record changes."""
        spec = LeaseSpec.of(lease)
        monotonic, wall = self._clock.monotonic(), self._clock.now()
        with self._lock:
            if spec != self._observed:
                if self._observed is None or spec.holder != self._observed.holder:
                    self._holder_since = wall
                self._observed, self._observed_at, self._observed_wall = spec, monotonic, wall
        return spec

    def _expired(self) -> bool:
        """Whether the observed holder's lease has run out, on this replica's clock."""
        with self._lock:
            spec, since = self._observed, self._observed_at
        duration = (spec.duration_seconds if spec else 0) or self._duration_seconds
        return since + duration <= self._clock.monotonic()

    def _missing_namespace(self, error: KubeNotFound) -> ConfigError:
        if f'namespaces "{self.namespace}"' in str(error):
            return LeaseNamespaceMissing(
                f'leader election: namespace "{self.namespace}" does not exist in {self._kube.system}, so Lease '
                f'"{self.lease_name}" cannot be created; create the namespace (the Helm chart and drd sandbox do) '
                "or set DRD_LEADER_NAMESPACE to an existing one"
            )
        return ConfigError(f"leader election: cannot create Lease {self._lease_ref}: {error}")

    # ------------------------------------------------------------------ plumbing

    @property
    def _lease_ref(self) -> str:
        return f"{self.namespace}/{self.lease_name}"

    @property
    def _duration_seconds(self) -> int:
        return leader_lease.duration_seconds(self.lease_duration)

    def _next_delay(self) -> float:
        with self._lock:
            leading, valid_until = self._leading, self._valid_until
        if leading:  # renew on time, and wake at the deadline to step down promptly if renewals fail
            return max(0.0, min(self.retry_period, valid_until - self._clock.monotonic()))
        return self.retry_period * (1 + leader_config.JITTER * self._jitter.random())

    def _pause(self, stop: threading.Event, seconds: float) -> None:
        end = self._clock.monotonic() + seconds
        while not stop.is_set():
            remaining = end - self._clock.monotonic()
            if remaining <= 0:
                return
            self._clock.sleep(min(_TICK, remaining))

    def _shutdown(self) -> None:
        """Stop acting first; then let a request still in flight finish (it must not renew after the release)."""
        self._stop_leading("released" if self._release_on_exit else "stopped")
        straggler = self._inflight
        if straggler is not None:
            straggler.join(self.lease_duration)
            self._inflight = None
        if self._release_on_exit:
            self._release(reason="released")
        log.info("leader_election_stopped", lease=self._lease_ref, identity=self.identity)
