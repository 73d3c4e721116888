"""Velero's backup tarball and its gzip'd JSON side files (velero.md §2.1, §2.2).

The tarball is gzip over a tar of regular files (mode 0755, no directory
entries): ``metadata/version`` and, for each item, the object JSON at
``resources/<group-resource>/namespaces/<ns>/<name>.json`` (or ``/cluster/<name>.json``)
plus the same bytes under ``<version>-preferredversion/``.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drd.velero.vocabulary import FORMAT_VERSION

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
"""Refuse to expand an archive beyond this (a corrupted or hostile bucket must not exhaust memory)."""


class ArchiveError(ValueError):
    """The bytes are not a Velero archive drd can read; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class BackupItem:
    """One object inside a backup."""

    group: str
    """API group, empty for the core group."""
    version: str
    resource: str
    """Plural resource name (``deployments``)."""
    kind: str
    name: str
    namespace: str | None
    """None for cluster-scoped objects."""
    obj: Mapping[str, Any] = field(hash=False, compare=False)

    @property
    def group_resource(self) -> str:
        """``deployments.apps``; core resources have no suffix (``pods``)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def group_version_kind(self) -> str:
        """The resource-list key: ``apps/v1/Deployment``; core is ``v1/Pod``."""
        return f"{self.group}/{self.version}/{self.kind}" if self.group else f"{self.version}/{self.kind}"

    @property
    def listed_name(self) -> str:
        """The resource-list entry: ``ns/name``, or ``name`` when cluster-scoped."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def _item_paths(item: BackupItem) -> tuple[str, str]:
    scope = f"namespaces/{item.namespace}" if item.namespace else "cluster"
    base = f"resources/{item.group_resource}"
    return f"{base}/{scope}/{item.name}.json", f"{base}/{item.version}-preferredversion/{scope}/{item.name}.json"


def write_backup_tarball(items: Iterable[BackupItem], *, mtime: float = 0.0) -> bytes:
    """Encode items in Velero's format 1.1.0 tarball layout."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=int(mtime)) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        _add_file(tar, "metadata/version", f"{FORMAT_VERSION}\n".encode(), mtime)
        for item in items:
            body = json.dumps(item.obj, separators=(",", ":"), sort_keys=True).encode()
            for path in _item_paths(item):
                _add_file(tar, path, body, mtime)
    return buffer.getvalue()


def _add_file(tar: tarfile.TarFile, path: str, body: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(body)
    info.mode = 0o755
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(body))


@dataclass(frozen=True, slots=True)
class ArchivedObject:
    """An object read back from a tarball, with where it was found."""

    group_resource: str
    namespace: str | None
    name: str
    obj: Mapping[str, Any]


def read_backup_tarball(data: bytes) -> tuple[str, list[ArchivedObject]]:
    """Decode a tarball into (format version, objects); only the primary copy of each item is returned."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            return _read_members(tar)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"not a gzip'd tar archive: {exc}") from exc


def _read_members(tar: tarfile.TarFile) -> tuple[str, list[ArchivedObject]]:
    version = ""
    objects: list[ArchivedObject] = []
    expanded = 0
    for member in tar:
        if not member.isfile():
            continue
        expanded += member.size
        if expanded > MAX_ARCHIVE_BYTES:
            raise ArchiveError(f"archive expands beyond {MAX_ARCHIVE_BYTES} bytes")
        handle = tar.extractfile(member)
        if handle is None:
            continue
        body = handle.read()
        parts = member.name.split("/")
        if member.name == "metadata/version":
            version = body.decode().strip()
        elif _is_primary_copy(parts):
            objects.append(_archived(parts, body, member.name))
    if not version:
        raise ArchiveError("archive has no metadata/version")
    return version, objects


def _is_primary_copy(parts: list[str]) -> bool:
    # resources/<gr>/namespaces/<ns>/<name>.json  or  resources/<gr>/cluster/<name>.json
    if len(parts) < 4 or parts[0] != "resources" or not parts[-1].endswith(".json"):
        return False
    return (len(parts) == 5 and parts[2] == "namespaces") or (len(parts) == 4 and parts[2] == "cluster")


def _archived(parts: list[str], body: bytes, member: str) -> ArchivedObject:
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"{member}: invalid JSON: {exc.msg}") from exc
    if not isinstance(obj, dict):
        raise ArchiveError(f"{member}: expected a JSON object")
    namespace = parts[3] if parts[2] == "namespaces" else None
    return ArchivedObject(group_resource=parts[1], namespace=namespace, name=parts[-1][: -len(".json")], obj=obj)


def resource_list(items: Iterable[BackupItem]) -> dict[str, list[str]]:
    """The ``-resource-list.json.gz`` map: ``group/version/Kind`` → sorted ``ns/name`` entries."""
    listing: dict[str, set[str]] = {}
    for item in items:
        listing.setdefault(item.group_version_kind, set()).add(item.listed_name)
    return {key: sorted(names) for key, names in sorted(listing.items())}


def gzip_json(value: Any) -> bytes:
    """gzip(JSON), the encoding of every side file but the log."""
    return gzip.compress(json.dumps(value).encode(), mtime=0)


def gunzip_json(data: bytes) -> Any:
    """Inverse of :func:`gzip_json`, with errors as ArchiveError."""
    try:
        return json.loads(gzip.decompress(data))
    except (OSError, EOFError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"not gzip'd JSON: {exc}") from exc


def gzip_text(text: str) -> bytes:
    """gzip(text), the encoding of ``-logs.gz``."""
    return gzip.compress(text.encode(), mtime=0)
