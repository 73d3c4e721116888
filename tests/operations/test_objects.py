"""Objects by apiVersion and kind against an emulated API server: discovery, apply, patch, delete, dry-run.

Aspects: discovery of built-in and custom kinds, remembered per client, and a
clear error for an unknown kind; apply's created/unchanged/updated answers and
what it leaves alone; dry-run writes that persist nothing; merge and JSON
patches; annotations set and removed; deletion's False for absent objects.
"""

from __future__ import annotations

from typing import Any

import pytest

from drd.clients.errors import KubeInvalid
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, Resource
from drd.errors import PermanentError
from drd.operations import objects
from drd.sandbox.kube.emulator import KubeEmulator


def a_configmap(name: str = "settings", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "data": data or {"mode": "fast"},
    }


def test_discovery_finds_where_a_kind_lives(bare):
    """resource_for maps apps/v1 Deployment and v1 Namespace to their plural and scope."""
    assert objects.resource_for(bare, "apps/v1", "Deployment") == DEPLOYMENTS
    assert objects.resource_for(bare, "v1", "Namespace") == NAMESPACES


def test_discovery_is_remembered_per_client(emulated):
    """Once found, a kind is resolved without asking the API again (discovery failing does not matter)."""
    emulator, kube = emulated
    objects.resource_for(kube, "v1", "ConfigMap")
    emulator.faults.set(error_rate=1.0, status=500, path_pattern=r"^/api/v1$")
    assert objects.resource_for(kube, "v1", "ConfigMap") == CONFIGMAPS


def test_custom_resources_are_found_once_their_crd_is_served():
    """A Velero Backup resolves through discovery of velero.io/v1 like any built-in kind."""
    with KubeEmulator(velero=True) as emulator:
        kube = KubeClient.from_api_url(emulator.url, cluster="crds")
        try:
            found = objects.resource_for(kube, "velero.io/v1", "Backup")
        finally:
            kube.close()
    assert found == Resource("velero.io", "v1", "backups", "Backup")


def test_an_unknown_kind_is_a_permanent_error_naming_it(bare):
    """An unserved kind, in a served or an unserved group, raises UnknownKind naming kind and apiVersion."""
    with pytest.raises(objects.UnknownKind, match=r"does not serve kind Widget in apps/v1"):
        objects.resource_for(bare, "apps/v1", "Widget")
    with pytest.raises(objects.UnknownKind, match=r"does not serve kind Widget in example\.com/v1") as raised:
        objects.resource_for(bare, "example.com/v1", "Widget")
    assert isinstance(raised.value, PermanentError)


def test_apply_creates_then_finds_it_unchanged_then_updates_what_differs(bare):
    """apply answers created, unchanged, then updated; fields the manifest does not mention are left alone."""
    assert objects.apply(bare, a_configmap()) == "created"
    assert objects.apply(bare, a_configmap()) == "unchanged"
    bare.merge_patch(CONFIGMAPS, "settings", {"metadata": {"labels": {"owner": "ops"}}}, namespace="default")
    assert objects.apply(bare, a_configmap()) == "unchanged"
    assert objects.apply(bare, a_configmap(mode="safe")) == "updated"
    current = bare.get(CONFIGMAPS, "settings", namespace="default")
    assert current["data"] == {"mode": "safe"}
    assert current["metadata"]["labels"] == {"app": "web", "owner": "ops"}


def test_apply_uses_the_given_namespace_when_the_manifest_has_none(bare):
    """A manifest without metadata.namespace goes to the namespace argument; a namespaced kind needs one."""
    manifest = a_configmap()
    del manifest["metadata"]["namespace"]
    assert objects.apply(bare, manifest, namespace="kube-public") == "created"
    assert bare.find(CONFIGMAPS, "settings", namespace="kube-public") is not None
    with pytest.raises(PermanentError, match="is namespaced"):
        objects.apply(bare, manifest)


