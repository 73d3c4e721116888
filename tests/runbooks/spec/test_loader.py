"""Loading runbook files: which files are read, one runbook per file named like it, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from drd.runbooks.spec.loader import load_runbooks

from .builders import a_runbook, a_step, messages, text_of, write


@pytest.fixture
def runbooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``runbooks/`` (relative, as a user would type it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runbooks").mkdir()
    return Path("runbooks")


def test_directories_are_searched_recursively_for_yaml(runbooks: Path) -> None:
    """*.yaml and *.yml at any depth are read, hidden entries and other files are not."""
    write(runbooks, "restore-app.yaml", a_runbook("restore-app"))
    write(runbooks / "lib", "tell.yml", a_runbook("tell"))
    write(runbooks / ".git", "stray.yaml", "not: [valid")
    write(runbooks, "README.md", "# {")
    loaded = load_runbooks([runbooks])
    assert (list(loaded), loaded.sources["tell"]) == (["restore-app", "tell"], "runbooks/lib/tell.yml")


def test_the_name_must_equal_the_file_stem(runbooks: Path) -> None:
    """Runbooks are found by file name, so the two must agree."""
    write(runbooks, "restore.yaml", a_runbook("restore-app"))
    assert messages(runbooks) == [
        'runbooks/restore.yaml:4: metadata.name: must equal the file name without its suffix ("restore"): runbooks '
        "are found by file name"
    ]


def test_one_runbook_per_file(runbooks: Path) -> None:
    """A second document is refused where it starts."""
    write(runbooks, "restore-app.yaml", text_of(a_runbook()) + "---\n" + text_of(a_runbook()))
    assert messages(runbooks) == [
        "runbooks/restore-app.yaml:13: one runbook per file: move this document to its own file",
    ]


def test_a_name_defined_twice_names_the_first_file(runbooks: Path) -> None:
    """Two directories may not both define restore-app."""
    write(runbooks / "a", "restore-app.yaml", a_runbook())
    write(runbooks / "b", "restore-app.yaml", a_runbook())
    assert messages(runbooks) == [
        'runbooks/b/restore-app.yaml:4: metadata.name: runbook "restore-app" is already defined in '
        "runbooks/a/restore-app.yaml"
    ]


def test_the_policy_readers_strictness_applies(runbooks: Path) -> None:
    """Duplicate keys and aliases are refused with their lines, like in policies."""
    write(runbooks, "restore-app.yaml", """\
apiVersion: drd.dev/v1
kind: Runbook
metadata: {name: restore-app}
spec:
  steps:
    - &step {id: a, type: notify, with: {message: hi}}
    - *step
  timeout: 1h
  timeout: 2h
""")  # fmt: skip
    assert messages(runbooks) == ["runbooks/restore-app.yaml:8: YAML aliases (*name) are not supported: write the "
                                  "value out in full"]  # fmt: skip
    write(runbooks, "restore-app.yaml", "apiVersion: drd.dev/v1\nkind: Runbook\nkind: Runbook\n")
    assert (
        'runbooks/restore-app.yaml:3: kind: duplicate key "kind" (first on line 2): a key may appear once per mapping'
        in messages(runbooks)
    )


def test_other_kinds_and_versions_are_refused(runbooks: Path) -> None:
    """Only drd.dev/v1 Runbooks live in runbook files."""
    write(runbooks, "a.yaml", a_runbook("a") | {"apiVersion": "drd/v1alpha1"})
    write(runbooks, "b.yaml", a_runbook("b") | {"kind": "BackupPolicy"})
    write(runbooks, "c.yaml", "")
    assert messages(runbooks) == [
        'runbooks/a.yaml:1: apiVersion: must be "drd.dev/v1" (got "drd/v1alpha1")',
        'runbooks/b.yaml:2: kind: must be "Runbook": a runbook file holds one Runbook',
        "runbooks/c.yaml: empty file: a runbook file holds one Runbook",
    ]


def test_every_problem_of_every_file_is_reported_at_once(runbooks: Path) -> None:
    """Validation and lint problems of several files come together, sorted by file and line."""
    write(runbooks, "a.yaml", a_runbook("a", steps=[a_step(step_type="nope")]))
    write(runbooks, "b.yaml", a_runbook("b", timeout="soon"))
    found = messages(runbooks, Path("missing"))
    assert [line.split(": ")[0] for line in found] == ["missing", "runbooks/a.yaml:8", "runbooks/b.yaml:12"]


def test_a_valid_set_carries_its_warnings(runbooks: Path) -> None:
    """Warnings (a secret in a message) do not stop loading; they come with the set."""
    step = a_step("tell", "notify", **{"with": {"message": "${{ params.token }}"}})
    write(runbooks, "tell.yaml", a_runbook("tell", parameters={"token": {"type": "string", "secret": True}},
                                           steps=[step]))  # fmt: skip
    loaded = load_runbooks([runbooks])
    assert [str(problem) for problem in loaded.warnings] == [
        "runbooks/tell.yaml:10: spec.steps[0].with.message: the message reads a secret; it would be sent in clear"
    ]
