"""Pure helpers of the emulator, tested without a server.

Aspects: JSON merge patch and JSON patch edge cases (RFC 7386 and 6902 examples),
strategic-merge directives, label selector rendering, field selector escapes,
routing of tricky paths, and the apiserver's HumanDuration.
"""

from __future__ import annotations

import pytest

from drd.sandbox.kube import patches, routing
from drd.sandbox.kube.errors import BadRequest
from drd.sandbox.kube.selectors import FieldSelector, LabelSelector
from drd.sandbox.kube.tables import human_duration


def test_merge_patch_rfc7386_example():
    """The RFC 7386 section 3 example produces the documented result."""
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example", "sample"]}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["example"]}
    expected = {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "phoneNumber": "+01-123-456-7890",
    }
    assert expected == patches.merge_patch(target, patch)


def test_merge_patch_does_not_modify_its_inputs():
    """merge_patch returns a new document and leaves target and patch untouched."""
    target = {"a": {"b": 1}}
    patches.merge_patch(target, {"a": {"c": 2}})
    assert target == {"a": {"b": 1}}


def test_json_patch_move_and_copy():
    """move and copy relocate values by JSON pointer, with ~1 escaping a slash."""
    doc = {"a": {"x/y": 1}, "b": []}
    result = patches.json_patch(
        doc, [{"op": "copy", "from": "/a/x~1y", "path": "/b/-"}, {"op": "move", "from": "/a/x~1y", "path": "/c"}]
    )
    assert result == {"a": {}, "b": [1], "c": 1}


def test_json_patch_failed_test_raises():
    """A failed test operation raises PatchError."""
    with pytest.raises(patches.PatchError):
        patches.json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])


def test_strategic_merge_replace_directive_on_a_map():
    """``$patch: replace`` replaces the whole map instead of merging into it."""
    result = patches.strategic_merge_patch({"m": {"a": 1, "b": 2}}, {"m": {"$patch": "replace", "c": 3}})
    assert result == {"m": {"c": 3}}


def test_strategic_merge_finalizers_merge_as_a_set_and_delete_from_primitive_list():
    """metadata.finalizers merge as a set; $deleteFromPrimitiveList removes entries."""
    merged = patches.strategic_merge_patch({"finalizers": ["a"]}, {"finalizers": ["b", "a"]})
    removed = patches.strategic_merge_patch({"finalizers": ["a", "b"]}, {"$deleteFromPrimitiveList/finalizers": ["a"]})
    assert (merged["finalizers"], removed["finalizers"]) == (["a", "b"], ["b"])


def test_strategic_merge_service_ports_merge_on_port():
    """Service ports (no containerPort) merge on their port number."""
    target = {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}
    result = patches.strategic_merge_patch(target, {"ports": [{"port": 443, "targetPort": 8443}]})
    assert result["ports"] == [{"port": 80, "name": "http"}, {"port": 443, "name": "https", "targetPort": 8443}]


def test_strategic_merge_set_element_order():
    """``$setElementOrder`` reorders a merged list."""
    target = {"containers": [{"name": "a"}, {"name": "b"}]}
    patch = {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "containers": [{"name": "a", "image": "x"}]}
    assert [c["name"] for c in patches.strategic_merge_patch(target, patch)["containers"]] == ["b", "a"]


def test_label_selector_renders_sorted_requirements():
    """A structured selector renders like apimachinery's String(): requirements sorted by key."""
    selector = LabelSelector.from_dict(
        {"matchLabels": {"tier": "web"}, "matchExpressions": [{"key": "app", "operator": "In", "values": ["b", "a"]}]}
    )
    assert str(selector) == "app in (a,b),tier=web"


def test_label_selector_rejects_invalid_keys():
    """A key that is not a qualified name is a BadRequest."""
    with pytest.raises(BadRequest):
        LabelSelector.parse("bad key=1")


def test_gt_lt_operators_compare_integers():
    """``>`` and ``<`` compare integer label values."""
    selector = LabelSelector.parse("replicas>2")
    assert (
        selector.matches({"replicas": "3"}),
        selector.matches({"replicas": "2"}),
        selector.matches({}),
    ) == (True, False, False)


def test_field_selector_escaped_comma_and_equals():
    """Backslash escapes let a field value contain ',' and '='."""
    selector = FieldSelector.parse(r"metadata.name=a\,b\=c")
    assert selector.matches({"metadata": {"name": "a,b=c"}})


def test_field_selector_missing_field_reads_empty():
    """A missing field compares as the empty string."""
    assert FieldSelector.parse("status.phase!=Running").matches({"metadata": {}})


def test_routing_namespace_subresources_and_watch_prefix():
    """Namespace status/finalize and the /watch/ prefix route to the right resource."""
    assert routing.ResourcePath("", "v1", "namespaces", name="x", subresource="finalize") == routing.parse(
        "/api/v1/namespaces/x/finalize"
    )
    assert routing.ResourcePath("apps", "v1", "deployments", "ns", watch=True) == routing.parse(
        "/apis/apps/v1/watch/namespaces/ns/deployments"
    )
    assert routing.parse("/apis/apps/v1/namespaces/ns/deployments/a/scale/extra") is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (50 * 3600, "2d2h"),
        (400 * 86400, "400d"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: int, text: str):
    """Ages print as kubectl users know them."""
    assert text == human_duration(seconds)
