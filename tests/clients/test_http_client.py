"""drd's HTTP and TCP probes over real loopback sockets.

Aspects: any status is a result (with body, headers, latency); bodies are cut at
``max_body``; HEAD reads no body; redirects are not followed; URL credentials go
out as Basic auth and never into errors; unreachable targets (refused, timed out)
are temporary ``HttpUnavailable``; requests that cannot be made are permanent
``HttpInvalid``; ``tcp_connect`` measures a connection or says why it failed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from drd.clients.http import HttpInvalid, HttpUnavailable, display_url, http_request, tcp_connect
from drd.errors import PermanentError, TemporaryError
from tests.support.web import Route, WebServer, closed_port, web_server


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


def test_get_returns_status_body_headers_and_latency(web):
    """A GET returns the status, the body, lower-cased headers and a positive latency."""
    web.routes["/healthz"] = Route(200, b'{"ok": true}', {"Content-Type": "application/json", "X-App": "shop"})
    response = http_request(web.url("/healthz"))
    assert (response.status, response.body) == (200, b'{"ok": true}')
    assert response.headers["x-app"] == "shop"
    assert response.latency_ms > 0
    assert not response.truncated


def test_error_statuses_are_results_not_exceptions(web):
    """A 500 from the server comes back as a response; deciding what passes is the caller's job."""
    web.routes["/broken"] = Route(500, b"database down")
    response = http_request(web.url("/broken"))
    assert (response.status, response.text) == (500, "database down")


def test_body_is_cut_at_max_body_and_marked_truncated(web):
    """Only ``max_body`` bytes are kept, and the response says more followed."""
    web.routes["/big"] = Route(200, b"x" * 10_000)
    response = http_request(web.url("/big"), max_body=100)
    assert response.body == b"x" * 100
    assert response.truncated


def test_head_reads_no_body(web):
    """HEAD gets the status and headers and an empty body."""
    web.routes["/"] = Route(204, b"")
    response = http_request(web.url("/"), method="head")
    assert (response.status, response.body) == (204, b"")
    assert web.requests[-1][0] == "HEAD"


def test_redirects_are_not_followed(web):
    """A 301 is the answer: a check expecting 200 must see it."""
    web.routes["/old"] = Route(301, b"", {"Location": "/new"})
    response = http_request(web.url("/old"))
    assert response.status == 301
    assert response.headers["location"] == "/new"
    assert [path for _, path, _ in web.requests] == ["/old"]


def test_query_string_is_sent(web):
    """The query string of the URL reaches the server."""
    web.routes["/search"] = Route(200, b"found")
    http_request(web.url("/search?q=orders&limit=1"))
    assert web.requests[-1][1] == "/search?q=orders&limit=1"


def test_text_decodes_with_the_declared_charset(web):
    """``text`` honours the charset of Content-Type."""
    web.routes["/latin"] = Route(200, "café".encode("latin-1"), {"Content-Type": "text/plain; charset=latin-1"})
    assert http_request(web.url("/latin")).text == "café"


def test_url_credentials_become_basic_auth_and_stay_out_of_errors(web):
    """user:password in the URL is sent as Basic auth, and an error about that URL does not show it."""
    web.routes["/private"] = Route(200, b"in")
    http_request(f"http://ops:s3cr3t-pw@127.0.0.1:{web.port}/private")
    assert "Basic " + base64.b64encode(b"ops:s3cr3t-pw").decode() == web.requests[-1][2]["Authorization"]
    with pytest.raises(HttpUnavailable) as error:
        http_request(f"http://ops:s3cr3t-pw@127.0.0.1:{closed_port()}/private?token=abc123")
    assert "s3cr3t-pw" not in str(error.value)
    assert "abc123" not in str(error.value)


def test_connection_refused_is_temporary_http_unavailable():
    """Nobody listening is HttpUnavailable, a TemporaryError, naming the target and the cause."""
    port = closed_port()
    with pytest.raises(HttpUnavailable) as error:
        http_request(f"http://127.0.0.1:{port}/healthz")
    assert isinstance(error.value, TemporaryError)
    assert str(error.value) == f"http://127.0.0.1:{port}/healthz: GET failed: connection refused"


def test_a_server_slower_than_the_timeout_is_http_unavailable(web):
    """No answer within ``timeout`` seconds is HttpUnavailable saying it timed out."""
    web.routes["/slow"] = Route(200, b"late", delay=1.0)
    with pytest.raises(HttpUnavailable, match="timed out"):
        http_request(web.url("/slow"), timeout=0.2)


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("storefront/healthz", "GET"),
        ("ftp://files.example.com/x", "GET"),
        ("http://127.0.0.1:99999/", "GET"),
        ("http://127.0.0.1:8080/", "POST"),
    ],
    ids=["no scheme", "not http", "port out of range", "method not supported"],
)
def test_requests_that_cannot_be_made_are_permanent_http_invalid(url, method):
    """A malformed URL, another scheme, a bad port or a method other than GET/HEAD is HttpInvalid."""
    with pytest.raises(HttpInvalid) as error:
        http_request(url, method=method)
    assert isinstance(error.value, PermanentError)


def test_display_url_drops_credentials_and_query():
    """How a URL is named in messages: scheme, host, port and path only."""
    assert display_url("https://root:pw@db.shop:8443/admin?token=t") == "https://db.shop:8443/admin"


def test_tcp_connect_returns_the_connect_latency(web):
    """Connecting to a listening port returns how long it took, in milliseconds."""
    assert tcp_connect("127.0.0.1", web.port, timeout=2) > 0


def test_tcp_connect_refused_is_http_unavailable():
    """A refused TCP connection is HttpUnavailable naming host and port."""
    port = closed_port()
    with pytest.raises(HttpUnavailable, match=f"tcp 127.0.0.1:{port}: connect failed: connection refused"):
        tcp_connect("127.0.0.1", port, timeout=2)


def test_tcp_connect_to_an_impossible_port_is_http_invalid():
    """Port 0 or above 65535 cannot be connected to: HttpInvalid, before any network call."""
    with pytest.raises(HttpInvalid):
        tcp_connect("127.0.0.1", 70000)
