"""Files of Velero's bucket fetched through DownloadRequests: no storage credentials needed (velero.md §1.7, §2.1).

A restore drill must prove what a restore brought back, from the cluster it
runs in, with the rights drd already has there: Velero's API. drd creates a
``DownloadRequest`` (``spec.target.kind/name``) in Velero's namespace, waits
for Velero to answer ``status.phase: Processed`` with a pre-signed
``status.downloadURL`` (valid 10 minutes), fetches that URL over plain HTTP(S)
and gunzips it, as ``velero backup describe --details`` does. The request is
deleted afterwards (Velero would expire it anyway).

How each failure surfaces (every message names the cluster and the file):

* Velero never answers (not running, paused, wedged): :class:`DownloadTimedOut`
  after ``timeout_seconds``, saying whether Velero tried at all;
* the backup or restore does not exist in this cluster (Velero v1.18 stamps
  ``status.expiration`` without a URL and gives up): :class:`DownloadTargetNotFound`,
  as soon as Velero has looked;
* the URL cannot be fetched (unreachable, 5xx, an expired signature):
  :class:`DownloadFailed`, temporary;
* the object store answers 404: :class:`DownloadedFileMissing`, Velero's own
  "file not found" (a restore whose results could not be written, #1978; a file
  this Velero version does not write);
* the body is not what Velero writes (not gzip, not JSON, too large):
  :class:`DownloadCorrupt`.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from drd.clients import http
from drd.clients.errors import KubeError, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_DOWNLOAD_REQUESTS, VELERO_RESTORES
from drd.clock import Clock
from drd.errors import DrdError, PermanentError, TemporaryError
from drd.logs import get_logger
from drd.operations import labels, velero, waiting
from drd.velero.results import Result
from drd.velero.vocabulary import API_VERSION

log = get_logger(__name__)

TARGET_KINDS = frozenset(
    {
        "BackupLog",
        "BackupContents",
        "BackupVolumeSnapshots",
        "BackupItemOperations",
        "BackupResourceList",
        "BackupResults",
        "BackupVolumeInfos",
        "CSIBackupVolumeSnapshots",
        "CSIBackupVolumeSnapshotContents",
        "RestoreLog",
        "RestoreResults",
        "RestoreResourceList",
        "RestoreItemOperations",
        "RestoreVolumeInfo",
    }
)
"""``spec.target.kind`` values Velero accepts (§1.7). ``Restore*`` targets name a restore, the others a backup."""

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""The most drd reads of one file, compressed and again decompressed (10 000 objects list in ~250 KB, ~25 KB gzip)."""

_MAX_NAME = 253
_UUID_CHARS = 36


# -- errors ---------------------------------------------------------------------------------------


class DownloadError(DrdError):
    """A file could not be obtained through a DownloadRequest (see the subclasses for why)."""


class DownloadTimedOut(DownloadError, TemporaryError):
    """Velero did not answer the DownloadRequest in time."""


class DownloadTargetNotFound(DownloadError, KubeNotFound):
    """The backup or restore named does not exist in Velero's namespace of this cluster (not synced yet?)."""


class DownloadFailed(DownloadError, TemporaryError):
    """The pre-signed URL could not be fetched (unreachable, a 5xx, an expired or refused signature)."""


class DownloadedFileMissing(DownloadError, PermanentError):
    """The object store has no such file: Velero's "file not found"."""


class DownloadCorrupt(DownloadError, PermanentError):
    """The file is not what Velero writes there, or Velero's URL for it cannot be used.

    Not gzip, not JSON of the expected shape, larger than allowed; or a malformed download URL.
    """


# -- downloading ----------------------------------------------------------------------------------


