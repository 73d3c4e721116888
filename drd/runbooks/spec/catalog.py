"""The closed catalogue of step types: what each takes, produces, changes, and does in a dry run.

A runbook can only use these types; the engine maps each to drd's operations
layer. The metadata drives lint (typed inputs, declared outputs, retries
only where repeating is safe, a lock target for mutating types) and the
engine (default timeout and attempts, dry-run behaviour, secret outputs).

Idempotency classes:

* ``pure``: reads only; repeating it is harmless.
* ``idempotent``: converges on a state; repeating it is harmless.
* ``keyed``: creates one object named by the step's idempotency key, so after a
  crash the engine can look for it instead of creating a second one.
* ``none``: repeating it repeats the effect (a message sent twice, a Vault
  version written twice); it is never retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from drd.errors import PermanentError
from drd.policy import errors
from drd.policy.frozen import FrozenMap
from drd.policy.locations import Loc, format_path
from drd.policy.models.base import Model
from drd.runbooks.spec.inputs import drill, kube, other, restore, rotation, upgrade, velero

Idempotency = Literal["pure", "idempotent", "keyed", "none"]

MINUTE = 60.0
HOUR = 3600.0


class InputError(PermanentError):
    """A step's rendered inputs do not fit its type; retrying cannot help."""

    def __init__(self, step_type: str, problems: Iterable[tuple[Loc, str]]) -> None:
        self.problems = tuple(problems)
        lines = "; ".join(f"with.{format_path(loc)}: {message}" if loc else message for loc, message in self.problems)
        super().__init__(f"invalid inputs for {step_type}: {lines}")


@dataclass(frozen=True)
class StepType:
    """One step type's contract."""

    name: str
    """How runbooks name it (``velero.restore``)."""
    inputs: type[Model]
    """The model its ``with`` validates against."""
    outputs: tuple[str, ...]
    """The outputs it declares (``steps['<id>'].outputs.<name>``)."""
    mutating: bool
    """It changes something outside drd, so a runbook using it needs ``spec.target``."""
    idempotency: Idempotency
    """``pure``, ``idempotent``, ``keyed`` or ``none`` (see the module docstring)."""
    default_timeout: float
    """Seconds one attempt may take unless the step sets ``timeout``."""
    dry_run: str
    """What a dry run does with it, in one line."""
    summary: str
    """What it does, in one line."""
    secret_outputs: frozenset[str] = frozenset()
    """Outputs that carry secrets: masked in logs and plans, stored as ``<redacted>``."""

    @property
    def default_attempts(self) -> int:
        """3 for types that are safe to repeat, else 1."""
        return 3 if self.idempotency in ("pure", "idempotent") else 1

    @property
    def fields(self) -> tuple[str, ...]:
        """The input names as written in ``with:``."""
        return tuple(info.alias or name for name, info in self.inputs.model_fields.items())

    @property
    def touches_cluster(self) -> bool:
        """It acts on a cluster of the inventory (it has a ``cluster`` input)."""
        return "cluster" in self.inputs.model_fields

    def parse_inputs(self, rendered: Mapping[str, Any]) -> Model:
        """The typed inputs from a rendered ``with``; :class:`InputError` lists every problem."""
        try:
            return self.inputs.model_validate(rendered, by_alias=True, by_name=False)
        except ValidationError as exc:
            raise InputError(self.name, errors.translate(exc, self.inputs)) from exc

    def check_inputs(self, given: Mapping[str, Any], *, deferred: Callable[[Any], bool]) -> list[tuple[Loc, str]]:
        """Problems with ``given`` inputs, leaving out those whose value is ``deferred`` (an expression, an Unknown).

        Deferred inputs count as present, so only their type goes unchecked;
        an unknown input name is reported whatever its value.
        """
        known = set(self.fields)
        kept = {key: value for key, value in given.items() if not deferred(value)}
        unknown = sorted(set(given) - set(kept) - known)
        skipped = set(given) - set(kept) - set(unknown)
        found: list[tuple[Loc, str]] = [((key,), _unknown_input(key, self)) for key in unknown]
        try:
            self.inputs.model_validate(kept, by_alias=True, by_name=False)
        except ValidationError as exc:
            for loc, message in errors.translate(exc, self.inputs):
                if skipped and (not loc or loc[0] in skipped or message.startswith("give ")):
                    continue  # the deferred value may satisfy it; checked when rendered
                found.append((loc, message))
        return found


