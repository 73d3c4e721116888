"""``velero-repo-credentials``: escrow it in Vault, compare every cluster with it, seed new clusters — never rotate it.

Velero encrypts every Kopia/restic repository of every BackupStorageLocation
with one password: key ``repository-password`` of the Secret
``velero-repo-credentials`` in its namespace (Velero creates it with the
default ``static-passw0rd`` when it is missing). Velero cannot change it:
the repositories keep the old password, so a changed Secret makes every
existing file-system backup unreadable. drd therefore never rotates it and
never overwrites it. :func:`reconcile_repo_credentials` instead:

1. reads the escrow (Vault KV v2, ``secret/drd/velero/repo-password``,
   field ``repository-password``). A sealed, unreachable or refusing Vault
   raises :class:`RepoEscrowUnavailable` / :class:`RepoEscrowRefused`
   before any cluster is touched: nothing changes. So does an escrow whose
   latest version was deleted: it is never re-created from the clusters;
2. reads the Secret of every cluster;
3. when there is no escrow yet, creates it (``cas=0``: create-only) from the
   clusters, only if every cluster holding the Secret holds the same
   password; clusters that disagree are reported and nothing is escrowed;
4. compares each cluster with the escrow (by digest, in constant time) and
   creates the Secret in a cluster whose Velero namespace lacks it, from the
   escrow, so that Velero finds it instead of creating its default;
5. reports one :class:`CredentialState` per cluster. A Secret that exists is
   never written: drift is reported for a human to resolve.

Passwords never leave this module except into the Secret or the escrow they
belong in: not into logs, exceptions, the report, metrics or the store. The
report carries short digests (the first 12 hex digits of SHA-256) only, and
every password read is registered with :mod:`drd.redaction` as a second net.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from drd import redaction
from drd.clients.errors import KubeAlreadyExists, KubeError, KubeNotFound, VaultError, VaultNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import SECRETS
from drd.clients.vault import VaultCasMismatch, VaultClient
from drd.errors import PermanentError, TemporaryError
from drd.logs import get_logger
from drd.operations.notification import Notification, ObjectRef, Severity

log = get_logger(__name__)

SECRET_NAME = "velero-repo-credentials"  # noqa: S105 - a Secret's name
"""The Secret Velero reads the repository password from."""
SECRET_KEY = "repository-password"  # noqa: S105 - a key's name
"""Its key, and the field of the escrow."""
VELERO_DEFAULT_PASSWORD = "static-passw0rd"  # noqa: S105 - Velero's published default, detected, never used
"""What Velero puts in the Secret when it creates it itself (``pkg/repository/keys/keys.go``)."""
DEFAULT_PATH = "drd/velero/repo-password"
DEFAULT_MOUNT = "secret"
DIGEST_LENGTH = 12
ESCROW_ANNOTATION = "drd.dev/escrow"
"""On a Secret drd seeded: ``<mount>/<path>@<version>`` it was seeded from."""


class CredentialState(StrEnum):
    """What drd found in one cluster (the ``state`` label of ``drd_velero_repo_credentials_state``)."""

    MATCH = "match"
    """The Secret holds the escrowed password."""
    DRIFT = "drift"
    """The Secret holds another password than the escrow (or than the other clusters, before any escrow),
    or cannot be read as a password. Reported, never overwritten: that would break this cluster's repositories."""
    SEEDED = "seeded"
    """The Secret was missing and drd created it from the escrow in this pass."""
    DEFAULT_PASSWORD = "default-password"  # noqa: S105 - a state name
    """The Secret still holds Velero's default password."""
    UNREACHABLE = "unreachable"
    """The cluster's API did not answer, or refused drd (the Secret could not be read or created)."""
    MISSING = "missing"
    """No Secret, and nothing to seed it from (no escrow yet), or its namespace does not exist."""


STATES: tuple[str, ...] = tuple(state.value for state in CredentialState)
ALERTING = frozenset({CredentialState.DRIFT, CredentialState.DEFAULT_PASSWORD})
"""States a human must hear about."""