def download(
    kube: KubeClient,
    *,
    namespace: str,
    kind: str,
    name: str,
    timeout_seconds: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    verify_tls: bool = True,
    clock: Clock | None = None,
) -> bytes:
    """The file ``kind`` of backup or restore ``name``, decompressed; ``BackupContents`` stays a ``.tar.gz``.

    ``timeout_seconds`` bounds the wait for Velero's answer, and separately the
    transfer. Raises :class:`~drd.operations.velero.VeleroNotInstalled` when
    the cluster does not serve DownloadRequests, and the errors of this module.
    """
    if kind not in TARGET_KINDS:
        raise PermanentError(f"unknown DownloadRequest target kind {kind!r}: expected one of {sorted(TARGET_KINDS)}")
    what = f'{kind} of {"restore" if kind.startswith("Restore") else "backup"} "{name}"'
    request = _create_request(kube, namespace=namespace, kind=kind, name=name)
    request_name = str(request["metadata"]["name"])
    try:
        url = _wait_for_url(
            kube,
            request_name,
            namespace=namespace,
            target=(kind, name),
            what=what,
            timeout=timeout_seconds,
            clock=clock,
        )
        body = fetch(
            url,
            what=f"{kube.system}: {what}",
            timeout_seconds=timeout_seconds,
            max_bytes=max_bytes,
            verify_tls=verify_tls,
        )
    finally:
        _delete_request(kube, request_name, namespace=namespace)
    if kind == "BackupContents":
        return body
    return gunzip(body, what=f"{kube.system}: {what}", max_bytes=max_bytes)


def fetch(
    url: str, *, what: str, timeout_seconds: float, max_bytes: int = DEFAULT_MAX_BYTES, verify_tls: bool = True
) -> bytes:
    """GET a pre-signed URL and return the body of its 200 answer.

    ``what`` names the file in errors, which show the URL without its query (the signature).
    """
    try:
        response = http.http_request(url, timeout=timeout_seconds, max_body=max_bytes, verify_tls=verify_tls)
    except http.HttpUnavailable as exc:
        raise DownloadFailed(f"{what}: {exc}") from exc
    except http.HttpInvalid as exc:
        raise DownloadCorrupt(f"{what}: Velero's download URL cannot be used: {exc}") from exc
    if response.status == 404:
        raise DownloadedFileMissing(
            f"{what}: file not found ({http.display_url(url)} answered 404{_s3_code(response)})"
        )
    if response.status != 200:
        raise DownloadFailed(
            f"{what}: {http.display_url(url)} answered {response.status}{_s3_code(response)}", delay=30.0
        )
    if response.truncated:
        raise DownloadCorrupt(f"{what}: larger than {max_bytes} bytes")
    return response.body


