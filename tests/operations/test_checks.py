"""Verification checks: a failing target is a result with a clear detail; only a check that cannot be made raises.

Aspects: HTTP by URL against a loopback server (status, body text, HEAD,
unreachable, timed out, redacted excerpts); HTTP through the emulator's service
proxy (ready, no endpoints, missing Service, API server down); TCP; an object's
existence (present, missing, terminating, resource type not served, API down);
misconfiguration is ConfigError.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd import redaction
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import CONFIGMAPS, NAMESPACES, VELERO_BACKUPS
from drd.errors import ConfigError
from drd.operations.checks import CheckResult, http_check, resource_exists_check, tcp_check
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.proxy import HTTP_BODY_ANNOTATION
from tests.support.services import a_service, add_pod
from tests.support.web import Route, WebServer, closed_port, web_server


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emu:
        yield emu


@pytest.fixture
def kube(emulator: KubeEmulator) -> Iterator[KubeClient]:
    client = KubeClient.from_api_url(emulator.url, cluster="dr-west", timeout_seconds=2)
    yield client
    client.close()


@pytest.fixture
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


# HTTP by URL


def test_http_check_passes_on_the_expected_status(web):
    """A 200 where 200 is expected passes, with status and latency observed."""
    web.routes["/healthz"] = Route(200, b"ok")
    result = http_check(url=web.url("/healthz"))
    assert (result.passed, result.type, result.name) == (True, "http", f"http {web.url('/healthz')}")
    assert result.detail.startswith("HTTP 200 in ")
    assert result.observed["status"] == 200


def test_http_check_fails_on_another_status_saying_what_came_back(web):
    """A 500 where 200 is expected fails, and the detail shows the status and the body's first line."""
    web.routes["/healthz"] = Route(500, b"database down\nstack trace...")
    result = http_check(url=web.url("/healthz"))
    assert not result.passed
    assert result.detail == "HTTP 500, expected 200: database down"


def test_http_check_can_expect_a_non_200_status(web):
    """Expecting 401 from an endpoint that demands login passes on 401."""
    web.routes["/admin"] = Route(401, b"login first")
    assert http_check(url=web.url("/admin"), expect_status=401).passed


def test_http_check_passes_when_the_body_contains_the_text(web):
    """``contains`` found in the body passes and says so."""
    web.routes["/orders"] = Route(200, b'{"orders": 1042}')
    result = http_check(url=web.url("/orders"), contains='"orders"')
    assert result.passed
    assert result.detail.endswith("""body contains '"orders"'""")


def test_http_check_fails_when_the_body_lacks_the_text(web):
    """The right status without the expected text fails, naming the text."""
    web.routes["/orders"] = Route(200, b'{"orders": 0}')
    result = http_check(url=web.url("/orders"), contains="1042")
    assert not result.passed
    assert result.detail == "HTTP 200 as expected, but the body does not contain '1042'"


def test_http_check_with_head_checks_only_the_status(web):
    """A HEAD check passes on the expected status without reading a body."""
    web.routes["/"] = Route(200, b"page")
    assert http_check(url=web.url("/"), method="HEAD").passed


def test_http_check_of_an_unreachable_url_fails_without_raising():
    """Connection refused is a failed result whose detail says so."""
    url = f"http://127.0.0.1:{closed_port()}/healthz"
    result = http_check(url=url)
    assert not result.passed
    assert result.detail.endswith("GET failed: connection refused")
    assert result.observed["error"] == "HttpUnavailable"


def test_http_check_slower_than_its_timeout_fails(web):
    """An answer later than ``timeout`` is a failed result that says it timed out."""
    web.routes["/slow"] = Route(200, b"late", delay=1.0)
    result = http_check(url=web.url("/slow"), timeout=0.2)
    assert not result.passed
    assert "timed out" in result.detail


@pytest.mark.usefixtures("_no_registered_secrets")
def test_http_check_body_excerpt_is_redacted(web):
    """A known secret in the response body is masked in the observed excerpt."""
    redaction.register_secret("pw-Zx81-secret")
    web.routes["/debug"] = Route(200, b"db password=pw-Zx81-secret")
    result = http_check(url=web.url("/debug"))
    assert result.observed["body"] == "db password=***"


# HTTP through the service proxy


def test_http_check_through_the_proxy_passes_when_a_pod_is_ready(emulator, kube):
    """Through the API server, a Service with a Ready pod answering 200 passes."""
    emulator.store.create("services", a_service("web"), namespace="default")
    add_pod(emulator.store, "web-1", labels={"app": "web"})
    result = http_check(kube=kube, namespace="default", service="web", port=80, path="/healthz")
    assert (result.passed, result.name) == (True, "http web:80/healthz")


def test_http_check_through_the_proxy_fails_without_ready_endpoints(emulator, kube):
    """A Service with no ready pod fails with the API server's reason."""
    emulator.store.create("services", a_service("web"), namespace="default")
    result = http_check(kube=kube, namespace="default", service="web", port=80)
    assert not result.passed
    assert result.detail == 'HTTP 503, expected 200: no endpoints available for service "web"'


def test_http_check_through_the_proxy_reads_the_backend_body(emulator, kube):
    """``contains`` applies to what the backend answered through the proxy."""
    annotations = {HTTP_BODY_ANNOTATION: "catalog ready: 3 items"}
    emulator.store.create("services", a_service("web", annotations=annotations), namespace="default")
    add_pod(emulator.store, "web-1", labels={"app": "web"})
    assert http_check(kube=kube, namespace="default", service="web", port="http", contains="3 items").passed


