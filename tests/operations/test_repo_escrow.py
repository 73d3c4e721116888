"""velero-repo-credentials: escrowed in Vault, compared, seeded — never rotated or overwritten.

Against the sandbox's two emulated clusters (spoken to by the real kubernetes
client; Velero is installed there with its default password) and the real
OpenBao dev server. Aspects: the escrow is created once, create-only, from
clusters that agree; clusters that disagree are reported and nothing is
escrowed or overwritten; a cluster matching the escrow; a cluster differing
from it is left as it is; a cluster missing the Secret is seeded from the
escrow; Velero's default password is reported; an unreachable cluster is
reported and does not stop the others; a sealed Vault is a clear temporary
error and changes nothing; an escrow without the field, or deleted, is refused
and kept; the password appears in no report, log line,
notification or exception text.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator

import hvac
import pytest
import structlog

from drd import redaction
from drd.clients.errors import VaultNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import SECRETS
from drd.clients.vault import VaultClient
from drd.errors import TemporaryError
from drd.operations import notification as notification_format
from drd.operations.repo_escrow import (
    SECRET_KEY,
    SECRET_NAME,
    ClusterFinding,
    CredentialState,
    EscrowAction,
    EscrowReport,
    RepoEscrowRefused,
    RepoEscrowUnavailable,
    VeleroCluster,
    alerts_to_send,
    digest,
    notification,
    reconcile_repo_credentials,
)
from drd.sandbox.vault import OpenBaoDevServer
from tests.support.web import closed_port

PATH = "drd/velero/repo-password"


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


@pytest.fixture
def client(vault: OpenBaoDevServer) -> Iterator[VaultClient]:
    vault_client = VaultClient(vault.url, token=vault.root_token, timeout=5)
    yield vault_client
    vault_client.close()


@pytest.fixture
def clusters(primary: KubeClient, dr: KubeClient) -> dict[str, VeleroCluster]:
    return {"primary-east": VeleroCluster(primary), "dr-west": VeleroCluster(dr)}


def strong() -> str:
    return f"repo-{secrets.token_urlsafe(24)}"


def set_password(kube: KubeClient, value: str) -> None:
    encoded = base64.b64encode(value.encode()).decode()
    kube.merge_patch(SECRETS, SECRET_NAME, {"data": {SECRET_KEY: encoded}}, namespace="velero")


def password_of(kube: KubeClient) -> str | None:
    secret = kube.find(SECRETS, SECRET_NAME, namespace="velero")
    return None if secret is None else base64.b64decode(secret["data"][SECRET_KEY]).decode()


def escrowed(client: VaultClient) -> str:
    return str(client.read_kv(PATH).data[SECRET_KEY])


def test_the_escrow_is_created_once_from_clusters_that_agree(clusters, primary, dr, client):
    """No escrow and both clusters hold the same password: it is escrowed (version 1), and a second pass keeps it."""
    password = strong()
    set_password(primary, password)
    set_password(dr, password)
    first = reconcile_repo_credentials(clusters, client)
    second = reconcile_repo_credentials(clusters, client)
    assert (first.escrow, first.escrow_version, first.escrow_digest) == (EscrowAction.CREATED, 1, digest(password))
    assert (second.escrow, second.escrow_version) == (EscrowAction.FOUND, 1)
    assert escrowed(client) == password
    assert [v.version for v in client.kv_versions(PATH)] == [1]
    assert first.states == second.states == {"dr-west": "match", "primary-east": "match"}


def test_clusters_that_disagree_are_drift_and_nothing_is_escrowed_or_overwritten(clusters, primary, dr, client):
    """Two clusters with different passwords and no escrow: both are drift, Vault stays empty, Secrets unchanged."""
    east, west = strong(), strong()
    set_password(primary, east)
    set_password(dr, west)
    report = reconcile_repo_credentials(clusters, client)
    assert report.escrow is EscrowAction.CONFLICT
    assert report.states == {"dr-west": "drift", "primary-east": "drift"}
    assert report.clusters["primary-east"].digest == digest(east)
    assert "differs from dr-west" in report.clusters["primary-east"].detail
    with pytest.raises(VaultNotFound):
        client.read_kv(PATH)
    assert (password_of(primary), password_of(dr)) == (east, west)


def test_a_cluster_holding_the_escrowed_password_matches(clusters, primary, dr, client):
    """With an escrow in Vault, a cluster holding the same password is ``match`` and nothing is written."""
    password = strong()
    client.write_kv(PATH, {SECRET_KEY: password}, cas=0)
    set_password(primary, password)
    set_password(dr, password)
    report = reconcile_repo_credentials(clusters, client)
    assert report.clusters["primary-east"].state is CredentialState.MATCH
    assert (report.escrow, report.changed, report.healthy) == (EscrowAction.FOUND, False, True)


def test_a_cluster_differing_from_the_escrow_is_drift_and_left_as_it_is(clusters, primary, dr, client):
    """A cluster whose password differs from the escrow is reported as drift; neither it nor the escrow changes."""
    kept, other = strong(), strong()
    client.write_kv(PATH, {SECRET_KEY: kept}, cas=0)
    set_password(primary, kept)
    set_password(dr, other)
    report = reconcile_repo_credentials(clusters, client)
    assert report.states == {"dr-west": "drift", "primary-east": "match"}
    assert (password_of(dr), escrowed(client), client.read_kv(PATH).version) == (other, kept, 1)


def test_a_cluster_missing_the_secret_is_seeded_from_the_escrow(clusters, primary, dr, client):
    """A Velero namespace without the Secret gets it, from the escrow, labelled; the next pass finds a match."""
    password = strong()
    client.write_kv(PATH, {SECRET_KEY: password}, cas=0)
    set_password(primary, password)
    dr.delete(SECRETS, SECRET_NAME, namespace="velero")
    report = reconcile_repo_credentials(clusters, client)
    again = reconcile_repo_credentials(clusters, client)
    seeded = dr.get(SECRETS, SECRET_NAME, namespace="velero")
    assert report.clusters["dr-west"].state is CredentialState.SEEDED
    assert password_of(dr) == password
    assert seeded["metadata"]["annotations"]["drd.dev/escrow"] == f"secret/{PATH}@1"
    assert again.states == {"dr-west": "match", "primary-east": "match"}


def test_a_cluster_still_holding_velero_default_password_is_reported(clusters, client):
    """Velero installed with ``static-passw0rd``: each cluster is ``default-password``, and the escrow is flagged."""
    report = reconcile_repo_credentials(clusters, client)
    assert report.states == {"dr-west": "default-password", "primary-east": "default-password"}
    assert report.escrow_is_default
    assert [f.cluster for f in report.alerts] == ["dr-west", "primary-east"]


def test_an_unreachable_cluster_is_reported_and_the_others_are_still_reconciled(primary, client):
    """A cluster whose API refuses connections is ``unreachable``; the reachable one is escrowed and compared."""
    password = strong()
    set_password(primary, password)
    down = KubeClient.from_api_url(f"http://127.0.0.1:{closed_port()}", cluster="gone", timeout_seconds=2)
    report = reconcile_repo_credentials({"primary-east": VeleroCluster(primary), "gone": VeleroCluster(down)}, client)
    assert report.states == {"gone": "unreachable", "primary-east": "match"}
    assert "KubeUnavailable" in report.clusters["gone"].detail


def test_a_sealed_vault_is_a_clear_temporary_error_and_changes_nothing(clusters, primary, dr, client, vault):
    """Vault sealed: RepoEscrowUnavailable saying so, and the cluster missing its Secret is not seeded."""
    password = strong()
    client.write_kv(PATH, {SECRET_KEY: password}, cas=0)
    set_password(primary, password)
    dr.delete(SECRETS, SECRET_NAME, namespace="velero")
    vault.seal()
    with pytest.raises(RepoEscrowUnavailable) as error:
        reconcile_repo_credentials(clusters, client)
    assert isinstance(error.value, TemporaryError)
    assert "Vault is sealed" in str(error.value)
    assert "nothing was changed" in str(error.value)
    assert password_of(dr) is None
    assert password_of(primary) == password


def test_an_escrow_without_the_field_is_refused_and_never_overwritten(clusters, client):
    """An escrow lacking ``repository-password`` is a permanent error naming its fields; it is left alone."""
    client.write_kv(PATH, {"password": "elsewhere-1"}, cas=0)
    with pytest.raises(RepoEscrowRefused, match=r"has no usable field 'repository-password' .*its fields: password"):
        reconcile_repo_credentials(clusters, client)
    assert client.read_kv(PATH).version == 1


def test_a_deleted_escrow_is_refused_and_never_replaced(clusters, primary, client, vault):
    """An escrow whose latest version was soft-deleted is not re-created from the clusters: a permanent error."""
    client.write_kv(PATH, {SECRET_KEY: strong()}, cas=0)
    hvac.Client(url=vault.url, token=vault.root_token).secrets.kv.v2.delete_latest_version_of_secret(PATH)
    set_password(primary, strong())
    with pytest.raises(RepoEscrowRefused, match="latest version is deleted or destroyed"):
        reconcile_repo_credentials(clusters, client)
    assert [v.version for v in client.kv_versions(PATH)] == [1]


def test_the_password_appears_in_no_report_log_notification_or_error(clusters, primary, dr, client, vault):
    """Escrow, drift, seeding and a sealed Vault: the value is nowhere in what drd shows, only its digest."""
    password, drifted = strong(), strong()
    set_password(primary, password)
    dr.delete(SECRETS, SECRET_NAME, namespace="velero")
    shown: list[str] = []
    with structlog.testing.capture_logs() as logs:
        created = reconcile_repo_credentials(clusters, client)  # escrowed from primary, dr seeded
        set_password(dr, drifted)
        drift = reconcile_repo_credentials(clusters, client)
        vault.seal()
        with pytest.raises(RepoEscrowUnavailable) as error:
            reconcile_repo_credentials(clusters, client)
    for report in (created, drift):
        shown += [repr(report), str(report.details()), *map(repr, report.clusters.values())]
        for finding in report.alerts:
            notice = notification(finding, report)
            assert notice is not None
            shown += [repr(notice), str(notification_format.slack_payload(notice))]
    shown += [str(error.value), repr(error.value), str(error.value.__cause__), repr(logs)]
    assert drift.states == {"dr-west": "drift", "primary-east": "match"}
    assert digest(password) in str(drift.details())
    for text in shown:
        assert password not in text
        assert drifted not in text


def test_each_alerting_finding_is_announced_once():
    """A drift already announced with the same digest is not sent again; a new digest or state is."""
    report = EscrowReport(
        mount="secret",
        path=PATH,
        escrow=EscrowAction.FOUND,
        escrow_version=1,
        escrow_digest="aaaaaaaaaaaa",
        escrow_is_default=False,
        clusters={
            "a": ClusterFinding("a", "velero", CredentialState.DRIFT, "differs", "bbbbbbbbbbbb"),
            "b": ClusterFinding("b", "velero", CredentialState.MATCH, "same", "aaaaaaaaaaaa"),
        },
    )
    assert [f.cluster for f in alerts_to_send(report, {})] == ["a"]
    assert list(alerts_to_send(report, {"a": ("drift", "bbbbbbbbbbbb")})) == []
    assert [f.cluster for f in alerts_to_send(report, {"a": ("drift", "cccccccccccc")})] == ["a"]
