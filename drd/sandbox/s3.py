"""S3 for the sandbox: moto's server over real HTTP, plus simulated cross-region replication.

moto stores objects but never replicates them (its replication configuration is
"a mock implementation only"), so :class:`BucketReplicator` simulates S3
Cross-Region Replication: every object written to the source bucket appears in
the destination bucket ``lag`` seconds after it was written (plus at most one
poll interval), overwritten objects are re-copied, and deletions are
replicated as delete markers would be (S3's ``DeleteMarkerReplication``
enabled, the usual setting for a Velero DR bucket). Replication can be paused
to simulate a lagging or broken replication link.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from drd.clients.errors import StorageError
from drd.clients.objectstore import ObjectInfo, S3Bucket, S3Endpoint

DUMMY_ACCESS_KEY = "sandbox"
DUMMY_SECRET_KEY = "sandbox-secret"  # noqa: S105 - moto accepts any credentials; this is not a secret


class MotoS3:
    """A moto server on a loopback port, serving every region from one endpoint."""

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._server: Any = None
        self.url = ""

    def start(self) -> MotoS3:
        """Start the server in a thread; returns self once it answers."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def endpoint(self, region: str) -> S3Endpoint:
        """An S3 endpoint for ``region`` on this server, with the sandbox's dummy credentials."""
        return S3Endpoint(
            region=region,
            endpoint_url=self.url,
            access_key_id=DUMMY_ACCESS_KEY,
            secret_access_key=DUMMY_SECRET_KEY,
        )

    def reset(self) -> None:
        """Wipe every bucket (between tests)."""
        import urllib.request

        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 - loopback URL
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def __enter__(self) -> MotoS3:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@dataclass
class ReplicationStatus:
    """What the replicator has done, for tests, the demo and fault reports."""

    copied: int = 0
    deleted: int = 0
    errors: int = 0
    last_error: str = ""
    last_pass: datetime | None = None
    pending: dict[str, datetime] = field(default_factory=dict)


class BucketReplicator:
    """Copies a source bucket into a destination bucket with a configurable lag (simulated S3 CRR)."""

    def __init__(
        self,
        source: S3Bucket,
        destination: S3Bucket,
        *,
        lag_seconds: float = 0.0,
        poll_seconds: float = 0.1,
    ) -> None:
        self.source = source
        self.destination = destination
        self.lag_seconds = lag_seconds
        self.poll_seconds = poll_seconds
        self.status = ReplicationStatus()
        self._replicated: dict[str, str] = {}
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> BucketReplicator:
        """Replicate continuously in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name=f"replicate-{self.source.bucket}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop replicating and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def pause(self) -> None:
        """Stop copying (a broken replication link) until :meth:`resume`."""
        self._paused.set()

    def resume(self) -> None:
        """Copy again; objects written meanwhile follow."""
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def replicate_once(self, *, now: datetime | None = None) -> None:
        """One pass: copy what is due, delete what was deleted at the source."""
        now = now or datetime.now(UTC)
        with self._lock:
            try:
                self._pass(now)
            except StorageError as exc:
                self.status.errors += 1
                self.status.last_error = str(exc)
            self.status.last_pass = now

    def _pass(self, now: datetime) -> None:
        lag = timedelta(seconds=self.lag_seconds)
        present: dict[str, ObjectInfo] = {info.key: info for info in self.source.objects()}
        pending: dict[str, datetime] = {}
        for key, info in present.items():
            if self._replicated.get(key) == info.etag:
                continue
            due = info.last_modified + lag
            if due > now:
                pending[key] = due
                continue
            self.destination.put(key, self.source.get(key))
            self._replicated[key] = info.etag
            self.status.copied += 1
        for key in [k for k in self._replicated if k not in present]:
            self.destination.delete(key)
            del self._replicated[key]
            self.status.deleted += 1
        self.status.pending = pending

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            if not self._paused.is_set():
                self.replicate_once()