def test_apply_of_a_cluster_scoped_object_ignores_the_namespace(bare):
    """A Namespace manifest applies cluster-wide whatever namespace is passed."""
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"team": "a"}}}
    assert objects.apply(bare, manifest, namespace="default") == "created"
    assert objects.apply(bare, manifest) == "unchanged"


def test_a_dry_run_apply_validates_and_persists_nothing(bare):
    """dry_run creates and updates nothing, yet reports what would happen and fails where the real call would."""
    assert objects.apply(bare, a_configmap(), dry_run=True) == "created"
    assert bare.find(CONFIGMAPS, "settings", namespace="default") is None
    objects.apply(bare, a_configmap())
    assert objects.apply(bare, a_configmap(mode="safe"), dry_run=True) == "updated"
    assert bare.get(CONFIGMAPS, "settings", namespace="default")["data"] == {"mode": "fast"}
    invalid = a_configmap("Not_A_Name")
    with pytest.raises(KubeInvalid):
        objects.apply(bare, invalid, dry_run=True)


def test_a_manifest_without_identity_is_refused(bare):
    """apply needs apiVersion, kind and metadata.name, and says which are missing."""
    with pytest.raises(PermanentError, match=r"a manifest needs kind, metadata\.name"):
        objects.apply(bare, {"apiVersion": "v1", "metadata": {}})


def test_merge_and_json_patches(bare):
    """patch applies an RFC 7386 merge patch or an RFC 6902 JSON patch; a mismatched body is refused."""
    objects.apply(bare, a_configmap())
    merged = objects.patch(bare, "v1", "ConfigMap", "settings", namespace="default", patch={"data": {"extra": "1"}})
    assert merged["data"] == {"mode": "fast", "extra": "1"}
    operations = [{"op": "remove", "path": "/data/extra"}]
    patched = objects.patch(
        bare, "v1", "ConfigMap", "settings", namespace="default", patch=operations, patch_type="json"
    )
    assert patched["data"] == {"mode": "fast"}
    with pytest.raises(PermanentError, match="a json patch must be a list of operations"):
        objects.patch(bare, "v1", "ConfigMap", "settings", namespace="default", patch={}, patch_type="json")


def test_a_dry_run_patch_changes_nothing(bare):
    """A dry-run patch returns the patched object but the stored one is unchanged."""
    objects.apply(bare, a_configmap())
    answer = objects.patch(
        bare, "v1", "ConfigMap", "settings", namespace="default", patch={"data": {"mode": "x"}}, dry_run=True
    )
    assert answer["data"]["mode"] == "x"
    assert bare.get(CONFIGMAPS, "settings", namespace="default")["data"]["mode"] == "fast"


def test_annotations_are_set_and_removed(bare):
    """annotate adds annotations, and a None value removes one, leaving the others."""
    objects.apply(bare, a_configmap())
    objects.annotate(bare, "v1", "ConfigMap", "settings", namespace="default", annotations={"a": "1", "b": "2"})
    annotated = objects.annotate(bare, "v1", "ConfigMap", "settings", namespace="default", annotations={"a": None})
    assert annotated["metadata"]["annotations"] == {"b": "2"}


def test_get_and_delete_answer_for_absent_objects(bare):
    """get_object is None and delete_object False for what does not exist; a dry-run delete keeps the object."""
    assert objects.get_object(bare, "v1", "ConfigMap", "settings", namespace="default") is None
    assert objects.delete_object(bare, "v1", "ConfigMap", "settings", namespace="default") is False
    objects.apply(bare, a_configmap())
    assert objects.delete_object(bare, "v1", "ConfigMap", "settings", namespace="default", dry_run=True) is True
    assert objects.get_object(bare, "v1", "ConfigMap", "settings", namespace="default") is not None
    assert objects.delete_object(bare, "v1", "ConfigMap", "settings", namespace="default") is True
    assert objects.get_object(bare, "v1", "ConfigMap", "settings", namespace="default") is None
