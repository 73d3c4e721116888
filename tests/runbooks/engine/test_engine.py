"""The durable runbook engine: runs, approvals, failures, compensation, finally, locks, secrets."""

from __future__ import annotations

import pytest

from drd.clients.kube_resources import LEASES, NAMESPACES, VELERO_RESTORES
from drd.errors import PermanentError
from drd.outcomes import Phase
from drd.runbooks.engine.locks import LockHeld, Target
from drd.runbooks.engine.runner import RunError
from tests.runbooks.engine.conftest import APPROVER, REQUESTER, policy_backup, runbook

RESTORE_SIDE_BY_SIDE = {"application": "shop", "namespace": "shop", "cluster": "primary-east", "suffix": "copy"}


def phases(store, run_id: str) -> dict[str, str]:
    """Latest phase of each step, by step id."""
    latest = {}
    for step in store.steps(run_id):
        latest[step.name] = step.phase.value
    return latest


def test_restore_app_restores_a_backup_side_by_side_and_completes(engine, store, shipped, primary):
    """The shipped restore-app runbook restores the newest shop backup into shop-copy and verifies it is Ready."""
    policy_backup(primary, "shop-1")
    run = engine.submit(shipped["restore-app"], RESTORE_SIDE_BY_SIDE, requested_by=REQUESTER)
    final = engine.execute(run.id)
    assert final.phase is Phase.COMPLETED, final.details
    assert phases(store, run.id) == {
        "find-backup": "Completed",
        "target-namespace": "Completed",
        "approve": "Skipped",
        "restore": "Completed",
        "wait-ready": "Completed",
        "verify": "Skipped",
        "tell": "Completed",
    }
    assert final.details["outputs"]["backupUsed"] == "shop-1"
    assert primary.find(NAMESPACES, "shop-copy") is not None


def test_restoring_into_a_live_namespace_waits_for_an_approval(engine, shipped, primary):
    """In place, the run stops at the approval gate before anything is restored, holding its lock."""
    policy_backup(primary, "shop-1")
    run = engine.submit(shipped["restore-app"], {**RESTORE_SIDE_BY_SIDE, "mode": "in-place"}, requested_by=REQUESTER)
    waiting = engine.execute(run.id)
    assert waiting.phase is Phase.WAITING
    assert waiting.details["waiting"]["reason"] == "approval"
    assert waiting.details["waiting"]["step"] == "approve"
    assert primary.list_objects(VELERO_RESTORES, namespace="velero").items == []
    assert primary.find(LEASES, Target("primary-east", "shop").lease_name, namespace="drd") is not None


def test_the_requester_cannot_approve_their_own_run(engine, shipped, primary):
    """Approval needs a second person: the requester's approval is refused."""
    policy_backup(primary, "shop-1")
    run = engine.submit(shipped["restore-app"], {**RESTORE_SIDE_BY_SIDE, "mode": "in-place"}, requested_by=REQUESTER)
    engine.execute(run.id)
    with pytest.raises(RunError, match="cannot approve"):
        engine.approve(run.id, "approve", actor=REQUESTER)


def test_an_approved_run_carries_on_and_records_who_approved(engine, store, shipped, primary):
    """After another person approves, the restore runs and the audit trail names the approver and comment."""
    policy_backup(primary, "shop-1")
    run = engine.submit(shipped["restore-app"], {**RESTORE_SIDE_BY_SIDE, "mode": "in-place"}, requested_by=REQUESTER)
    engine.execute(run.id)
    engine.approve(run.id, "approve", actor=APPROVER, comment="INC-42: data loss confirmed")
    final = engine.execute(run.id)
    assert final.phase is Phase.COMPLETED, final.details
    approve = [s for s in store.steps(run.id) if s.name == "approve"][-1]
    assert approve.outputs == {"approvedBy": APPROVER, "comment": "INC-42: data loss confirmed"}
    assert [(e.event, e.actor) for e in store.events(run.id) if e.event == "approved"] == [("approved", APPROVER)]
    assert primary.find(LEASES, Target("primary-east", "shop").lease_name, namespace="drd") is None


