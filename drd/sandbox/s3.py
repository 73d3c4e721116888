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

from drd.clients.errors import StorageAccessDenied, StorageError
from drd.clients.iam import IamAccount
from drd.clients.objectstore import ObjectInfo, S3Bucket, S3Endpoint

DUMMY_ACCESS_KEY = "sandbox"
DUMMY_SECRET_KEY = "sandbox-secret"  # noqa: S105 - moto accepts any credentials; this is not a secret
"""The sandbox's administrator credentials (moto's own API, buckets, replication, drd): moto does not check them."""

VELERO_IAM_USER = "velero"
"""The IAM user whose access key every cluster's Velero uses (``cloud-credentials``); the one a rotation rotates."""


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

    def iam(self) -> IamAccount:
        """drd's IAM adapter on this server, with the administrator's (dummy) credentials."""
        return IamAccount(endpoint_url=self.url, access_key_id=DUMMY_ACCESS_KEY, secret_access_key=DUMMY_SECRET_KEY)

    def enforce_authentication(self, enabled: bool = True) -> None:
        """Switch moto's own IAM enforcement on or off (off by default; tests of credential checks).

        It is process-wide (every moto server and ``mock_aws`` of this process), needs keys of IAM users
        with policies for every request, and breaks pre-signed URLs, which is why the sandbox does not
        use it (see :class:`AwsAuthentication`).
        """
        import urllib.request

        count = b"0" if enabled else b"inf"
        request = urllib.request.Request(  # noqa: S310 - loopback URL
            f"{self.url}/moto-api/reset-auth", data=count, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

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


class AwsAuthError(StorageAccessDenied):
    """AWS refused the request's credentials; ``code`` and ``aws_message`` are what S3 answers (403)."""

    def __init__(self, code: str, aws_message: str, *, system: str) -> None:
        super().__init__(f"{code}: {aws_message}", system=system, status=403)
        self.code = code
        self.aws_message = aws_message


_UNKNOWN_KEY = "The AWS Access Key Id you provided does not exist in our records."
_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)


class AwsAuthentication:
    """The sandbox's simulation of AWS request authentication, which moto's server does not do.

    moto accepts any credentials unless IAM enforcement is switched on, and that switch is
    process-wide and breaks pre-signed URLs (moto 5.2.5 answers them 500: it looks for an
    ``Authorization`` header), which Velero's DownloadRequests rely on. So the sandbox's
    simulated clients authenticate here before they use S3, with AWS's rules and words:
    the access key must exist in moto's IAM and be **Active** (S3 answers an unknown or
    deactivated key ``InvalidAccessKeyId``), and the secret must be the key's
    (``SignatureDoesNotMatch``). Existence, owner and status come from moto's IAM API; the
    secret, which no AWS API returns after creation, from moto's IAM model in this process
    (AWS checks it through the request signature).
    """

    def __init__(self, moto: MotoS3) -> None:
        self._iam = moto.iam()

    def authenticate(self, access_key_id: str, secret_access_key: str, *, system: str) -> str:
        """The IAM user the credentials belong to; :class:`AwsAuthError` as S3 would answer otherwise."""
        user = self._iam.access_key_owner(access_key_id) if access_key_id else None
        if user is None:
            raise AwsAuthError("InvalidAccessKeyId", _UNKNOWN_KEY, system=system)
        key = next((k for k in self._iam.list_access_keys(user) if k.id == access_key_id), None)
        if key is None or not key.active:
            raise AwsAuthError("InvalidAccessKeyId", _UNKNOWN_KEY, system=system)
        if _moto_secret(access_key_id) != secret_access_key:
            raise AwsAuthError("SignatureDoesNotMatch", _BAD_SIGNATURE, system=system)
        return user


def _moto_secret(access_key_id: str) -> str | None:
    """The secret of an access key, from moto's IAM model (the server runs in this process)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    for _attempt in range(3):  # the server thread may change the key lists while we read them
        try:
            keys = iam_backends[DEFAULT_ACCOUNT_ID]["aws"].get_all_access_keys_for_all_users()
        except RuntimeError:
            continue
        return next((str(k.secret_access_key) for k in keys if k.access_key_id == access_key_id), None)
    return None