def _unknown_input(key: str, step_type: StepType) -> str:
    return f'unknown input "{key}"; {step_type.name} takes: {", ".join(step_type.fields)}'


_EXECUTED = "executed (read-only)"
_SERVER_DRY_RUN = "server-side dry run (nothing changes)"
_SIMULATED = "simulated: checked and shown, nothing is created"
_SHOWN = "not executed, shown"


def _types() -> list[StepType]:
    return [
        StepType("velero.findBackup", velero.FindBackupInputs,
                 ("name", "phase", "completedAt", "ageSeconds", "storageLocation"), False, "pure", 1 * MINUTE,
                 _EXECUTED, "Choose the newest restorable Backup of a policy, or one by name."),
        StepType("velero.listBackups", velero.ListBackupsInputs, ("backups", "count"), False, "pure", 1 * MINUTE,
                 _EXECUTED, "List Backups, newest first."),
        StepType("velero.backup", velero.BackupInputs, ("name", "phase", "itemsBackedUp"), True, "keyed", 2 * HOUR,
                 _SIMULATED, "Create a Velero Backup (named by the idempotency key) and wait for it."),
        StepType("velero.restore", velero.RestoreInputs, ("name", "phase", "warnings", "errors", "itemsRestored"),
                 True, "keyed", 2 * HOUR, _SIMULATED,
                 "Create a Velero Restore (named by the idempotency key) and wait for it."),
        StepType("velero.waitForPhase", velero.WaitForPhaseInputs, ("phase",), False, "pure", 1 * HOUR,
                 "executed once (read-only); does not wait", "Wait until a Backup or Restore reaches a phase."),
        StepType("velero.setLocationAccessMode", velero.SetLocationAccessModeInputs, ("previous",), True,
                 "idempotent", 5 * MINUTE, _SERVER_DRY_RUN, "Set a BackupStorageLocation ReadWrite or ReadOnly."),
        StepType("k8s.get", kube.GetInputs, ("object", "exists"), False, "pure", 1 * MINUTE, _EXECUTED,
                 "Read one object."),
        StepType("k8s.apply", kube.ApplyInputs, ("created", "updated", "unchanged"), True, "idempotent",
                 5 * MINUTE, _SERVER_DRY_RUN, "Create or update objects."),
        StepType("k8s.patch", kube.PatchInputs, ("object",), True, "idempotent", 5 * MINUTE, _SERVER_DRY_RUN,
                 "Patch one object."),
        StepType("k8s.annotate", kube.AnnotateInputs, ("object",), True, "idempotent", 5 * MINUTE,
                 _SERVER_DRY_RUN, "Set or remove annotations of one object."),
        StepType("k8s.delete", kube.DeleteInputs, ("deleted",), True, "idempotent", 10 * MINUTE, _SERVER_DRY_RUN,
                 "Delete one object."),
        StepType("k8s.scale", kube.ScaleInputs, ("previous",), True, "idempotent", 5 * MINUTE, _SERVER_DRY_RUN,
                 "Scale Deployments or StatefulSets, recording the previous counts."),
        StepType("k8s.waitReady", kube.WaitReadyInputs, ("workloads", "ready"), False, "pure", 20 * MINUTE,
                 "executed once (read-only); does not wait", "Wait until workloads in a namespace are ready."),
        StepType("k8s.isolateNamespace", kube.IsolateNamespaceInputs, ("created",), True, "idempotent",
                 5 * MINUTE, _SERVER_DRY_RUN, "Fence a namespace with a deny-all NetworkPolicy and a quota."),
        StepType("k8s.deleteNamespace", kube.DeleteNamespaceInputs, ("deleted",), True, "idempotent", 30 * MINUTE,
                 _SERVER_DRY_RUN, "Delete a namespace and wait until it is gone."),
        StepType("job.run", other.JobRunInputs, ("name", "succeeded", "logs"), True, "keyed", 30 * MINUTE, _SHOWN,
                 "Run a container as a Job (named by the idempotency key) and wait for it."),
        StepType("check.http", other.HttpCheckInputs, ("status", "body", "latencyMs"), False, "pure", 1 * MINUTE,
                 "executed when its target exists, else unknown", "Probe an HTTP endpoint."),
        StepType("check.tcp", other.TcpCheckInputs, ("latencyMs",), False, "pure", 1 * MINUTE,
                 "executed when its target exists, else unknown", "Open a TCP connection."),
        StepType("check.prometheus", other.PrometheusCheckInputs, ("verdict", "reason", "values", "query"), False,
                 "pure", 1 * HOUR, "executed (read-only): one sample, no waiting",
                 "Sample a Prometheus query against passIf/failIf: passed, failed or inconclusive (never a pass "
                 "without data)."),
        StepType("vault.read", other.VaultReadInputs, ("value", "version"), False, "pure", 1 * MINUTE,
                 "executed (read-only); the value stays secret", "Read a Vault KV v2 secret.",
                 secret_outputs=frozenset({"value"})),
        StepType("vault.write", other.VaultWriteInputs, ("version",), True, "none", 1 * MINUTE, _SHOWN,
                 "Write a new version of a Vault KV v2 secret."),
        StepType("approval", other.ApprovalInputs, ("approvedBy", "comment"), False, "none", 7 * 24 * HOUR,
                 "gate: listed, not waited for",
                 "Wait for a human to approve or reject (bounded by with.timeout)."),
        StepType("notify", other.NotifyInputs, ("sent",), False, "none", 1 * MINUTE, "rendered, not sent",
                 "Send a message to the notification channel."),
        StepType("sleep", other.SleepInputs, (), False, "pure", 7 * 24 * HOUR, "shown, not waited",
                 "Wait for a duration (bounded by with.duration)."),
        StepType("assert", other.AssertInputs, (), False, "pure", 1 * MINUTE,
                 "evaluated (unknown when it reads unknown values)", "Fail unless every condition is true."),
        StepType("drill.prepare", drill.DrillInputs,
                 ("backup", "backupStartedAt", "ageSeconds", "partiallyFailed", "storageLocation", "namespaces",
                  "sourceNamespaces", "sourceCluster"), False, "pure", 2 * MINUTE, _EXECUTED,
                 "Check the DR cluster is ready and choose the newest replicated backup to restore."),
        StepType("drill.isolate", drill.DrillNamespacesInputs, ("created",), True, "idempotent", 5 * MINUTE,
                 _SIMULATED, "Create the drill namespaces: owned by the run, deny-all network, quota, limits."),
        StepType("drill.stopWorkloads", drill.DrillNamespacesInputs, ("stopped",), True, "idempotent", 5 * MINUTE,
                 _SIMULATED, "Scale to zero or suspend what must not run in a drill."),
        StepType("drill.verify", drill.DrillVerifyInputs, ("checks", "objects", "restoreWarnings", "passed"), True,
                 "idempotent", 2 * HOUR, _SHOWN,
                 "Compare restored objects with the backup, inspect Velero's warnings, run the policy's checks."),
        StepType("drill.captureEvidence", drill.DrillNamespacesInputs, ("events", "logs"), False, "pure",
                 5 * MINUTE, _SHOWN, "Keep the drill namespaces' events and pod logs as evidence."),
        StepType("drill.teardown", drill.DrillTeardownInputs, ("status", "namespaces", "keptUntil"), True,
                 "idempotent", 30 * MINUTE, _SIMULATED,
                 "Delete the drill's namespaces and Restore (or keep them for inspection when it failed)."),
        StepType("restore.verify", restore.RestoreVerifyInputs,
                 ("checks", "objects", "restoreWarnings", "restoreErrors", "failedObjects", "skippedExisting",
                  "secrets", "passed"), False, "idempotent", 2 * HOUR, _SHOWN,
                 "Prove an incident restore with the drill's checks, Velero's results and the application's "
                 "Secrets."),
        StepType("upgrade.preflight", upgrade.UpgradeInputs, ("fromVersion", "toVersion", "findings"), False,
                 "pure", 5 * MINUTE, _EXECUTED,
                 "Pre-flight one cluster: version skew, drains, nodes, deprecated APIs, the platform's insights."),
        StepType("upgrade.backup", upgrade.UpgradeInputs, ("backups",), True, "keyed", 2 * HOUR, _SIMULATED,
                 "Take a fresh Velero backup of every application whose BackupPolicy sources this cluster."),
        StepType("upgrade.controlPlane", upgrade.UpgradeInputs, ("fromVersion", "toVersion", "changed"), True,
                 "idempotent", 2 * HOUR, _SHOWN, "Move the control plane to the target version and wait."),
        StepType("upgrade.verify", upgrade.UpgradeVerifyInputs, ("version", "nodes", "workloads"), False, "pure",
                 20 * MINUTE, _EXECUTED,
                 "Prove the cluster healthy: version, nodes Ready (kubelets upgraded), workloads Ready."),
        StepType("upgrade.addons", upgrade.UpgradeInputs, ("operations",), True, "idempotent", 1 * HOUR, _SHOWN,
                 "Move the platform's managed add-ons to versions compatible with the target."),
        StepType("upgrade.nodeGroups", upgrade.UpgradeInputs, ("groups",), True, "idempotent", 12 * HOUR, _SHOWN,
                 "Roll each node group to the target, one group at a time, draining under the plan's policy."),
        StepType("upgrade.soak", upgrade.SoakInputs, ("soakedUntil",), False, "pure", 30 * 24 * HOUR,
                 "shown, not waited", "Wait until the stage's soak ends (a recorded moment, not a duration)."),
        StepType("rotate.prepare", rotation.RotationInputs, ("currentVersion", "currentDigest", "oldKeyId"), True,
                 "idempotent", 5 * MINUTE, _EXECUTED,
                 "Check Vault and the source, read the current credential's version, free a key slot if needed."),
        StepType("rotate.create", rotation.RotationInputs, ("pendingDigest", "newKeyId"), True, "keyed", 10 * MINUTE,
                 _SIMULATED, "Create the new credential and keep it pending in Vault (adopted after a crash)."),
        StepType("rotate.deliver", rotation.RotationInputs, ("delivered", "deliveredAt"), True, "idempotent",
                 30 * MINUTE, _SIMULATED, "Write the pending credential into every target Secret, in place."),
        StepType("rotate.restart", rotation.RotationInputs, ("restarted",), True, "idempotent", 30 * MINUTE,
                 _SIMULATED, "Rolling-restart the consumers that read the Secret only at start, and wait."),
        StepType("rotate.verify", rotation.VerifyInputs, ("checks", "verifiedAt"), False, "pure", 30 * MINUTE,
                 _SHOWN, "Prove the new credential works and is in use (S3 call, BSL validation, login, checks)."),
        StepType("rotate.promote", rotation.PromoteInputs, ("version", "previousVersion", "promotedAt"), True,
                 "idempotent", 5 * MINUTE, _SHOWN,
                 "Write the new credential as Vault's current version (check-and-set), labels in metadata."),
        StepType("rotate.deactivate", rotation.OldKeyInputs, ("deactivated",), True, "idempotent", 5 * MINUTE,
                 _SHOWN, "Deactivate the old credential where that can be undone (an IAM key made Inactive)."),
        StepType("rotate.revoke", rotation.RevokeInputs, ("revoked",), True, "idempotent", 30 * 24 * HOUR, _SHOWN,
                 "After the grace period, delete the old credential."),
        StepType("rotate.rollback", rotation.RotationInputs, ("restored",), True, "idempotent", 30 * MINUTE, _SHOWN,
                 "Before promotion: put the old credential back everywhere and discard the new one."),
        StepType("rotate.cleanup", rotation.RotationInputs, ("removed",), True, "idempotent", 5 * MINUTE, _SHOWN,
                 "Remove this rotation's pending record from Vault."),
    ]  # fmt: skip


CATALOG: Mapping[str, StepType] = FrozenMap((item.name, item) for item in _types())
"""Every step type, by name."""


def step_type(name: str) -> StepType:
    """The step type called ``name``; KeyError naming the known ones if there is none."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f'unknown step type "{name}"; known types: {", ".join(sorted(CATALOG))}') from None
