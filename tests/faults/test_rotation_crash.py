"""Fault matrix, rotation row, SIGKILL column: drd killed at every step boundary of rotate-secret.

One Vault sandbox for the module (each test rotates a policy of its own: its own Vault path and Secrets).
Killed at ``point`` of ``step``, a restarted drd resumes the same run to Completed with exactly one new
credential: the pending value created before the kill is the one promoted, and it is Vault's current
version and in every target Secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from drd.clients.vault import VaultClient
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.policy.models.rotation import RotationPolicy
from drd.rotation.run import start_rotation
from drd.runbooks.engine.runner import Engine, Interrupt
from drd.sandbox.environment import Sandbox
from drd.sandbox.s3 import MotoS3
from drd.settings import Settings
from drd.store import Store
from tests.faults.rotation_support import CLUSTERS, vault_path, vaulted_sandbox
from tests.faults.support import POINTS, assert_secret_consistent, kill_at
from tests.rotation.support import OPERATOR, a_policy, make_engine, settings, store, vault

__all__ = ["make_engine", "settings", "store", "vault"]
STEPS = ("prepare", "create", "deliver", "restart", "verify", "promote", "deactivate", "revoke", "cleanup")


@pytest.fixture(scope="module")
def vaulted(moto_server: MotoS3) -> Iterator[Sandbox]:
    """One Vault sandbox for every kill point (no fault outlives a test: nothing is injected but the kill)."""
    yield from vaulted_sandbox(moto_server)
    moto_server.reset()


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", STEPS)
def test_drd_killed_at_a_rotation_step_boundary_resumes_with_one_valid_credential(
    vaulted: Sandbox,
    settings: Settings,
    vault: VaultClient,
    make_engine: Callable[..., Engine],
    store: Store,
    step: str,
    point: str,
) -> None:
    """Killed at ``point`` of ``step``, a restarted drd completes the rotation; Vault and every Secret agree."""
    name = f"crash-{step}-{point}"
    a_policy(settings, name)
    config = load_config([settings.config.directory])
    policy = config.of_kind(RotationPolicy)[name]
    crashing = make_engine(executor="drd-0", crash=kill_at(point, step))
    record = start_rotation(crashing, config, policy, trigger="test", requested_by=OPERATOR)
    with pytest.raises(Interrupt):
        crashing.execute(record.id)
    assert not store.get_run(record.id).phase.terminal  # killed: the store says it is unfinished, not done
    final = make_engine(executor="drd-0").execute(record.id)
    assert final.phase is Phase.COMPLETED, final.details
    now = assert_secret_consistent(vaulted, vault, vault_path(name), clusters=CLUSTERS, secret=name)
    assert now is not None
    assert now[0] == 1
    promoted = [s for s in store.steps(record.id) if s.name == "promote" and s.phase is Phase.COMPLETED]
    assert len(promoted) == 1
