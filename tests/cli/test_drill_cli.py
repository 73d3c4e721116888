"""``drd drill …`` in-process against the sandbox: what it prints and the exit codes scripts rely on.

Aspects covered: ``run POLICY`` (exit 0 and the text summary when the drill passed; exit 1 when a check
fails; exit 2 for an unknown policy; ``--detach`` only submits); ``list`` as a table and as JSON; ``show
RUN`` as text and as the JSON evidence (exit 2 for an unknown or unfinished run); ``report RUN --html
FILE`` (a self-contained page with the verdict and every check). Drills use the sandbox's own DrillPolicy
``shop-drill`` (objectsPresent, workloadsReady, the storefront's HTTP check) against its fast timings.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from drd.cli.main import main
from drd.clients.kube_resources import SERVICES
from drd.sandbox.files import write_files
from tests.drills.test_drills import drill_namespaces, replicated_backup
from tests.runbooks.engine.conftest import REQUESTER
from tests.sandbox.fixtures import dr, primary, sandbox

__all__ = ["dr", "primary", "sandbox"]

POLICY = "shop-drill"
CHECKS = ("objectsPresent-1", "workloadsReady-2", "storefront-healthy")
"""The names of shop-drill's checks in its evidence (unnamed checks are ``<type>-<position>``)."""

Drd = Callable[..., tuple[int, str, str]]


@pytest.fixture
def drd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Drd:
    """``drd(*argv)`` runs one command in-process as ``alice@test``: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DRD_STATE", str(tmp_path / "drd.sqlite"))
    monkeypatch.setenv("DRD_ACTOR", REQUESTER)

    def run(*argv: str) -> tuple[int, str, str]:
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


@pytest.fixture
def backup(sandbox, primary, dr) -> None:
    """A Completed shop backup, replicated and synced into dr-west."""
    replicated_backup(sandbox, primary, dr)


def run_id(stderr: str) -> str:
    """The run id from ``drill RUN: POLICY into CLUSTER``."""
    found = re.search(rf"^drill (\S+): {POLICY} into dr-west$", stderr, re.MULTILINE)
    assert found, stderr
    return found.group(1)


def drilled(drd: Drd) -> str:
    """Run one drill of shop-drill that passes; its run id."""
    code, out, err = drd("drill", "run", POLICY)
    assert code == 0, out + err
    return run_id(err)


def checks_block(summary: str) -> dict[str, str]:
    """The summary's ``Checks`` lines: check name → status word (PASS, FAIL)."""
    lines = summary.split("Checks: ", 1)[1].splitlines()[1:]
    return {line.split()[1]: line.split()[0] for line in lines if line.strip()}


# drd drill run


def test_run_of_a_passing_drill_exits_0_and_prints_the_summary(drd, env, backup, dr):
    """A drill that passes exits 0 with the verdict, the route, the backup used and each check PASS; nothing is left."""
    code, out, err = drd("drill", "run", POLICY)

    assert code == 0, out + err
    run = run_id(err)
    assert out.splitlines()[0] == f"Drill {run}: PASSED (Completed)"
    assert "  route        primary-east (us-east-1) → dr-west (us-west-2)" in out
    assert re.search(r"^  backup       shop-1 \(Completed, ", out, re.MULTILINE)
    assert "Checks: 3 of 3 passed" in out
    assert checks_block(out) == dict.fromkeys(CHECKS, "PASS")
    assert drill_namespaces(dr) == []


def test_run_exits_1_when_a_check_fails_and_names_it(drd, env, sandbox, primary, dr):
    """A storefront answering 500 in the backup fails its HTTP check: exit 1, the FAIL line, the namespace kept."""
    primary.merge_patch(
        SERVICES, "storefront", {"metadata": {"annotations": {"sandbox.drd.dev/http-status": "500"}}}, namespace="shop"
    )
    replicated_backup(sandbox, primary, dr)
    code, out, err = drd("drill", "run", POLICY)

    assert code == 1, out + err
    assert out.splitlines()[0] == f"Drill {run_id(err)}: FAILED (Partially failed)"
    assert re.search(r"^  FAIL Checks +1 of 1 failed: storefront-healthy$", out, re.MULTILINE)
    assert checks_block(out) == {"objectsPresent-1": "PASS", "workloadsReady-2": "PASS", "storefront-healthy": "FAIL"}
    assert len(drill_namespaces(dr)) == 1  # shop-drill keeps a failed drill's namespace 10 minutes


