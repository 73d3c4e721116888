"""``KubeClient.proxy_get``: a Service's answer through the API server's proxy, over real HTTP to the emulator.

Aspects: the backend's answer is a result whatever its status, and so is the
API server's 503 "no endpoints available"; the API server refusing the request
itself is a typed error (missing Service → KubeNotFound, malformed reference →
KubeInvalid, no permission → KubeForbidden, no API server → KubeUnavailable); bodies are cut at
``max_body`` without spoiling the connection pool.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.clients.errors import KubeForbidden, KubeInvalid, KubeNotFound, KubeUnavailable
from drd.clients.kube import KubeClient
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.proxy import HTTP_BODY_ANNOTATION, HTTP_STATUS_ANNOTATION
from tests.support.services import a_service, add_pod


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emu:
        yield emu


@pytest.fixture
def kube(emulator: KubeEmulator) -> Iterator[KubeClient]:
    client = KubeClient.from_api_url(emulator.url, cluster="test", timeout_seconds=5)
    yield client
    client.close()


def serve(emulator: KubeEmulator, **annotations: str) -> None:
    """Service ``web`` with one Ready pod and the given backend annotations."""
    emulator.store.create("services", a_service("web", annotations=annotations), namespace="default")
    add_pod(emulator.store, "web-1", labels={"app": "web"})


def test_the_backend_answer_is_returned_with_body_and_headers(emulator, kube):
    """A 200 from the backend comes back with its body, lower-cased headers and latency."""
    serve(emulator)
    response = kube.proxy_get("default", "web", 80, "/healthz")
    assert response.status == 200
    assert b'"path":"/healthz"' in response.body
    assert response.headers["content-type"].startswith("application/json")
    assert response.latency_ms > 0


def test_no_endpoints_is_a_result_not_an_exception(emulator, kube):
    """The API server's 503 for a Service without ready pods is returned for the caller to judge."""
    emulator.store.create("services", a_service("web"), namespace="default")
    response = kube.proxy_get("default", "web", 80, "/")
    assert response.status == 503
    assert b'no endpoints available for service \\"web\\"' in response.body


def test_a_backend_404_is_a_result(emulator, kube):
    """A 404 the backend sends is not mistaken for a missing Service."""
    serve(emulator, **{HTTP_STATUS_ANNOTATION: "404", HTTP_BODY_ANNOTATION: "no such page"})
    response = kube.proxy_get("default", "web", "http", "/missing")
    assert (response.status, response.text) == (404, "no such page")


def test_a_missing_service_is_kube_not_found(kube):
    """Proxying to a Service that does not exist is KubeNotFound with the apiserver's message."""
    with pytest.raises(KubeNotFound, match='services "web" not found'):
        kube.proxy_get("default", "web", 80, "/")


def test_a_malformed_reference_is_kube_invalid(emulator, kube):
    """A scheme the proxy does not know is KubeInvalid."""
    serve(emulator)
    with pytest.raises(KubeInvalid, match="invalid service request"):
        kube.proxy_get("default", "web", 80, "/", scheme="ftp")


def test_a_forbidden_proxy_request_is_kube_forbidden(emulator, kube):
    """A 403 Status from the API server (drd may not use services/proxy) is KubeForbidden, not a result."""
    serve(emulator)
    emulator.fail_next(1, status=403, path_pattern="/proxy")
    with pytest.raises(KubeForbidden):
        kube.proxy_get("default", "web", 80, "/")


def test_an_unreachable_api_server_is_kube_unavailable(emulator, kube):
    """With the API server down, proxying is KubeUnavailable."""
    serve(emulator)
    emulator.go_down()
    with pytest.raises(KubeUnavailable):
        kube.proxy_get("default", "web", 80, "/")


def test_a_long_body_is_cut_and_the_client_keeps_working(emulator, kube):
    """``max_body`` bytes are kept and marked truncated; the next requests on the same client still work."""
    serve(emulator, **{HTTP_BODY_ANNOTATION: "y" * 5000})
    response = kube.proxy_get("default", "web", 80, "/", max_body=16)
    assert (response.body, response.truncated) == (b"y" * 16, True)
    for _ in range(3):
        assert len(kube.proxy_get("default", "web", 80, "/").body) == 5000
