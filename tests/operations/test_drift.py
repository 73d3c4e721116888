"""Drift between current and desired fields (pure): readable items and the merge patch that removes it.

Aspects: one item per drifted leaf, ``path: current → desired``; absent
fields and Go zero values are the same thing to Velero; label keys with
dots and slashes get bracketed paths; the merge patch, applied the way the
API server applies it, turns current into desired exactly.
"""

from __future__ import annotations

import pytest

from drd.operations import drift
from drd.sandbox.kube.patches import merge_patch as apply_merge_patch

DESIRED = {
    "metadata": {"labels": {"drd.dev/policy": "shop"}},
    "spec": {
        "schedule": "5 * * * *",
        "paused": False,
        "template": {"includedNamespaces": ["shop"], "ttl": "720h0m0s"},
    },
}


def test_equal_trees_have_no_drift_and_an_empty_patch():
    """Nothing to report, nothing to patch."""
    assert (drift.differences(DESIRED, DESIRED), drift.merge_patch(DESIRED, DESIRED)) == ([], {})


@pytest.mark.parametrize(
    ("current_spec", "item"),
    [
        pytest.param(
            {"template": {"includedNamespaces": ["shop"], "ttl": "168h0m0s"}},
            'spec.template.ttl: "168h0m0s" → "720h0m0s"',
            id="a changed leaf",
        ),
        pytest.param(
            {"template": {"includedNamespaces": ["shop", "other"], "ttl": "720h0m0s"}},
            'spec.template.includedNamespaces: ["shop", "other"] → ["shop"]',
            id="a list compared whole",
        ),
        pytest.param(
            {"template": {"includedNamespaces": ["shop"], "ttl": "720h0m0s", "snapshotVolumes": True}},
            "spec.template.snapshotVolumes: true → (absent)",
            id="a field drd does not want",
        ),
        pytest.param(
            {"template": {"includedNamespaces": ["shop"]}},
            'spec.template.ttl: (absent) → "720h0m0s"',
            id="a field that went missing",
        ),
        pytest.param(
            {"paused": True, "template": {"includedNamespaces": ["shop"], "ttl": "720h0m0s"}},
            "spec.paused: true → false",
            id="paused by hand",
        ),
    ],
)
def test_each_drifted_leaf_is_one_item(current_spec, item):
    """The item names the path, the current value and the desired value."""
    current = {"metadata": DESIRED["metadata"], "spec": {"schedule": "5 * * * *", **current_spec}}
    assert [item] == drift.differences(current, DESIRED)


def test_an_absent_zero_value_is_not_drift():
    """Velero's Go types omit false, 0, "" and empty lists: absent and zero are equal."""
    current = {
        "metadata": DESIRED["metadata"],
        "spec": {"schedule": "5 * * * *", "template": DESIRED["spec"]["template"]},
    }
    assert drift.differences(current, DESIRED) == []


def test_label_keys_are_bracketed_in_paths():
    """A key with dots or slashes cannot be dotted: metadata.labels["drd.dev/policy"]."""
    current = {"metadata": {"labels": {"drd.dev/policy": "cart"}}, "spec": DESIRED["spec"]}
    assert drift.differences(current, DESIRED) == ['metadata.labels["drd.dev/policy"]: "cart" → "shop"']


def test_long_values_are_shortened():
    """An item stays readable in a log line: values past 120 characters end in an ellipsis."""
    item = drift.differences({"a": "x" * 300}, {"a": "y"})[0]
    assert len(item) < 140
    assert item.endswith('→ "y"')


def test_the_merge_patch_turns_current_into_desired():
    """Changed, missing and unwanted fields all converge under RFC 7386 semantics."""
    current = {
        "metadata": {"labels": {"drd.dev/policy": "cart"}},
        "spec": {
            "schedule": "0 * * * *",
            "paused": True,
            "template": {"includedNamespaces": ["shop", "x"], "snapshotVolumes": True},
        },
    }
    patch = drift.merge_patch(current, DESIRED)
    assert apply_merge_patch(current, patch) == DESIRED
    assert patch["spec"]["template"]["snapshotVolumes"] is None
