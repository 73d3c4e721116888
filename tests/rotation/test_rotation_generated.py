"""Rotating a generated application secret through the real OpenBao into Secrets of two clusters.

Aspects covered: a rotation creates a value, delivers it to every target Secret, restarts the consumers,
verifies, and promotes it as Vault's current version with its labels in custom metadata; a second rotation
promotes with check-and-set over the first (previous version recorded); a verification that fails rolls
back (the old value everywhere, Vault unchanged, the pending record gone); a Vault sealed at promotion is
waited out and nothing is lost; a target cluster failing during delivery is delivered later and promotion
comes only after; a concurrent rotation is refused; a concurrent write to the Vault path halts promotion for
an operator (nothing revoked); drd killed mid-rotation resumes and finishes with one credential.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drd.clients.errors import VaultNotFound
from drd.clients.kube_resources import DEPLOYMENTS
from drd.clients.vault import VaultClient
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.policy.models.rotation import RotationPolicy
from drd.rotation.run import RotationBusy, start_rotation
from drd.rotation.steps import pending_path
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox
from drd.settings import Settings
from drd.store import Store
from tests.rotation.support import (
    OPERATOR,
    Interrupt,
    a_policy,
    make_engine,
    secret_value,
    settings,
    store,
    vault,
    vaulted,
)
from tests.support.hooks import at_step

__all__ = ["make_engine", "settings", "store", "vault", "vaulted"]
PATH = "drd/shop/shop-api-token"


def for_one_attempt(step: str, start: Callable[[], None], stop: Callable[[], None]) -> Callable[[str, str], None]:
    """A crash hook: ``start`` a fault as ``step``'s first attempt starts, ``stop`` it as the second starts."""
    seen: list[str] = []

    def hook(point: str, step_id: str) -> None:
        if (point, step_id) != ("after-start", step):
            return
        seen.append(step_id)
        if len(seen) == 1:
            start()
        elif len(seen) == 2:
            stop()

    return hook


def rotate(engine: Engine, settings: Settings, name: str = "shop-api-token") -> tuple[str, Phase]:
    config = load_config([settings.config.directory])
    policy = config.of_kind(RotationPolicy)[name]
    record = start_rotation(engine, config, policy, trigger="test", requested_by=OPERATOR)
    final = engine.execute(record.id)
    return record.id, final.phase


def current(vault: VaultClient) -> tuple[int, str]:
    found = vault.read_kv(PATH)
    return found.version, str(found.data["value"])


def test_a_rotation_delivers_verifies_and_promotes(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine]
) -> None:
    """The new value is Vault's version 1, in both clusters' Secrets, and the consumer was restarted for it."""
    a_policy(settings)
    run_id, phase = rotate(make_engine(), settings)
    assert phase is Phase.COMPLETED
    version, value = current(vault)
    assert version == 1
    assert len(value) == 40
    assert secret_value(vaulted, "primary-east", "shop-api-token", "token") == value
    assert secret_value(vaulted, "dr-west", "shop-api-token", "token") == value
    template = vaulted.cluster("primary-east").kube.get(DEPLOYMENTS, "storefront", namespace="shop")["spec"]["template"]
    assert template["metadata"]["annotations"]["drd.dev/restarted-for"] == f"{run_id}-primary-east"
    labels = vault.read_kv(PATH).custom_metadata
    assert (labels["drd/current-version"], labels["drd/previous-version"], labels["drd/rotation-run"]) == (
        "1",
        "0",
        run_id,
    )


def test_a_second_rotation_promotes_over_the_first(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine]
) -> None:
    """Version 2 replaces version 1 (check-and-set on 1), with a different value, and the pending record is gone."""
    a_policy(settings)
    rotate(make_engine(), settings)
    _, first = current(vault)
    _, phase = rotate(make_engine(), settings)
    assert phase is Phase.COMPLETED
    version, second = current(vault)
    assert (version, second != first) == (2, True)
    assert vault.read_kv(PATH).custom_metadata["drd/previous-version"] == "1"
    assert secret_value(vaulted, "dr-west", "shop-api-token", "token") == second
    with pytest.raises(VaultNotFound):
        vault.read_kv(pending_path(load_config([settings.config.directory]).of_kind(RotationPolicy)["shop-api-token"]))


