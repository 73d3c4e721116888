"""``drd runbook …`` in-process against the sandbox: what it prints and the exit codes scripts rely on.

Aspects covered: ``list``, ``show RUNBOOK``, ``lint`` (exit 0; exit 2 with ``file:line: path: message``);
``run --dry-run`` (the plan, nothing changes); ``run`` to completion (0), to an approval (0 and the
command to go on), paused by a failed step (0 and the hint); ``approve`` (refused for the requester,
then by another person the run completes), ``reject`` (1); ``resume``; ``show RUN`` as a table and as
JSON; ``runs``. The person at the CLI is ``DRD_ACTOR`` (``alice@test`` unless a test says otherwise).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from drd.cli.main import main
from drd.clients.kube_resources import LEASES, NAMESPACES, VELERO_BACKUPS, VELERO_RESTORES
from drd.sandbox.files import write_files
from tests.runbooks.engine.conftest import APPROVER, REQUESTER, RUNBOOKS, policy_backup
from tests.sandbox.fixtures import primary, sandbox

__all__ = ["primary", "sandbox"]

SHIPPED = ("failover-region", "pre-upgrade-backup", "restore-app", "verify-backup-storage")
SIDE_BY_SIDE = ("-p", "application=shop", "-p", "namespace=shop", "-p", "cluster=primary-east", "-p", "suffix=copy")
IN_PLACE = (*SIDE_BY_SIDE, "-p", "mode=in-place")

Drd = Callable[..., tuple[int, str, str]]


@pytest.fixture
def drd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Drd:
    """``drd(*argv, actor=…)`` runs one command in-process as that person: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DRD_RUNBOOKS", str(RUNBOOKS))
    monkeypatch.setenv("DRD_STATE", str(tmp_path / "drd.sqlite"))

    def run(*argv: str, actor: str = REQUESTER) -> tuple[int, str, str]:
        monkeypatch.setenv("DRD_ACTOR", actor)
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    return run


