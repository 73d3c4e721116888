"""Leader election over a Lease, against the Kubernetes API emulator over real HTTP.

Aspects covered: creating and holding a missing lease; followers that wait while the leader
renews; take-over after lease_duration on the candidate's own clock (never the holder's);
graceful release and immediate take-over; a leader cut off from the API, or whose requests
hang, stepping down within renew_deadline and before anyone else may lead; 409 Conflicts
(unrelated writes, two candidates on one resourceVersion, many electors on threads); two real
processes and a kill -9; validation and a missing namespace; one log event per transition.

Where timing matters the electors are stepped by hand (``step()``) with manual clocks; the
tests that exercise the background loop run on real time with sub-second durations.
"""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import LEASES
from drd.clock import SystemClock
from drd.daemon import leader_config
from drd.daemon.leader import LeaderElector
from drd.errors import ConfigError
from drd.sandbox.kube.emulator import DEFAULT_NAMESPACES, KubeEmulator
from drd.settings import LeaderSettings

T0 = datetime(2026, 11, 22, 3, 4, 5, 123456, tzinfo=UTC)
NAMESPACE = "drd"
LEASE = "drd-leader"
WORKER = Path(__file__).with_name("leader_worker.py")
FAST = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}
"""Sub-second timings for the tests that run the background loop on real time."""


class ManualClock:
    """A clock that stands still until told to move; ``sleep`` advances it instead of waiting."""

    def __init__(self, now: datetime = T0) -> None:
        self._lock = threading.Lock()
        self._now = now
        self._monotonic = 1000.0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds


class Journal:
    """Callbacks of several electors, in the order they happened, with the time each happened at."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.entries: list[tuple[str, str, float]] = []
        self.new_leaders: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def callbacks(self, identity: str) -> dict[str, Any]:
        def note(what: str) -> Callable[[], None]:
            def record() -> None:
                with self._lock:
                    self.entries.append((identity, what, self._clock()))

            return record

        def new_leader(holder: str) -> None:
            with self._lock:
                self.new_leaders.setdefault(identity, []).append(holder)

        return {
            "on_started_leading": note("started"),
            "on_stopped_leading": note("stopped"),
            "on_new_leader": new_leader,
        }

    def events(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(who, what) for who, what, _ in self.entries]

    def time_of(self, identity: str, what: str) -> float:
        with self._lock:
            return next(t for who, w, t in self.entries if (who, w) == (identity, what))


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator(namespaces=(*DEFAULT_NAMESPACES, NAMESPACE)) as emu:
        yield emu


@pytest.fixture
def kube_for(emulator: KubeEmulator) -> Iterator[Callable[..., KubeClient]]:
    """A fresh client per elector (each replica has its own connections), closed after the test."""
    clients: list[KubeClient] = []

    def make(client_type: type[KubeClient] = KubeClient, timeout: float = 2.0) -> KubeClient:
        client = client_type.from_api_url(emulator.url, cluster="test", timeout_seconds=timeout)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def journal(clock: ManualClock) -> Journal:
    return Journal(clock.monotonic)


def an_elector(kube: KubeClient, identity: str, *, clock: Any, journal: Journal, **overrides: Any) -> LeaderElector:
    """An elector on the test lease with the product's default timings (15 s / 10 s / 2 s) unless overridden."""
    settings: dict[str, Any] = {
        "lease_name": LEASE,
        "namespace": NAMESPACE,
        "identity": identity,
        "lease_duration": 15.0,
        "renew_deadline": 10.0,
        "retry_period": 2.0,
        "clock": clock,
        **journal.callbacks(identity),
    }
    return LeaderElector(kube, **(settings | overrides))


def lease_spec(emulator: KubeEmulator) -> dict[str, Any]:
    spec: dict[str, Any] = emulator.store.get(LEASES.group_resource, LEASE, namespace=NAMESPACE)["spec"]
    return spec


def eventually(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``predicate`` on real time until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.005)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


# ---------------------------------------------------------------------- acquiring and holding


def test_first_elector_creates_the_missing_lease_and_leads(emulator, kube_for, clock, journal):
    """With no Lease, one step creates it with this elector as holder and MicroTime stamps, and it leads."""
    a = an_elector(kube_for(), "a", clock=clock, journal=journal)

    assert a.step() is True

    assert a.is_leader
    assert lease_spec(emulator) == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-11-22T03:04:05.123456Z",
        "renewTime": "2026-11-22T03:04:05.123456Z",
        "leaseTransitions": 0,
    }
    assert journal.events() == [("a", "started")]
    assert a.leader_identity == "a"


