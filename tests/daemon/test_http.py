"""The daemon's HTTP endpoints over real HTTP (urllib on a free loopback port).

Aspects: /metrics in the Prometheus text format, in OpenMetrics when asked,
gzip when accepted, restricted by ``name[]``, 500 when a collector fails;
/healthz follows liveness; /readyz answers 200/503 with the JSON body, redacted,
and 503 when the readiness check itself fails; 404, HEAD and 405; keep-alive;
listen addresses (all interfaces, loopback, IPv6, bad forms, a taken port);
stop releases the port. The Readiness rules themselves are at the end.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from structlog.testing import capture_logs

from drd import redaction
from drd.daemon.http import HealthServer, parse_listen
from drd.daemon.readiness import ClusterStatus, ConfigStatus, LeaderStatus, Readiness
from drd.errors import ConfigError, Problem
from drd.metrics import Metrics

LOADED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def a_readiness(**overrides: Any) -> Readiness:
    """Ready: leader known (another replica), configuration valid, one reachable cluster."""
    fields: dict[str, Any] = {
        "leader": LeaderStatus(known=True, is_self=False, holder="drd-1"),
        "config": ConfigStatus(valid=True, loaded_at=LOADED),
        "clusters": {"primary-east": ClusterStatus(reachable=True)},
    }
    return Readiness(**(fields | overrides))


@dataclass
class Probes:
    """What the server's callbacks answer; tests change it between requests."""

    alive: bool = True
    readiness: Readiness = field(default_factory=a_readiness)
    fail: bool = False

    def liveness(self) -> bool:
        if self.fail:
            raise RuntimeError("loop state unreadable")
        return self.alive

    def ready(self) -> Readiness:
        if self.fail:
            raise RuntimeError("vault said s3cr3t-value")
        return self.readiness


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Metrics(registry, version="9.9.9").set_leader(True)
    return registry


@pytest.fixture
def probes() -> Probes:
    return Probes()


@pytest.fixture
def server(registry: CollectorRegistry, probes: Probes) -> Iterator[HealthServer]:
    with HealthServer("127.0.0.1:0", registry=registry, liveness=probes.liveness, readiness=probes.ready) as server:
        yield server


def request(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Response:
    """One request; an HTTP error status is an answer, not an exception."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return Response(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read())


def test_metrics_are_served_in_the_prometheus_text_format(server):
    """A plain GET gets text 0.0.4 that Prometheus' parser reads."""
    answer = request(f"{server.url}/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(answer.body.decode())}
    assert families["drd_leader"].samples[0].value == 1.0
    assert families["drd_build_info"].samples[0].labels == {"version": "9.9.9"}


def test_metrics_honour_openmetrics_negotiation(server):
    """A client that asks for OpenMetrics (as Prometheus does) gets it."""
    accept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"
    answer = request(f"{server.url}/metrics", headers={"Accept": accept})
    assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
    assert answer.body.endswith(b"# EOF\n")


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;version=0.0.4;q=0.3",
        "application/openmetrics-text;version=1.0.0;escaping=dots",
    ],
    ids=["plain", "prometheus-3", "dots-escaping"],
)
def test_metrics_bodies_are_what_prometheus_client_would_write(server, registry, accept):
    """drd's encoder answers with prometheus-client's bytes and Content-Type, gzipped or not (see test_exposition)."""
    encoder, content_type = choose_encoder(accept)
    answer = request(f"{server.url}/metrics", headers={"Accept": accept})
    assert (answer.headers["Content-Type"], answer.body) == (content_type, encoder(registry))
    zipped = request(f"{server.url}/metrics", headers={"Accept": accept, "Accept-Encoding": "gzip"})
    assert gzip.decompress(zipped.body) == encoder(registry)


