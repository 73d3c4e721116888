"""`drd policies validate|schema` and the CLI contract: output forms and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

from drd.cli.main import main

REPO = Path(__file__).resolve().parents[2]
BROKEN_DRILL = """\
apiVersion: drd.dev/v1
kind: DrillPolicy
metadata:
  name: broken
spec:
  backupPolicy: shop
  target: dr-west
  schedule: "61 * * * *"
  objectives: {rto: 5x}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_example_policies_validate_with_a_summary():
    """The shipped examples are valid; the summary counts each kind and the exit code is 0."""
    code, out, _ = run("policies", "validate", str(REPO / "policies"))
    assert code == 0
    assert "valid (3 clusters, 2 backupPolicies, 2 drillPolicies, 1 upgradePlans, 2 rotationPolicies)" in out


def test_errors_are_located_lines_and_exit_2(tmp_path):
    """Every problem is printed as file:line: path: message and the exit code is 2."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_DRILL)
    code, out, err = run("policies", "validate", str(broken))
    assert code == 2
    lines = out.splitlines()
    assert lines[0].startswith(f"{broken}:8: spec.schedule: invalid cron expression")
    assert lines[1].startswith(f"{broken}:9: spec.objectives.rto: invalid duration")
    assert "2 error(s)" in err


def test_json_output_lists_errors_as_objects(tmp_path):
    """With -o json the errors come as objects with file, line, path and message."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_DRILL)
    code, out, _ = run("policies", "validate", str(broken), "-o", "json")
    document = json.loads(out)
    assert code == 2
    assert document["valid"] is False
    assert {e["path"] for e in document["errors"]} == {"spec.schedule", "spec.objectives.rto"}


def test_without_paths_the_config_directory_is_validated(monkeypatch):
    """No PATH means the --config directory (env DRD_CONFIG)."""
    monkeypatch.setenv("DRD_CONFIG", str(REPO / "policies"))
    code, out, _ = run("policies", "validate")
    assert code == 0
    assert "valid" in out


def test_schema_is_json_schema_of_every_kind():
    """`drd policies schema` prints a JSON Schema with one branch per document kind."""
    code, out, _ = run("policies", "schema")
    schema = json.loads(out)
    assert code == 0
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert len(schema["oneOf"]) == 5


def test_unknown_command_is_a_usage_error():
    """An unknown sub-command exits 2, as argparse reports usage errors."""
    code, _, _ = run("frobnicate")
    assert code == 2


def test_bad_environment_setting_is_a_configuration_error(monkeypatch, tmp_path):
    """A malformed DRD_* variable exits 2 naming the variable."""
    monkeypatch.setenv("DRD_LEADER_ENABLED", "perhaps")
    code, _, err = run("policies", "validate", str(REPO / "policies"))
    assert code == 2
    assert "DRD_LEADER_ENABLED='perhaps'" in err


def test_global_options_are_accepted_after_the_sub_command(tmp_path):
    """--config works after the sub-command as well as before it."""
    code, out, _ = run("policies", "validate", "--config", str(REPO / "policies"))
    assert code == 0
    assert str(REPO / "policies") in out
