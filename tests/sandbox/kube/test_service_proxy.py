"""The emulator's service proxy: ``/api/v1/namespaces/{ns}/services/{ref}/proxy/{path}``, as kube-apiserver resolves it.

Aspects: a missing Service is 404; a malformed reference is 400; a numeric port
the Service lacks is 503 ``no service port``; a Service with no Running, Ready,
non-terminating pod behind its selector (or none at all) is 503 ``no endpoints
available`` without Retry-After; ports are addressed by number or name (no port
only for an unnamed one); otherwise the backend's answer comes from the
Service's annotations (default 200 with a small JSON body). Pods made Ready by
the workload simulator become endpoints; ``never-ready`` workloads never do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DEPLOYMENTS
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.proxy import HTTP_BODY_ANNOTATION, HTTP_STATUS_ANNOTATION
from drd.sandbox.workloads import NEVER_READY_LABEL, WorkloadSimulator, WorkloadTimings
from tests.sandbox.kube.conftest import a_deployment, raw_request
from tests.sandbox.velero.support import eventually
from tests.support.services import a_service, add_pod

PROXY = "/api/v1/namespaces/default/services"


@pytest.fixture
def web(emu: KubeEmulator) -> KubeEmulator:
    """``emu`` with Service ``web`` (port 80 named http, selector app=web) and one Ready pod behind it."""
    emu.store.create("services", a_service("web"), namespace="default")
    add_pod(emu.store, "web-1", labels={"app": "web"})
    return emu


def test_missing_service_is_404_not_found(emu):
    """Proxying to a Service that does not exist is the apiserver's NotFound Status."""
    response = raw_request(emu, "GET", f"{PROXY}/nope:80/proxy/healthz")
    assert response.status == 404
    assert (response.body["reason"], response.body["message"]) == ("NotFound", 'services "nope" not found')
    assert response.body["details"] == {"name": "nope", "kind": "services"}


def test_service_with_no_pods_is_503_no_endpoints(emu):
    """A Service whose selector matches no pod answers 503 "no endpoints available", with no Retry-After."""
    emu.store.create("services", a_service("web"), namespace="default")
    response = raw_request(emu, "GET", f"{PROXY}/web:80/proxy/healthz")
    assert response.status == 503
    assert (
        response.body["reason"],
        response.body["message"],
    ) == ("ServiceUnavailable", 'no endpoints available for service "web"')
    assert "retry-after" not in response.headers


def test_unready_pods_are_not_endpoints(emu):
    """A Running pod whose Ready condition is False does not back the Service."""
    emu.store.create("services", a_service("web"), namespace="default")
    add_pod(emu.store, "web-1", labels={"app": "web"}, ready=False)
    assert raw_request(emu, "GET", f"{PROXY}/web:80/proxy/").status == 503


def test_terminating_pods_are_not_endpoints(emu):
    """A Ready pod that is being deleted no longer backs the Service."""
    emu.store.create("services", a_service("web"), namespace="default")
    add_pod(emu.store, "web-1", labels={"app": "web"}, finalizers=["example.com/hold"])
    emu.store.delete("pods", "web-1", namespace="default")
    assert raw_request(emu, "GET", f"{PROXY}/web:80/proxy/").status == 503


def test_pods_outside_the_selector_are_not_endpoints(emu):
    """A Ready pod with other labels does not back the Service."""
    emu.store.create("services", a_service("web"), namespace="default")
    add_pod(emu.store, "api-1", labels={"app": "api"})
    assert raw_request(emu, "GET", f"{PROXY}/web:80/proxy/").status == 503


def test_service_without_selector_has_no_endpoints(emu):
    """A Service with no selector has no endpoints the emulator could manage: 503."""
    emu.store.create("services", a_service("external", selector={}), namespace="default")
    add_pod(emu.store, "any-1", labels={"app": "external"})
    assert raw_request(emu, "GET", f"{PROXY}/external:80/proxy/").status == 503


def test_ready_pod_makes_the_backend_answer_200_with_a_json_body(web):
    """With a Ready endpoint the answer is 200 and a JSON body naming the Service and the path."""
    response = raw_request(web, "GET", f"{PROXY}/web:80/proxy/healthz?verbose=1")
    assert response.status == 200
    assert response.body == {"service": "web", "path": "/healthz", "status": "ok"}


def test_annotations_set_the_backend_status_and_body(emu):
    """``http-status`` and ``http-body`` annotations are what the backend answers (the body as plain text)."""
    annotations = {HTTP_STATUS_ANNOTATION: "500", HTTP_BODY_ANNOTATION: "database unreachable"}
    emu.store.create("services", a_service("web", annotations=annotations), namespace="default")
    add_pod(emu.store, "web-1", labels={"app": "web"})
    response = raw_request(emu, "GET", f"{PROXY}/web:80/proxy/healthz")
    assert (response.status, response.body) == (500, b"database unreachable")
    assert response.headers["content-type"].startswith("text/plain")