def test_follower_does_not_lead_while_the_leader_renews(emulator, kube_for, clock, journal):
    """Over several lease durations of renewals, a second elector never leads and knows who does."""
    a = an_elector(kube_for(), "a", clock=clock, journal=journal)
    b = an_elector(kube_for(), "b", clock=clock, journal=journal)
    a.step()

    for _ in range(20):  # 40 s: well past a 15 s lease, renewed every 2 s
        assert b.step() is False
        clock.advance(2)
        assert a.step() is True

    assert journal.events() == [("a", "started")]
    assert lease_spec(emulator)["renewTime"] == "2026-11-22T03:04:45.123456Z"
    assert lease_spec(emulator)["acquireTime"] == "2026-11-22T03:04:05.123456Z"
    assert b.leader_identity == "a"
    assert journal.new_leaders == {"a": ["a"], "b": ["a"]}
    observed = b.lease_observed
    assert (observed.holder, observed.leading, observed.error) == ("a", False, None)
    assert observed.holder_since == T0
    assert observed.expires == T0 + timedelta(seconds=38 + 15)  # last renewal b saw was at +38 s


def test_only_transitions_are_logged_not_renewals(kube_for, clock, journal):
    """Acquiring, observing and losing log one event each; renewals log nothing."""
    a = an_elector(kube_for(), "a", clock=clock, journal=journal)
    b = an_elector(kube_for(), "b", clock=clock, journal=journal)
    with capture_logs() as logs:
        a.step()
        b.step()
        for _ in range(5):
            clock.advance(2)
            a.step()
            b.step()
        a.release()

    events = [(e["event"], e.get("identity")) for e in logs if e["event"].startswith("leader_")]
    assert events == [
        ("leader_acquired", "a"),
        ("leader_observed", "b"),
        ("leader_lost", "a"),
        ("leader_released", "a"),
    ]
    lost = next(e for e in logs if e["event"] == "leader_lost")
    assert lost["reason"] == "released"


# ---------------------------------------------------------------------- taking over


@pytest.mark.parametrize("skew", [timedelta(hours=-1), timedelta(hours=1)], ids=["holder-behind", "holder-ahead"])
def test_takeover_waits_lease_duration_on_the_candidates_own_clock(emulator, kube_for, journal, skew):
    """A dead leader's lease is taken lease_duration after the candidate saw it change, whatever its renewTime says."""
    holder_clock, candidate_clock = ManualClock(T0 + skew), ManualClock(T0)
    a = an_elector(kube_for(), "a", clock=holder_clock, journal=journal)
    b = an_elector(kube_for(), "b", clock=candidate_clock, journal=journal)
    a.step()
    b.step()  # b first sees a's record now; a then dies without releasing

    candidate_clock.advance(14.9)
    assert b.step() is False
    candidate_clock.advance(0.1)
    assert b.step() is True

    spec = lease_spec(emulator)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert spec["acquireTime"] == spec["renewTime"] == "2026-11-22T03:04:20.123456Z"
    assert b.lease_observed.holder_since == T0 + timedelta(seconds=15)


def test_graceful_stop_releases_and_the_other_takes_over_at_once(emulator, kube_for):
    """Stopping a leader's loop stops it acting, then releases; a follower leads within a retry, not a lease."""
    journal = Journal(time.monotonic)
    a = an_elector(kube_for(), "a", clock=SystemClock(), journal=journal, **FAST)
    b = an_elector(kube_for(), "b", clock=SystemClock(), journal=journal, **FAST)
    a.start()
    eventually(lambda: a.is_leader, timeout=2, what="a to lead")
    b.start()
    eventually(lambda: b.leader_identity == "a", timeout=2, what="b to see a")
    try:
        a.stop()
        stopped = time.monotonic()
        eventually(lambda: b.is_leader, timeout=2, what="b to lead")
    finally:
        a.stop()
        b.stop(release=False)

    assert journal.events()[:3] == [("a", "started"), ("a", "stopped"), ("b", "started")]
    assert journal.time_of("b", "started") - stopped < FAST["lease_duration"] / 2
    assert lease_spec(emulator)["holderIdentity"] == "b"
    assert lease_spec(emulator)["leaseTransitions"] == 1


# ---------------------------------------------------------------------- losing the lease safely


