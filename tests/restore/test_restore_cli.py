"""``drd restore`` in-process against the sandbox: the plan, the guard rails, the outcome and the exit codes.

Aspects covered: the plan's contents (backup, target, namespaces, per-object actions, estimate); ``--dry-run``
changes nothing; a restore side by side (``--as``) restored and verified (exit 0); refusals with their reason
(a live namespace without the flags, ``--yes`` without ``--i-understand-live-namespace``); a wrong typed
confirmation restores nothing; a restore into the live namespace with ``--existing update`` and the typed name;
``-o json``.
"""

from __future__ import annotations

import json
import re
import time

from drd.clients.kube_resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES
from tests.restore.conftest import restores
from tests.runbooks.engine.conftest import policy_backup


def test_a_side_by_side_restore_is_planned_confirmed_restored_and_verified(drd, primary):
    """--as shop-copy in the primary: the plan lists every object as create, y restores, verification passes."""
    policy_backup(primary, "shop-1")
    code, out, err = drd("restore", "shop", "--as", "shop-copy", answer="y\n")
    assert code == 0, err + out
    assert "Restore plan for shop" in out
    assert "backup      shop-1  (Completed" in out
    assert "namespace   shop → shop-copy  [new namespace]" in out
    assert re.search(r"\ncreate +apps/v1/Deployment +shop-copy +storefront +-\n", out)
    assert "RESTORED AND VERIFIED: shop into primary-east/shop-copy" in out
    assert "Restore" in err
    assert "[y/N]" in err
    assert primary.find(DEPLOYMENTS, "storefront", namespace="shop-copy") is not None
    assert len(restores(primary)) == 1


def test_a_dry_run_shows_the_plan_and_changes_nothing(drd, primary):
    """--dry-run prints the plan and exits 0; no Restore, no namespace, no run."""
    policy_backup(primary, "shop-1")
    code, out, err = drd("restore", "shop", "--as", "shop-copy", "--dry-run")
    assert code == 0, err
    assert re.search(r"objects     (\d+): \1 create\n", out)
    assert "dry run: nothing was changed" in err
    assert restores(primary) == []
    assert primary.find(NAMESPACES, "shop-copy") is None
    assert drd("runbook", "runs")[1].count("\n") <= 1


def test_before_restores_the_newest_backup_taken_before_the_moment(drd, primary):
    """Two backups a second apart: --before the second one's start restores the first."""
    policy_backup(primary, "shop-1")
    time.sleep(1.1)
    second = policy_backup(primary, "shop-2")
    code, out, err = drd("restore", "shop", "--as", "shop-copy", "--before", second["status"]["startTimestamp"],
                         "--dry-run")  # fmt: skip
    assert code == 0, err
    assert "backup      shop-1  (Completed" in out


def test_a_failed_backup_is_refused_with_the_reason(drd, sandbox, primary):
    """--backup naming a Failed backup: refused (exit 1), nothing restored."""
    sandbox.velero_faults.backup_outcome = "Failed"
    policy_backup(primary, "shop-bad")
    sandbox.velero_faults.clear()
    code, _out, err = drd("restore", "shop", "--as", "shop-copy", "--backup", "shop-bad", "--yes")
    assert code == 1
    assert "refused: backup shop-bad is Failed (" in err
    assert restores(primary) == []


def test_a_backup_not_yet_replicated_to_the_target_is_refused_as_such(drd, sandbox, primary, dr):
    """Replication paused: the backup exists in primary-east only, so a restore into dr-west is refused."""
    sandbox.pause_replication()
    policy_backup(primary, "shop-1")
    code, _out, err = drd("restore", "shop", "--to", "dr-west", "--backup", "shop-1", "--yes")
    assert code == 1
    assert "refused: backup shop-1 exists in primary-east but has not replicated to dr-west yet" in err
    assert restores(dr) == []


def test_the_live_namespace_is_refused_without_existing_update(drd, primary):
    """Restoring shop over the live shop namespace with the default --existing skip is refused with the way on."""
    policy_backup(primary, "shop-1")
    code, out, err = drd("restore", "shop", answer="y\n")
    assert code == 1
    assert "namespace   shop → shop  [LIVE: 4 workload(s) running" in out
    assert (
        "refused: namespace shop in primary-east has live workloads: restoring into it needs --existing update" in err
    )
    assert restores(primary) == []


def test_yes_alone_does_not_restore_into_a_live_namespace(drd, primary):
    """Automation must also say --i-understand-live-namespace."""
    policy_backup(primary, "shop-1")
    code, _out, err = drd("restore", "shop", "--existing", "update", "--yes")
    assert code == 1
    assert "--yes restores into it only with --i-understand-live-namespace" in err
    assert restores(primary) == []


def test_a_wrongly_typed_namespace_restores_nothing(drd, primary):
    """The confirmation asks for the namespace name; a typo ends it: exit 1, no Restore, no run."""
    policy_backup(primary, "shop-1")
    code, _out, err = drd("restore", "shop", "--existing", "update", answer="shpo\n")
    assert code == 1
    assert "Type the namespace name (shop) to restore into it: " in err
    assert "not confirmed: nothing was restored" in err
    assert restores(primary) == []


def test_the_live_namespace_is_updated_once_its_name_is_typed(drd, primary):
    """--existing update and the typed name: the changed ConfigMap is put back as backed up, verified."""
    policy_backup(primary, "shop-1")
    primary.merge_patch(CONFIGMAPS, "storefront-config", {"data": {"CURRENCY": "USD"}}, namespace="shop")
    code, out, err = drd("restore", "shop", "--existing", "update", answer="shop\n")
    assert code == 0, err + out
    assert re.search(r"\nupdate +v1/ConfigMap +shop +storefront-config +exists\n", out)
    assert primary.get(CONFIGMAPS, "storefront-config", namespace="shop")["data"]["CURRENCY"] == "EUR"


def test_json_output_holds_the_plan_and_the_outcome(drd, primary):
    """-o json: one document with the plan and the outcome, for scripts."""
    policy_backup(primary, "shop-1")
    code, out, err = drd("restore", "shop", "--as", "shop-copy", "--yes", "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["plan"]["summary"]["create"] == document["plan"]["summary"]["total"] > 10
    assert document["outcome"]["result"] == "succeeded"
    assert document["outcome"]["verification"]["passed"] is True
