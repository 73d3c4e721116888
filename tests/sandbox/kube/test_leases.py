"""Leases as plain objects whose optimistic concurrency makes leader election safe.

Aspects: two clients racing to take the same lease (exactly one wins, the other
gets 409), concurrent read-modify-write increments losing nothing when conflicts
are retried, and the client's own LeaseLock from ``kubernetes.leaderelection``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from kubernetes import client

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import api_client_for


def _take(api: client.CoordinationV1Api, lease: client.V1Lease, holder: str) -> bool:
    lease.spec.holder_identity = holder
    lease.spec.acquire_time = datetime.now(UTC)
    try:
        api.replace_namespaced_lease(lease.metadata.name, "default", lease)
    except client.ApiException as e:
        if e.status == 409:
            return False
        raise
    return True


def test_two_clients_racing_for_a_lease_one_wins(emu: KubeEmulator):
    """Both read the same Lease version and try to take it: one update succeeds, the other is 409."""
    with api_client_for(emu) as first_api, api_client_for(emu) as second_api:
        first, second = client.CoordinationV1Api(first_api), client.CoordinationV1Api(second_api)
        first.create_namespaced_lease(
            "default", {"metadata": {"name": "drd-leader"}, "spec": {"leaseDurationSeconds": 15}}
        )
        seen_by_first = first.read_namespaced_lease("drd-leader", "default")
        seen_by_second = second.read_namespaced_lease("drd-leader", "default")
        barrier = threading.Barrier(2)

        def attempt(api: client.CoordinationV1Api, lease: client.V1Lease, holder: str) -> bool:
            barrier.wait()
            return _take(api, lease, holder)

        with ThreadPoolExecutor(2) as pool:
            results = list(
                pool.map(attempt, [first, second], [seen_by_first, seen_by_second], ["replica-a", "replica-b"])
            )
        holder = first.read_namespaced_lease("drd-leader", "default").spec.holder_identity
    assert sorted(results) == [False, True]
    assert holder == ("replica-a" if results[0] else "replica-b")


def test_concurrent_increments_with_conflict_retries_lose_nothing(emu: KubeEmulator):
    """Eight clients doing 10 read-modify-write increments each, retrying on 409, end at exactly 80."""
    with api_client_for(emu) as setup_api:
        client.CoordinationV1Api(setup_api).create_namespaced_lease(
            "default", {"metadata": {"name": "counter"}, "spec": {"leaseTransitions": 0}}
        )

    def worker() -> int:
        conflicts = 0
        with api_client_for(emu) as api:
            leases = client.CoordinationV1Api(api)
            done = 0
            while done < 10:
                lease = leases.read_namespaced_lease("counter", "default")
                lease.spec.lease_transitions += 1
                try:
                    leases.replace_namespaced_lease("counter", "default", lease)
                    done += 1
                except client.ApiException as e:
                    if e.status != 409:
                        raise
                    conflicts += 1
        return conflicts

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: worker(), range(8)))
    assert emu.store.get("leases", "counter", namespace="default")["spec"]["leaseTransitions"] == 80


def test_leader_election_lease_lock_acquires_the_lease(emu: KubeEmulator):
    """kubernetes.leaderelection's LeaseLock creates and then reads back the lease it holds."""
    from kubernetes.leaderelection import leaderelection
    from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord
    from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

    del leaderelection  # imported to prove the module loads against this client version
    with api_client_for(emu) as api:
        lock = LeaseLock("drd-leader", "default", "replica-a")
        lock.api_instance = client.CoordinationV1Api(api)
        now = str(datetime.now(UTC))
        record = LeaderElectionRecord("replica-a", "15", now, now)
        assert lock.create("drd-leader", "default", record)
        found, current = lock.get("drd-leader", "default")
    assert found
    assert current.holder_identity == "replica-a"