class EscrowAction(StrEnum):
    """What happened to the escrow in one pass."""

    FOUND = "found"
    """Vault already held it."""
    CREATED = "created"
    """Escrowed now, from the clusters, which all agreed."""
    CONFLICT = "conflict"
    """No escrow, and the clusters holding the Secret disagree: nothing escrowed."""
    NOTHING = "nothing"
    """No escrow, and no reachable cluster holds the Secret: nothing to escrow."""


class RepoEscrowUnavailable(TemporaryError):
    """The escrow cannot be read or written now (Vault sealed or unreachable); nothing was changed."""


class RepoEscrowRefused(PermanentError):
    """Vault refused drd, or the escrow is not usable (no such field); nothing was changed."""


@dataclass(frozen=True, slots=True)
class VeleroCluster:
    """One cluster to reconcile: drd's client of it and the namespace Velero runs in."""

    kube: KubeClient
    namespace: str = "velero"


@dataclass(frozen=True, slots=True)
class ClusterFinding:
    """One cluster's state; ``digest`` is the short digest of its password (None when there is none to show)."""

    cluster: str
    namespace: str
    state: CredentialState
    detail: str
    digest: str | None = None

    @property
    def alerting(self) -> bool:
        """Drift or the default password: a human must act."""
        return self.state in ALERTING


@dataclass(frozen=True, slots=True)
class EscrowReport:
    """The result of one pass: the escrow and one finding per cluster, with digests, never values."""

    mount: str
    path: str
    escrow: EscrowAction
    escrow_version: int | None
    escrow_digest: str | None
    escrow_is_default: bool
    clusters: Mapping[str, ClusterFinding] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clusters", MappingProxyType(dict(self.clusters)))

    @property
    def states(self) -> dict[str, str]:
        """Cluster → state."""
        return {name: finding.state.value for name, finding in sorted(self.clusters.items())}

    @property
    def alerts(self) -> list[ClusterFinding]:
        """The findings a human must hear about (drift, default password), by cluster."""
        return [finding for _, finding in sorted(self.clusters.items()) if finding.alerting]

    @property
    def changed(self) -> bool:
        """Whether this pass wrote anything: the escrow, or a seeded Secret."""
        return self.escrow is EscrowAction.CREATED or any(
            f.state is CredentialState.SEEDED for f in self.clusters.values()
        )

    @property
    def healthy(self) -> bool:
        """Every cluster holds the escrowed password (or was just seeded with it)."""
        ok = {CredentialState.MATCH, CredentialState.SEEDED}
        return self.escrow in (EscrowAction.FOUND, EscrowAction.CREATED) and all(
            f.state in ok for f in self.clusters.values()
        )

    def details(self) -> dict[str, Any]:
        """Flat, value-free details for an Outcome, the store and the canonical log line."""
        return {
            "escrow": self.escrow.value,
            "escrow_path": f"{self.mount}/{self.path}",
            "escrow_version": self.escrow_version,
            "escrow_digest": self.escrow_digest,
            "escrow_is_default": self.escrow_is_default,
            "states": self.states,
        }


def digest(value: str) -> str:
    """The short digest drd shows instead of a password: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:DIGEST_LENGTH]


class _Password:
    """A password held in memory: compared in constant time, shown only as its digest, never pickled."""

    __slots__ = ("_value", "full_digest")

    def __init__(self, value: str) -> None:
        self._value = value
        self.full_digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
        redaction.register_secret(value)

    def reveal(self) -> str:
        return self._value

    @property
    def digest(self) -> str:
        return self.full_digest[:DIGEST_LENGTH]

    @property
    def is_default(self) -> bool:
        return hmac.compare_digest(self._value.encode("utf-8"), VELERO_DEFAULT_PASSWORD.encode("utf-8"))

    def same_as(self, other: _Password) -> bool:
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    def __repr__(self) -> str:
        return f"<password sha256:{self.digest}…>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a password cannot be pickled")


@dataclass(frozen=True, slots=True)
class _Read:
    """What one cluster's Secret holds: a password, an unusable Secret (``problem``), nothing, or an error."""

    exists: bool
    password: _Password | None = None
    problem: str | None = None
    error: str | None = None