def test_release_stops_acting_before_giving_the_lease_up(emulator, kube_for, clock, journal):
    """On release, on_stopped_leading runs while the lease is still held, so no one can start before it returns."""
    holder_when_stopping: list[str] = []
    a = an_elector(
        kube_for(),
        "a",
        clock=clock,
        journal=journal,
        on_stopped_leading=lambda: holder_when_stopping.append(lease_spec(emulator)["holderIdentity"]),
    )
    a.step()

    assert a.release() is True

    assert holder_when_stopping == ["a"]
    spec = lease_spec(emulator)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("", 1, 0)
    assert a.leader_identity is None


def test_is_leader_turns_false_by_itself_at_the_renew_deadline(kube_for, clock, journal):
    """Without a successful renewal for renew_deadline, is_leader is false even before the next step runs."""
    a = an_elector(kube_for(), "a", clock=clock, journal=journal)
    a.step()

    clock.advance(9.9)
    assert a.is_leader
    clock.advance(0.1)
    assert not a.is_leader

    a.step()  # the next step reports the loss through the callback, then may re-acquire its own lease
    assert journal.events()[:2] == [("a", "started"), ("a", "stopped")]


def test_leader_cut_off_from_the_api_stops_before_the_lease_expires_for_others(emulator, kube_for, clock, journal):
    """A leader that cannot reach the API steps down at renew_deadline; the other leads only at lease_duration."""
    a = an_elector(kube_for(), "a", clock=clock, journal=journal)
    b = an_elector(kube_for(), "b", clock=clock, journal=journal)
    a.step()
    b.step()

    emulator.go_down()
    for _ in range(5):  # t = 2, 4, 6, 8, 10
        clock.advance(2)
        a.step()
        b.step()
    assert not a.is_leader
    assert "unreachable" in (a.lease_observed.error or "")
    emulator.come_up()  # back for b; a stays cut off (it is not stepped again)

    clock.advance(4)  # t = 14
    assert b.step() is False
    clock.advance(2)  # t = 16
    assert b.step() is True

    assert journal.events() == [("a", "started"), ("a", "stopped"), ("b", "started")]
    assert journal.time_of("a", "stopped") - journal.time_of("a", "started") == 10
    assert journal.time_of("b", "started") - journal.time_of("a", "started") == 16


def test_leader_whose_requests_hang_steps_down_at_the_renew_deadline(emulator, kube_for):
    """When API requests hang, the leader stops acting at renew_deadline without waiting for them to time out."""
    journal = Journal(time.monotonic)
    a = an_elector(kube_for(timeout=5), "a", clock=SystemClock(), journal=journal, **FAST)
    a.start()
    try:
        eventually(lambda: a.is_leader, timeout=2, what="a to lead")
        hung = time.monotonic()
        emulator.set_faults(latency=1.0)
        eventually(lambda: ("a", "stopped") in journal.events(), timeout=2, what="a to stop leading")
        assert not a.is_leader
        emulator.clear_faults()
    finally:
        a.stop()

    took = journal.time_of("a", "stopped") - hung
    assert took <= FAST["renew_deadline"] + 0.1
    assert took < FAST["lease_duration"]


def test_leader_steps_down_when_it_sees_another_holder(emulator, kube_for, clock, journal):
    """If the lease names someone else (an operator reassigned it), the leader stops at its next step."""
    a = an_elector(kube_for(), "a", clock=clock, journal=journal)
    a.step()
    emulator.store.patch(LEASES.group_resource, LEASE, {"spec": {"holderIdentity": "z"}}, namespace=NAMESPACE)

    assert a.step() is False
    assert journal.events() == [("a", "started"), ("a", "stopped")]
    assert a.leader_identity == "z"


# ---------------------------------------------------------------------- conflicts


class InterposingKube(KubeClient):
    """A client that runs ``before_replace`` once, between its read of the lease and its write."""

    before_replace: Callable[[], None] | None = None

    def replace(self, resource: Any, body: Any, *, namespace: str | None = None) -> dict[str, Any]:
        hook, self.before_replace = self.before_replace, None
        if hook is not None:
            hook()
        return super().replace(resource, body, namespace=namespace)


