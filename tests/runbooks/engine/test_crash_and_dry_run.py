"""Crashes at every step boundary resume to the same end, no side effect done twice; dry runs change nothing."""

from __future__ import annotations

import pytest

from drd.clients.kube_resources import LEASES, NAMESPACES, VELERO_BACKUPS, VELERO_RESTORES
from drd.outcomes import Phase
from drd.runbooks.engine.locks import RunExecuting, Target
from drd.runbooks.engine.planner import plan
from drd.runbooks.engine.runner import Interrupt
from drd.runbooks.steps import default_actions
from tests.runbooks.engine.conftest import APPROVER, REQUESTER, policy_backup

PARAMS = {"application": "shop", "namespace": "shop", "cluster": "primary-east", "suffix": "copy"}
EXECUTED = ("find-backup", "target-namespace", "restore", "wait-ready", "tell")
POINTS = ("after-start", "after-effect", "after-finish")


def crash_at(point: str, step: str):
    """A crash hook that kills the engine (as kill -9 would) the first time it reaches ``point`` of ``step``."""
    fired = []

    def hook(at: str, step_id: str) -> None:
        if (at, step_id) == (point, step) and not fired:
            fired.append(True)
            raise Interrupt(f"killed at {point} of {step}")

    return hook


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", EXECUTED)
def test_restore_app_killed_at_any_step_boundary_resumes_to_the_same_end_without_doing_anything_twice(
    make_engine, store, shipped, primary, step, point
):
    """Killed at ``point`` of ``step`` and resumed by a restarted drd, restore-app completes with one restore."""
    policy_backup(primary, "shop-1")
    crashing = make_engine(executor="drd-0", crash=crash_at(point, step))
    run = crashing.submit(shipped["restore-app"], PARAMS, requested_by=REQUESTER)
    with pytest.raises(Interrupt):
        crashing.execute(run.id)

    restarted = make_engine(executor="drd-0")
    final = restarted.execute(run.id)
    if final.phase is Phase.WAITING:  # a step that cannot be repeated was interrupted: a human decides
        assert final.details["waiting"]["reason"] == "in-doubt"
        assert (step, point) == ("tell", "after-start") or (step, point) == ("tell", "after-effect")
        restarted.resume(run.id, actor=APPROVER, mark_succeeded=step, reason="the message was seen in Slack")
        final = restarted.execute(run.id)

    assert final.phase is Phase.COMPLETED, final.details
    assert len(primary.list_objects(VELERO_RESTORES, namespace="velero").items) == 1
    assert len(primary.list_objects(VELERO_BACKUPS, namespace="velero").items) == 1
    assert primary.find(NAMESPACES, "shop-copy") is not None
    completed = [s.name for s in store.steps(run.id) if s.phase is Phase.COMPLETED]
    assert sorted(completed) == sorted(EXECUTED)
    assert primary.find(LEASES, Target("primary-east", "shop-copy").lease_name, namespace="drd") is None


def test_a_run_being_executed_by_another_live_process_is_not_executed_twice(make_engine, shipped, primary):
    """While another process's heartbeat is fresh, a second process refuses to execute the same run."""
    policy_backup(primary, "shop-1")
    first = make_engine(executor="drd-0", crash=crash_at("after-start", "restore"))
    run = first.submit(shipped["restore-app"], PARAMS, requested_by=REQUESTER)
    with pytest.raises(Interrupt):
        first.execute(run.id)
    with pytest.raises(RunExecuting, match="drd-0"):
        make_engine(executor="drd-1").execute(run.id)


def snapshot(sandbox) -> dict[str, list[tuple[str, str, str]]]:
    """Every object of every cluster drd could touch, with its resourceVersion."""
    seen = {}
    for name in ("primary-east", "dr-west"):
        kube = sandbox.cluster(name).kube
        objects = []
        for resource in (NAMESPACES, VELERO_BACKUPS, VELERO_RESTORES, LEASES):
            for obj in kube.list_objects(resource).items:
                meta = obj["metadata"]
                where = f"{meta.get('namespace', '')}/{meta['name']}"
                objects.append((resource.plural, where, meta["resourceVersion"]))
        seen[name] = sorted(objects)
    return seen


@pytest.mark.parametrize("mode", ["side-by-side", "in-place"])
def test_a_dry_run_changes_nothing_and_says_what_each_step_would_do(
    make_engine, shipped, primary, sandbox, store, mode
):
    """The plan reads for real, lists the gate and the restore it would create, and leaves every cluster as it was."""
    sandbox.pause_replication()  # no backup may reach dr-west on its own while the clusters are compared
    policy_backup(primary, "shop-1")
    make_engine()  # connections and clients exist before the snapshot
    before = snapshot(sandbox)
    engine = make_engine()
    result = plan(shipped["restore-app"], {**PARAMS, "mode": mode}, env=engine.env, actions=default_actions())
    assert snapshot(sandbox) == before
    assert store.list_runs() == []
    by_id = {entry.id: entry for entry in result.entries}
    assert by_id["find-backup"].fidelity == "executed"
    assert "shop-1" in by_id["find-backup"].summary
    assert by_id["restore"].fidelity == "simulated"
    assert any("create Restore" in change for change in by_id["restore"].changes)
    expected_gate = "gate" if mode == "in-place" else "skipped"
    assert by_id["approve"].fidelity == expected_gate


def test_a_resume_refused_because_another_process_executes_the_run_records_nothing(
    make_engine, store, shipped, primary
):
    """While another live process executes the run, resume is refused before anything reaches the audit trail."""
    policy_backup(primary, "shop-1")
    first = make_engine(executor="drd-0", crash=crash_at("after-start", "restore"))
    run = first.submit(shipped["restore-app"], PARAMS, requested_by=REQUESTER)
    with pytest.raises(Interrupt):
        first.execute(run.id)
    store.update_run(
        run.id, phase=Phase.WAITING, details={**store.get_run(run.id).details, "waiting": {"reason": "paused"}}
    )
    with pytest.raises(RunExecuting, match="retry then"):
        make_engine(executor="drd-1").resume(run.id, actor=APPROVER)
    assert [e.event for e in store.events(run.id) if e.event == "resumed"] == []
