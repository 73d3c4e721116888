"""The HTTP/1.1 face of the emulator: a ``ThreadingHTTPServer`` speaking to real clients.

One thread per connection, keep-alive with exact ``Content-Length``, chunked
transfer for watches, Nagle disabled (otherwise header and body writes meet the
client's delayed ACK and every request costs ~40 ms). Fault decisions are taken
here, before routing. The server tracks open connections and watch streams so
that :meth:`EmulatorHTTPServer.close_connections` can cut them all, which is how
the emulator stops promptly and how "the API server went down" looks to clients.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from drd.sandbox.kube import errors
from drd.sandbox.kube import exec as pod_exec
from drd.sandbox.kube.api import Api, Request, Response, WatchResponse
from drd.sandbox.kube.faults import Faults

log = logging.getLogger(__name__)

_CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one emulated cluster's :class:`Api` and :class:`Faults`."""

    daemon_threads = True
    request_queue_size = 128
    """A real API server accepts bursts of connections; the default backlog of 5 drops some under parallel LISTs,
    and a dropped SYN is retried only after a second."""
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, api: Api, faults: Faults) -> None:
        self.api = api
        self.faults = faults
        self._tracked_lock = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._watches: set[WatchResponse] = set()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        """Register or forget an open client connection."""
        with self._tracked_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def track_watch(self, watch: WatchResponse, *, add: bool) -> None:
        """Register or forget a running watch stream."""
        with self._tracked_lock:
            if add:
                self._watches.add(watch)
            else:
                self._watches.discard(watch)
                self._tracked_lock.notify_all()

    def close_connections(self, *, grace: float = 0.0) -> None:
        """Shut every open connection down, watches included.

        With ``grace`` seconds, watch streams are first ended and given that long to
        send their terminating chunk (a clean end of stream, as on an orderly apiserver
        shutdown); without, connections are cut mid-stream (a crash or a network loss).
        """
        if grace > 0:
            for watch in self._snapshot_watches():
                watch.close()
            deadline = time.monotonic() + grace
            with self._tracked_lock:
                while self._watches and (remaining := deadline - time.monotonic()) > 0:
                    self._tracked_lock.wait(remaining)
        with self._tracked_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for watch in self._snapshot_watches():
            watch.close()

    def _snapshot_watches(self) -> list[WatchResponse]:
        with self._tracked_lock:
            return list(self._watches)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log handler failures quietly (a client hanging up is normal)."""
        # socketserver calls this from inside its except block, so exc_info is the handler's failure
        log.debug("connection from %s ended with an error", client_address, exc_info=True)  # noqa: LOG014


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "drd-kube-emulator"
    sys_version = ""
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        decision = self.server.faults.decide(self.command, url.path, self.headers.get("User-Agent", ""))
        if decision.delay:
            time.sleep(decision.delay)
        if decision.error is not None:
            self._send_error(decision.error)
            return
        try:
            response = self.server.api.handle(request)
        except errors.KubeApiError as e:
            self._send_error(e)
            return
        except Exception as e:
            log.exception("emulator failed on %s %s", self.command, self.path)
            self._send_error(errors.InternalError(f"{type(e).__name__}: {e}"))
            return
        if isinstance(response, WatchResponse):
            self._stream(response)
        elif isinstance(response, pod_exec.ExecSession):
            self._upgrade(response)
        else:
            self._send(response)

    def _send(self, response: Response) -> None:
        self._count(response.code)
        if isinstance(response.body, str):
            payload, content_type = response.body.encode(), "text/plain; charset=utf-8"
        else:
            payload, content_type = json.dumps(response.body, separators=(",", ":")).encode(), "application/json"
        self.send_response(response.code)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _count(self, code: int) -> None:
        """Count the request for ``/metrics``; counting never costs a client its response."""
        try:
            self.server.api.metrics.observe(self.command, self.path, code)
        except Exception:
            log.debug("request not counted: %s %s", self.command, self.path, exc_info=True)

    def _send_error(self, error: errors.KubeApiError) -> None:
        self._send(Response(error.code, error.status(), dict(error.headers)))

    def _client_alive(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return not readable or self.connection.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def _upgrade(self, session: pod_exec.ExecSession) -> None:
        """Switch to WebSocket (``pods/exec``): the session owns the socket until it closes it."""
        self.close_connection = True
        self.send_response(101, "Switching Protocols")
        for key, value in session.headers.items():
            self.send_header(key, value)
        self.end_headers()
        with contextlib.suppress(*_CONNECTION_ERRORS, OSError):
            session.run(self.connection, self.rfile)

    def _stream(self, response: WatchResponse) -> None:
        self._count(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.server.track_watch(response, add=True)
        try:
            for event in response.events(self._client_alive):
                data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        except (*_CONNECTION_ERRORS, OSError):
            self.close_connection = True
        finally:
            self.server.track_watch(response, add=False)
            response.close()
