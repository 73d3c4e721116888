"""The daemon's configuration source: reload on change, keep the last good set when a new one is broken."""

from __future__ import annotations

import shutil
from pathlib import Path

from drd.daemon.config_source import ConfigSource
from tests.support.clocks import ManualClock

REPO = Path(__file__).resolve().parents[2]


def a_config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(REPO / "policies", directory)
    return directory


def test_first_load_makes_the_config_current(tmp_path):
    """A valid directory loads into the current config with no problems."""
    source = ConfigSource([str(a_config_dir(tmp_path))], clock=ManualClock())
    result = source.load()
    assert result.problems == ()
    assert source.current is not None
    assert set(source.current.backup_policies) == {"shop", "catalog-api"}
    assert source.valid


def test_a_broken_reload_keeps_the_last_good_config_and_reports_the_file(tmp_path):
    """After a bad edit the previous config stays in force and the problem names the file and line."""
    directory = a_config_dir(tmp_path)
    source = ConfigSource([str(directory)], clock=ManualClock())
    source.load()
    good = source.current
    (directory / "shop.yaml").write_text((directory / "shop.yaml").read_text().replace("rpo: 2h", "rpo: soon"))
    result = source.load()
    assert source.current is good
    assert not source.valid
    assert result.errors_by_file == {str(directory / "shop.yaml"): 1}
    assert "spec.objectives.rpo" in str(result.problems[0])


def test_fixing_the_file_makes_the_new_config_current(tmp_path):
    """Once the file is fixed, the next load replaces the config and clears the problems."""
    directory = a_config_dir(tmp_path)
    source = ConfigSource([str(directory)], clock=ManualClock())
    source.load()
    (directory / "extra.yaml").write_text("kind: [")
    source.load()
    (directory / "extra.yaml").unlink()
    result = source.load()
    assert result.problems == ()
    assert source.valid


def test_changes_are_detected_by_file_fingerprint(tmp_path):
    """Adding, editing or removing a YAML file is a change; reading is not."""
    directory = a_config_dir(tmp_path)
    source = ConfigSource([str(directory)], clock=ManualClock())
    source.load()
    assert not source.changed()
    (directory / "new.yaml").write_text("# nothing yet\n")
    assert source.changed()
    source.load()
    assert not source.changed()
    (directory / "new.yaml").unlink()
    assert source.changed()