def test_an_invalid_status_annotation_is_an_internal_error(emu):
    """An http-status annotation that is not an HTTP status makes the emulator answer 500 naming it."""
    annotations = {HTTP_STATUS_ANNOTATION: "teapot"}
    emu.store.create("services", a_service("web", annotations=annotations), namespace="default")
    add_pod(emu.store, "web-1", labels={"app": "web"})
    response = raw_request(emu, "GET", f"{PROXY}/web:80/proxy/")
    assert response.status == 500
    assert HTTP_STATUS_ANNOTATION in response.body["message"]


def test_a_port_number_the_service_lacks_is_503_no_service_port(web):
    """A numeric port not declared on the Service is 503 "no service port N found"."""
    response = raw_request(web, "GET", f"{PROXY}/web:81/proxy/")
    assert (response.status, response.body["message"]) == (503, 'no service port 81 found for service "web"')


def test_a_port_can_be_named(web):
    """``web:http`` addresses the port named http."""
    assert raw_request(web, "GET", f"{PROXY}/web:http/proxy/").status == 200


def test_a_named_port_is_not_reached_without_its_name_or_number(web):
    """``web`` alone addresses an unnamed port; the Service has only ``http``, so there is no endpoint."""
    assert raw_request(web, "GET", f"{PROXY}/web/proxy/").status == 503


def test_a_single_unnamed_port_is_reached_by_the_service_name_alone(emu):
    """A Service with one unnamed port is addressed as plain ``name``."""
    emu.store.create("services", a_service("db", ports=[{"port": 5432}]), namespace="default")
    add_pod(emu.store, "db-0", labels={"app": "db"})
    assert raw_request(emu, "GET", f"{PROXY}/db/proxy/").status == 200


def test_a_scheme_prefix_is_accepted(web):
    """``https:web:80`` (scheme, name, port) is a valid reference."""
    assert raw_request(web, "GET", f"{PROXY}/https:web:80/proxy/").status == 200


@pytest.mark.parametrize("reference", ["a:b:c:d", "ftp:web:80", ":80"])
def test_a_malformed_reference_is_400(web, reference):
    """Too many parts, an unknown scheme or no name is 400 "invalid service request"."""
    response = raw_request(web, "GET", f"{PROXY}/{reference}/proxy/")
    assert (response.status, response.body["message"]) == (400, f'invalid service request "{reference}"')


def test_a_url_ending_at_proxy_reaches_the_root_path(web):
    """``…/proxy`` with nothing after it proxies ``/``."""
    assert raw_request(web, "GET", f"{PROXY}/web:80/proxy").body["path"] == "/"


@pytest.fixture
def simulated(emu: KubeEmulator) -> Iterator[KubeClient]:
    """drd's client of ``emu`` with the workload simulator converging Deployments quickly (on one Ready node)."""
    emu.store.create("nodes", {"metadata": {"name": "node-1"}})
    emu.store.patch(
        "nodes", "node-1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, subresource="status"
    )
    kube = KubeClient.from_api_url(emu.url, cluster="emu", timeout_seconds=5)
    simulator = WorkloadSimulator(kube, timings=WorkloadTimings(ready_delay_seconds=0.05)).start()
    yield kube
    simulator.stop()
    kube.close()


def test_pods_the_simulator_makes_ready_become_endpoints(emu, simulated):
    """A Deployment's pods, once the simulator marks them Ready, make its Service answer 200."""
    emu.store.create("services", a_service("web"), namespace="default")
    simulated.create(DEPLOYMENTS, a_deployment("web", replicas=2), namespace="default")
    eventually(lambda: raw_request(emu, "GET", f"{PROXY}/web:80/proxy/").status == 200, timeout=10)


def test_never_ready_workloads_never_become_endpoints(emu, simulated):
    """Pods of a workload labelled never-ready stay unready, so the Service keeps answering 503."""
    emu.store.create("services", a_service("web"), namespace="default")
    deployment = a_deployment("web", labels={NEVER_READY_LABEL: "true"})
    simulated.create(DEPLOYMENTS, deployment, namespace="default")
    eventually(lambda: (simulated.get(DEPLOYMENTS, "web", namespace="default").get("status") or {}).get("replicas"))
    assert len(emu.store.list("pods", namespace="default", label_selector="app=web")) == 1
    assert raw_request(emu, "GET", f"{PROXY}/web:80/proxy/").status == 503