def gunzip(data: bytes, *, what: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Decompress a gzip file, refusing one that decompresses to more than ``max_bytes``."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            plain = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DownloadCorrupt(f"{what}: not gzip-compressed ({exc})") from exc
    if len(plain) > max_bytes:
        raise DownloadCorrupt(f"{what}: decompresses to more than {max_bytes} bytes")
    return plain


def _create_request(kube: KubeClient, *, namespace: str, kind: str, name: str) -> dict[str, Any]:
    """A DownloadRequest named as the CLI names them, ``<target>-<uuid>``."""
    prefix = name[: _MAX_NAME - _UUID_CHARS - 1].rstrip("-.") or "download"
    manifest = {
        "apiVersion": API_VERSION,
        "kind": "DownloadRequest",
        "metadata": {
            "name": f"{prefix}-{uuid.uuid4()}",
            "labels": {labels.MANAGED_BY: labels.MANAGER},
        },
        "spec": {"target": {"kind": kind, "name": name}},
    }
    try:
        return kube.create(VELERO_DOWNLOAD_REQUESTS, manifest, namespace=namespace)
    except KubeNotFound:
        if not kube.has_resource(VELERO_DOWNLOAD_REQUESTS):
            raise velero.VeleroNotInstalled(kube, [VELERO_DOWNLOAD_REQUESTS.group_resource]) from None
        raise  # the namespace does not exist: the API's message says so


def _wait_for_url(
    kube: KubeClient,
    request_name: str,
    *,
    namespace: str,
    target: tuple[str, str],
    what: str,
    timeout: float,
    clock: Clock | None,
) -> str:
    """The request's URL once Velero processed it; a missing target is reported as soon as Velero gave up."""
    kind, name = target
    looked = [False]

    def processed(request: dict[str, Any] | None) -> str | None:
        if request is None:
            raise DownloadFailed(f"{kube.system}: {what}: the DownloadRequest was deleted before Velero answered it")
        status = request.get("status") or {}
        if status.get("phase") == "Processed" and status.get("downloadURL"):
            return str(status["downloadURL"])
        if status.get("expiration") and not looked[0]:  # Velero tried and could not answer (v1.18)
            looked[0] = True
            missing = _missing_target(kube, namespace=namespace, kind=kind, name=name)
            if missing:
                raise DownloadTargetNotFound(f"{what}: {missing}", system=kube.system, status=404)
        return None

    try:
        return waiting.wait_for(
            kube,
            VELERO_DOWNLOAD_REQUESTS,
            request_name,
            namespace=namespace,
            until=processed,
            timeout_seconds=timeout,
            what=f"Velero to answer the DownloadRequest for the {what}",
            clock=clock,
        )
    except waiting.WaitTimedOut as timed_out:
        hint = (
            "Velero tried and produced no URL: see the Velero server log; is the BackupStorageLocation available?"
            if looked[0]
            else f"Velero never answered: is the Velero server running in namespace {namespace}?"
        )
        cause = f" (last API error: {timed_out.cause})" if timed_out.cause else ""
        raise DownloadTimedOut(
            f"{kube.system}: {what}: no download URL after {timeout:g}s; {hint}{cause}", delay=30.0
        ) from None


def _missing_target(kube: KubeClient, *, namespace: str, kind: str, name: str) -> str | None:
    """Why Velero cannot serve this target when the reason is a missing object, or None."""
    backup = name
    if kind.startswith("Restore"):
        restore = kube.find(VELERO_RESTORES, name, namespace=namespace)
        if restore is None:
            return f'restore "{name}" does not exist in namespace {namespace}'
        backup = str((restore.get("spec") or {}).get("backupName") or "")
    if not backup or kube.find(VELERO_BACKUPS, backup, namespace=namespace) is None:
        return f'backup "{backup}" does not exist in namespace {namespace} (not synced to this cluster yet?)'
    return None


def _delete_request(kube: KubeClient, name: str, *, namespace: str) -> None:
    """Delete the DownloadRequest; a failure only costs a leftover that Velero expires, so it is logged, not raised."""
    try:
        kube.delete(VELERO_DOWNLOAD_REQUESTS, name, namespace=namespace)
    except KubeNotFound:
        pass
    except KubeError as exc:
        log.warning("download_request_delete_failed", request=name, namespace=namespace, error=str(exc))


def _s3_code(response: http.HttpResponse) -> str:
    """``: NoSuchKey``-style detail from an S3 error document, when there is one."""
    found = re.search(r"<Code>([A-Za-z]{1,64})</Code>", response.text[:2048])
    return f": {found.group(1)}" if found else ""


# -- what drills read -----------------------------------------------------------------------------


def backup_resource_list(
    kube: KubeClient, *, namespace: str, backup: str, timeout_seconds: float, clock: Clock | None = None
) -> dict[str, list[str]]:
    """What the backup holds: ``"apps/v1/Deployment" → ["shop/storefront", …]``, core as ``"v1/Pod"``.

    Cluster-scoped objects are listed as ``["name"]``. Velero's
    ``<b>-resource-list.json.gz`` exactly as written (§2.1).
    """
    what = f'{kube.system}: BackupResourceList of backup "{backup}"'
    data = download(
        kube, namespace=namespace, kind="BackupResourceList", name=backup, timeout_seconds=timeout_seconds, clock=clock
    )
    return _listing(_json(data, what=what), what=what)


def restore_resource_list(
    kube: KubeClient, *, namespace: str, restore: str, timeout_seconds: float, clock: Clock | None = None
) -> dict[str, list[str]]:
    """What the restore did per item: ``"apps/v1/Deployment" → ["drill-shop/storefront(created)", …]`` (§2.1).

    Outcomes are ``created``, ``updated``, ``failed`` or ``skipped``; see :func:`split_outcome`.
    """
    what = f'{kube.system}: RestoreResourceList of restore "{restore}"'
    data = download(
        kube,
        namespace=namespace,
        kind="RestoreResourceList",
        name=restore,
        timeout_seconds=timeout_seconds,
        clock=clock,
    )
    return _listing(_json(data, what=what), what=what)


_OUTCOME = re.compile(r"^(?P<item>.*)\((?P<outcome>[a-z]+)\)$")


def split_outcome(entry: str) -> tuple[str, str]:
    """``"drill-shop/storefront(created)"`` → ``("drill-shop/storefront", "created")``; no outcome gives ``""``."""
    found = _OUTCOME.match(entry)
    return (found["item"], found["outcome"]) if found else (entry, "")


@dataclass(frozen=True, slots=True)
class Message:
    """One warning or error of a results file, with where Velero filed it."""

    scope: Literal["velero", "cluster", "namespace"]
    namespace: str | None
    text: str

    def __str__(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace else self.scope
        return f"{where}: {self.text}"


@dataclass(frozen=True, slots=True)
class SkippedObject:
    """An object the restore did not write because one of that name already existed, and differed (§5.1)."""

    namespace: str | None
    kind: str
    """As Velero names it: a Kind (``ConfigMap``), or a group-resource in older versions."""
    name: str
    message: str


@dataclass(frozen=True, slots=True)
class RestoreResults:
    """``restore-<r>-results.gz``: warnings and errors, each as Velero groups them (velero, cluster, namespaces)."""

    warnings: Result
    errors: Result

    def skipped_existing(self) -> list[SkippedObject]:
        """The "already exists" warnings: objects left as found in the cluster, not as backed up."""
        return skipped_existing(self.warnings)

    def warning_messages(self) -> list[str]:
        """Every warning as ``"<where>: <text>"`` (see :func:`messages`)."""
        return [str(m) for m in messages(self.warnings)]

    def error_messages(self) -> list[str]:
        """Every error as ``"<where>: <text>"``."""
        return [str(m) for m in messages(self.errors)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, as Velero writes the file."""
        return {"warnings": self.warnings.to_json(), "errors": self.errors.to_json()}


def restore_results(
    kube: KubeClient, *, namespace: str, restore: str, timeout_seconds: float, clock: Clock | None = None
) -> RestoreResults:
    """The warnings and errors a restore recorded (the text behind ``status.warnings``/``status.errors``)."""
    what = f'{kube.system}: RestoreResults of restore "{restore}"'
    data = download(
        kube, namespace=namespace, kind="RestoreResults", name=restore, timeout_seconds=timeout_seconds, clock=clock
    )
    document = _json(data, what=what)
    if not isinstance(document, dict):
        raise DownloadCorrupt(f"{what}: expected an object with warnings and errors")
    return RestoreResults(
        warnings=Result.from_json(document.get("warnings")), errors=Result.from_json(document.get("errors"))
    )


def messages(result: Result) -> list[Message]:
    """Every message of one severity, flattened: Velero's own, then the cluster's, then by namespace (sorted)."""
    flat = [Message("velero", None, text) for text in result.velero]
    flat += [Message("cluster", None, text) for text in result.cluster]
    for namespace in sorted(result.namespaces):
        flat += [Message("namespace", namespace, text) for text in result.namespaces[namespace]]
    return flat


_SKIPPED_EXISTING = re.compile(
    r'^could not restore, (?P<kind>[^\s:"]+)(?::(?P<name>[^\s"]+)| "(?P<quoted>[^"]*)") already exists\b'
)
"""Velero's warning for an existing object that differs (§5.1), in the forms its versions wrote:
``ConfigMap:settings`` (v1.18), ``ConfigMap "settings"`` and ``configmaps "settings"`` (earlier)."""


def skipped_existing(warnings: Result) -> list[SkippedObject]:
    """The objects a restore skipped because they existed and differed, from its warnings.

    Identical existing objects are skipped silently (an info log, no warning):
    only the restore resource list's ``(skipped)`` shows those.
    """
    found = []
    for message in messages(warnings):
        match = _SKIPPED_EXISTING.match(message.text)
        if match:
            name = match["name"] if match["name"] is not None else match["quoted"]
            found.append(SkippedObject(message.namespace, match["kind"], name, message.text))
    return found


def _json(data: bytes, *, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DownloadCorrupt(f"{what}: not JSON ({exc})") from exc


def _listing(document: Any, *, what: str) -> dict[str, list[str]]:
    """A resource list, checked: an object of string lists."""
    if not isinstance(document, Mapping) or not all(
        isinstance(entries, list) and all(isinstance(e, str) for e in entries) for entries in document.values()
    ):
        raise DownloadCorrupt(f'{what}: expected {{"group/version/Kind": ["namespace/name", …]}}')
    return {str(key): list(entries) for key, entries in document.items()}