def test_a_failed_verification_rolls_back_to_the_old_value(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """A check that fails: the old value is back in every Secret, Vault still holds it, the result is rolled back."""
    a_policy(settings)
    rotate(make_engine(), settings)
    version, old = current(vault)
    a_policy(settings, verify=[{"type": "http", "service": "no-such-service", "port": 80, "timeout": "2s"}])
    run_id, phase = rotate(make_engine(), settings)
    assert phase is Phase.FAILED
    assert current(vault) == (version, old)
    assert secret_value(vaulted, "primary-east", "shop-api-token", "token") == old
    assert secret_value(vaulted, "dr-west", "shop-api-token", "token") == old
    rollbacks = [s for s in store.steps(run_id) if s.type == "rotate.rollback"]
    assert [s.phase for s in rollbacks] == [Phase.COMPLETED]


def test_a_vault_sealed_at_promotion_is_waited_out(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """Vault sealed as promotion starts: the attempt fails, the rotation retries once unsealed and completes."""
    a_policy(settings)

    run_id, phase = rotate(
        make_engine(crash=for_one_attempt("promote", vaulted.seal_vault, vaulted.unseal_vault)), settings
    )
    assert phase is Phase.COMPLETED
    attempts = [s for s in store.steps(run_id) if s.name == "promote"]
    assert attempts[0].phase is Phase.FAILED
    assert "sealed" in (attempts[0].error_message or "")
    assert current(vault)[0] == 1


def test_a_target_cluster_down_is_delivered_later_and_promotion_waits(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """dr-west answers 503 during delivery: delivery is retried until it is back; promotion only after that."""
    a_policy(settings)
    emulator = vaulted.cluster("dr-west").emulator

    def outage() -> None:
        emulator.set_faults(error_rate=1.0, status=503)

    run_id, phase = rotate(make_engine(crash=for_one_attempt("deliver", outage, emulator.clear_faults)), settings)
    assert phase is Phase.COMPLETED
    steps = store.steps(run_id)
    deliveries = [s for s in steps if s.name == "deliver"]
    assert deliveries[0].phase is Phase.FAILED
    assert "dr-west" in (deliveries[0].error_message or "")
    (promoted,) = [s for s in steps if s.name == "promote"]
    assert promoted.started_at >= deliveries[-1].finished_at
    assert secret_value(vaulted, "dr-west", "shop-api-token", "token") == current(vault)[1]


def test_a_concurrent_rotation_is_refused(settings: Settings, make_engine: Callable[..., Engine]) -> None:
    """While a rotation of the policy is unfinished, starting another is refused, naming the first."""
    a_policy(settings)
    engine = make_engine()
    config = load_config([settings.config.directory])
    policy = config.of_kind(RotationPolicy)["shop-api-token"]
    first = start_rotation(engine, config, policy, trigger="test")
    with pytest.raises(RotationBusy, match=first.id):
        start_rotation(engine, config, policy, trigger="test")


def test_a_concurrent_write_to_the_vault_path_stops_promotion(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """Someone writes the path during the rotation: check-and-set fails, the run waits for an operator."""
    a_policy(settings)
    rotate(make_engine(), settings)

    def someone_writes() -> None:
        vault.write_kv(PATH, {"value": "written-by-someone-else"})

    run_id, phase = rotate(make_engine(crash=at_step("after-finish", "verify", someone_writes)), settings)
    assert phase is Phase.WAITING
    assert current(vault)[1] == "written-by-someone-else"
    (promote,) = [s for s in store.steps(run_id) if s.name == "promote"][-1:]
    assert "changed during the rotation" in (promote.error_message or "")
    assert not [s for s in store.steps(run_id) if s.name in ("deactivate", "revoke")]


def test_drd_killed_mid_rotation_resumes_with_one_credential(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine], store: Store
) -> None:
    """Killed after the new value was created, a restarted drd finishes the same rotation with that value."""

    def kill() -> None:
        raise Interrupt("kill -9")

    a_policy(settings)
    config = load_config([settings.config.directory])
    policy = config.of_kind(RotationPolicy)["shop-api-token"]
    crashing = make_engine(executor="drd-0", crash=at_step("after-finish", "create", kill))
    record = start_rotation(crashing, config, policy, trigger="test")
    with pytest.raises(Interrupt):
        crashing.execute(record.id)
    pending = vault.read_kv(pending_path(policy)).data["value"]
    final = make_engine(executor="drd-0").execute(record.id)
    assert final.phase is Phase.COMPLETED
    assert current(vault) == (1, pending)
