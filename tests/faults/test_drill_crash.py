"""Fault matrix, drill row, SIGKILL column: drd killed at every step boundary of drill-cross-region.

One sandbox for the module with one replicated backup (each drill makes its own namespaces and Restore,
named after its run, and tears them down). Killed at ``point`` of ``step``, a restarted drd resumes the
same drill to an honest ``passed``: one Restore, evidence complete, no drill namespace left past its TTL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.daemon.drill_recorder import finish_drill
from drd.drills.run import start_drill
from drd.outcomes import Phase
from drd.runbooks.engine.runner import Interrupt
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import default_topology
from tests.drills.conftest import add_drill, dr, make_engine, primary, settings, shipped, store
from tests.faults.support import POINTS, assert_drill_namespaces_expire, assert_honest_drill, kill_at
from tests.faults.test_drill import POLICY, replicated

__all__ = ["add_drill", "dr", "make_engine", "primary", "settings", "shipped", "store"]
STEPS = ("prepare", "isolate", "restore", "stop-workloads", "verify", "evidence", "teardown")


@pytest.fixture(scope="module")
def sandbox(moto_server: MotoS3) -> Iterator[Sandbox]:
    """Primary and DR clusters for the whole module, with one shop backup replicated into dr-west."""
    options = SandboxOptions.fast()
    options.vault = False
    options.topology = default_topology(canary=False)
    with Sandbox(options, moto=moto_server) as environment:
        replicated(environment, environment.cluster("primary-east").kube, environment.cluster("dr-west").kube, "shop-1")
        yield environment
    moto_server.reset()


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", STEPS)
def test_drd_killed_at_a_drill_step_boundary_resumes_to_an_honest_pass(
    sandbox, dr, make_engine, store, add_drill, step, point
):
    """Killed at ``point`` of ``step``, a restarted drd finishes the same drill: passed, one Restore, no namespace."""
    config = add_drill(POLICY)
    crashing = make_engine(config=config, executor="drd-0", crash=kill_at(point, step))
    record = start_drill(crashing, config, config.drill_policies[POLICY], trigger="test")
    with pytest.raises(Interrupt):
        crashing.execute(record.id)
    assert not store.get_run(record.id).phase.terminal  # killed: recorded as unfinished, never as passed
    final = make_engine(config=config, executor="drd-0").execute(record.id)
    assert final.phase.terminal
    evidence = finish_drill(store, record.id, config=config)
    assert_honest_drill(evidence, store.get_run(record.id).phase)
    assert evidence["result"] == "passed", evidence.get("failure")
    restores = [s for s in store.steps(record.id) if s.name == "restore" and s.phase is Phase.COMPLETED]
    assert len(restores) == 1
    assert_drill_namespaces_expire(config, dr, make_engine(config=config).env.connections)
