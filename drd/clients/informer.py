"""List-then-watch with resume: the way controllers (and drd) observe objects without polling.

An :class:`Informer` lists a resource once, hands every object to its handler as
``ADDED``, then watches from the list's resourceVersion, resuming after each
server timeout from the last event seen. A 410 Expired (history rolled over)
triggers a fresh list, reported to the handler as a ``SYNC`` of everything
present so that deletions missed meanwhile can be reconciled. Connection errors
back off and retry; the informer never dies of a transient failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from drd.clients.errors import KubeError, KubeGone
from drd.clients.kube import KubeClient, WatchStream
from drd.clients.kube_resources import Resource

Handler = Callable[[str, Mapping[str, Any]], None]
"""Called with (event type, object): ADDED, MODIFIED, DELETED, or SYNC after a relist."""

log = structlog.get_logger(__name__)


class Informer:
    """Keeps a handler informed of every change to one resource type in one namespace (or all)."""

    def __init__(
        self,
        kube: KubeClient,
        resource: Resource,
        handler: Handler,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        watch_timeout_seconds: int = 30,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.handler = handler
        self.namespace = namespace
        self.label_selector = label_selector
        self.watch_timeout_seconds = watch_timeout_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._resource_version = ""
        self._stream: WatchStream | None = None

    def start(self) -> Informer:
        """Run in a daemon thread."""
        name = f"informer-{self.kube.cluster}-{self.resource.plural}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop now: the open watch connection is shut down."""
        self._stop.set()
        if self._stream is not None:
            self._stream.close()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """List, then watch until stopped."""
        backoff = 0.1
        while not self._stop.is_set():
            try:
                if not self._resource_version:
                    self._relist()
                self._watch_once()
                backoff = 0.1
            except KubeGone:
                self._resource_version = ""
            except KubeError as exc:
                log.debug("informer_retrying", cluster=self.kube.cluster, resource=self.resource.plural, error=str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)
            except Exception:  # a handler bug must not kill observation
                log.exception("informer_handler_failed", cluster=self.kube.cluster, resource=self.resource.plural)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)

    def _relist(self) -> None:
        listing = self.kube.list_objects(self.resource, namespace=self.namespace, label_selector=self.label_selector)
        first = not self.synced.is_set()
        for obj in listing.items:
            self.handler("ADDED" if first else "SYNC", obj)
        self._resource_version = listing.resource_version
        self.synced.set()

    def _watch_once(self) -> None:
        self._stream = self.kube.watch(
            self.resource,
            namespace=self.namespace,
            resource_version=self._resource_version,
            label_selector=self.label_selector,
            timeout_seconds=self.watch_timeout_seconds,
        )
        if self._stop.is_set():
            self._stream.close()
        for event in self._stream:
            if event.resource_version:
                self._resource_version = event.resource_version
            if event.type != "BOOKMARK":
                self.handler(event.type, event.object)
            if self._stop.is_set():
                return