def reconcile_repo_credentials(
    clusters: Mapping[str, VeleroCluster],
    vault: VaultClient,
    *,
    path: str = DEFAULT_PATH,
    mount: str = DEFAULT_MOUNT,
    unreachable: Mapping[str, str] | None = None,
) -> EscrowReport:
    """One pass over ``clusters``: escrow if needed, compare each with the escrow, seed those missing the Secret.

    ``unreachable`` names clusters drd could not even build a client for (cluster → why): they are
    reported as such. Raises :class:`RepoEscrowUnavailable` (temporary: Vault sealed or unreachable) or
    :class:`RepoEscrowRefused` (permanent: a denied token, an escrow without the field) before any
    cluster is written.
    """
    escrow, version = _read_escrow(vault, path=path, mount=mount)
    reads = {name: _read_cluster(target) for name, target in sorted(clusters.items())}
    reads.update({name: _Read(exists=False, error=why) for name, why in (unreachable or {}).items()})
    action = EscrowAction.FOUND
    if escrow is None:
        action, escrow, version = _escrow_from_clusters(reads, vault, path=path, mount=mount)
    findings: dict[str, ClusterFinding] = {}
    for name, read in sorted(reads.items()):
        namespace = clusters[name].namespace if name in clusters else ""
        if read.error is not None:
            findings[name] = ClusterFinding(name, namespace, CredentialState.UNREACHABLE, read.error)
        elif read.exists:
            findings[name] = _compare(name, namespace, read, escrow=escrow, reads=reads, action=action)
        elif escrow is None:
            why = "no escrow to seed it from" if action is not EscrowAction.CONFLICT else "the clusters disagree"
            findings[name] = ClusterFinding(
                name, namespace, CredentialState.MISSING, f"no {SECRET_NAME} Secret in {namespace}; not seeded: {why}"
            )
        else:
            findings[name] = _seed(name, clusters[name], escrow, path=path, mount=mount, version=version)
    report = EscrowReport(
        mount=mount,
        path=path,
        escrow=action,
        escrow_version=version,
        escrow_digest=escrow.digest if escrow else None,
        escrow_is_default=bool(escrow and escrow.is_default),
        clusters=findings,
    )
    for finding in report.clusters.values():
        level = {CredentialState.MATCH: "debug", CredentialState.SEEDED: "info"}.get(finding.state, "warning")
        getattr(log, level)(
            "repo_credentials_checked",
            cluster=finding.cluster,
            state=finding.state.value,
            digest=finding.digest,
            detail=finding.detail,
        )
    return report


def _read_escrow(vault: VaultClient, *, path: str, mount: str) -> tuple[_Password | None, int | None]:
    where = f"{mount}/{path}"
    try:
        secret = vault.read_kv(path, mount=mount)
    except VaultNotFound:
        if _has_history(vault, path=path, mount=mount):
            raise _deleted(where) from None
        return None, None
    except VaultError as exc:
        raise _escrow_error(exc, f"cannot read the escrow {where}") from exc
    value = secret.data.get(SECRET_KEY)
    if not isinstance(value, str) or not value:
        fields = ", ".join(sorted(secret.data)) or "none"
        raise RepoEscrowRefused(
            f"the escrow {where} (version {secret.version}) has no usable field {SECRET_KEY!r} (its fields: {fields}); "
            "nothing was changed: put the password every repository uses there"
        )
    return _Password(value), secret.version


def _has_history(vault: VaultClient, *, path: str, mount: str) -> bool:
    """Whether the escrow has versions (its latest deleted or destroyed) rather than never having existed."""
    try:
        return bool(vault.kv_versions(path, mount=mount))
    except VaultNotFound:
        return False
    except VaultError as exc:
        raise _escrow_error(exc, f"cannot read the history of the escrow {mount}/{path}") from exc


def _deleted(where: str) -> RepoEscrowRefused:
    return RepoEscrowRefused(
        f"the escrow {where} exists but its latest version is deleted or destroyed; nothing was changed: "
        "undelete it, or write the password every repository uses as a new version"
    )


def _escrow_error(exc: VaultError, what: str) -> RepoEscrowUnavailable | RepoEscrowRefused:
    message = f"{what}: {exc}; nothing was changed in any cluster or in Vault"
    if isinstance(exc, TemporaryError):
        return RepoEscrowUnavailable(message, delay=exc.delay)
    return RepoEscrowRefused(message)


