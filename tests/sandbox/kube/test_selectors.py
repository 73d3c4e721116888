"""Label and field selectors, cross-namespace lists, and limit/continue pagination.

Aspects: every label-selector operator; field selectors on metadata and on any
dotted path; listing a namespaced resource across all namespaces; paging with
``limit``/``continue`` (the client's own pager loop), and a malformed selector (400).
"""

from __future__ import annotations

import pytest
from kubernetes import client

from drd.sandbox.kube.emulator import KubeEmulator


@pytest.fixture
def labelled(core: client.CoreV1Api) -> client.CoreV1Api:
    """Four ConfigMaps in default: a(env=prod,tier=web) b(env=dev,tier=db) c(env=prod) d(no labels)."""
    for name, labels in {
        "a": {"env": "prod", "tier": "web"},
        "b": {"env": "dev", "tier": "db"},
        "c": {"env": "prod"},
        "d": {},
    }.items():
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})
    return core


def _names(core: client.CoreV1Api, **kwargs: str) -> list[str]:
    return [cm.metadata.name for cm in core.list_namespaced_config_map("default", **kwargs).items]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", ["a", "c"]),
        ("env==prod", ["a", "c"]),
        ("env!=prod", ["b", "d"]),
        ("env in (dev, staging)", ["b"]),
        ("env notin (dev)", ["a", "c", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("env=prod,tier=web", ["a"]),
        ("env in (prod),!tier", ["c"]),
    ],
)
def test_label_selector_operators(labelled: client.CoreV1Api, selector: str, expected: list[str]):
    """Each label-selector operator filters the list as the apiserver does."""
    assert expected == _names(labelled, label_selector=selector)


def test_malformed_label_selector_is_400(labelled: client.CoreV1Api):
    """An unparsable label selector fails 400 BadRequest."""
    with pytest.raises(client.ApiException) as caught:
        labelled.list_namespaced_config_map("default", label_selector="env in prod")
    assert caught.value.status == 400


def test_field_selector_on_metadata_name(labelled: client.CoreV1Api):
    """fieldSelector=metadata.name=b returns only b."""
    assert _names(labelled, field_selector="metadata.name=b") == ["b"]


def test_field_selector_inequality(labelled: client.CoreV1Api):
    """fieldSelector with != excludes the named object."""
    assert _names(labelled, field_selector="metadata.name!=b") == ["a", "c", "d"]


def test_field_selector_on_a_dotted_status_path(core: client.CoreV1Api, emu: KubeEmulator):
    """fieldSelector=status.phase=Running filters pods on their status."""
    for name, phase in (("p1", "Running"), ("p2", "Pending")):
        core.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": {"containers": []}})
        emu.store.patch("pods", name, {"status": {"phase": phase}}, namespace="default", subresource="status")
    running = core.list_namespaced_pod("default", field_selector="status.phase=Running").items
    assert [p.metadata.name for p in running] == ["p1"]


def test_list_across_all_namespaces(core: client.CoreV1Api):
    """list_config_map_for_all_namespaces returns objects of every namespace, ordered by namespace then name."""
    core.create_namespaced_config_map("kube-system", {"metadata": {"name": "z"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "y"}})
    items = core.list_config_map_for_all_namespaces().items
    assert [(i.metadata.namespace, i.metadata.name) for i in items] == [("default", "y"), ("kube-system", "z")]


def test_field_selector_on_namespace_across_namespaces(core: client.CoreV1Api):
    """fieldSelector=metadata.namespace narrows an all-namespaces list."""
    core.create_namespaced_config_map("kube-system", {"metadata": {"name": "z"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "y"}})
    items = core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=kube-system").items
    assert [i.metadata.name for i in items] == ["z"]


def test_limit_returns_a_continue_token_and_remaining_count(core: client.CoreV1Api):
    """limit=2 of 5 returns 2 items, a continue token and remainingItemCount 3."""
    for i in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    page = core.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in page.items] == ["c0", "c1"]
    assert page.metadata._continue
    assert page.metadata.remaining_item_count == 3


def test_continue_token_walks_every_page(core: client.CoreV1Api):
    """Following continue tokens visits every object exactly once; the last page has no token."""
    for i in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map("default", limit=2, _continue=token)
        seen.extend(i.metadata.name for i in page.items)
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert (seen, pages) == (["c0", "c1", "c2", "c3", "c4"], 3)


def test_continue_token_keeps_the_first_page_resource_version(core: client.CoreV1Api):
    """Every page of one paginated list reports the resourceVersion of its first page."""
    for i in range(3):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    first = core.list_namespaced_config_map("default", limit=2)
    core.create_namespaced_config_map("default", {"metadata": {"name": "later"}})
    second = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert first.metadata.resource_version == second.metadata.resource_version


def test_continue_token_from_a_compacted_version_is_410(emu: KubeEmulator, core: client.CoreV1Api):
    """A continue token older than the compacted history fails 410 Expired."""
    for i in range(3):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    first = core.list_namespaced_config_map("default", limit=1)
    core.create_namespaced_config_map("default", {"metadata": {"name": "later"}})
    emu.store.compact()
    with pytest.raises(client.ApiException) as caught:
        core.list_namespaced_config_map("default", limit=1, _continue=first.metadata._continue)
    assert caught.value.status == 410


def test_garbage_continue_token_is_400(core: client.CoreV1Api):
    """A continue token that does not decode fails 400."""
    with pytest.raises(client.ApiException) as caught:
        core.list_namespaced_config_map("default", limit=1, _continue="%%%")
    assert caught.value.status == 400
