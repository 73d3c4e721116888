"""Deprecated API versions and ``GET /metrics``, as a real API server of the emulated version serves them.

Aspects covered: ``flowcontrol.apiserver.k8s.io/v1beta3`` is served next to ``v1`` (one storage) and answers with
the API server's ``Warning: 299`` header, which kubectl prints; ``/metrics`` is Prometheus text with
``apiserver_request_total`` by verb, resource and code and ``apiserver_requested_deprecated_apis`` set once the
deprecated version was requested (not for ``v1``); once the server reports v1.32 the deprecated version is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import KUBECTL, Kubectl, raw_request

V1BETA3 = "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas"
V1 = "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas"
WARNING = (
    "flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema is deprecated in v1.29+, unavailable in v1.32+; "
    "use flowcontrol.apiserver.k8s.io/v1 FlowSchema"
)
FLOW_SCHEMA = {
    "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
    "kind": "FlowSchema",
    "metadata": {"name": "legacy-operator"},
    "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 1000},
}


def samples(emulator: KubeEmulator, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric family of ``/metrics``, keyed by their sorted labels."""
    text = raw_request(emulator, "GET", "/metrics").body.decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_the_deprecated_version_warns_like_the_api_server(emu: KubeEmulator) -> None:
    """A request to v1beta3 answers with ``Warning: 299 - "<gv> <Kind> is deprecated …; use <gv> <Kind>"``."""
    response = raw_request(emu, "GET", V1BETA3)
    assert response.status == 200
    assert response.headers["warning"] == f'299 - "{WARNING}"'
    assert "warning" not in raw_request(emu, "GET", V1).headers


def test_both_versions_share_one_storage(emu: KubeEmulator, api: client.ApiClient) -> None:
    """A FlowSchema created through v1 (the official client) is read back through v1beta3."""
    client.CustomObjectsApi(api).create_cluster_custom_object(
        "flowcontrol.apiserver.k8s.io", "v1", "flowschemas", FLOW_SCHEMA
    )
    listed = raw_request(emu, "GET", V1BETA3).body
    assert [item["metadata"]["name"] for item in listed["items"]] == ["legacy-operator"]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_prints_the_deprecation_warning(emu: KubeEmulator, tmp_path: Path) -> None:
    """kubectl shows the server's warning on stderr, as against a real 1.31 cluster."""
    kubectl = Kubectl(emu.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "kube-cache")
    result = kubectl.run("get", "flowschemas.v1beta3.flowcontrol.apiserver.k8s.io")
    assert f"Warning: {WARNING}" in result.stderr


def test_metrics_mark_the_deprecated_api_once_requested(emu: KubeEmulator) -> None:
    """apiserver_requested_deprecated_apis is absent until v1beta3 is requested, then 1 with removed_release."""
    raw_request(emu, "GET", V1)
    assert samples(emu, "apiserver_requested_deprecated_apis") == {}
    raw_request(emu, "GET", V1BETA3)
    labels = {
        "group": "flowcontrol.apiserver.k8s.io",
        "version": "v1beta3",
        "resource": "flowschemas",
        "subresource": "",
        "removed_release": "1.32",
    }
    assert samples(emu, "apiserver_requested_deprecated_apis") == {tuple(sorted(labels.items())): 1.0}


def test_metrics_count_requests_by_verb_resource_and_code(emu: KubeEmulator) -> None:
    """Two LISTs of v1 flowschemas and a GET of a missing one are counted with their codes."""
    raw_request(emu, "GET", V1)
    raw_request(emu, "GET", V1)
    raw_request(emu, "GET", V1 + "/nope")
    counted = {
        (labels["verb"], labels["resource"], labels["scope"], labels["code"]): value
        for key, value in samples(emu, "apiserver_request_total").items()
        if (labels := dict(key))["group"] == "flowcontrol.apiserver.k8s.io"
    }
    assert counted == {("LIST", "flowschemas", "cluster", "200"): 2.0, ("GET", "flowschemas", "resource", "404"): 1.0}


def test_injected_faults_are_counted_as_5xx(emu: KubeEmulator) -> None:
    """A 503 the fault injector answers counts like any other answer, so a 5xx-ratio gate sees it."""
    emu.fail_next(1, status=503, path_pattern="^/api/v1/namespaces$")
    raw_request(emu, "GET", "/api/v1/namespaces")
    counted = {
        dict(key)["code"] for key in samples(emu, "apiserver_request_total") if dict(key)["resource"] == "namespaces"
    }
    assert counted == {"503"}


def test_after_the_upgrade_to_1_32_the_deprecated_version_is_gone(emu: KubeEmulator) -> None:
    """A server on v1.32 answers 404 for v1beta3 and still serves v1."""
    emu.api.git_version = "v1.32.0"
    assert raw_request(emu, "GET", V1BETA3).status == 404
    assert raw_request(emu, "GET", V1).status == 200