def test_renewal_after_an_unrelated_conflicting_write_is_retried(emulator, kube_for, clock, journal):
    """A 409 Conflict caused by someone annotating the lease is re-read and retried; the leader keeps leading."""
    kube = kube_for(InterposingKube)
    a = an_elector(kube, "a", clock=clock, journal=journal)
    a.step()
    clock.advance(2)
    kube.before_replace = lambda: emulator.store.patch(
        LEASES.group_resource, LEASE, {"metadata": {"annotations": {"x": "y"}}}, namespace=NAMESPACE
    )

    assert a.step() is True
    assert lease_spec(emulator)["renewTime"] == "2026-11-22T03:04:07.123456Z"
    assert journal.events() == [("a", "started")]


def test_two_candidates_racing_on_one_resource_version_yield_one_leader(emulator, kube_for, clock, journal):
    """When two candidates take over the same expired lease at once, the later write conflicts and loses."""
    emulator.store.create(
        LEASES.group_resource,
        {"metadata": {"name": LEASE}, "spec": {"holderIdentity": "dead", "leaseDurationSeconds": 15}},
        namespace=NAMESPACE,
    )
    kube = kube_for(InterposingKube)
    a = an_elector(kube, "a", clock=clock, journal=journal)
    b = an_elector(kube_for(), "b", clock=clock, journal=journal)
    a.step()
    b.step()
    clock.advance(15)
    kube.before_replace = b.step  # b takes the lease between a's read and a's write

    assert a.step() is False

    assert (a.is_leader, b.is_leader) == (False, True)
    assert journal.events() == [("b", "started")]
    spec = lease_spec(emulator)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
    assert a.leader_identity == "b"


def test_concurrent_electors_never_lead_together(kube_for):
    """Four electors on threads, through a crash and a graceful hand-over, never have two leaders at one instant."""
    journal = Journal(time.monotonic)
    electors = [
        an_elector(kube_for(timeout=1), f"e{i}", clock=SystemClock(), journal=journal, **FAST) for i in range(4)
    ]
    most, seen, done = 0, set(), threading.Event()

    def sample() -> None:
        nonlocal most
        while not done.is_set():
            leading = [e.identity for e in electors if e.is_leader]
            most = max(most, len(leading))
            seen.update(leading)

    def current_leader(excluding: set[str]) -> LeaderElector | None:
        return next((e for e in electors if e.is_leader and e.identity not in excluding), None)

    sampler = threading.Thread(target=sample)
    for elector in electors:
        elector.start()
    sampler.start()
    try:
        first = eventually(lambda: current_leader(set()), timeout=2, what="a first leader")
        time.sleep(0.3)
        first.stop(release=False)  # a crash: the others race for the lease when it expires
        second = eventually(lambda: current_leader({first.identity}), timeout=3, what="a second leader")
        time.sleep(0.3)
        second.stop()  # a hand-over: the others race for the released lease at once
        eventually(lambda: current_leader({first.identity, second.identity}), timeout=2, what="a third leader")
        time.sleep(0.3)
    finally:
        done.set()
        sampler.join()
        for elector in electors:
            elector.stop(release=False)

    assert most == 1
    assert len(seen) == 3


# ---------------------------------------------------------------------- two processes


class Worker:
    """A leader_worker.py process whose stdout lines are collected with their arrival time."""

    def __init__(self, url: str, identity: str, lines: queue.Queue[tuple[str, str, float]], log: Path) -> None:
        self.identity = identity
        self.log = log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER), url, identity, "--lease", "2", "--renew", "1.2", "--retry", "0.2"],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self._reader = threading.Thread(target=self._read, args=(lines,))
        self._reader.start()

    def _read(self, lines: queue.Queue[tuple[str, str, float]]) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            lines.put((self.identity, line.split()[0], time.monotonic()))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join()
        assert self.process.stdout is not None
        self.process.stdout.close()


