"""HA: two ``drd daemon`` replicas, real processes, on the sandbox and one shared store.

Each test is one behaviour of the pair, observed from the outside (logs, ``/readyz``, the store, the clusters,
Vault): through many accelerated schedule slots every backup, drill and rotation slot is acted on once, by the
leader only (on a shared SQLite file and on a shared PostgreSQL database); a ``kill -9`` of the leader hands
over within the lease duration and the interrupted drill is carried to its end by the new leader, once; a
leader partitioned from the Lease's cluster stops acting before its lease expires, and the other leads only
after that instant. Fixtures: ``conftest.py``; measured figures: ``docs/ha.md``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import LEASES, VELERO_BACKUPS, VELERO_RESTORES, VELERO_SCHEDULES
from drd.clients.vault import VaultClient
from drd.daemon.app import RUNBOOK_POLL_SECONDS
from drd.drills.run import KIND as DRILL
from drd.outcomes import Phase
from drd.rotation.run import KIND as ROTATION_KIND
from drd.sandbox.environment import Sandbox
from drd.store import open_store
from drd.store.records import RunRecord
from drd.velero.timefmt import parse_rfc3339
from tests.daemon.test_processes import LEASE_SECONDS, TAKEOVER_SLACK, acted
from tests.ha.conftest import (
    BACKUP_EVERY,
    DRILL_EVERY,
    ROTATION,
    ROTATION_EVERY,
    ROTATION_PATH,
    Replica,
    events_of,
    leader_among,
)
from tests.sandbox.velero.support import eventually

STORES = pytest.mark.parametrize(
    "state", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
DRILL_POLICY = "shop-drill"
RUN_LOCK_SECONDS = 30.0
"""The run lock's heartbeat lease (``drd.runbooks.assembly.assemble(lock_seconds=30)``, the daemon's default)."""
CYCLES = {"backups": 5, "drills": 3, "rotations": 4}
"""How many slots of each the many-cycles test waits for (about 25 s of accelerated schedules)."""


def runs(state: str, kind: str, subject: str) -> list[RunRecord]:
    """Every run of ``kind``/``subject`` in the shared store, oldest first."""
    with open_store(state) as store:
        return sorted(store.list_runs(kind=kind, subject=subject, limit=1000), key=lambda r: r.created_at)


def slot(moment: datetime, every: int) -> int:
    """The ``@every`` slot a moment falls in (slots are anchored to the Unix epoch)."""
    return int(moment.timestamp() // every)


def passed_drills(state: str) -> list[RunRecord]:
    found = runs(state, DRILL, DRILL_POLICY)
    return [r for r in found if (r.details.get("evidence") or {}).get("result") == "passed"]


def rotations(state: str, phase: Phase | None = None) -> list[RunRecord]:
    return [r for r in runs(state, ROTATION_KIND, ROTATION) if phase is None or r.phase is phase]


def scheduled_backups(kube: KubeClient) -> list[dict[str, Any]]:
    """The Backups Velero made from drd's Schedule of the shop, oldest first."""
    found = kube.list_objects(VELERO_BACKUPS, namespace="velero", label_selector="velero.io/schedule-name=drd-shop")
    return sorted(found.items, key=lambda b: b["metadata"]["creationTimestamp"])


def restore_keys(state: str, run: RunRecord) -> set[str]:
    """The names of the Velero Restores a drill run's restore step created (its idempotency keys)."""
    with open_store(state) as store:
        return {s.idempotency_key or "" for s in store.steps(run.id) if s.name == "restore"}


