"""One emulated Kubernetes cluster: store + HTTP server + faults + controllers, with a lifecycle.

``KubeEmulator`` is the entry point of the package. It starts in a few
milliseconds on a loopback port (``port=0`` picks a free one), serves the official
``kubernetes`` client and ``kubectl`` over real HTTP, and exposes the in-process
:class:`~drd.sandbox.kube.store.Store` for simulators. A simulator's controllers
run as threads owned by the emulator (:meth:`KubeEmulator.start_controller`) and
are stopped with it.

"Down" is simulated at the socket level: :meth:`go_down` closes the listening
socket and cuts open connections (clients get *connection refused*), and
:meth:`come_up` listens again on the **same port**, so kubeconfigs stay valid.
The store and controllers keep running meanwhile: only the API's network face
goes away.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from drd.clock import Clock
from drd.sandbox.kube import crds
from drd.sandbox.kube.api import Api
from drd.sandbox.kube.faults import Faults
from drd.sandbox.kube.registry import CRDS, NAMESPACES, Registry
from drd.sandbox.kube.server import EmulatorHTTPServer
from drd.sandbox.kube.store import Store

log = logging.getLogger(__name__)

DEFAULT_NAMESPACES: tuple[str, ...] = ("default", "kube-system", "kube-public", "kube-node-lease")

Controller = Callable[[Store, threading.Event], None]
"""A controller body: runs until the event is set, reacting to the store (typically via ``store.queue()``)."""


class KubeEmulator:
    """An emulated cluster reachable at :attr:`url`; use as a context manager or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        git_version: str = "v1.31.4",
        clock: Clock | None = None,
        seed: int | None = None,
        history: int = 1000,
        bookmark_interval: float = 60.0,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        velero: bool = False,
    ) -> None:
        """Create the cluster state; nothing listens until :meth:`start`.

        ``seed`` makes uids and ``generateName`` suffixes reproducible (by default they
        are random, so two clusters never share uids); fault sampling is seeded with it
        (0 by default). ``history`` bounds the watch-event ring (older resumes get 410 Expired);
        ``bookmark_interval`` spaces watch bookmarks (the apiserver's is about a
        minute); ``velero=True`` installs Velero's CRDs.
        """
        self.host = host
        self.port = port
        self.store = Store(Registry(), clock=clock, seed=seed, history=history)
        self.faults = Faults(seed=seed or 0)
        self.api = Api(
            self.store,
            git_version=git_version,
            server_address=lambda: f"{self.host}:{self.port}",
            bookmark_interval=bookmark_interval,
        )
        self._server: EmulatorHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._controllers: list[tuple[threading.Thread, threading.Event]] = []
        for name in namespaces:
            self.store.create(NAMESPACES, {"metadata": {"name": name}})
        if velero:
            self.install_crds(crds.velero_crds())

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (what goes into ``Configuration().host`` or a kubeconfig)."""
        return f"http://{self.host}:{self.port}"

    @property
    def is_up(self) -> bool:
        """Whether the API is accepting connections."""
        return self._server is not None

    def start(self) -> KubeEmulator:
        """Start serving (idempotent); returns ``self``."""
        with self._lifecycle:
            if self._server is None:
                self._listen(self.port)
        return self

    def stop(self) -> None:
        """Stop controllers, cut connections, close the socket."""
        for _, stop in self._controllers:
            stop.set()
        for thread, _ in self._controllers:
            thread.join(timeout=5)
        self._controllers.clear()
        with self._lifecycle:
            self._close(grace=1.0)

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def go_down(self) -> None:
        """Simulate an API outage: stop listening and cut open connections, watches included (the port is kept)."""
        with self._lifecycle:
            self._close(grace=0.0)

    def come_up(self) -> None:
        """End an outage: listen again on the same port."""
        with self._lifecycle:
            if self._server is None:
                self._listen(self.port)

    def _listen(self, port: int) -> None:
        server = EmulatorHTTPServer((self.host, port), api=self.api, faults=self.faults)
        self.port = server.server_address[1]
        self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"kube-emulator-{self.port}",
            daemon=True,
        )
        self._serve_thread.start()

    def _close(self, *, grace: float) -> None:
        server, thread = self._server, self._serve_thread
        if server is None:
            return
        self._server = self._serve_thread = None
        stopper = threading.Thread(target=server.shutdown, name=f"kube-emulator-stop-{self.port}")
        stopper.start()
        # serve_forever notices shutdown() at its next poll (<= 50 ms); a connection wakes it at once.
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
            pass
        stopper.join()
        server.server_close()
        server.close_connections(grace=grace)
        if thread is not None:
            thread.join(timeout=5)

    # ------------------------------------------------------------------ faults

    def set_faults(
        self,
        *,
        error_rate: float = 0.0,
        latency: float = 0.0,
        status: int = 503,
        retry_after: int = 1,
        methods: set[str] | None = None,
        path_pattern: str | None = None,
    ) -> None:
        """Fail a fraction of requests with ``status`` (500/503/429...) and/or delay them; see :mod:`faults`."""
        self.faults.set(
            error_rate=error_rate,
            latency=latency,
            status=status,
            retry_after=retry_after,
            methods=methods,
            path_pattern=path_pattern,
        )

    def fail_next(
        self, count: int = 1, *, status: int = 503, retry_after: int = 1, path_pattern: str | None = None
    ) -> None:
        """Fail exactly the next ``count`` matching requests."""
        self.faults.fail_next(count, status=status, retry_after=retry_after, path_pattern=path_pattern)

    def clear_faults(self) -> None:
        """Serve every request normally again."""
        self.faults.clear()

    # ------------------------------------------------------------------ conveniences

    def install_crds(self, manifests: Iterable[dict[str, Any]]) -> None:
        """Create CRDs (e.g. :func:`crds.velero_crds`) as ``kubectl apply`` would; existing ones are left alone."""
        for manifest in manifests:
            name = manifest["metadata"]["name"]
            if not self.store.list(CRDS, field_selector=f"metadata.name={name}"):
                self.store.create(CRDS, manifest)

    def start_controller(self, body: Controller, *, name: str = "controller") -> threading.Thread:
        """Run ``body(store, stop_event)`` in a daemon thread until :meth:`stop`."""
        stop = threading.Event()

        def run() -> None:
            try:
                body(self.store, stop)
            except Exception:
                log.exception("controller %s crashed", name)

        thread = threading.Thread(target=run, name=f"{name}-{self.port}", daemon=True)
        self._controllers.append((thread, stop))
        thread.start()
        return thread

    def kubeconfig(
        self,
        *,
        namespace: str = "default",
        context: str = "emulator",
        token: str = "emulator",  # noqa: S107 - the emulator accepts any token
    ) -> dict[str, Any]:
        """A kubeconfig document pointing at this emulator (bearer token auth, which the emulator ignores)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
            "current-context": context,
        }

    def write_kubeconfig(self, path: str | Path, *, namespace: str = "default", context: str = "emulator") -> Path:
        """Write :meth:`kubeconfig` to ``path`` (JSON, which kubectl and the client read as YAML)."""
        target = Path(path)
        target.write_text(json.dumps(self.kubeconfig(namespace=namespace, context=context), indent=2))
        return target