def test_run_of_an_unknown_policy_exits_2_naming_the_known_ones(drd, env):
    """An unknown DrillPolicy is a usage error: exit 2, nothing submitted, and the policies there are."""
    code, out, err = drd("drill", "run", "nope")

    assert code == 2
    assert out == ""
    assert err.startswith('drd: no DrillPolicy "nope" in ')
    assert err.rstrip().endswith("(known: catalog-api-drill, shop-drill)")
    assert drd("drill", "list", "-o", "json")[1] == json.dumps({"drills": []}, indent=2) + "\n"


def test_run_detached_only_submits_and_show_refuses_the_unfinished_drill(drd, env):
    """`--detach` exits 0 after recording the drill; `show` of it exits 2 because it has not finished."""
    code, out, err = drd("drill", "run", POLICY, "--detach")
    run = run_id(err)
    assert (code, out) == (0, "")

    code, out, err = drd("drill", "show", run)
    assert code == 2
    assert f"drill {run} has not finished (Pending)" in err


# drd drill list


def test_list_has_a_row_per_drill_with_its_result_rto_rpo_and_score(drd, env, backup):
    """`list` prints the columns and one row for the drill: run, policy, passed, RTO and RPO in seconds, score."""
    run = drilled(drd)
    code, out, _ = drd("drill", "list")

    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["RUN", "POLICY", "RESULT", "RTO", "RPO", "SCORE", "STARTED"]
    (row,) = rows
    fields = row.split()
    assert fields[:3] == [run, POLICY, "passed"]
    assert all(re.fullmatch(r"\d+\.\ds", value) for value in fields[3:5]), row
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", fields[6])


def test_list_as_json_has_the_same_rows_and_filters_by_policy(drd, env, backup):
    """`list -o json` holds the rows under ``drills``; `--policy` of another policy gives none."""
    run = drilled(drd)
    code, out, _ = drd("drill", "list", "-o", "json")

    assert code == 0
    (row,) = json.loads(out)["drills"]
    assert (row["RUN"], row["POLICY"], row["RESULT"]) == (run, POLICY, "passed")
    assert set(row) == {"RUN", "POLICY", "RESULT", "RTO", "RPO", "SCORE", "STARTED"}
    assert json.loads(drd("drill", "list", "--policy", "catalog-api-drill", "-o", "json")[1]) == {"drills": []}


# drd drill show


def test_show_prints_the_same_summary_the_run_printed(drd, env, backup):
    """`show RUN` re-renders the stored evidence as the text summary `run` printed at the end."""
    code, printed, err = drd("drill", "run", POLICY)
    assert code == 0, printed + err
    code, out, _ = drd("drill", "show", run_id(err))

    assert code == 0
    assert out == printed


def test_show_as_json_is_the_evidence_document(drd, env, backup):
    """`show RUN -o json` is the stored evidence: run, policy, result, backup, each check, measurements, teardown."""
    run = drilled(drd)
    code, out, _ = drd("drill", "show", run, "-o", "json")

    assert code == 0
    evidence = json.loads(out)
    assert (evidence["run"], evidence["policy"], evidence["result"]) == (run, POLICY, "passed")
    assert evidence["backup"]["name"] == "shop-1"
    assert [(c["name"], c["passed"]) for c in evidence["checks"]] == [(name, True) for name in CHECKS]
    assert evidence["measurements"]["rtoSeconds"] > 0
    assert evidence["teardown"]["status"] == "deleted"


def test_show_of_an_unknown_run_exits_2(drd, env):
    """A run id the store does not have is a usage error naming it."""
    code, out, err = drd("drill", "show", "01NOSUCHRUN")

    assert (code, out) == (2, "")
    assert "no drill '01NOSUCHRUN' in the store" in err


# drd drill report


def test_report_writes_a_self_contained_page_with_the_verdict_and_every_check(drd, env, backup, tmp_path):
    """`report RUN --html FILE` writes one HTML page naming the verdict and each check, without any script."""
    run = drilled(drd)
    page = tmp_path / "report.html"
    code, out, err = drd("drill", "report", run, "--html", str(page))

    assert code == 0, err
    assert out == ""
    assert err == f"{page}: drill {run} (passed)\n"
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "PASSED" in html
    assert all(name in html for name in CHECKS)
    assert "<script" not in html.lower()