def test_a_rejected_run_fails_without_restoring_and_still_runs_finally(engine, store, shipped, primary):
    """Rejecting at the gate fails the approval step; nothing is restored and the finally notification runs."""
    policy_backup(primary, "shop-1")
    params = {**RESTORE_SIDE_BY_SIDE, "mode": "in-place"}
    doc = shipped["restore-app"].canonical()
    doc["spec"]["onFailure"] = "fail"
    run = engine.submit(type(shipped["restore-app"]).model_validate(doc), params, requested_by=REQUESTER)
    engine.execute(run.id)
    engine.approve(run.id, "approve", actor=APPROVER, comment="not this backup", approve=False)
    final = engine.execute(run.id)
    assert final.phase is Phase.FAILED
    assert final.details["failure"]["step"] == "approve"
    assert phases(store, run.id)["tell"] == "Completed"
    assert "restore" not in phases(store, run.id)
    assert primary.list_objects(VELERO_RESTORES, namespace="velero").items == []


def test_a_second_run_on_a_locked_target_is_rejected_naming_the_holder(engine, shipped, primary):
    """While a run waits at its gate, another run of the same target is refused with the holder's run id."""
    policy_backup(primary, "shop-1")
    params = {**RESTORE_SIDE_BY_SIDE, "mode": "in-place"}
    first = engine.submit(shipped["restore-app"], params, requested_by=REQUESTER)
    engine.execute(first.id)
    second = engine.submit(shipped["restore-app"], params, requested_by=REQUESTER)
    with pytest.raises(LockHeld, match=first.id):
        engine.execute(second.id)


QUEUED = """
apiVersion: drd.dev/v1
kind: Runbook
metadata: {name: queued}
spec:
  parameters:
    namespace: {type: string, default: shop}
  target: {cluster: primary-east, namespace: "${{ params.namespace }}"}
  concurrency: {onConflict: queue}
  steps:
    - {id: gate, type: approval, with: {message: hold the lock}}
"""


def test_a_queued_run_waits_for_the_lock_and_then_runs(engine, shipped, primary):
    """With onConflict: queue, a second run waits (queued) and runs once the first finished."""
    book = runbook(QUEUED)
    first = engine.submit(book, {}, requested_by=REQUESTER)
    engine.execute(first.id)
    second = engine.submit(book, {}, requested_by=REQUESTER)
    assert engine.execute(second.id).details["waiting"]["reason"] == "queued"
    engine.approve(first.id, "gate", actor=APPROVER)
    assert engine.execute(first.id).phase is Phase.COMPLETED
    waiting = engine.execute(second.id).details["waiting"]
    assert (waiting["reason"], waiting["step"]) == ("approval", "gate")


COMPENSATED = """
apiVersion: drd.dev/v1
kind: Runbook
metadata: {name: compensated}
spec:
  target: {cluster: primary-east, namespace: shop}
  onFailure: compensate
  steps:
    - id: first
      type: k8s.annotate
      with: {cluster: primary-east, apiVersion: v1, kind: Namespace, name: shop, annotations: {step: first}}
      compensate:
        type: k8s.annotate
        with: {cluster: primary-east, apiVersion: v1, kind: Namespace, name: shop, annotations: {undo: first}}
    - id: second
      type: k8s.annotate
      with: {cluster: primary-east, apiVersion: v1, kind: Namespace, name: shop, annotations: {step: second}}
      compensate:
        type: k8s.annotate
        with: {cluster: primary-east, apiVersion: v1, kind: Namespace, name: shop, annotations: {undo: second}}
    - id: fails
      type: assert
      with: {that: [false], message: deliberately false}
  finally:
    - {id: last, type: notify, with: {message: done}}
"""