def _read_cluster(target: VeleroCluster) -> _Read:
    try:
        secret = target.kube.find(SECRETS, SECRET_NAME, namespace=target.namespace)
    except KubeError as exc:
        return _Read(exists=False, error=_kube_problem(exc, f"cannot read {target.namespace}/{SECRET_NAME}"))
    if secret is None:
        return _Read(exists=False)
    encoded = (secret.get("data") or {}).get(SECRET_KEY)
    if not encoded:
        return _Read(exists=True, problem=f"the Secret has no {SECRET_KEY!r} key")
    try:
        value = base64.b64decode(str(encoded), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return _Read(exists=True, problem=f"its {SECRET_KEY!r} is not base64-encoded UTF-8 text")
    if not value:
        return _Read(exists=True, problem=f"its {SECRET_KEY!r} is empty")
    return _Read(exists=True, password=_Password(value))


def _kube_problem(exc: KubeError, what: str) -> str:
    return f"{what}: {type(exc).__name__} ({exc.status or 'no status'}): {exc}"


def _escrow_from_clusters(
    reads: Mapping[str, _Read], vault: VaultClient, *, path: str, mount: str
) -> tuple[EscrowAction, _Password | None, int | None]:
    """Create the escrow (create-only) from the clusters' password if they all agree."""
    held = [read.password for read in reads.values() if read.password is not None]
    if not held:
        return EscrowAction.NOTHING, None, None
    distinct = {password.full_digest for password in held}
    if len(distinct) > 1:
        log.warning(
            "repo_credentials_not_escrowed",
            reason="the clusters hold different passwords",
            digests=sorted(d[:DIGEST_LENGTH] for d in distinct),
            path=f"{mount}/{path}",
        )
        return EscrowAction.CONFLICT, None, None
    password = held[0]
    where = f"{mount}/{path}"
    try:
        version = vault.write_kv(path, {SECRET_KEY: password.reveal()}, mount=mount, cas=0)
    except VaultCasMismatch:  # someone escrowed it meanwhile: theirs stands; compare with it
        found, found_version = _read_escrow(vault, path=path, mount=mount)
        if found is None:  # the secret exists (CAS said so) but its latest version cannot be read
            raise _deleted(where) from None
        return EscrowAction.FOUND, found, found_version
    except VaultError as exc:
        raise _escrow_error(exc, f"cannot create the escrow {where}") from exc
    log.info(
        "repo_credentials_escrowed",
        path=where,
        version=version,
        digest=password.digest,
        clusters=sorted(name for name, read in reads.items() if read.password is not None),
    )
    return EscrowAction.CREATED, password, version


def _compare(
    name: str,
    namespace: str,
    read: _Read,
    *,
    escrow: _Password | None,
    reads: Mapping[str, _Read],
    action: EscrowAction,
) -> ClusterFinding:
    password = read.password
    if password is None:
        return ClusterFinding(
            name,
            namespace,
            CredentialState.DRIFT,
            f"{namespace}/{SECRET_NAME} is unusable: {read.problem}; not overwritten",
        )
    if password.is_default:
        also = "" if escrow is None or password.same_as(escrow) else f" and differs from the escrow ({escrow.digest})"
        return ClusterFinding(
            name,
            namespace,
            CredentialState.DEFAULT_PASSWORD,
            f"{namespace}/{SECRET_NAME} holds Velero's default password{also}",
            password.digest,
        )
    if escrow is None:
        others = sorted(
            other for other, r in reads.items() if r.password is not None and not r.password.same_as(password)
        )
        if action is EscrowAction.CONFLICT:
            return ClusterFinding(
                name,
                namespace,
                CredentialState.DRIFT,
                f"differs from {', '.join(others)}; nothing escrowed, nothing overwritten",
                password.digest,
            )
        raise AssertionError(f"a cluster holds a password but nothing was escrowed ({action})")  # pragma: no cover
    if not password.same_as(escrow):
        return ClusterFinding(
            name,
            namespace,
            CredentialState.DRIFT,
            f"differs from the escrow ({password.digest} here, {escrow.digest} escrowed); not overwritten: "
            "its repositories use this one",
            password.digest,
        )
    return ClusterFinding(name, namespace, CredentialState.MATCH, "holds the escrowed password", password.digest)


def _seed(
    name: str, target: VeleroCluster, escrow: _Password, *, path: str, mount: str, version: int | None
) -> ClusterFinding:
    """Create the missing Secret from the escrow; never replace one that appeared meanwhile."""
    namespace = target.namespace
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": namespace,
            "labels": {"component": "velero", "app.kubernetes.io/managed-by": "drd"},
            "annotations": {ESCROW_ANNOTATION: f"{mount}/{path}@{version}"},
        },
        "data": {SECRET_KEY: base64.b64encode(escrow.reveal().encode("utf-8")).decode("ascii")},
    }
    try:
        target.kube.create(SECRETS, body, namespace=namespace)
    except KubeAlreadyExists:  # Velero (or someone) created it meanwhile: compare, never overwrite
        read = _read_cluster(target)
        if read.error is not None:
            return ClusterFinding(name, namespace, CredentialState.UNREACHABLE, read.error)
        if not read.exists:  # created and deleted again: next pass
            return ClusterFinding(name, namespace, CredentialState.MISSING, f"{SECRET_NAME} came and went; not seeded")
        return _compare(name, namespace, read, escrow=escrow, reads={name: read}, action=EscrowAction.FOUND)
    except KubeNotFound:
        return ClusterFinding(
            name,
            namespace,
            CredentialState.MISSING,
            f"namespace {namespace} does not exist (Velero not installed yet?); not seeded",
        )
    except KubeError as exc:
        return ClusterFinding(
            name, namespace, CredentialState.UNREACHABLE, _kube_problem(exc, f"cannot create {namespace}/{SECRET_NAME}")
        )
    log.info("repo_credentials_seeded", cluster=name, namespace=namespace, escrow_version=version, digest=escrow.digest)
    return ClusterFinding(
        name,
        namespace,
        CredentialState.SEEDED,
        f"created {namespace}/{SECRET_NAME} from the escrow {mount}/{path} version {version}",
        escrow.digest,
    )


