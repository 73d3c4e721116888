"""The step catalogue: every type's contract, and how its inputs are checked at load and at run time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from drd.runbooks.spec.catalog import CATALOG, InputError, step_type
from drd.runbooks.spec.syntax import contains_expression

EXPECTED_TYPES = {
    "velero.findBackup", "velero.listBackups", "velero.backup", "velero.restore", "velero.waitForPhase",
    "velero.setLocationAccessMode", "k8s.get", "k8s.apply", "k8s.patch", "k8s.annotate", "k8s.delete", "k8s.scale",
    "k8s.waitReady", "k8s.isolateNamespace", "k8s.deleteNamespace", "job.run", "check.http", "check.tcp",
    "check.prometheus", "vault.read", "vault.write", "approval", "notify", "sleep", "assert",
    "drill.prepare", "drill.isolate", "drill.stopWorkloads", "drill.verify", "drill.captureEvidence", "drill.teardown",
    "restore.verify", "upgrade.preflight", "upgrade.backup", "upgrade.controlPlane", "upgrade.verify",
    "upgrade.addons", "upgrade.nodeGroups", "upgrade.soak", "rotate.prepare", "rotate.create", "rotate.deliver",
    "rotate.restart", "rotate.verify", "rotate.promote", "rotate.deactivate", "rotate.revoke", "rotate.rollback",
    "rotate.cleanup",
}  # fmt: skip


def test_the_catalogue_is_closed_and_complete() -> None:
    """Exactly the documented types exist; an unknown name lists the known ones."""
    assert set(CATALOG) == EXPECTED_TYPES
    with pytest.raises(KeyError, match=r'unknown step type "velero\.restor"; known types: approval, assert'):
        step_type("velero.restor")


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_every_type_states_its_contract(name: str) -> None:
    """Summary and dry-run behaviour in one line, a positive default timeout, outputs it declares once."""
    found = CATALOG[name]
    assert found.name == name
    assert found.summary
    assert found.dry_run
    assert "\n" not in found.dry_run
    assert found.default_timeout > 0
    assert len(set(found.outputs)) == len(found.outputs)
    assert found.inputs.model_config.get("frozen") is True


def test_only_repeatable_types_are_retried_by_default() -> None:
    """3 attempts for pure and idempotent types, 1 for keyed and none."""
    attempts = {name: item.default_attempts for name, item in CATALOG.items()}
    assert (attempts["k8s.get"], attempts["k8s.apply"], attempts["velero.restore"], attempts["notify"]) == (3, 3, 1, 1)


def test_types_that_change_things_are_marked_mutating() -> None:
    """They need a target (a lock); reads, gates and messages do not."""
    assert {name for name, item in CATALOG.items() if item.mutating} == {
        "velero.backup", "velero.restore", "velero.setLocationAccessMode", "k8s.apply", "k8s.patch", "k8s.annotate",
        "k8s.delete", "k8s.scale", "k8s.isolateNamespace", "k8s.deleteNamespace", "job.run", "vault.write",
        "drill.isolate", "drill.stopWorkloads", "drill.verify", "drill.teardown", "upgrade.backup",
        "upgrade.controlPlane", "upgrade.addons", "upgrade.nodeGroups", "rotate.prepare", "rotate.create",
        "rotate.deliver", "rotate.restart", "rotate.promote", "rotate.deactivate", "rotate.revoke",
        "rotate.rollback", "rotate.cleanup",
    }  # fmt: skip


def test_types_that_create_named_objects_are_keyed() -> None:
    """Backups, restores and Jobs are named by the idempotency key, so a crash can be checked, not repeated."""
    assert {name for name, item in CATALOG.items() if item.idempotency == "keyed"} == {
        "velero.backup",
        "velero.restore",
        "job.run",
        "upgrade.backup",
        "rotate.create",
    }


def test_every_cluster_touching_type_takes_a_cluster() -> None:
    """Everything that talks to Kubernetes names the cluster (check.http does through its proxy form)."""
    elsewhere = {
        "vault.read", "vault.write", "approval", "notify", "sleep", "assert", "check.tcp", "check.prometheus",
        "upgrade.soak", "rotate.prepare", "rotate.create", "rotate.deliver", "rotate.restart", "rotate.verify",
        "rotate.promote", "rotate.deactivate", "rotate.revoke", "rotate.rollback", "rotate.cleanup",
    }  # fmt: skip
    assert {name for name, item in CATALOG.items() if not item.touches_cluster} == elsewhere


def test_secret_outputs_are_declared() -> None:
    """vault.read's value is secret; nothing else is."""
    assert {name: item.secret_outputs for name, item in CATALOG.items() if item.secret_outputs} == {
        "vault.read": frozenset({"value"})
    }


