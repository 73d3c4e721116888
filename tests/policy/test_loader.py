"""Loading a configuration: which files are read, what a Config offers, and what reaching it never raises."""

from __future__ import annotations

import os
from pathlib import Path

from drd.errors import Problem

from .builders import a_backup_policy, a_drill_policy, an_inventory, load, messages, write


def test_directories_are_searched_recursively_for_yaml(policies: Path) -> None:
    """*.yaml and *.yml at any depth are read; other files are not."""
    write(policies / "team-a", "shop.yml", a_backup_policy())
    write(policies / "team-b" / "drills", "shop.yaml", a_drill_policy())
    write(policies, "README.md", "# not a policy: {")
    config = load(policies)
    assert (list(config.backup_policies), list(config.drill_policies)) == (["shop"], ["shop-nightly"])


def test_a_mounted_configmap_is_read_once(policies: Path) -> None:
    """Hidden entries are skipped, so a ConfigMap's ``..data`` links do not load every file twice."""
    data = policies / "..2026_03_01_12_00_00.1"
    write(data, "shop.yaml", a_backup_policy())
    os.symlink(data.name, policies / "..data")
    os.symlink(Path("..data") / "shop.yaml", policies / "shop.yaml")
    write(policies / ".git", "stray.yaml", a_backup_policy())
    assert load(policies).sources[("BackupPolicy", "shop")] == "policies/shop.yaml"


def test_explicit_files_are_read_whatever_their_name(policies: Path) -> None:
    """A file named on the command line is read even without a YAML suffix."""
    path = write(policies.parent, "shop.policy", a_backup_policy())
    assert list(load(policies, path).backup_policies) == ["shop"]


def test_a_file_named_twice_is_read_once(policies: Path) -> None:
    """Overlapping arguments do not make a document its own duplicate."""
    path = write(policies, "shop.yaml", a_backup_policy())
    assert list(load(policies, path).backup_policies) == ["shop"]


def test_a_missing_path_is_a_problem(policies: Path) -> None:
    """A path that does not exist is reported like any other problem."""
    assert messages(policies, Path("polices")) == ["polices: no such file or directory"]


def test_a_directory_without_policies_loads_with_a_warning(tmp_path: Path) -> None:
    """An empty directory is probably the wrong one; it loads, with a warning saying so."""
    config = load(tmp_path)
    assert (dict(config.clusters), config.warnings) == (
        {},
        (Problem(str(tmp_path), "", "no *.yaml or *.yml files found"),),
    )


def test_an_unreadable_file_is_a_problem(policies: Path) -> None:
    """Files are read as bytes and checked before parsing; binary junk is located, not raised."""
    (policies / "junk.yaml").write_bytes(b"\x00\xff\xfe")
    (message,) = messages(policies)
    assert message.startswith("policies/junk.yaml:1: file is not UTF-8")


def test_the_config_resolves_references(policies: Path) -> None:
    """Helpers follow a drill to its backup policy and clusters, and a backup policy to its drills."""
    write(policies, "shop.yaml", a_backup_policy(), a_drill_policy(), a_drill_policy("shop-weekly", schedule="@weekly"))
    config = load(policies)
    drill, policy = config.drill_policies["shop-nightly"], config.backup_policies["shop"]
    assert config.backup_policy_of(drill) is policy
    assert (config.target_cluster(drill).name, config.source_cluster(policy).name) == ("dr-west", "primary-east")
    assert [found.name for found in config.drills_of(policy)] == ["shop-nightly", "shop-weekly"]
    assert (config.source_of(drill), config.source_of(config.clusters["dr-west"])) == (
        "policies/shop.yaml",
        "policies/clusters.yaml",
    )


def test_the_inventory_may_be_spread_over_files(policies: Path) -> None:
    """Cluster documents are gathered from every file, like any other kind."""
    (policies / "clusters.yaml").unlink()
    for cluster in an_inventory():
        write(policies / "clusters", f"{cluster['metadata']['name']}.yaml", cluster)
    assert sorted(load(policies).clusters) == ["canary-east", "dr-west", "primary-east"]