# Notifications
def notification(finding: ClusterFinding, report: EscrowReport) -> Notification | None:
    """What to tell people about one finding (drift, default password); None for the others."""
    involved = ObjectRef("v1", "Secret", SECRET_NAME, namespace=finding.namespace or None)
    fields = {"Secret": f"{finding.namespace}/{SECRET_NAME}", "Escrow": f"{report.mount}/{report.path}"}
    if finding.digest:
        fields["Digest here"] = finding.digest
    if report.escrow_digest:
        fields["Digest escrowed"] = report.escrow_digest
    never = (
        " drd never changes this Secret: the repositories are encrypted with the password they were created "
        "with, and a changed Secret makes existing file-system backups unreadable."
    )
    if finding.state is CredentialState.DRIFT:
        return Notification(
            reason="RepoCredentialsDrift",
            severity=Severity.CRITICAL,
            title=f"Velero repository password drift on {finding.cluster}",
            text=f"{finding.detail}.{never} Find which password the repositories use, then fix the Secret or the "
            "escrow by hand.",
            cluster=finding.cluster,
            involved=involved,
            fields=fields,
            key=f"RepoCredentialsDrift/{finding.cluster}/{finding.digest}",
        )
    if finding.state is CredentialState.DEFAULT_PASSWORD:
        return Notification(
            reason="RepoCredentialsDefault",
            severity=Severity.WARNING,
            title=f"Velero repository password is the default on {finding.cluster}",
            text=f"{finding.detail}: anyone with the bucket can read file-system backups.{never} Changing it means "
            "`kopia repository change-password` on every repository, then every cluster at once.",
            cluster=finding.cluster,
            involved=involved,
            fields=fields,
            key=f"RepoCredentialsDefault/{finding.cluster}",
        )
    return None


def alerts_to_send(report: EscrowReport, sent: Mapping[str, tuple[str, str | None]]) -> Iterable[ClusterFinding]:
    """The alerting findings not already announced as such (``sent``: cluster → (state, digest) announced)."""
    for finding in report.alerts:
        if sent.get(finding.cluster) != (finding.state.value, finding.digest):
            yield finding
