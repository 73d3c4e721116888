"""``drd upgrade run|status|resume|skip`` in-process against the sandbox.

Aspects covered: ``run`` upgrades the canary and stops at the approval gate (exit 1, saying how to resume);
``status -o json`` shows each stage and cluster; ``resume`` by a second person approves and finishes the plan
(exit 0); ``skip`` refuses a canary (exit 1, the reason printed); an unknown plan is a usage error (exit 2).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from drd.cli.main import main
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files

Drd = Callable[..., tuple[int, str, str]]

PLAN = {
    "apiVersion": "drd.dev/v1",
    "kind": "UpgradePlan",
    "metadata": {"name": "fleet"},
    "spec": {
        "targetVersion": "v1.32.0",
        "stages": [
            {"name": "canary", "clusters": {"role": "canary"}, "gates": [{"type": "approval", "name": "look"}]},
            {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}, "concurrency": 2},
        ],
        "drain": {"timeout": "5s"},
        "verifyTimeout": "15s",
    },
}


@pytest.fixture
def drd(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Drd:
    """``drd(*argv, actor=…)`` in-process against the sandbox, with plan ``fleet`` in its configuration."""
    paths = write_files(sandbox, tmp_path / "sb")
    (paths["config"] / "fleet.yaml").write_text(yaml.safe_dump(PLAN))
    monkeypatch.setenv("DRD_CONFIG", str(paths["config"]))
    monkeypatch.setenv("KUBECONFIG", str(paths["kubeconfig"]))
    monkeypatch.setenv("DRD_STATE", str(tmp_path / "drd.sqlite"))

    def run(*argv: str, actor: str = "carol@test") -> tuple[int, str, str]:
        monkeypatch.setenv("DRD_ACTOR", actor)
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    return run


def test_run_stops_at_the_approval_gate_and_says_how_to_resume(drd: Drd) -> None:
    """The canary is upgraded, then the plan waits for its gate: exit 1 and the resume command on stderr."""
    code, out, err = drd("upgrade", "run", "fleet")
    assert code == 1
    assert "fleet: waiting: stage canary: approval at step look" in err
    assert "drd upgrade resume fleet" in err
    assert "canary-east" in out


def test_status_shows_each_stage_and_cluster_as_data(drd: Drd) -> None:
    """After run, status -o json: canary done, its stage waiting, the other clusters pending."""
    drd("upgrade", "run", "fleet")
    code, out, _ = drd("upgrade", "status", "fleet", "-o", "json")
    assert code == 0
    report = json.loads(out)
    assert report["phase"] == "waiting"
    canary, rest = report["stages"]
    assert (canary["phase"], [c["phase"] for c in canary["clusters"]]) == ("waiting", ["done"])
    assert [c["phase"] for c in rest["clusters"]] == ["pending", "pending"]


def test_resume_by_a_second_person_approves_and_finishes(drd: Drd) -> None:
    """Another person's resume approves the gate and the remaining stage runs to done (exit 0)."""
    drd("upgrade", "run", "fleet")
    code, out, err = drd("upgrade", "resume", "fleet", "--comment", "canary healthy", actor="dave@test")
    assert code == 0, err
    assert "stage canary: approved gate look" in err
    assert out.count(" done ") == 3


def test_skip_refuses_a_canary(drd: Drd) -> None:
    """Skipping the canary is refused with the safety rule as the reason (exit 1)."""
    code, _, err = drd("upgrade", "skip", "fleet", "--cluster", "canary-east", "--reason", "hurry")
    assert code == 1
    assert "never proceeds past an unverified canary" in err


def test_an_unknown_plan_is_a_usage_error(drd: Drd) -> None:
    """A plan that is not in the configuration exits 2, listing the known ones."""
    code, _, err = drd("upgrade", "status", "nope")
    assert code == 2
    assert "fleet" in err