def test_compensations_run_newest_first_then_finally(engine, store):
    """A failing step with onFailure: compensate undoes the succeeded steps in reverse order, then runs finally."""
    run = engine.submit(runbook(COMPENSATED), {}, requested_by=REQUESTER)
    final = engine.execute(run.id)
    assert final.phase is Phase.FAILED
    order = [s.name for s in sorted(store.steps(run.id), key=lambda s: s.started_at)]
    assert order == ["first", "second", "fails", "second.compensate", "first.compensate", "last"]
    assert final.details["failure"] == {"step": "fails", "message": "deliberately false (that[0] false)"}


RETRIED = """
apiVersion: drd.dev/v1
kind: Runbook
metadata: {name: retried}
spec:
  steps:
    - id: read
      type: k8s.get
      with: {cluster: primary-east, apiVersion: v1, kind: Namespace, name: shop}
      retry: {maxAttempts: 3, backoff: {initial: 1s, max: 1s}}
"""


def test_a_temporary_api_error_is_retried_with_a_new_attempt(engine, store, sandbox):
    """A 500 from the API server fails one attempt; the next attempt succeeds and the run completes."""
    sandbox.cluster("primary-east").emulator.fail_next(1, status=500)
    run = engine.submit(runbook(RETRIED), {}, requested_by=REQUESTER)
    final = engine.execute(run.id)
    assert final.phase is Phase.COMPLETED
    attempts = [(s.attempt, s.phase.value, s.error_class) for s in store.steps(run.id)]
    assert attempts == [(1, "Failed", "temporary"), (2, "Completed", None)]


SECRET = """
apiVersion: drd.dev/v1
kind: Runbook
metadata: {name: secret}
spec:
  parameters:
    token: {type: string, secret: true}
  steps:
    - id: check
      type: assert
      with: {that: ["${{ params.token != '' }}"], message: "token ${{ params.token }} is empty"}
  outputs:
    echoed: "${{ params.token }}"
"""


def test_a_secret_parameter_is_never_stored(engine, store):
    """A secret parameter reaches the steps but not the run record, the audit trail or the outputs."""
    run = engine.submit(runbook(SECRET), {"token": "s3cr3t-value-42"}, requested_by=REQUESTER)
    final = engine.execute(run.id, secrets={"token": "s3cr3t-value-42"})
    assert final.phase is Phase.COMPLETED
    stored = repr((final, store.steps(run.id), store.events(run.id)))
    assert "s3cr3t-value-42" not in stored


def test_resuming_a_run_needs_its_secret_parameters_again(engine):
    """Secrets are never stored, so executing the run without them is refused with the names to supply."""
    run = engine.submit(runbook(SECRET), {"token": "s3cr3t-value-42"}, requested_by=REQUESTER)
    with pytest.raises(RunError, match="-p token="):
        engine.execute(run.id)


def test_a_run_whose_pinned_runbook_was_edited_in_the_store_is_refused(engine, store):
    """The pinned definition must match its digest: a run edited behind drd's back does not execute."""
    run = engine.submit(runbook(RETRIED), {}, requested_by=REQUESTER)
    details = dict(run.details)
    details["definition"] = details["definition"].replace('"name": "shop"', '"name": "kube-system"')
    store.update_run(run.id, details=details)
    with pytest.raises(RunError, match="digest"):
        engine.execute(run.id)


def test_an_unknown_cluster_fails_the_step_with_the_known_ones(engine, store):
    """A step naming a cluster outside the inventory fails permanently, listing the clusters drd knows."""
    doc = runbook(RETRIED).canonical()
    doc["spec"]["steps"][0]["with"]["cluster"] = "nowhere"
    book = type(runbook(RETRIED)).model_validate(doc)
    run = engine.submit(book, {}, requested_by=REQUESTER)
    final = engine.execute(run.id)
    assert final.phase is Phase.FAILED
    message = store.steps(run.id)[-1].error_message
    assert "nowhere" in message
    assert "primary-east" in message


