"""The shipped runbooks: they lint clean, match the JSON Schema, and every expression renders to valid inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
import yaml

from drd.runbooks.spec.catalog import step_type
from drd.runbooks.spec.expressions import Context, StepStatus
from drd.runbooks.spec.loader import RunbookSet, load_runbooks
from drd.runbooks.spec.models import Runbook
from drd.runbooks.spec.parameters import bind
from drd.runbooks.spec.schema import runbook_json_schema
from drd.runbooks.spec.unknown import Unknown, contains_unknown

from .builders import RUNBOOKS

NAMES = [
    "drill-cross-region", "failover-region", "incident-restore", "pre-upgrade-backup", "restore-app",
    "rotate-secret", "upgrade-cluster", "verify-backup-storage",
]  # fmt: skip
REQUIRED = {
    "restore-app": {"application": "shop", "namespace": "shop"},
    "pre-upgrade-backup": {"cluster": "primary-east"},
    "drill-cross-region": {"policy": "shop-drill", "cluster": "dr-west"},
    "upgrade-cluster": {"plan": "upgrade-1-32", "cluster": "canary-east", "drill": "shop-drill"},
    "rotate-secret": {"policy": "shop-payments-token", "lockCluster": "primary-east"},
    "incident-restore": {"application": "shop", "cluster": "primary-east", "backup": "shop-1", "namespaces": "shop"},
}
OUTPUTS: dict[str, Any] = {
    "name": "shop-20260301030000", "phase": "Completed", "completedAt": "2026-03-01T03:00:00Z", "ageSeconds": 600,
    "storageLocation": "primary-east", "object": {"status": {"phase": "Available"}}, "exists": True,
    "approvedBy": "alice", "comment": "go", "warnings": 0, "errors": 0, "itemsRestored": 12, "itemsBackedUp": 40,
    "workloads": ["storefront"], "ready": True, "status": 200, "body": "ok", "latencyMs": 3, "sent": True,
    "backups": ["shop-20260301030000"], "count": 1, "previous": "ReadOnly",
    "namespaces": {"shop": "drill-shop-abc123"}, "sourceNamespaces": ["shop"], "backup": "shop-20260301030000",
    "backupStartedAt": "2026-03-01T03:00:00Z", "partiallyFailed": False, "sourceCluster": "primary-east",
    "created": ["drill-shop-abc123"], "stopped": [], "checks": [], "objects": {}, "restoreWarnings": [],
    "passed": True, "events": [], "logs": {}, "keptUntil": None,
    "deleted": True, "restoreErrors": [], "failedObjects": [], "skippedExisting": [], "secrets": {},
    "fromVersion": "v1.31.4", "toVersion": "v1.32.0", "findings": [], "changed": True, "version": "v1.32.0",
    "nodes": 3, "operations": [], "groups": [], "soakedUntil": "2026-03-01T04:00:00+00:00",
    "currentVersion": 1, "currentDigest": "0123456789ab", "oldKeyId": "AKIAOLD", "pendingDigest": "ba9876543210",
    "newKeyId": "AKIANEW", "delivered": ["primary-east/shop/token"], "deliveredAt": "2026-03-01T03:00:00Z",
    "restarted": [], "verifiedAt": "2026-03-01T03:01:00Z", "previousVersion": 1,
    "promotedAt": "2026-03-01T03:02:00Z", "deactivated": "AKIAOLD", "revoked": "AKIAOLD", "restored": [],
    "removed": True,
}  # fmt: skip
"""A plausible value for every output name the shipped runbooks read."""


@pytest.fixture(scope="module")
def shipped() -> RunbookSet:
    return load_runbooks([RUNBOOKS])


def test_the_shipped_runbooks_load_without_problems_or_warnings(shipped: RunbookSet) -> None:
    """Examples are exactly the documented ones, and lint finds nothing in them."""
    assert (list(shipped), shipped.warnings) == (NAMES, ())


@pytest.mark.parametrize("name", NAMES)
def test_the_json_schema_accepts_each_shipped_runbook(name: str) -> None:
    """Editors validating against the schema agree with drd."""
    document = yaml.safe_load((RUNBOOKS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(runbook_json_schema()).iter_errors(document)) == []


def context_for(runbook: Runbook, steps: dict[str, Any], **given: Any) -> Context:
    params = dict(bind(runbook, REQUIRED.get(runbook.name, {}) | given).values)
    run = {"id": "r-1", "trigger": "cli", "requestedBy": "alice", "startedAt": datetime(2026, 3, 1, tzinfo=UTC)}
    target: dict[str, Any] = {"cluster": None, "namespace": None}
    if runbook.spec.target is not None:
        names = Context(params=params, run=run)
        target["cluster"] = runbook.spec.target.cluster.render(names)
        if runbook.spec.target.namespace is not None:
            target["namespace"] = runbook.spec.target.namespace.render(names)
    return Context(params=params, steps=steps, run=run, target=target)


def simulate(runbook: Runbook, *, dry_run: bool, **given: Any) -> list[Any]:
    """Render every step in order as the engine would; a dry run makes each step's outputs Unknown."""
    steps: dict[str, Any] = {step.id: {"status": StepStatus.NOT_RUN, "outputs": {}} for step in runbook.spec.all_steps}
    rendered = []
    for step in runbook.spec.all_steps:
        context = context_for(runbook, steps, **given)
        guard = step.when.render(context) if step.when is not None else True
        inputs = step.with_.render(context)
        if not contains_unknown(inputs) and guard is True:
            step_type(step.type).parse_inputs(inputs)
        if step.compensate is not None:
            step.compensate.with_.render(context_for(runbook, steps | {step.id: succeeded(step.type)}, **given))
        rendered.append(inputs)
        unknown = Unknown(f"steps.{step.id}.outputs")
        steps[step.id] = {"status": StepStatus.SUCCEEDED, "outputs": unknown} if dry_run else succeeded(step.type)
    rendered += [template.render(context_for(runbook, steps, **given)) for template in runbook.spec.outputs.values()]
    return rendered