class Witness:
    """Every Velero Restore seen in a cluster (polled every 0.1 s): name → uids. Drills delete theirs at teardown."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self.seen: dict[str, set[str]] = defaultdict(set)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            for restore in self.kube.list_objects(VELERO_RESTORES, namespace="velero").items:
                self.seen[restore["metadata"]["name"]].add(restore["metadata"]["uid"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def restores(sandbox: Sandbox) -> Iterator[Witness]:
    """The Restores made in dr-west during the test."""
    witness = Witness(sandbox.cluster("dr-west").kube)
    yield witness
    witness.close()


def logged_at(entry: dict[str, Any]) -> float:
    return parse_rfc3339(entry["timestamp"]).timestamp()


def other(replicas: list[Replica], one: Replica) -> Replica:
    return next(r for r in replicas if r is not one)


@STORES
def test_through_many_slots_each_backup_drill_and_rotation_happens_once_by_the_leader(spawn, sandbox, state, restores):
    """Through many accelerated slots, two replicas produce one Backup, drill and rotation per slot, all by the leader.

    Backups: Velero makes them from the one Schedule the leader keeps; each is recorded once in the store and
    logged once across both replicas. Drills: one run per slot, each with exactly one Velero Restore in dr-west.
    Rotations: one run per slot, and Vault holds exactly one version per successful rotation (each promoted
    once, by check-and-set). The follower acts on nothing, and no job of either replica raises.
    """
    primary = sandbox.cluster("primary-east").kube
    replicas = [spawn(), spawn()]
    leader = leader_among(replicas)
    follower = other(replicas, leader)

    def cycled() -> bool:
        return (
            len(scheduled_backups(primary)) >= CYCLES["backups"]
            and len(passed_drills(state)) >= CYCLES["drills"]
            and len(rotations(state, Phase.COMPLETED)) >= CYCLES["rotations"]
        )

    eventually(cycled, timeout=120, interval=1.0)
    sandbox.velero_faults.paused = True  # no more backups: the store can catch up with the cluster
    made = scheduled_backups(primary)
    names = [b["metadata"]["name"] for b in made if (b.get("status") or {}).get("phase") == "Completed"]
    with open_store(state) as store:
        eventually(lambda: set(names) <= store.backup_names(cluster="primary-east", phases=("Completed",)))
        stored = [r.name for r in store.backups(cluster="primary-east", include_deleted=True, limit=1000)]
    logged = Counter(e["backup"] for e in events_of(replicas, "backup_finished") if e["backup"] in names)

    created = [parse_rfc3339(b["metadata"]["creationTimestamp"]).timestamp() for b in made]
    assert len(primary.list_objects(VELERO_SCHEDULES, namespace="velero").items) == 1
    assert all(later - earlier >= BACKUP_EVERY - 1 for earlier, later in itertools.pairwise(created))
    assert Counter(stored) == Counter(set(stored))
    assert set(names) <= set(stored)
    assert logged == Counter(dict.fromkeys(names, 1))
    assert not follower.events("backup_finished")

    drills = runs(state, DRILL, DRILL_POLICY)
    assert len({slot(r.created_at, DRILL_EVERY) for r in drills}) == len(drills)
    keys = {r.id: restore_keys(state, r) for r in drills}
    assert all(len(k) <= 1 for k in keys.values())
    finished = set().union(*(keys[r.id] for r in drills if r.phase.terminal))
    assert finished <= set(restores.seen) <= set().union(*keys.values())
    assert all(len(uids) == 1 for uids in restores.seen.values())
    assert all(len(restore_keys(state, r)) == 1 for r in passed_drills(state))

    rotated = rotations(state)
    completed = rotations(state, Phase.COMPLETED)
    assert len({slot(r.created_at, ROTATION_EVERY) for r in rotated}) == len(rotated)
    assert sandbox.vault is not None
    vault = VaultClient(sandbox.vault.url, token=sandbox.vault.root_token)
    try:
        versions = vault.kv_versions(ROTATION_PATH)
    finally:
        vault.close()
    promoted = {r.id for r in completed}
    unfinished = [r for r in rotated if not r.phase.terminal]
    assert len(promoted) <= len(versions) <= len(promoted) + len(unfinished)

    assert {r.requested_by for r in [*drills, *rotated]} == {leader.identity}
    assert acted(follower) == []
    assert not follower.events("leader_acquired")
    assert all(r.parameters.get("policy") == ROTATION for r in rotated)  # engine runs only: the job adds none
    assert [e for r in replicas for e in r.events() if e.get("level") == "error" or "exception" in e] == []


def test_after_kill_9_the_standby_leads_within_the_lease_and_finishes_the_interrupted_drill_once(
    spawn, sandbox, state, restores
):
    """kill -9 of the leader mid-drill: the standby leads within the lease duration (+ retry slack), and carries the
    interrupted drill to its end once: the Restore the dead leader created is adopted, not made again.

    The drill is held InProgress by pausing Velero while its Restore waits; the new leader may resume it only once
    the run lock's heartbeat has lapsed (``RUN_LOCK_SECONDS`` after the dead leader's last one), at its next pass
    over unfinished runs (every ``RUNBOOK_POLL_SECONDS``).
    """
    dr = sandbox.cluster("dr-west").kube
    replicas = [spawn(), spawn()]
    leader = leader_among(replicas)
    survivor = other(replicas, leader)
    eventually(lambda: passed_drills(state), timeout=60, interval=0.5)  # a backup has reached dr-west

    sandbox.velero_faults.paused = True
    done = {r.id for r in runs(state, DRILL, DRILL_POLICY)}

    def interrupted() -> RunRecord | None:
        waiting = [r for r in runs(state, DRILL, DRILL_POLICY) if r.id not in done and r.phase is Phase.IN_PROGRESS]
        return next((r for r in waiting if restore_keys(state, r)), None)

    run: RunRecord = eventually(interrupted, timeout=30, interval=0.2)
    (restore,) = restore_keys(state, run)
    eventually(lambda: dr.find(VELERO_RESTORES, restore, namespace="velero"))
    leader.process.kill()
    killed = time.time()
    leader.process.wait(timeout=5)
    sandbox.velero_faults.paused = False  # Velero finishes the Restore while no drd watches it

    eventually(survivor.leading, timeout=LEASE_SECONDS + TAKEOVER_SLACK + 2, interval=0.05)
    took = time.time() - killed
    resumed_by = RUN_LOCK_SECONDS + RUNBOOK_POLL_SECONDS + 30  # + the drill's own remaining steps, generously
    final = eventually(lambda: (r := runs_by_id(state)[run.id]).phase.terminal and r, timeout=resumed_by, interval=0.5)
    finished = time.time() - killed

    assert took <= LEASE_SECONDS + TAKEOVER_SLACK
    assert final.phase is Phase.COMPLETED
    assert final.details["evidence"]["result"] == "passed"
    assert survivor.events("runbook_run_carried_on", run=run.id, phase="Completed")
    assert [e["replica"] for e in events_of(replicas, "drill_finished", run=run.id)] == [survivor.name]
    assert restore_keys(state, final) == {restore}
    assert len(restores.seen[restore]) == 1
    print(f"takeover {took:.2f}s after kill -9; interrupted drill finished {finished:.1f}s after it")


def runs_by_id(state: str) -> dict[str, RunRecord]:
    return {r.id: r for r in runs(state, DRILL, DRILL_POLICY)}


PARTITION_ELECTION = {
    "DRD_LEADER_LEASE_SECONDS": "6",
    "DRD_LEADER_RENEW_SECONDS": "3",
    "DRD_LEADER_RETRY_SECONDS": "0.5",
}
"""A lease twice the renew deadline: a 3 s margin between stopping and expiry that log timestamps can show."""


def test_a_leader_partitioned_from_the_lease_cluster_stops_acting_before_its_lease_expires(spawn, sandbox, state):
    """A leader cut off from the Lease's cluster stops acting at its renew deadline, before its lease expires; the
    other replica leads only from that expiry instant, and the healed replica then follows.

    The cut is a black hole (requests hang until their 10 s timeout, longer than the renew deadline). The expiry
    instant is the old leader's last renewTime in the Lease plus leaseDurationSeconds. "Acting" is starting a run:
    none is started by the cut-off replica after it stopped, while its scheduler keeps firing and declining
    (``job_skipped_not_leader``); the other replica starts runs after it took over.
    """
    primary = sandbox.cluster("primary-east").kube
    replicas = [spawn(**PARTITION_ELECTION), spawn(**PARTITION_ELECTION)]
    leader = leader_among(replicas)
    successor = other(replicas, leader)
    eventually(lambda: rotations(state, Phase.COMPLETED), timeout=60, interval=0.5)

    leader.proxy.cut()
    time.sleep(0.5)  # a write already past the proxy lands
    lease = primary.get(LEASES, "drd-leader", namespace="drd")["spec"]
    assert lease["holderIdentity"] == leader.identity
    expiry = parse_rfc3339(lease["renewTime"]).timestamp() + float(lease["leaseDurationSeconds"])

    lost = leader.wait_for_event("leader_lost", timeout=30, reason="renew_deadline_exceeded")
    acquired = successor.wait_for_event("leader_acquired", timeout=30)
    eventually(lambda: any(r.requested_by == successor.identity for r in rotations(state)), timeout=30)
    declined = eventually(
        lambda: [e for e in leader.events("job_skipped_not_leader") if logged_at(e) > logged_at(lost)], timeout=30
    )

    started_by_leader = [r.created_at.timestamp() for r in runs_of(state, leader.identity)]
    assert logged_at(lost) < expiry
    assert max(started_by_leader) < logged_at(lost)
    assert logged_at(acquired) >= expiry
    assert {e["job"] for e in declined} & {f"rotation:{ROTATION}", f"drill:{DRILL_POLICY}", "runbooks:runs"}

    leader.proxy.heal()
    assert leader_among(replicas) is successor
    assert not [t for t in (r.created_at.timestamp() for r in runs_of(state, leader.identity)) if t > logged_at(lost)]
    assert leader.proxy.cut_at is not None
    print(
        f"stopped {logged_at(lost) - leader.proxy.cut_at:.2f}s after the cut, {expiry - logged_at(lost):.2f}s before"
        f" expiry; the other led {logged_at(acquired) - expiry:.2f}s after expiry"
    )


def runs_of(state: str, identity: str) -> list[RunRecord]:
    """The drill and rotation runs a replica started."""
    found = runs(state, DRILL, DRILL_POLICY) + rotations(state)
    return [r for r in found if r.requested_by == identity]