def test_a_paused_run_stays_paused_until_resumed(engine, store):
    """onFailure: pause stops the run; executing it again does nothing until a human resumes it."""
    doc = runbook(COMPENSATED).canonical()
    doc["spec"]["onFailure"] = "pause"
    run = engine.submit(type(runbook(COMPENSATED)).model_validate(doc), {}, requested_by=REQUESTER)
    paused = engine.execute(run.id)
    assert paused.details["waiting"]["reason"] == "paused"
    assert engine.execute(run.id).details["waiting"]["reason"] == "paused"
    engine.resume(run.id, actor=APPROVER, skip="fails", reason="checked by hand")
    final = engine.execute(run.id)
    assert final.phase is Phase.COMPLETED
    assert phases(store, run.id)["fails"] == "Skipped"
    assert [e.actor for e in store.events(run.id) if e.event == "skipped"] == [APPROVER]


def test_resuming_a_finished_run_is_refused(engine):
    """Only paused, in-doubt or failed runs resume."""
    run = engine.submit(runbook(RETRIED), {}, requested_by=REQUESTER)
    engine.execute(run.id)
    with pytest.raises(PermanentError, match="Completed"):
        engine.resume(run.id, actor=APPROVER)


def test_finished_runs_and_step_durations_reach_the_metrics(make_engine):
    """A run counts once in drd_runbook_runs_total by result; each step's duration lands in the histogram."""
    from prometheus_client import CollectorRegistry

    from drd.metrics import Metrics
    from drd.runbooks.observer import MetricsObserver

    registry = CollectorRegistry()
    engine = make_engine(observer=MetricsObserver(Metrics(registry)))
    run = engine.submit(runbook(RETRIED), {}, requested_by=REQUESTER)
    engine.execute(run.id)
    runs = registry.get_sample_value("drd_runbook_runs_total", {"runbook": "retried", "result": "succeeded"})
    steps = registry.get_sample_value(
        "drd_runbook_step_duration_seconds_count", {"runbook": "retried", "step_type": "k8s.get"}
    )
    assert (runs, steps) == (1.0, 1.0)


def test_backups_chosen_by_an_unfinished_run_are_in_use(engine, store, shipped, primary):
    """While restore-app waits at its gate, the backup it chose is in use (retention must not prune it)."""
    from drd.runbooks.usage import backups_in_use

    policy_backup(primary, "shop-1")
    run = engine.submit(shipped["restore-app"], {**RESTORE_SIDE_BY_SIDE, "mode": "in-place"}, requested_by=REQUESTER)
    engine.execute(run.id)
    assert backups_in_use(store) == {"shop-1"}
    engine.approve(run.id, "approve", actor=APPROVER)
    engine.execute(run.id)
    assert backups_in_use(store) == frozenset()


def test_cancelling_a_paused_run_with_compensation_undoes_what_succeeded_and_frees_the_lock(engine, store, primary):
    """A paused run cancelled with --compensate runs its compensations and finally, ends Failed, releases its lock."""
    doc = runbook(COMPENSATED).canonical()
    doc["spec"]["onFailure"] = "pause"
    run = engine.submit(type(runbook(COMPENSATED)).model_validate(doc), {}, requested_by=REQUESTER)
    assert engine.execute(run.id).details["waiting"]["reason"] == "paused"
    engine.cancel(run.id, actor=APPROVER, reason="INC-7 resolved otherwise", compensate=True)
    final = engine.execute(run.id)
    assert final.phase is Phase.FAILED
    assert final.details["failure"]["message"] == f"cancelled by {APPROVER}: INC-7 resolved otherwise"
    assert phases(store, run.id)["second.compensate"] == "Completed"
    assert phases(store, run.id)["last"] == "Completed"
    assert primary.find(LEASES, Target("primary-east", "shop").lease_name, namespace="drd") is None
