"""A TCP proxy between one daemon and one API server that the test can cut like a network partition.

Each daemon of the HA tests reaches the Lease's cluster through a proxy of its own. ``cut()`` is a black
hole, as when packets are dropped: connections stay open and requests are accepted, but nothing gets
through in either direction, so the daemon's requests hang until their own timeout (no quick
"connection refused" to react to). ``heal()`` closes what was cut and relays again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time


class PartitionableProxy:
    """Relays ``127.0.0.1:<port>`` to ``upstream`` until cut."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self.cut_at: float | None = None
        """``time.time()`` of the last cut."""
        self._thread = threading.Thread(target=self._accept, name=f"proxy-{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """From now on nothing passes, in either direction, on old and new connections."""
        self.cut_at = time.time()
        self._cut.set()

    def heal(self) -> None:
        """Close every connection that was cut (the client sees a reset and reconnects), then relay again."""
        with self._lock:
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.close()
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.heal()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        with self._lock:
            self._sockets.add(client)
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
            with self._lock:
                self._sockets.add(upstream)
            peers = {client: upstream, upstream: client}
            while not self._closed.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if not self._cut.is_set():  # a cut link drops what it is given
                        peers[sock].sendall(data)
        except (OSError, ValueError):
            return  # closed by heal() or close(), or by either end
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