def test_metrics_are_gzipped_when_the_client_accepts_it(server):
    """Accept-Encoding: gzip gets a gzip body, which decompresses to the exposition."""
    answer = request(f"{server.url}/metrics", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert b"drd_leader 1.0" in gzip.decompress(answer.body)


def test_metrics_can_be_restricted_by_name(server):
    """?name[]=drd_leader returns only that metric."""
    answer = request(f"{server.url}/metrics?name[]=drd_leader")
    names = {f.name for f in text_string_to_metric_families(answer.body.decode())}
    assert {"drd_leader"} == names


class _Broken(Collector):
    def collect(self) -> Iterator[Any]:
        raise RuntimeError("collector broke")


def test_a_failing_collector_is_a_500_and_the_server_keeps_serving(server, registry):
    """One broken collector answers 500 (and is logged); the probes still answer."""
    registry.register(_Broken())
    assert request(f"{server.url}/metrics").status == 500
    assert request(f"{server.url}/healthz").status == 200


def test_healthz_follows_liveness(server, probes):
    """200 ok while alive; 503 when liveness says no, or fails."""
    answer = request(f"{server.url}/healthz")
    assert (answer.status, answer.body) == (200, b"ok\n")
    probes.alive = False
    assert request(f"{server.url}/healthz").status == 503
    probes.alive, probes.fail = True, True
    assert request(f"{server.url}/healthz").status == 503


def test_readyz_is_200_with_the_json_body_when_ready(server):
    """A ready replica answers 200 and says what it knows."""
    answer = request(f"{server.url}/readyz")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == {
        "ready": True,
        "leader": {"known": True, "self": False, "holder": "drd-1"},
        "config": {"valid": True, "errors": [], "loaded_at": "2026-03-01T12:00:00Z"},
        "clusters": {"primary-east": {"reachable": True, "error": None}},
        "reasons": [],
    }


def test_readyz_is_503_and_says_what_is_wrong(server, probes):
    """Invalid configuration and an unreachable cluster: 503, each problem located and explained."""
    problem = Problem(file="policies/shop.yaml", path="spec.objectives.rpo", message="rpo 10m is too short", line=7)
    probes.readiness = a_readiness(
        config=ConfigStatus(valid=False, errors=(problem,), loaded_at=LOADED),
        clusters={"primary-east": ClusterStatus(True), "dr-west": ClusterStatus(False, "connection refused")},
    )
    answer = request(f"{server.url}/readyz")
    body = answer.json()
    assert answer.status == 503
    assert body["ready"] is False
    assert body["config"]["errors"] == [
        {"file": "policies/shop.yaml", "line": 7, "path": "spec.objectives.rpo", "message": "rpo 10m is too short"}
    ]
    assert body["clusters"]["dr-west"] == {"reachable": False, "error": "connection refused"}
    assert body["reasons"] == [
        "configuration invalid (1 problem); running the configuration loaded at 2026-03-01T12:00:00Z",
        "policies/shop.yaml:7: spec.objectives.rpo: rpo 10m is too short",
        'cluster "dr-west" unreachable: connection refused',
    ]


def test_readyz_never_shows_a_secret(server, probes):
    """Registered secrets and credential shapes in any field are masked."""
    redaction.register_secret("s3cr3t-value")
    probes.readiness = a_readiness(
        clusters={"dr-west": ClusterStatus(False, "https://admin:hunter2@api.dr-west: auth s3cr3t-value refused")}
    )
    body = request(f"{server.url}/readyz").body.decode()
    assert "hunter2" not in body
    assert "s3cr3t-value" not in body
    assert "***" in body


def test_readyz_is_503_when_the_check_itself_fails(server, probes):
    """A readiness callback that raises is a 503 naming the failure (redacted), not a dropped connection."""
    redaction.register_secret("s3cr3t-value")
    probes.fail = True
    with capture_logs() as logs:
        answer = request(f"{server.url}/readyz")
    assert answer.status == 503
    assert answer.json() == {"ready": False, "reasons": ["readiness check failed: RuntimeError: vault said ***"]}
    failures = [entry for entry in logs if entry["event"] == "readiness_check_failed"]
    assert [entry["error"] for entry in failures] == ["readiness check failed: RuntimeError: vault said ***"]


def test_unknown_paths_are_404(server):
    """Only the three endpoints exist."""
    assert request(f"{server.url}/").status == 404
    assert request(f"{server.url}/metrics/extra").status == 404


def test_head_answers_headers_without_a_body(server):
    """HEAD gets the status and Content-Length of the GET, and no body."""
    get = request(f"{server.url}/readyz")
    head = request(f"{server.url}/readyz", method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert str(len(get.body)) == head.headers["Content-Length"]


def test_other_methods_are_405(server):
    """POST and friends are refused with Allow."""
    answer = request(f"{server.url}/metrics", method="POST")
    assert answer.status == 405
    assert answer.headers["Allow"] == "GET, HEAD"


def test_connections_are_kept_alive(server):
    """Prometheus reuses its connection: several requests over one."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for path in ("/healthz", "/metrics", "/readyz"):
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
    finally:
        connection.close()


def test_empty_host_listens_on_every_interface(registry, probes):
    """ ":0" binds all interfaces on a free port, reachable through loopback."""
    with HealthServer(":0", registry=registry, liveness=probes.liveness, readiness=probes.ready) as server:
        assert server.port > 0
        assert request(f"http://127.0.0.1:{server.port}/healthz").status == 200


def test_ipv6_loopback(registry, probes):
    """ "[::1]:0" binds the IPv6 loopback."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        server = HealthServer("[::1]:0", registry=registry, liveness=probes.liveness, readiness=probes.ready).start()
    except ConfigError:
        pytest.skip("IPv6 loopback unavailable")
    try:
        assert request(f"http://[::1]:{server.port}/healthz").status == 200
        assert server.url == f"http://[::1]:{server.port}"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("listen", "expected"),
    [(":9090", ("", 9090)), ("9090", ("", 9090)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:80", ("::1", 80))],
)
def test_listen_forms(listen, expected):
    """[HOST]:PORT, a bare port, and bracketed IPv6."""
    assert expected == parse_listen(listen)


@pytest.mark.parametrize("listen", ["", "localhost", ":http", ":70000", "::1:80"])
def test_bad_listen_forms_are_config_errors(listen):
    """A wrong --listen is a usage error that names the accepted form."""
    with pytest.raises(ConfigError, match="listen"):
        parse_listen(listen)


def test_a_taken_port_is_a_config_error(server, registry, probes):
    """Binding a port already in use fails at start with a clear message."""
    second = HealthServer(
        f"127.0.0.1:{server.port}", registry=registry, liveness=probes.liveness, readiness=probes.ready
    )
    with pytest.raises(ConfigError, match="cannot listen on"):
        second.start()


def test_stop_releases_the_port(registry, probes):
    """After stop nothing answers, and the port can be bound again."""
    server = HealthServer("127.0.0.1:0", registry=registry, liveness=probes.liveness, readiness=probes.ready).start()
    port = server.port
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    again = HealthServer(f"127.0.0.1:{port}", registry=registry, liveness=probes.liveness, readiness=probes.ready)
    again.start().stop()


# Readiness rules
def test_a_standby_replica_is_ready():
    """Readiness is health, not leadership: a known leader that is someone else is fine."""
    assert a_readiness(leader=LeaderStatus(known=True, is_self=False, holder="other")).ready


def test_an_unknown_leader_is_not_ready():
    """Until the Lease has been read, the replica cannot know whether to act."""
    readiness = a_readiness(leader=LeaderStatus.unknown())
    assert not readiness.ready
    assert readiness.reasons == ("leader unknown: the leader Lease has not been read yet",)


def test_no_configuration_yet_is_not_ready():
    """Before the first good load there is nothing running."""
    readiness = a_readiness(config=ConfigStatus(valid=True, loaded_at=None))
    assert readiness.reasons == ("no configuration has loaded yet",)


def test_other_problems_are_reasons():
    """The daemon can add reasons of its own (store unreachable, shutting down)."""
    readiness = a_readiness(other_problems=("shutting down",))
    assert readiness.reasons == ("shutting down",)
    assert not readiness.ready
