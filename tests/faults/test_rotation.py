"""Fault matrix, rotation row: ``drd.rotation`` (the rotate-secret runbook) under one fault per test.

Each test first rotates once cleanly (Vault v1, in every target Secret), then rotates again under the fault.
Invariants: the run's phase in the store says what happened; no secret is left without a valid version
(Vault's current version is readable and every target Secret holds it, or the old one everywhere); and a
third rotation succeeds once the fault is cleared.
"""

from __future__ import annotations

from collections.abc import Callable

from drd.clients.vault import VaultClient
from drd.outcomes import Phase
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox
from drd.settings import Settings
from drd.store import Store
from tests.faults.rotation_support import CLUSTERS, rotate, vault_path, vaulted
from tests.faults.support import assert_secret_consistent, cleared, window
from tests.rotation.support import a_policy, make_engine, settings, store, vault

__all__ = ["make_engine", "settings", "store", "vault", "vaulted"]
NAME = "shop-api-token"


def consistent(vaulted: Sandbox, vault: VaultClient, before: tuple[int, str] | None = None) -> tuple[int, str] | None:
    return assert_secret_consistent(vaulted, vault, vault_path(NAME), clusters=CLUSTERS, secret=NAME, before=before)


def first_rotation(vaulted, settings, store, vault, make_engine) -> tuple[int, str]:
    a_policy(settings, NAME)
    _, phase = rotate(make_engine, settings, store, NAME)
    assert phase is Phase.COMPLETED
    now = consistent(vaulted, vault)
    assert now is not None
    return now


def healthy_after(vaulted, settings, store, vault, make_engine, before: tuple[int, str] | None) -> None:
    """The fault cleared, the next rotation completes and promotes a new version held by every Secret."""
    _, phase = rotate(make_engine, settings, store, NAME)
    assert phase is Phase.COMPLETED
    after = consistent(vaulted, vault, before)
    assert after is not None
    assert before is None or after[0] == before[0] + 1


def test_a_500_storm_during_delivery_is_retried_and_promotes_once_delivered(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """dr-west answers 500 to everything during the first delivery: retried, then promoted, v2 everywhere."""
    v1 = first_rotation(vaulted, settings, store, vault, make_engine)
    emulator = vaulted.cluster("dr-west").emulator
    with cleared(vaulted):
        hook = window("deliver", lambda: emulator.set_faults(error_rate=1.0, status=500), emulator.clear_faults)
        run_id, phase = rotate(make_engine, settings, store, NAME, crash=hook)
    assert phase is Phase.COMPLETED
    deliveries = [s for s in store.steps(run_id) if s.name == "deliver"]
    assert [d.phase for d in deliveries] == [Phase.FAILED, Phase.COMPLETED]
    v2 = consistent(vaulted, vault, v1)
    assert v2 is not None
    assert v2[0] == 2
    healthy_after(vaulted, settings, store, vault, make_engine, v2)


def test_high_latency_on_both_clusters_still_rotates(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """Every request to both clusters takes 100 ms longer: the rotation completes, v2 in every Secret."""
    v1 = first_rotation(vaulted, settings, store, vault, make_engine)
    with cleared(vaulted):
        for cluster in CLUSTERS:
            vaulted.cluster(cluster).emulator.set_faults(latency=0.1)
        _, phase = rotate(make_engine, settings, store, NAME)
    assert phase is Phase.COMPLETED
    v2 = consistent(vaulted, vault, v1)
    healthy_after(vaulted, settings, store, vault, make_engine, v2)


def test_409_conflicts_on_the_secret_writes_are_retried(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """The first two writes to the primary during delivery answer 409: retried, delivered, promoted."""
    v1 = first_rotation(vaulted, settings, store, vault, make_engine)
    faults = vaulted.cluster("primary-east").emulator.faults

    def conflicts() -> None:
        faults.fail_next(2, status=409, methods=["PATCH", "PUT", "POST"], path_pattern="/secrets")

    with cleared(vaulted):
        run_id, phase = rotate(make_engine, settings, store, NAME, crash=window("deliver", conflicts, lambda: None))
    assert phase is Phase.COMPLETED
    assert next(s.phase for s in store.steps(run_id) if s.name == "deliver") is Phase.FAILED
    v2 = consistent(vaulted, vault, v1)
    healthy_after(vaulted, settings, store, vault, make_engine, v2)


def test_a_target_cluster_down_and_back_is_delivered_before_promotion(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """dr-west is down for the first delivery attempt and back for the second: promotion only after it."""
    v1 = first_rotation(vaulted, settings, store, vault, make_engine)
    emulator = vaulted.cluster("dr-west").emulator
    with cleared(vaulted):
        run_id, phase = rotate(
            make_engine, settings, store, NAME, crash=window("deliver", emulator.go_down, emulator.come_up)
        )
    assert phase is Phase.COMPLETED
    steps = store.steps(run_id)
    deliveries = [s for s in steps if s.name == "deliver"]
    (promote,) = [s for s in steps if s.name == "promote"]
    assert deliveries[0].phase is Phase.FAILED
    assert promote.started_at >= deliveries[-1].finished_at
    v2 = consistent(vaulted, vault, v1)
    healthy_after(vaulted, settings, store, vault, make_engine, v2)


def test_a_vault_sealed_at_promotion_promotes_nothing_until_unsealed(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """Vault is sealed for promotion's first attempt: it fails as sealed, the retry promotes v2 everywhere."""
    v1 = first_rotation(vaulted, settings, store, vault, make_engine)
    seen: dict[str, tuple[int, str] | None] = {}

    def seal() -> None:
        vaulted.seal_vault()

    def unseal() -> None:
        vaulted.unseal_vault()
        seen["while-sealed"] = (vault.read_kv(vault_path(NAME)).version, "")

    with cleared(vaulted):
        run_id, phase = rotate(make_engine, settings, store, NAME, crash=window("promote", seal, unseal))
    assert phase is Phase.COMPLETED
    attempts = [s for s in store.steps(run_id) if s.name == "promote"]
    assert attempts[0].phase is Phase.FAILED
    assert "sealed" in (attempts[0].error_message or "")
    assert seen["while-sealed"] == (v1[0], "")  # nothing was promoted while sealed
    v2 = consistent(vaulted, vault, v1)
    healthy_after(vaulted, settings, store, vault, make_engine, v2)


def test_a_500_storm_failing_verification_rolls_back_to_the_old_value_everywhere(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """The primary's Deployments answer 500 during verification: rolled back, v1 current and in every Secret."""
    v1 = first_rotation(vaulted, settings, store, vault, make_engine)
    quick = [{"type": "workloadsReady", "namespace": "shop", "timeout": "3s"}]
    a_policy(settings, NAME, verify=quick, verifyTimeout="3s")
    emulator = vaulted.cluster("primary-east").emulator

    def hook(at: str, step: str) -> None:
        if (at, step) == ("after-start", "verify"):
            emulator.set_faults(error_rate=1.0, status=500, path_pattern="/deployments")
        if (at, step) == ("after-start", "create.compensate"):
            emulator.clear_faults()

    with cleared(vaulted):
        run_id, phase = rotate(make_engine, settings, store, NAME, crash=hook)
    assert phase is Phase.FAILED
    rollbacks = [s for s in store.steps(run_id) if s.type == "rotate.rollback"]
    assert [s.phase for s in rollbacks] == [Phase.COMPLETED]
    assert consistent(vaulted, vault, v1) == v1
    healthy_after(vaulted, settings, store, vault, make_engine, v1)