@pytest.fixture
def env(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The sandbox's configuration and kubeconfig in the environment, as ``source DIR/env`` does."""
    paths = write_files(sandbox, tmp_path / "sb")
    monkeypatch.setenv("DRD_CONFIG", str(paths["config"]))
    monkeypatch.setenv("KUBECONFIG", str(paths["kubeconfig"]))
    return paths


def run_id(stderr: str) -> str:
    """The run id from ``run …: NAME submitted``."""
    found = re.search(r"^run (\S+): \S+ submitted$", stderr, re.MULTILINE)
    assert found, stderr
    return found.group(1)


def shown(drd: Drd, run: str) -> dict:
    """``drd runbook show RUN -o json``."""
    code, out, err = drd("runbook", "show", run, "-o", "json")
    assert code == 0, err
    document: dict = json.loads(out)
    return document


def snapshot(primary) -> list[tuple[str, str, str]]:
    """Every object of primary-east a restore could touch, with its resourceVersion."""
    objects = []
    for resource in (NAMESPACES, VELERO_BACKUPS, VELERO_RESTORES, LEASES):
        for obj in primary.list_objects(resource).items:
            meta = obj["metadata"]
            objects.append((resource.plural, f"{meta.get('namespace', '')}/{meta['name']}", meta["resourceVersion"]))
    return sorted(objects)


# Runbooks: list, show, lint (no cluster needed)


def test_list_names_every_shipped_runbook_with_its_parameters(drd):
    """`drd runbook list` has a row per runbook: its name, step count, parameters and first description line."""
    code, out, _ = drd("runbook", "list")

    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(SHIPPED) <= set(rows)
    assert rows["pre-upgrade-backup"].split()[1:4] == ["2", "cluster,", "ttl"]
    assert "Restore one application's namespace from a Velero backup." in rows["restore-app"]


def test_show_runbook_prints_its_parameters_and_what_each_step_does_in_a_dry_run(drd):
    """`show restore-app` gives its short digest, parameters with types and defaults, each step's dry-run fidelity."""
    code, out, _ = drd("runbook", "show", "restore-app")

    assert code == 0
    assert re.fullmatch(r"restore-app  \(digest sha256:[0-9a-f]{12}\)", out.splitlines()[0])
    assert "  application: string required  The BackupPolicy" in out
    assert "  mode: enum (default side-by-side)" in out
    restore = next(line for line in out.splitlines() if line.startswith("restore "))
    assert restore.split()[1:3] == ["velero.restore", "simulated:"]


def test_show_of_neither_a_runbook_nor_a_run_is_a_usage_error(drd):
    """An unknown name exits 2 and lists the runbooks there are."""
    code, _, err = drd("runbook", "show", "nope")

    assert code == 2
    assert "'nope' is neither a runbook (" in err
    assert "restore-app" in err


def test_lint_of_the_shipped_runbooks_exits_0(drd):
    """The repository's runbooks are valid."""
    code, out, err = drd("runbook", "lint")

    assert code == 0, out + err
    assert out.startswith(f"{RUNBOOKS}: valid (")


BROKEN = """\
apiVersion: drd.dev/v1
kind: Runbook
metadata:
  name: broken
spec:
  steps:
    - id: find
      type: velero.findBackup
      with: {cluster: dr-west, policy: shop}
    - id: tell
      type: notify
      with:
        message: "found ${{ steps.find.outputs.nmae }}"
"""


def test_lint_of_a_broken_runbook_exits_2_naming_file_line_path_and_problem(drd, tmp_path):
    """A misspelt output is reported as `file:line: path: message` with the outputs there are, and exit 2."""
    broken = tmp_path / "runbooks" / "broken.yaml"
    broken.parent.mkdir()
    broken.write_text(BROKEN)
    code, out, err = drd("runbook", "lint", str(broken.parent))

    assert code == 2
    assert out.splitlines() == [
        f"{broken}:13: spec.steps[1].with.message: steps.find.outputs.nmae: velero.findBackup has no output "
        '"nmae"; its outputs: name, phase, completedAt, ageSeconds, storageLocation'
    ]
    assert err == f"1 error(s) in {broken.parent}\n"


# Running


def test_a_dry_run_prints_the_plan_and_changes_nothing(drd, env, primary):
    """`run --dry-run` exits 0 with each step's would-do (the gate, the Restore it would create); nothing changes."""
    policy_backup(primary, "shop-1")
    before = snapshot(primary)
    code, out, err = drd("runbook", "run", "restore-app", *IN_PLACE, "--dry-run")

    assert code == 0, err
    assert "mode: dry run (nothing will change)" in out.splitlines()[0]
    rows = {line.split()[1]: line for line in out.splitlines()[2:]}
    assert "executed" in rows["find-backup"]
    assert "shop-1" in rows["find-backup"]
    assert "would wait for an approval" in rows["approve"]
    assert "create Restore velero/" in rows["restore"]
    assert snapshot(primary) == before
    assert drd("runbook", "runs", "-o", "json")[1:] == (json.dumps({"runs": []}, indent=2) + "\n", "")


def test_run_to_completion_exits_0_and_prints_the_steps_and_outputs(drd, env, primary):
    """A side-by-side restore runs to the end in the CLI's process: exit 0, every step and the outputs shown."""
    policy_backup(primary, "shop-1")
    code, out, err = drd("runbook", "run", "restore-app", *SIDE_BY_SIDE)

    assert code == 0, out + err
    assert f"run {run_id(err)}  runbook restore-app  phase Completed  target primary-east/shop-copy" in out
    assert "backupUsed=shop-1" in out
    assert primary.find(NAMESPACES, "shop-copy") is not None


def test_a_run_that_reaches_an_approval_exits_0_and_says_how_to_approve(drd, env, primary):
    """In place, the run stops at its gate: exit 0, nothing restored, and the approve command on stderr."""
    policy_backup(primary, "shop-1")
    code, out, err = drd("runbook", "run", "restore-app", *IN_PLACE)

    run = run_id(err)
    assert code == 0, out + err
    assert f"waiting for approval of step approve: drd runbook approve {run} approve --comment '…'" in err
    assert shown(drd, run)["state"] == "approval at approve"
    assert primary.list_objects(VELERO_RESTORES, namespace="velero").items == []


def test_the_requester_cannot_approve_their_own_run(drd, env, primary):
    """Approving from the identity that started the run is refused with exit 1; the run still waits."""
    policy_backup(primary, "shop-1")
    run = run_id(drd("runbook", "run", "restore-app", *IN_PLACE)[2])
    code, _, err = drd("runbook", "approve", run, "approve", "--comment", "me", actor=REQUESTER)

    assert code == 1
    assert f"{REQUESTER} started run {run} and cannot approve it" in err
    assert shown(drd, run)["phase"] == "Waiting"


def test_an_approval_by_another_person_completes_the_run_and_is_recorded(drd, env, primary):
    """`approve` as a second person carries the run on to Completed (exit 0); the audit names them and why."""
    policy_backup(primary, "shop-1")
    run = run_id(drd("runbook", "run", "restore-app", *IN_PLACE)[2])
    code, out, err = drd("runbook", "approve", run, "approve", "--comment", "INC-42", actor=APPROVER)

    assert code == 0, out + err
    assert f"run {run}: step approve approved" in err
    assert "phase Completed" in out.splitlines()[0]
    approved = [e for e in shown(drd, run)["audit"] if e["event"] == "approved"]
    assert [(e["actor"], e["data"]) for e in approved] == [(APPROVER, {"step": "approve", "comment": "INC-42"})]
    assert len(primary.list_objects(VELERO_RESTORES, namespace="velero").items) == 1


def test_a_rejection_exits_1_and_restores_nothing(drd, env, primary):
    """`reject` records the decision, the run fails at the gate (exit 1) and no Restore is created."""
    policy_backup(primary, "shop-1")
    run = run_id(drd("runbook", "run", "restore-app", *IN_PLACE)[2])
    code, out, err = drd("runbook", "reject", run, "approve", "--comment", "wrong backup", actor=APPROVER)

    assert code == 1, out + err
    document = shown(drd, run)
    assert (document["phase"], document["failure"]["step"]) == ("Failed", "approve")
    assert primary.list_objects(VELERO_RESTORES, namespace="velero").items == []


def test_a_paused_run_is_resumed_and_completes(drd, env, primary):
    """Without a backup the run pauses at find-backup (exit 0, the hint); once there is one, `resume` completes it."""
    code, _, err = drd("runbook", "run", "restore-app", *SIDE_BY_SIDE)
    run = run_id(err)
    assert code == 0, err
    assert f"run paused (paused) at step find-backup: inspect it, then drd runbook resume {run}" in err

    policy_backup(primary, "shop-1")
    code, out, err = drd("runbook", "resume", run, "--reason", "backup taken", actor=APPROVER)

    assert code == 0, out + err
    assert "phase Completed" in out.splitlines()[0]
    assert f"{APPROVER}  resumed  backup taken" in out
    attempts = [s["phase"] for s in shown(drd, run)["steps"] if s["step"] == "find-backup"]
    assert attempts == ["Failed", "Completed"]


# Inspecting runs


def test_show_run_as_a_table_has_a_row_per_step_with_attempts_and_details(drd, env, primary):
    """`show RUN` prints the run's header, one row per step (latest attempt), its outputs and who did what."""
    policy_backup(primary, "shop-1")
    run = run_id(drd("runbook", "run", "restore-app", *SIDE_BY_SIDE)[2])
    code, out, _ = drd("runbook", "show", run)

    assert code == 0
    header, columns, *rest = out.splitlines()
    assert header == f"run {run}  runbook restore-app  phase Completed  target primary-east/shop-copy"
    assert columns.split() == ["#", "STEP", "TYPE", "PHASE", "ATTEMPTS", "DURATION", "DETAIL"]
    steps = {line.split()[1]: line.split()[2:5] for line in rest[:7]}
    assert steps == {
        "find-backup": ["velero.findBackup", "Completed", "1"],
        "target-namespace": ["k8s.get", "Completed", "1"],
        "approve": ["approval", "Skipped", "1"],
        "restore": ["velero.restore", "Completed", "1"],
        "wait-ready": ["k8s.waitReady", "Completed", "1"],
        "verify": ["check.http", "Skipped", "1"],
        "tell": ["notify", "Completed", "1"],
    }
    assert rest[7].startswith("outputs: ")
    assert {"backupUsed=shop-1", "restoredNamespace=shop-copy"} <= set(rest[7].removeprefix("outputs: ").split(", "))
    assert rest[8].split()[2:] == [REQUESTER, "submitted"]


def test_show_run_as_json_has_every_attempt_the_outputs_and_the_audit_trail(drd, env, primary):
    """`show RUN -o json` holds the run, each step attempt with inputs and outputs, and the events in order."""
    policy_backup(primary, "shop-1")
    run = run_id(drd("runbook", "run", "restore-app", *SIDE_BY_SIDE)[2])
    document = shown(drd, run)

    assert (document["run"], document["runbook"], document["phase"]) == (run, "restore-app", "Completed")
    assert document["requestedBy"] == REQUESTER
    assert document["trigger"] == "cli"
    assert document["target"] == {"cluster": "primary-east", "namespace": "shop-copy"}
    assert document["outputs"]["backupUsed"] == "shop-1"
    restore = next(s for s in document["steps"] if s["step"] == "restore")
    assert restore["inputs"]["namespaceMapping"] == {"shop": "shop-copy"}
    assert restore["outputs"]["phase"] == "Completed"
    assert [e["event"] for e in document["audit"]] == ["submitted", "started", "finished"]


def test_runs_lists_runs_newest_first_and_filters_by_runbook(drd, env, primary):
    """`runs` shows every run, newest first; `--runbook` keeps one runbook's runs."""
    verify = ("-p", "cluster=primary-east", "-p", "location=default")
    code, _, err = drd("runbook", "run", "verify-backup-storage", *verify)
    assert code == 1, err  # no backups yet: the check fails
    policy_backup(primary, "shop-1")
    restore = run_id(drd("runbook", "run", "restore-app", *SIDE_BY_SIDE)[2])

    code, out, _ = drd("runbook", "runs")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["RUN", "RUNBOOK", "PHASE", "STATE", "TRIGGER", "BY", "CREATED"]
    assert [row.split()[1:3] for row in rows] == [["restore-app", "Completed"], ["verify-backup-storage", "Failed"]]
    assert rows[0].startswith(restore)

    code, out, _ = drd("runbook", "runs", "--runbook", "restore-app", "-o", "json")
    assert code == 0
    assert [r["run"] for r in json.loads(out)["runs"]] == [restore]