def succeeded(name: str) -> dict[str, Any]:
    return {"status": StepStatus.SUCCEEDED, "outputs": {key: OUTPUTS[key] for key in step_type(name).outputs}}


@pytest.mark.parametrize("name", NAMES)
def test_every_expression_renders_to_valid_inputs_when_steps_succeed(shipped: RunbookSet, name: str) -> None:
    """With plausible outputs, every with, when, compensation and output renders, and inputs fit their types."""
    assert not any(contains_unknown(value) for value in simulate(shipped[name], dry_run=False))


@pytest.mark.parametrize("name", NAMES)
def test_a_dry_run_renders_every_step_with_unknown_outputs(shipped: RunbookSet, name: str) -> None:
    """Steps that read outputs of steps not executed render as Unknown instead of failing."""
    simulate(shipped[name], dry_run=True)


def test_restore_app_restores_side_by_side_by_default(shipped: RunbookSet) -> None:
    """The target is <namespace>-restored and the restore maps the namespace onto it without updating anything."""
    runbook = shipped["restore-app"]
    rendered = simulate(runbook, dry_run=False)
    restore = rendered[[step.id for step in runbook.spec.all_steps].index("restore")]
    assert (restore["namespaceMapping"], restore["existingResourcePolicy"]) == ({"shop": "shop-restored"}, "none")


def test_restore_app_in_place_updates_the_live_namespace(shipped: RunbookSet) -> None:
    """In place, the target is the namespace itself, nothing is mapped and existing objects are updated."""
    runbook = shipped["restore-app"]
    context = context_for(runbook, {}, mode="in-place")
    assert context.target == {"cluster": "dr-west", "namespace": "shop"}
    rendered = simulate(runbook, dry_run=False, mode="in-place")
    restore = rendered[[step.id for step in runbook.spec.all_steps].index("restore")]
    assert (restore["namespaceMapping"], restore["existingResourcePolicy"]) == ({}, "update")
