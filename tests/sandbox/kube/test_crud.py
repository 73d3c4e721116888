"""CRUD over HTTP with the official client, and the apiserver's error bodies.

Aspects: create/read/replace/delete of core, apps, coordination, networking and
custom resources; 404, 409 AlreadyExists, 409 Conflict, 422 Invalid, 400 BadRequest,
405 and their ``Status`` wording; ``generateName``; ``dryRun=All``; kind and apiVersion
on objects and lists; cluster-scoped versus namespaced paths.
"""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import a_backup, a_deployment, raw_request, status_of


def test_default_namespaces_exist(core: client.CoreV1Api):
    """default, kube-system, kube-public and kube-node-lease are pre-created and Active."""
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} == names
    assert core.read_namespace("default").status.phase == "Active"


def test_created_config_map_reads_back(core: client.CoreV1Api):
    """A created ConfigMap is returned with kind, apiVersion and its data."""
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata={"name": "c"}, data={"k": "v"}))
    read = core.read_namespaced_config_map("c", "default")
    assert (read.kind, read.api_version, read.data) == ("ConfigMap", "v1", {"k": "v"})


def test_create_answers_201_with_the_stored_object(api: client.ApiClient):
    """POST answers 201 Created and the body carries namespace and resourceVersion."""
    core = client.CoreV1Api(api)
    data, status, _ = core.create_namespaced_config_map_with_http_info("default", {"metadata": {"name": "c"}})
    assert status == 201
    assert data.metadata.namespace == "default"
    assert data.metadata.resource_version


def test_missing_object_is_404_with_apiserver_wording(apps: client.AppsV1Api):
    """Reading an absent Deployment fails 404 NotFound: 'deployments.apps "web" not found'."""
    with pytest.raises(client.ApiException) as caught:
        apps.read_namespaced_deployment("web", "default")
    status = status_of(caught.value)
    assert caught.value.status == 404
    assert (status["reason"], status["message"]) == ("NotFound", 'deployments.apps "web" not found')
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_duplicate_create_is_409_already_exists(core: client.CoreV1Api):
    """Creating a name twice fails 409 AlreadyExists: 'configmaps "c" already exists'."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "AlreadyExists")
    assert status["message"] == 'configmaps "c" already exists'


def test_update_with_stale_resource_version_is_conflict(core: client.CoreV1Api):
    """A PUT carrying an old resourceVersion fails 409 Conflict with the apiserver's message."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"v": "1"}})
    core.patch_namespaced_config_map("c", "default", {"data": {"v": "2"}})
    created.data = {"v": "3"}
    with pytest.raises(client.ApiException) as caught:
        core.replace_namespaced_config_map("c", "default", created)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_update_with_current_resource_version_succeeds(core: client.CoreV1Api):
    """A PUT carrying the current resourceVersion replaces the object and bumps the version."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"v": "1"}})
    created.data = {"v": "2"}
    replaced = core.replace_namespaced_config_map("c", "default", created)
    assert replaced.data == {"v": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)


def test_update_without_resource_version_is_unconditional_for_builtins(core: client.CoreV1Api):
    """A built-in object may be replaced without a resourceVersion (last write wins)."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"v": "1"}})
    replaced = core.replace_namespaced_config_map("c", "default", {"metadata": {"name": "c"}, "data": {"v": "2"}})
    assert replaced.data == {"v": "2"}


def test_custom_resource_replace_requires_resource_version(custom: client.CustomObjectsApi):
    """Replacing a custom resource without metadata.resourceVersion is 422, as for the apiextensions apiserver."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup())
    with pytest.raises(client.ApiException) as caught:
        custom.replace_namespaced_custom_object("velero.io", "v1", "velero", "backups", "nightly", a_backup(ttl="1h"))
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'Backup.velero.io "nightly" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
        "must be specified for an update"
    )


def test_put_to_a_missing_object_is_404(core: client.CoreV1Api):
    """Replacing an object that does not exist is 404 (no create-on-update)."""
    with pytest.raises(client.ApiException) as caught:
        core.replace_namespaced_config_map("c", "default", {"metadata": {"name": "c"}})
    assert caught.value.status == 404


def test_missing_name_is_422_required_value(core: client.CoreV1Api):
    """A create with neither name nor generateName fails 422 with a FieldValueRequired cause."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"labels": {"a": "b"}}})
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    required = "Required value: name or generateName is required"
    assert status["message"] == f'ConfigMap "" is invalid: metadata.name: {required}'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": required, "field": "metadata.name"}
    ]


def test_name_that_is_not_a_dns_subdomain_is_422(core: client.CoreV1Api):
    """An upper-case name fails 422 and the message quotes the RFC 1123 subdomain rule."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "Bad_Name"}})
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert status["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
    )
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_namespace_name_must_be_a_dns_label(core: client.CoreV1Api):
    """Namespace names follow the stricter RFC 1123 label rule: dots are invalid."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespace({"metadata": {"name": "a.b"}})
    assert caught.value.status == 422
    assert "a lowercase RFC 1123 label must consist of" in status_of(caught.value)["message"]


