"""`drd backup now` and `drd status` against the sandbox: exit codes, recorded outcomes, breaches first."""

from __future__ import annotations

import io
import json

import pytest

from drd.cli.main import main
from drd.sandbox.files import write_files
from tests.sandbox.fixtures import dr, primary, sandbox

__all__ = ["dr", "primary", "sandbox"]


@pytest.fixture
def env(sandbox, tmp_path, monkeypatch):
    paths = write_files(sandbox, tmp_path / "sb")
    monkeypatch.setenv("DRD_CONFIG", str(paths["config"]))
    monkeypatch.setenv("DRD_STATE", str(paths["state"]))
    monkeypatch.setenv("KUBECONFIG", str(paths["kubeconfig"]))
    return paths


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_backup_now_waits_for_completed_and_exits_0(env):
    """`drd backup now shop --wait` prints the backup's phase as it goes and exits 0 when Completed."""
    code, out, err = run("backup", "now", "shop", "--wait", "--timeout", "30")
    assert code == 0, err
    assert out.strip().endswith(": Completed")
    assert "InProgress" in err


def test_backup_now_exits_1_when_velero_only_partially_succeeds(env, sandbox):
    """A PartiallyFailed backup is not a success: exit code 1, phase in the JSON output."""
    sandbox.velero_faults.backup_outcome = "PartiallyFailed"
    code, out, _ = run("backup", "now", "shop", "--wait", "-o", "json")
    assert code == 1
    assert json.loads(out)["phase"] == "PartiallyFailed"


def test_backup_now_of_an_unknown_policy_is_a_usage_error(env):
    """An unknown policy name exits 2 and lists the known ones."""
    code, _, err = run("backup", "now", "nope")
    assert code == 2
    assert "known: catalog-api, shop" in err


def test_status_lists_breaches_first(env):
    """With no backup recorded every policy is breached; the report says so per application."""
    code, out, _ = run("status", "-o", "json")
    rows = json.loads(out)["applications"]
    assert code == 0
    assert {r["policy"] for r in rows} == {"shop", "catalog-api"}
    assert all(r["rpoMet"] is False and r["rpoSeconds"] is None for r in rows)


def test_status_table_shows_rpo_against_objective(env):
    """The table has one line per application with the RPO against its objective and the schedule's state."""
    code, out, _ = run("status")
    header, *lines = out.splitlines()
    assert code == 0
    assert header.split()[:3] == ["STATUS", "APPLICATION", "CLUSTER"]
    shop = next(line for line in lines if " shop " in f" {line} ")
    assert "BREACHED" in shop
    assert "never / 3m" in shop
    assert "missing" in shop  # no daemon has created the Schedule yet


def test_status_after_a_backup_shows_it_and_the_objective_met(env):
    """After `drd backup now --wait`, status shows that backup as the last good one, RPO within objective."""
    assert run("backup", "now", "shop", "--wait")[0] == 0
    _, out, _ = run("status", "-o", "json")
    shop = next(r for r in json.loads(out)["applications"] if r["policy"] == "shop")
    assert shop["rpoMet"] is True
    assert shop["lastGoodBackup"].startswith("drd-shop-")
    assert shop["lastBackupPhase"] == "Completed"