def test_two_processes_one_leads_and_the_survivor_takes_over_after_kill_9(emulator, tmp_path):
    """Of two worker processes exactly one leads; after kill -9 of it the other leads within lease + retry slack."""
    lines: queue.Queue[tuple[str, str, float]] = queue.Queue()
    seen: list[tuple[str, str, float]] = []

    def wait_for(word: str, identity: str | None = None, timeout: float = 10.0) -> tuple[str, str, float]:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                entry = lines.get(timeout=remaining)
            except queue.Empty:
                break
            seen.append(entry)
            if entry[1] == word and identity in (None, entry[0]):
                return entry
        logs = {w.identity: w.log.read_text() for w in workers}
        pytest.fail(f"no {word} from {identity or 'any worker'} in {timeout}s; lines {seen}; stderr {logs}")

    workers = [Worker(emulator.url, name, lines, tmp_path / f"{name}.log") for name in ("w1", "w2")]
    try:
        leader_id = wait_for("LEADING")[0]
        follower_id = "w2" if leader_id == "w1" else "w1"
        wait_for("OBSERVED", follower_id)  # the follower is campaigning and has seen the leader
        time.sleep(1.0)  # five retry periods in which the follower must not lead
        while not lines.empty():
            seen.append(lines.get())
        assert [(who, what) for who, what, _ in seen if what == "LEADING"] == [(leader_id, "LEADING")]

        crashed = next(w for w in workers if w.identity == leader_id)
        crashed.process.kill()
        killed = time.monotonic()
        took = wait_for("LEADING", follower_id)[2] - killed
        assert 2.0 - 0.2 - 0.1 <= took <= 2.0 + 2 * 0.2 * (1 + leader_config.JITTER) + 0.5

        follower = next(w for w in workers if w.identity == follower_id)
        follower.process.terminate()
        wait_for("STOPPED", follower_id)
        assert follower.process.wait(timeout=5) == 0
        assert lease_spec(emulator)["holderIdentity"] == ""
    finally:
        for worker in workers:
            worker.close()


# ---------------------------------------------------------------------- configuration and errors


@pytest.mark.parametrize("renew_deadline", [15.0, 20.0])
def test_renew_deadline_not_shorter_than_lease_duration_is_a_config_error(kube_for, clock, journal, renew_deadline):
    """renew_deadline >= lease_duration could let two leaders overlap: refused with a message naming both."""
    with pytest.raises(ConfigError, match=r"renew_deadline \(\d+s\) must be shorter than lease_duration \(15s\)"):
        an_elector(kube_for(), "a", clock=clock, journal=journal, renew_deadline=renew_deadline)


def test_settings_are_validated_too(kube_for, clock):
    """from_settings applies the same checks: DRD_LEADER_RENEW_SECONDS above the lease is refused."""
    with pytest.raises(ConfigError, match="DRD_LEADER_RENEW_SECONDS < DRD_LEADER_LEASE_SECONDS"):
        LeaderElector.from_settings(kube_for(), LeaderSettings(renew_deadline_seconds=30), clock=clock)


def test_retry_period_must_leave_two_renewals_before_the_deadline(kube_for, clock, journal):
    """A retry_period above half of renew_deadline is refused."""
    with pytest.raises(ConfigError, match=r"retry_period \(6s\) must be at most half of renew_deadline \(10s\)"):
        an_elector(kube_for(), "a", clock=clock, journal=journal, retry_period=6.0)


def test_missing_namespace_is_reported_clearly(kube_for, clock, journal):
    """A lease namespace that does not exist is not created: the error says which and how to fix it, once."""
    a = an_elector(kube_for(), "a", clock=clock, journal=journal, namespace="nowhere")
    with capture_logs() as logs:
        assert a.step() is False
        assert a.step() is False

    error = a.lease_observed.error
    assert error == (
        'leader election: namespace "nowhere" does not exist in kubernetes cluster "test", so Lease "drd-leader" '
        "cannot be created; create the namespace (the Helm chart and drd sandbox do) or set DRD_LEADER_NAMESPACE "
        "to an existing one"
    )
    failures = [e for e in logs if e["event"] == "leader_election_failed"]
    assert [(e["log_level"], e["error"]) for e in failures] == [("error", error)]


def test_default_identity_is_hostname_and_a_random_suffix(kube_for, clock):
    """Without an identity an elector uses <hostname>_<8 hex digits>, different for every elector."""
    first = LeaderElector.from_settings(kube_for(), LeaderSettings(), clock=clock)
    second = LeaderElector.from_settings(kube_for(), LeaderSettings(), clock=clock)

    assert re.fullmatch(rf"{re.escape(socket.gethostname())}_[0-9a-f]{{8}}", first.identity)
    assert first.identity != second.identity


def test_failing_on_started_leading_steps_down_and_releases(emulator, kube_for, clock, journal):
    """If starting the work fails, the elector does not sit on the lease: it stops leading and releases it."""

    def broken() -> None:
        raise RuntimeError("scheduler failed to start")

    a = an_elector(kube_for(), "a", clock=clock, journal=journal, on_started_leading=broken)
    with capture_logs() as logs:
        assert a.step() is False

    assert lease_spec(emulator)["holderIdentity"] == ""
    assert journal.events() == [("a", "stopped")]
    assert [e["reason"] for e in logs if e["event"] == "leader_lost"] == ["callback_failed"]