def test_service_name_must_be_a_dns1035_label(core: client.CoreV1Api):
    """Service names must start with a letter (DNS-1035)."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_service("default", {"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}})
    assert caught.value.status == 422
    assert "a DNS-1035 label must consist of" in status_of(caught.value)["message"]


def test_invalid_label_value_is_422(core: client.CoreV1Api):
    """A label value with a space fails 422 on metadata.labels."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c", "labels": {"a": "b c"}}})
    status = status_of(caught.value)
    assert caught.value.status == 422
    assert status["details"]["causes"][0]["field"] == "metadata.labels"


def test_namespace_mismatch_between_url_and_body_is_400(core: client.CoreV1Api):
    """A body naming another namespace than the URL fails 400 BadRequest, worded as the apiserver does."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c", "namespace": "kube-system"}})
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (400, "BadRequest")
    expected = "the namespace of the provided object does not match the namespace sent on the request"
    assert status["message"] == expected


def test_name_mismatch_between_url_and_body_is_400(core: client.CoreV1Api):
    """A PUT whose body names another object than the URL fails 400 BadRequest."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(client.ApiException) as caught:
        core.replace_namespaced_config_map("c", "default", {"metadata": {"name": "d"}})
    assert caught.value.status == 400
    assert status_of(caught.value)["message"] == "the name of the object (d) does not match the name on the URL (c)"


def test_generate_name_appends_five_random_characters(core: client.CoreV1Api):
    """metadata.generateName yields a unique name: the prefix plus five characters."""
    first = core.create_namespaced_config_map("default", {"metadata": {"generateName": "drill-"}})
    second = core.create_namespaced_config_map("default", {"metadata": {"generateName": "drill-"}})
    assert first.metadata.name.startswith("drill-")
    assert len(first.metadata.name) == 11
    assert first.metadata.name != second.metadata.name


def test_dry_run_create_validates_without_persisting(core: client.CoreV1Api):
    """dryRun=All returns the would-be object but stores nothing."""
    result = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}}, dry_run="All")
    assert result.metadata.name == "c"
    with pytest.raises(client.ApiException) as caught:
        core.read_namespaced_config_map("c", "default")
    assert caught.value.status == 404


def test_dry_run_create_still_reports_conflicts(core: client.CoreV1Api):
    """dryRun=All still fails on a name that exists."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c"}}, dry_run="All")
    assert caught.value.status == 409


def test_dry_run_delete_keeps_the_object(core: client.CoreV1Api):
    """A dry-run DELETE leaves the object in place."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    core.delete_namespaced_config_map("c", "default", dry_run="All")
    assert core.read_namespaced_config_map("c", "default").metadata.name == "c"


def test_delete_answers_success_status(core: client.CoreV1Api):
    """Deleting a ConfigMap answers a Status of success naming the object, and it is gone."""
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    status = core.delete_namespaced_config_map("c", "default")
    assert (status["kind"], status["status"]) == ("Status", "Success")
    assert {"name": "c", "kind": "configmaps", "uid": created.metadata.uid} == status["details"]
    with pytest.raises(client.ApiException) as caught:
        core.read_namespaced_config_map("c", "default")
    assert caught.value.status == 404


def test_delete_of_missing_object_is_404(core: client.CoreV1Api):
    """Deleting an absent object fails 404."""
    with pytest.raises(client.ApiException) as caught:
        core.delete_namespaced_secret("nope", "default")
    assert caught.value.status == 404


def test_delete_collection_removes_matching_objects(core: client.CoreV1Api):
    """DELETE on a collection with a label selector removes only the matching objects."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "a", "labels": {"drill": "x"}}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "b"}})
    core.delete_collection_namespaced_config_map("default", label_selector="drill=x")
    assert [cm.metadata.name for cm in core.list_namespaced_config_map("default").items] == ["b"]


def test_list_has_list_kind_and_resource_version(emu: KubeEmulator, core: client.CoreV1Api):
    """A list carries kind ConfigMapList, apiVersion v1 and metadata.resourceVersion; items carry kind too."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    body = raw_request(emu, "GET", "/api/v1/namespaces/default/configmaps").body
    assert (body["kind"], body["apiVersion"]) == ("ConfigMapList", "v1")
    assert body["metadata"]["resourceVersion"].isdigit()
    assert (body["items"][0]["kind"], body["items"][0]["apiVersion"]) == ("ConfigMap", "v1")


def test_cluster_scoped_resource_is_not_served_under_a_namespace(emu: KubeEmulator):
    """/api/v1/namespaces/default/nodes is 404: nodes are cluster-scoped."""
    assert raw_request(emu, "GET", "/api/v1/namespaces/default/nodes").status == 404


def test_namespaced_object_needs_a_namespace_in_its_path(emu: KubeEmulator):
    """/api/v1/configmaps/c is 404, while /api/v1/configmaps lists across namespaces."""
    assert raw_request(emu, "GET", "/api/v1/configmaps/c").status == 404
    assert raw_request(emu, "GET", "/api/v1/configmaps").body["kind"] == "ConfigMapList"


