"""The daemon's ``velero:repo-escrow`` job, against the sandbox and the real OpenBao dev server.

Aspects: with Vault configured, the leader escrows the clusters' repository password, seeds a cluster missing
the Secret, exports ``drd_velero_repo_credentials_state`` and announces drift (digests only, never the value);
without Vault the job does not exist.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import SECRETS
from drd.clients.vault import VaultClient
from drd.daemon.app import Daemon
from drd.operations.repo_escrow import SECRET_KEY, SECRET_NAME
from drd.sandbox.vault import OpenBaoDevServer
from drd.settings import Settings
from tests.daemon.test_daemon import scrape, value
from tests.sandbox.fixtures import dr, primary, sandbox
from tests.sandbox.velero.support import eventually
from tests.support.daemons import Webhook, daemon_env

__all__ = ["dr", "primary", "sandbox"]

PATH = "drd/velero/repo-password"
NAME = "drd_velero_repo_credentials_state"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


def start_daemon(sandbox, tmp_path, webhook: Webhook, vault: OpenBaoDevServer | None) -> tuple[Daemon, threading.Event]:
    env = daemon_env(sandbox, tmp_path, webhook)
    if vault is not None:
        env |= {"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.root_token}
    daemon = Daemon(Settings.from_env(env), identity="test-daemon")
    daemon.start()
    stop = threading.Event()
    threading.Thread(target=daemon.run, args=(stop,), daemon=True).start()
    return daemon, stop


@pytest.fixture
def daemon_with_vault(sandbox, tmp_path, webhook, vault, primary, dr) -> Iterator[tuple[Daemon, str]]:
    """primary-east holds a strong password, dr-west has no Secret; then the daemon starts with Vault configured."""
    password = f"repo-{secrets.token_urlsafe(24)}"
    primary.merge_patch(
        SECRETS, SECRET_NAME, {"data": {SECRET_KEY: base64.b64encode(password.encode()).decode()}}, namespace="velero"
    )
    dr.delete(SECRETS, SECRET_NAME, namespace="velero")
    daemon, stop = start_daemon(sandbox, tmp_path, webhook, vault)
    yield daemon, password
    stop.set()
    daemon.shutdown()


def password_of(kube: KubeClient) -> str | None:
    secret = kube.find(SECRETS, SECRET_NAME, namespace="velero")
    return None if secret is None else base64.b64decode(secret["data"][SECRET_KEY]).decode()


def test_the_leader_escrows_seeds_exports_states_and_announces_drift(daemon_with_vault, vault, dr, webhook):
    """Escrowed from primary-east, dr-west seeded from it (gauge: match, seeded); a later drift on dr-west
    is exported and announced to the webhook without the password."""
    daemon, password = daemon_with_vault
    eventually(lambda: password_of(dr) == password)
    client = VaultClient(vault.url, token=vault.root_token, timeout=5)
    try:
        assert client.read_kv(PATH).data[SECRET_KEY] == password
    finally:
        client.close()
    samples = eventually(lambda: (s := scrape(daemon)) and value(s, NAME, cluster="dr-west", state="seeded") == 1 and s)
    assert value(samples, NAME, cluster="primary-east", state="match") == 1
    drifted = f"repo-{secrets.token_urlsafe(24)}"
    dr.merge_patch(
        SECRETS, SECRET_NAME, {"data": {SECRET_KEY: base64.b64encode(drifted.encode()).decode()}}, namespace="velero"
    )
    daemon.scheduler.run_now("velero:repo-escrow")
    posted = eventually(lambda: [m for m in webhook.received if "RepoCredentialsDrift" in str(m)])
    assert "dr-west" in posted[0]["text"]
    assert password not in str(webhook.received)
    assert drifted not in str(webhook.received)
    eventually(lambda: value(scrape(daemon), NAME, cluster="dr-west", state="drift") == 1)
    assert password_of(dr) == drifted


def test_without_vault_there_is_no_escrow_job(sandbox, tmp_path, webhook):
    """VAULT_ADDR unset: the daemon registers no ``velero:repo-escrow`` job and exports no state."""
    daemon, stop = start_daemon(sandbox, tmp_path, webhook, None)
    try:
        assert "velero:repo-escrow" not in daemon.scheduler.interval_job_ids
        assert not [key for key in scrape(daemon) if key[0] == NAME]
    finally:
        stop.set()
        daemon.shutdown()
