"""HTTP/1.1 mechanics the clients rely on: keep-alive, exact Content-Length, chunked bodies.

Aspects: several requests on one connection; Content-Length matching the body;
watch responses using chunked transfer; a chunked request body being read.
"""

from __future__ import annotations

import http.client
import json

from drd.sandbox.kube.emulator import KubeEmulator


def test_keep_alive_serves_several_requests_on_one_connection(emu: KubeEmulator):
    """Three requests on one HTTP/1.1 connection all succeed, with exact Content-Length each time."""
    connection = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
    try:
        for path in ("/version", "/api/v1/namespaces/default", "/apis"):
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200
            assert int(response.getheader("Content-Length")) == len(body)
            json.loads(body)
            assert response.version == 11
    finally:
        connection.close()


def test_watch_uses_chunked_transfer(emu: KubeEmulator):
    """A watch answers with Transfer-Encoding: chunked and no Content-Length."""
    connection = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
    try:
        connection.request("GET", "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1")
        response = connection.getresponse()
        response.read()
        assert (response.getheader("Transfer-Encoding"), response.getheader("Content-Length")) == ("chunked", None)
    finally:
        connection.close()


def test_chunked_request_body_is_read(emu: KubeEmulator):
    """A POST whose body is sent with chunked transfer encoding creates the object."""
    connection = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
    try:
        body = iter([b'{"metadata":', b' {"name": "chunky"}}'])
        connection.request(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            body=body,
            headers={"Content-Type": "application/json"},
        )  # an iterable body without Content-Length makes http.client send it chunked
        response = connection.getresponse()
        response.read()
        assert response.status == 201
    finally:
        connection.close()
    assert emu.store.get("configmaps", "chunky", namespace="default")["metadata"]["name"] == "chunky"