def test_cluster_scoped_objects_have_no_namespace(core: client.CoreV1Api):
    """A Node created with a namespace in its body is stored without one."""
    node = core.create_node({"metadata": {"name": "n1", "namespace": "default"}})
    assert node.metadata.namespace is None


def test_unknown_resource_is_404_generic(api: client.ApiClient):
    """A path no API serves answers the generic 404 'the server could not find the requested resource'."""
    custom = client.CustomObjectsApi(api)
    with pytest.raises(client.ApiException) as caught:
        custom.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == "the server could not find the requested resource"


def test_post_to_a_named_object_is_405(emu: KubeEmulator):
    """POST on an object path is 405 MethodNotAllowed."""
    response = raw_request(
        emu,
        "POST",
        "/api/v1/namespaces/default/configmaps/c",
        body=json.dumps({"metadata": {"name": "c"}}),
        headers={"Content-Type": "application/json"},
    )
    assert (response.status, response.body["reason"]) == (405, "MethodNotAllowed")


def test_apps_networking_and_coordination_groups_serve_crud(api: client.ApiClient):
    """Deployments, NetworkPolicies and Leases are created and read through their typed APIs."""
    client.AppsV1Api(api).create_namespaced_deployment("default", a_deployment())
    client.NetworkingV1Api(api).create_namespaced_network_policy(
        "default", {"metadata": {"name": "deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    )
    client.CoordinationV1Api(api).create_namespaced_lease("default", {"metadata": {"name": "l"}, "spec": {}})
    assert client.AppsV1Api(api).read_namespaced_deployment("web", "default").metadata.name == "web"
    assert [p.metadata.name for p in client.NetworkingV1Api(api).list_namespaced_network_policy("default").items] == [
        "deny"
    ]
    assert client.CoordinationV1Api(api).read_namespaced_lease("l", "default").metadata.name == "l"


def test_custom_resource_crud(custom: client.CustomObjectsApi):
    """A Velero Backup is created, read, listed and deleted through CustomObjectsApi."""
    custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", a_backup(ttl="720h0m0s"))
    read = custom.get_namespaced_custom_object("velero.io", "v1", "velero", "backups", "nightly")
    assert (read["kind"], read["apiVersion"], read["spec"]) == ("Backup", "velero.io/v1", {"ttl": "720h0m0s"})
    listed = custom.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")
    assert (listed["kind"], [i["metadata"]["name"] for i in listed["items"]]) == ("BackupList", ["nightly"])
    custom.delete_namespaced_custom_object("velero.io", "v1", "velero", "backups", "nightly")
    assert custom.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")["items"] == []


def test_cluster_scoped_custom_resource_crud(emu: KubeEmulator, api: client.ApiClient):
    """A cluster-scoped CRD's objects are served without a namespace."""
    from drd.sandbox.kube.crds import crd_manifest

    emu.install_crds([crd_manifest(group="example.com", kind="Widget", plural="widgets", namespaced=False)])
    custom = client.CustomObjectsApi(api)
    custom.create_cluster_custom_object("example.com", "v1", "widgets", {"metadata": {"name": "w"}})
    assert custom.get_cluster_custom_object("example.com", "v1", "widgets", "w")["metadata"]["name"] == "w"


def test_body_with_wrong_api_version_is_400(core: client.CoreV1Api):
    """A body whose apiVersion does not match the URL fails 400."""
    with pytest.raises(client.ApiException) as caught:
        core.create_namespaced_config_map("default", {"apiVersion": "apps/v1", "metadata": {"name": "c"}})
    assert caught.value.status == 400
    assert "does not match the expected API version (v1)" in status_of(caught.value)["message"]


def test_malformed_json_body_is_400(emu: KubeEmulator):
    """A body that is not JSON fails 400 BadRequest."""
    response = raw_request(
        emu,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (response.status, response.body["reason"]) == (400, "BadRequest")


def test_yaml_body_is_415(emu: KubeEmulator):
    """A YAML request body is refused with 415 (the emulator decodes JSON only)."""
    response = raw_request(
        emu,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body="metadata: {name: c}",
        headers={"Content-Type": "application/yaml"},
    )
    assert (response.status, response.body["reason"]) == (415, "UnsupportedMediaType")


def test_any_bearer_token_is_accepted(emu: KubeEmulator):
    """Authentication is not enforced: a client with an arbitrary token (or none) is served."""
    configuration = client.Configuration()
    configuration.host = emu.url
    with client.ApiClient(configuration) as anonymous:
        assert client.CoreV1Api(anonymous).read_namespace("default").metadata.name == "default"


def test_client_certificate_configuration_does_not_break_plain_http(emu: KubeEmulator, tmp_path):
    """A client configured with a certificate and key (as kubeconfigs often are) still talks to the emulator."""
    crypto = pytest.importorskip("cryptography.x509")
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = crypto.Name([crypto.NameAttribute(crypto.oid.NameOID.COMMON_NAME, "drd-test")])
    now = datetime.now(UTC)
    cert = (
        crypto.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "client.crt", tmp_path / "client.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    configuration = client.Configuration()
    configuration.host = emu.url
    configuration.cert_file, configuration.key_file = str(cert_file), str(key_file)
    with client.ApiClient(configuration) as api:
        assert client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
