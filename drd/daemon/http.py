"""The daemon's HTTP endpoints: ``/metrics``, ``/healthz`` and ``/readyz``, on a stdlib threading server.

Small on purpose: Prometheus scrapes and kubelet probes are the only clients,
so a ``ThreadingHTTPServer`` with daemon threads (a stuck client never blocks
shutdown), Nagle off (probe answers are one small write) and HTTP/1.1
keep-alive with an idle timeout is all that is needed.

* ``/metrics`` — the registry in the format the client asks for
  (prometheus-client's ``choose_encoder`` decides: OpenMetrics when the
  ``Accept`` header says so, text 0.0.4 otherwise), written by drd's fast
  encoder where it writes the same bytes (:func:`drd.metrics.exposition.negotiate`),
  gzip when accepted, ``name[]`` to restrict to some metrics. A failing
  collector is a 500, logged.
* ``/healthz`` — 200 ``ok`` while ``liveness()`` is true, else 503: the process
  is alive and its loops turn (kubelet restarts it otherwise).
* ``/readyz`` — 200 or 503 with the JSON body of
  :class:`~drd.daemon.readiness.Readiness` (leader, configuration, clusters,
  reasons), redacted.

Anything else is 404; other methods than GET and HEAD are 405. Access logs go
to structlog at debug level: probes every few seconds must not flood the log.
"""

from __future__ import annotations

import gzip
import json
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import gzip_accepted

from drd import logs, redaction
from drd.daemon.readiness import Readiness
from drd.errors import ConfigError
from drd.metrics.exposition import negotiate

log = logs.get_logger(__name__)

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json; charset=utf-8"
_ALLOWED = "GET, HEAD"
_IDLE_TIMEOUT_SECONDS = 30.0
"""How long a keep-alive connection may sit idle before its thread gives up on it."""
_GZIP_LEVEL = 1
"""zlib level of a gzip ``/metrics`` body: on the ~1 MB exposition of 500 policies, level 1 takes
~1.6 ms for 56 KB where level 6 took ~6.5 ms for 50 KB (docs/metrics.md, "Scrape cost")."""


def parse_listen(listen: str) -> tuple[str, int]:
    """``":9090"`` (all interfaces), ``"127.0.0.1:0"``, ``"[::1]:9090"``, ``"9090"`` → (host, port); "" is all.

    Raises ConfigError naming the accepted forms.
    """
    text = listen.strip()
    host, separator, port_text = text.rpartition(":")
    if not separator:
        host, port_text = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"--listen {listen!r}: write an IPv6 address in brackets, e.g. [::1]:9090")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"--listen {listen!r}: expected [HOST]:PORT such as :9090 or 127.0.0.1:9090 (port 0-65535)")
    return host, int(port_text)


class HealthServer:
    """Serves ``/metrics``, ``/healthz`` and ``/readyz`` on ``listen`` until :meth:`stop`.

    ``listen`` is ``[HOST]:PORT``; an empty host means every interface (IPv4
    and, where the system supports it, IPv6), port 0 picks a free port (read
    it back from :attr:`port`). ``liveness`` and ``readiness`` are called on
    each probe, from the server's threads: they must be cheap and thread-safe.
    """

    def __init__(
        self,
        listen: str,
        *,
        registry: CollectorRegistry,
        liveness: Callable[[], bool],
        readiness: Callable[[], Readiness],
    ) -> None:
        self.listen = listen
        self.registry = registry
        self.liveness = liveness
        self.readiness = readiness
        self._address = parse_listen(listen)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> HealthServer:
        """Bind and serve in a daemon thread; ConfigError when the address cannot be bound."""
        if self._server is not None:
            return self
        host, port = self._address
        try:
            self._server = _Server((host, port), app=self)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.listen!r}: {exc.strerror or exc}") from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="drd-http", daemon=True
        )
        self._thread.start()
        log.info("http_listening", listen=self.listen, port=self.port)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (open keep-alive connections die with their daemon threads)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server, self._thread = None, None
        log.info("http_stopped", listen=self.listen)

    @property
    def port(self) -> int:
        """The bound port (the free one chosen for port 0)."""
        if self._server is None:
            raise RuntimeError("HealthServer is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """A URL this process can reach the server at (loopback when bound to every interface)."""
        host = self._address[0] or "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, app: HealthServer) -> None:
        host, port = address
        self.dual_stack = not host and socket.has_dualstack_ipv6()
        if self.dual_stack:
            host = "::"
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can hang on a broken resolver.
        if self.dual_stack:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = _IDLE_TIMEOUT_SECONDS
    server_version = "drd"
    sys_version = ""

    @property
    def app(self) -> HealthServer:
        return cast(_Server, self.server).app

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _not_allowed(self) -> None:
        self.close_connection = True  # an unread request body must not be taken for the next request
        self._send(405, b"method not allowed\n", _TEXT, head=False, headers={"Allow": _ALLOWED})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _dispatch(self, *, head: bool) -> None:
        url = urlsplit(self.path)
        if url.path == "/metrics":
            self._metrics(parse_qs(url.query), head=head)
        elif url.path == "/healthz":
            self._healthz(head=head)
        elif url.path == "/readyz":
            self._readyz(head=head)
        else:
            self._send(404, b"not found: try /metrics, /healthz or /readyz\n", _TEXT, head=head)

    def _metrics(self, query: dict[str, list[str]], *, head: bool) -> None:
        encoder, content_type = negotiate(self.headers.get("Accept", ""))
        registry = self.app.registry
        names = query.get("name[]")
        try:
            body = encoder(registry.restricted_registry(names) if names else registry)
        except Exception as exc:  # one broken collector must answer 500, not kill the connection
            log.exception("metrics_scrape_failed", error=type(exc).__name__)
            self._send(500, b"metrics collection failed; see the daemon's log\n", _TEXT, head=head)
            return
        headers = {"Vary": "Accept, Accept-Encoding"}
        if gzip_accepted(self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body, compresslevel=_GZIP_LEVEL)
            headers["Content-Encoding"] = "gzip"
        self._send(200, body, content_type, head=head, headers=headers)

    def _healthz(self, *, head: bool) -> None:
        try:
            alive = bool(self.app.liveness())
        except Exception as exc:  # a failing check is an unhealthy answer, not a crashed handler
            log.warning("liveness_check_failed", error=redaction.redact_text(f"{type(exc).__name__}: {exc}"))
            alive = False
        if alive:
            self._send(200, b"ok\n", _TEXT, head=head)
        else:
            self._send(503, b"unhealthy\n", _TEXT, head=head)

    def _readyz(self, *, head: bool) -> None:
        try:
            readiness = self.app.readiness()
            body, ready = readiness.to_json().encode("utf-8"), readiness.ready
        except Exception as exc:  # report the failure as the reason, in the same JSON shape's key
            reason = redaction.redact_text(f"readiness check failed: {type(exc).__name__}: {exc}")
            log.warning("readiness_check_failed", error=reason)
            body, ready = (json.dumps({"ready": False, "reasons": [reason]}, indent=2) + "\n").encode("utf-8"), False
        self._send(200 if ready else 503, body, _JSON, head=head)

    def _send(
        self, status: int, body: bytes, content_type: str, *, head: bool, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("http_request", method=self.command, path=self.path, status=int(code) if str(code).isdigit() else 0)

    def log_error(self, format: str, *args: Any) -> None:
        log.debug("http_error", client=self.client_address[0], message=format % args)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http_message", client=self.client_address[0], message=format % args)