def test_http_check_of_a_missing_service_fails_naming_it(kube):
    """A Service that does not exist is a failed result naming Service and namespace."""
    result = http_check(kube=kube, namespace="shop", service="web", port=80)
    assert not result.passed
    assert result.detail == 'service "web" not found in namespace "shop" on dr-west'


def test_http_check_with_the_api_server_down_fails_without_raising(emulator, kube):
    """An unreachable API server makes the check fail (the caller retries), not raise."""
    emulator.go_down()
    result = http_check(kube=kube, namespace="default", service="web", port=80)
    assert not result.passed
    assert result.detail.startswith("could not ask the API server: ")


# TCP


def test_tcp_check_passes_when_the_port_accepts(web):
    """A listening port passes, with the connect latency observed."""
    result = tcp_check("127.0.0.1", web.port, timeout=2)
    assert (result.passed, result.type, result.name) == (True, "tcp", f"tcp 127.0.0.1:{web.port}")
    assert result.observed["latency_ms"] >= 0


def test_tcp_check_fails_when_nothing_listens():
    """A refused connection is a failed result saying so."""
    port = closed_port()
    result = tcp_check("127.0.0.1", port, timeout=2)
    assert not result.passed
    assert result.detail == f"tcp 127.0.0.1:{port}: connect failed: connection refused"


# Objects


def test_resource_exists_check_passes_for_an_existing_object(emulator, kube):
    """An existing ConfigMap passes, with its uid observed."""
    created = emulator.store.create("configmaps", {"metadata": {"name": "settings"}}, namespace="default")
    result = resource_exists_check(kube, CONFIGMAPS, "settings", "default")
    assert result.passed
    assert result.detail == 'ConfigMap "settings" in namespace "default" on dr-west exists'
    assert created["metadata"]["uid"] == result.observed["uid"]


def test_resource_exists_check_fails_for_a_missing_object(kube):
    """A missing object is a failed result saying it does not exist."""
    result = resource_exists_check(kube, CONFIGMAPS, "settings", "default")
    assert (
        result.passed,
        result.detail,
    ) == (False, 'ConfigMap "settings" in namespace "default" on dr-west does not exist')


def test_resource_exists_check_fails_for_a_terminating_object(emulator, kube):
    """An object being deleted does not count as restored."""
    body = {"metadata": {"name": "settings", "finalizers": ["example.com/hold"]}}
    emulator.store.create("configmaps", body, namespace="default")
    emulator.store.delete("configmaps", "settings", namespace="default")
    result = resource_exists_check(kube, CONFIGMAPS, "settings", "default")
    assert not result.passed
    assert "is being deleted" in result.detail


def test_resource_exists_check_says_when_the_cluster_does_not_serve_the_type(kube):
    """Looking for a Velero Backup where Velero's CRDs are not installed says the type is not served."""
    result = resource_exists_check(kube, VELERO_BACKUPS, "nightly", "velero")
    assert not result.passed
    assert result.detail == "dr-west does not serve backups.velero.io (velero.io/v1)"


def test_resource_exists_check_with_the_api_server_down_fails(emulator, kube):
    """An unreachable API server is a failed result, not an exception."""
    emulator.go_down()
    result = resource_exists_check(kube, NAMESPACES, "shop")
    assert not result.passed
    assert result.observed["error"] == "KubeUnavailable"


# Misconfiguration


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"url": "http://127.0.0.1:1/", "service": "web"},
        {"namespace": "shop", "service": "web", "port": 80},
        {"url": "not a url"},
        {"url": "http://127.0.0.1:1/", "method": "HEAD", "contains": "ok"},
        {"url": "http://127.0.0.1:1/", "method": "DELETE"},
        {"url": "http://127.0.0.1:1/", "expect_status": 42},
        {"url": "http://127.0.0.1:1/", "scheme": "ftp"},
    ],
    ids=[
        "no target",
        "url and service",
        "service without kube",
        "malformed url",
        "head with contains",
        "delete",
        "status 42",
        "ftp",
    ],
)
def test_http_check_that_cannot_be_made_is_a_config_error(arguments):
    """A check without exactly one complete target, or with impossible expectations, raises ConfigError."""
    with pytest.raises(ConfigError):
        http_check(**arguments)


def test_http_check_through_the_proxy_needs_get(kube):
    """The service proxy is read with GET only: asking for HEAD through it is a ConfigError."""
    with pytest.raises(ConfigError, match="use GET"):
        http_check(kube=kube, namespace="shop", service="web", port=80, method="HEAD")


def test_tcp_check_of_an_impossible_port_is_a_config_error():
    """Port 0 cannot be checked: ConfigError."""
    with pytest.raises(ConfigError):
        tcp_check("127.0.0.1", 0)


@pytest.mark.parametrize(
    ("resource", "namespace"), [(CONFIGMAPS, None), (NAMESPACES, "default")], ids=["namespaced", "cluster-scoped"]
)
def test_resource_exists_check_with_the_wrong_scope_is_a_config_error(kube, resource, namespace):
    """A namespaced type needs a namespace and a cluster-scoped one must not have one."""
    with pytest.raises(ConfigError):
        resource_exists_check(kube, resource, "x", namespace)


def test_check_result_to_dict_is_json_ready():
    """``to_dict`` gives plain values for evidence, duration rounded to 0.1 ms."""
    result = CheckResult("http web", "http", True, 12.345, "HTTP 200 in 12 ms", {"status": 200})
    assert result.to_dict() == {
        "name": "http web",
        "type": "http",
        "passed": True,
        "duration_ms": 12.3,
        "detail": "HTTP 200 in 12 ms",
        "observed": {"status": 200},
    }
