"""Plain HTTP and TCP probes: what verification checks and reachability tests need, with typed errors.

Stdlib ``http.client`` on one fresh connection per request: no pooling, no
redirects followed (a check expecting 200 sees the 301), no proxy from the
environment (a probe must reach the endpoint it names), at most ``max_body``
bytes read. Any HTTP status is a *result*, never an error: the caller decides
what passes. Errors are about reaching the target (:class:`HttpUnavailable`,
temporary) or about a request that cannot be made (:class:`HttpInvalid`,
permanent). Messages name the target without its credentials or query string.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit

from drd.clients.errors import ClientError
from drd.errors import PermanentError, TemporaryError

METHODS = frozenset({"GET", "HEAD"})
DEFAULT_MAX_BODY = 64 * 1024
_READ_CHUNK = 16 * 1024


class HttpError(ClientError):
    """An HTTP request or TCP connection could not be made."""


class HttpUnavailable(HttpError, TemporaryError):
    """The target refused, reset or did not answer in time, or its name does not resolve (yet)."""


class HttpInvalid(HttpError, PermanentError):
    """The request itself cannot be made: a malformed URL, an unsupported scheme or method, a bad port."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One response: status, headers (lower-cased names) and at most ``max_body`` bytes of body."""

    status: int
    body: bytes = field(repr=False)
    latency_ms: float
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    truncated: bool = False
    """More body followed than was read."""

    @property
    def text(self) -> str:
        """The body decoded with the charset of ``Content-Type`` (UTF-8 by default), undecodable bytes replaced."""
        charset = "utf-8"
        for piece in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = piece.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


def http_request(
    url: str,
    *,
    method: str = "GET",
    timeout: float = 10.0,
    max_body: int = DEFAULT_MAX_BODY,
    headers: Mapping[str, str] | None = None,
    verify_tls: bool = True,
) -> HttpResponse:
    """Send one GET or HEAD to ``url`` and return the response, whatever its status.

    ``timeout`` bounds the connection and each read, and the whole body read.
    ``verify_tls=False`` accepts any certificate (restored services answer under
    drill names their certificates do not carry). Credentials in the URL are
    sent as HTTP Basic authentication and never appear in errors.
    """
    method = method.upper()
    parts = _parse(url)
    target = display_url(url)
    if method not in METHODS:
        raise HttpInvalid(f"method {method!r} is not supported: use GET or HEAD", system=target)
    if max_body < 0 or timeout <= 0:
        raise HttpInvalid("max_body must be >= 0 and timeout > 0", system=target)
    request_headers = {"User-Agent": "drd", "Accept": "*/*", **(headers or {})}
    if parts.username is not None:
        userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        request_headers["Authorization"] = "Basic " + base64.b64encode(userinfo).decode()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _connection(parts, timeout=timeout, verify_tls=verify_tls)
    started = time.perf_counter()
    deadline = started + timeout
    try:
        connection.request(method, path, headers=request_headers)
        response = connection.getresponse()
        body, truncated = _read_body(response, max_body=max_body, deadline=deadline)
        latency_ms = (time.perf_counter() - started) * 1000.0
        received = _headers(response.getheaders())
    except (OSError, http.client.HTTPException) as exc:
        raise HttpUnavailable(f"{method} failed: {_reason(exc)}", system=target) from exc
    finally:
        connection.close()
    return HttpResponse(response.status, body, latency_ms, received, truncated)


def tcp_connect(host: str, port: int, *, timeout: float = 5.0) -> float:
    """Open (and close) a TCP connection to ``host:port``; returns how long connecting took, in milliseconds."""
    target = f"tcp {host}:{port}"
    if not host or not 1 <= port <= 65535:
        raise HttpInvalid("a host and a port between 1 and 65535 are required", system=target)
    if timeout <= 0:
        raise HttpInvalid("timeout must be > 0", system=target)
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return (time.perf_counter() - started) * 1000.0
    except OSError as exc:
        raise HttpUnavailable(f"connect failed: {_reason(exc)}", system=target) from exc


def _parse(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HttpInvalid(f"malformed URL ({exc})", system="http") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpInvalid(
            'not an absolute http(s) URL: expected a URL such as "http://storefront.shop:8080/healthz"',
            system=_display(parts) if parts.hostname else "http",
        )
    if port == 0:
        raise HttpInvalid("port 0 cannot be connected to", system=_display(parts))
    return parts


def display_url(url: str) -> str:
    """``http://host:port/path`` of ``url``: no credentials, no query (either may carry a secret)."""
    try:
        return _display(urlsplit(url))
    except ValueError:
        return "(malformed URL)"


def _display(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def _connection(parts: SplitResult, *, timeout: float, verify_tls: bool) -> http.client.HTTPConnection:
    host = parts.hostname or ""
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, parts.port, timeout=timeout)


def _read_body(response: http.client.HTTPResponse, *, max_body: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size <= max_body:
        if time.perf_counter() > deadline:
            raise TimeoutError("the body did not arrive within the timeout")
        chunk = response.read(min(_READ_CHUNK, max_body + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    return body[:max_body], len(body) > max_body


def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value}" if key in merged else value
    return merged


_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (TimeoutError, "timed out"),
    (socket.gaierror, "the host name does not resolve"),
    (ConnectionResetError, "the connection was closed by the peer"),
    (http.client.RemoteDisconnected, "the connection was closed by the peer"),
)


def _reason(exc: BaseException) -> str:
    """A short cause without addresses or payloads: ``connection refused``, ``timed out``…"""
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