def test_rendered_inputs_are_parsed_into_the_typed_model() -> None:
    """Strings from interpolation are accepted where they read as the type; camelCase names are used."""
    inputs = step_type("velero.findBackup").parse_inputs(
        {"cluster": "dr-west", "policy": "shop", "maxAge": "6h", "allowPartiallyFailed": True}
    )
    assert (inputs.max_age, inputs.backup, inputs.allow_partially_failed) == (  # type: ignore[attr-defined]
        timedelta(hours=6),
        "latest",
        True,
    )
    restore = step_type("velero.restore").parse_inputs({"cluster": "dr-west", "backup": "b", "restorePVs": False})
    assert restore.restore_pvs is False  # type: ignore[attr-defined]


def test_bad_rendered_inputs_are_a_permanent_error_listing_each_problem() -> None:
    """Retrying cannot fix inputs; the message names each input."""
    with pytest.raises(InputError) as raised:
        step_type("k8s.scale").parse_inputs({"cluster": "dr-west", "namespace": "shop", "kind": "Pod", "replicas": -1})
    assert str(raised.value).startswith("invalid inputs for k8s.scale: with.kind: expected one of: Deployment, ")


@pytest.mark.parametrize(
    ("name", "inputs", "message"),
    [
        ("velero.backup", {"cluster": "c"}, "give either policy or includedNamespaces"),
        ("k8s.patch", {"cluster": "c", "apiVersion": "v1", "kind": "ConfigMap", "name": "x", "patch": {"a": 1},
                       "patchType": "json"}, "with.patch: expected a list of operations for patchType json"),
        ("check.http", {"url": "http://x/", "cluster": "c"}, "give url, or cluster, namespace, service and port, not"),
        ("k8s.apply", {"cluster": "c", "manifests": [{"kind": "ConfigMap"}]}, "a manifest needs apiVersion, kind"),
        ("assert", {"that": [1]}, "with.that[0]: expected true or false, got the integer 1"),
        ("check.prometheus", {"query": "up", "passIf": ">= 1", "failIf": "> 0"},
         'with.failIf: passIf ">= 1" and failIf "> 0" overlap'),
    ],
)  # fmt: skip
def test_inputs_that_depend_on_each_other_are_checked_together(
    name: str, inputs: dict[str, object], message: str
) -> None:
    """Either-or inputs, a patch that must fit its type, manifests with identity, strict booleans in assert."""
    with pytest.raises(InputError) as raised:
        step_type(name).parse_inputs(inputs)
    assert message in str(raised.value)


def test_assert_takes_one_condition_or_a_list() -> None:
    """A single boolean is a list of one."""
    assert step_type("assert").parse_inputs({"that": True}).that == (True,)  # type: ignore[attr-defined]


def test_deferred_inputs_count_as_present_but_are_not_typed() -> None:
    """At load, an expression may satisfy a required input or an either-or rule; unknown names are still errors."""
    backup = step_type("velero.backup")
    given = {"cluster": "${{ params.cluster }}", "includedNamespaces": "${{ params.namespaces }}"}
    assert backup.check_inputs(given, deferred=contains_expression) == []
    assert backup.check_inputs({"cluster": "c", "scope": "${{ x }}"}, deferred=contains_expression) == [
        (("scope",), 'unknown input "scope"; velero.backup takes: cluster, policy, includedNamespaces, ttl, wait'),
        ((), "give either policy or includedNamespaces"),
    ]


def test_the_documentation_lists_every_type_with_its_outputs() -> None:
    """docs/runbooks.md cannot drift from the catalogue: each type's row names its outputs and idempotency."""
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in (Path(__file__).resolve().parents[3] / "docs" / "runbooks.md").read_text().splitlines()
        if line.startswith("| `")
    }
    for name, item in CATALOG.items():
        cells = [cell.strip() for cell in rows[name].split("|")]
        assert cells[3].replace(" (secret)", "") == (", ".join(item.outputs) or "—"), name
        assert cells[4].startswith(item.idempotency), name
