"""The alert rules: promtool's syntax check and unit tests (every alert firing and not firing), and what each alert
must carry: a severity, a summary and description naming what is concerned, a runbook_url into docs/dashboards.md."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from .support import ALERT_TESTS, ALERTS, DOCS, RUNBOOK_BASE, alerts, rule_groups

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`; .ci/run installs it)"
)

REQUIRED = {
    "DrdRPOObjectiveBreached",
    "DrdRPOObjectiveAtRisk",
    "DrdDrillOverdue",
    "DrdDrillFailed",
    "DrdRTOObjectiveMissed",
    "DrdBackupStorageLocationUnavailable",
    "DrdBackupsFailing",
    "DrdConfigErrors",
    "DrdNoLeader",
    "DrdDown",
    "DrdSecretTooOld",
    "DrdUpgradeHalted",
}
"""The alerts issue 8 asks for (others are drd's additions)."""


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


@needs_promtool
def test_promtool_checks_the_rules():
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_pass():
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_not_firing():
    """alerts-tests.yaml has, for each alert, an evaluation where it fires and one where it does not."""
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    firing, silent = set(), set()
    for test in tests:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - firing == set(), "never shown firing"
    assert names - silent == set(), "never shown silent"
    assert firing | silent <= names, "tests of alerts that do not exist"


def test_the_alerts_the_issue_asks_for_are_there():
    assert {rule["alert"] for rule in alerts()} >= REQUIRED


def test_names_are_unique_and_groups_are_named():
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    groups = [group["name"] for group in rule_groups()]
    assert len(groups) == len(set(groups))


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_every_alert_has_a_severity_a_summary_and_a_runbook_section(rule):
    """severity critical|warning; summary and description; runbook_url = a heading of docs/dashboards.md."""
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    assert annotations["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()
    headings = {line.removeprefix("### ").strip() for line in DOCS.read_text(encoding="utf-8").splitlines()}
    assert rule["alert"] in headings, f"docs/dashboards.md has no '### {rule['alert']}' section"
    concerned = set(re.findall(r"by \(([^)]*)\)", rule["expr"]))
    for labels in concerned:
        for label in (name.strip() for name in labels.split(",")):
            if label not in {"namespace", "le"}:
                assert "$labels." + label in annotations["summary"] + annotations["description"], (
                    f"{rule['alert']} does not say which {label}"
                )
