"""A private PostgreSQL server with password authentication, for the sandbox's Vault database engine.

The machine's PostgreSQL on 127.0.0.1:5432 trusts every local connection, so a
password login there proves nothing. :class:`PostgresServer` runs its own
cluster instead: ``initdb --auth=scram-sha-256`` in a temporary directory (a
superuser with a random password), ``postgres`` on a free loopback port, every
connection (TCP and Unix socket) authenticated by password. A wrong password is
refused, as in production. :meth:`PostgresServer.stop` shuts it down and deletes
the directory.

The binaries come from the Debian packages (``/usr/lib/postgresql/<major>/bin``,
newest first) or ``PATH``. PostgreSQL refuses to run as root, so when this
process is root the server runs as the ``postgres`` account. Administration goes
through ``psql`` (drivers are for drd.clients).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from drd.errors import ConfigError
from drd.sandbox.vault import free_port

SHOP_DATABASE = "shop"
"""The sample shop's database on the sandbox's private server."""
SHOP_LOGIN = "shop_app"
"""The shop's login role, whose password Vault's static role ``shop-app`` manages."""

_READY_TIMEOUT_SECONDS = 30.0
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RUN_AS_WHEN_ROOT = "postgres"


def find_postgres_bin() -> Path:
    """The directory holding ``initdb``, ``postgres``, ``pg_isready`` and ``psql``.

    The newest ``/usr/lib/postgresql/<major>/bin`` first (Debian's layout, what ``.ci/run``
    installs), then the directory of an ``initdb`` on ``PATH``.
    """
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise ConfigError(
        "PostgreSQL's server binaries (initdb, postgres) were not found under /usr/lib/postgresql/*/bin "
        "or on PATH: install PostgreSQL (Debian: apt-get install postgresql)"
    )


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain PostgreSQL identifier: {name!r} (lower-case letters, digits, _)")
    return f'"{name}"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgresServer:
    """One private PostgreSQL server: password authentication only, loopback only, deleted on stop."""

    def __init__(self, *, port: int = 0, superuser: str = "postgres", superuser_password: str | None = None) -> None:
        _identifier(superuser)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.superuser = superuser
        self.superuser_password = superuser_password or secrets.token_hex(16)
        self.directory: Path | None = None
        self._bin: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: str | None = None

    def __repr__(self) -> str:
        return f"PostgresServer(host={self.host!r}, port={self.port}, superuser={self.superuser!r})"

    # Lifecycle
    def start(self) -> PostgresServer:
        """initdb, start the server and wait until it accepts password logins; on failure clean up and raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended), then delete the cluster's directory (idempotent)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # Administration (as the superuser, through psql)
    def psql(self, sql: str, *, database: str = "postgres") -> str:
        """Run SQL as the superuser and return psql's unaligned, tuples-only output."""
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                str(self._binary("psql")),
                "--no-psqlrc",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.superuser,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            env={**os.environ, "PGPASSWORD": self.superuser_password, "PGCONNECT_TIMEOUT": "5"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            error = result.stderr.strip().replace(self.superuser_password, "***")
            raise ConfigError(f"{self!r}: SQL failed: {error}")
        return result.stdout.strip()

    def create_login_role(self, name: str, password: str) -> None:
        """A role that can log in with ``password`` (replaced if it exists)."""
        role = _identifier(name)  # validated: plain lower-case identifiers only
        exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(name)}")  # noqa: S608 - checked name
        verb = "ALTER" if exists else "CREATE"
        self.psql(f"{verb} ROLE {role} WITH LOGIN PASSWORD {_literal(password)}")

    def create_database(self, name: str, *, owner: str) -> None:
        """A database owned by ``owner`` (kept if it exists)."""
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = {_literal(name)}"):  # noqa: S608 - checked name
            self.psql(f"CREATE DATABASE {_identifier(name)} OWNER {_identifier(owner)}")

    def drop_role(self, name: str) -> None:
        """Drop a login role if it exists (it must own nothing)."""
        self.psql(f"DROP ROLE IF EXISTS {_identifier(name)}")

    # Plumbing
    def _binary(self, name: str) -> Path:
        if self._bin is None:
            self._bin = find_postgres_bin()
        return self._bin / name

    def _start(self) -> None:
        self._run_as = _run_as()
        self.directory = Path(tempfile.mkdtemp(prefix="drd-postgres-"))
        data = self.directory / "data"
        password_file = self.directory / "superuser-password"
        password_file.write_text(self.superuser_password + "\n")
        password_file.chmod(0o600)
        if self._run_as is not None:
            for path in (self.directory, password_file):
                shutil.chown(path, user=self._run_as)
        initdb = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                str(self._binary("initdb")),
                "-D",
                str(data),
                "-U",
                self.superuser,
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            user=self._run_as,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        password_file.unlink()
        if initdb.returncode != 0:
            raise ConfigError(f"initdb failed: {initdb.stderr.strip()[-500:]}")
        log = (self.directory / "postgres.log").open("wb")
        with log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [
                    str(self._binary("postgres")),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-c",
                    f"listen_addresses={self.host}",
                    "-c",
                    f"unix_socket_directories={self.directory}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=40",
                    "-c",
                    "shared_buffers=16MB",
                ],
                user=self._run_as,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise ConfigError(f"PostgreSQL exited at start-up: {self._log_tail()}")
            ready = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [str(self._binary("pg_isready")), "-q", "-h", self.host, "-p", str(self.port), "-t", "1"],
                capture_output=True,
                timeout=10,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise ConfigError(f"PostgreSQL did not accept connections within {_READY_TIMEOUT_SECONDS:.0f} s")

    def _log_tail(self) -> str:
        if self.directory is None:
            return ""
        try:
            lines = (self.directory / "postgres.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-5:])


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: then run it as the ``postgres`` account."""
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        pwd.getpwnam(_RUN_AS_WHEN_ROOT)
    except KeyError:
        raise ConfigError(
            "PostgreSQL cannot run as root and there is no 'postgres' account to run it as: "
            "run as an ordinary user or install PostgreSQL's Debian package (which creates it)"
        ) from None
    return _RUN_AS_WHEN_ROOT


def start_shop_database(*, password: str | None = None) -> tuple[PostgresServer, str]:
    """A started private server with the database ``shop`` owned by the login role ``shop_app``.

    Returns the server and ``shop_app``'s initial password (Vault replaces it as soon as it
    takes the role over: creating a static role rotates at once).
    """
    initial = password or secrets.token_hex(16)
    server = PostgresServer().start()
    try:
        server.create_login_role(SHOP_LOGIN, initial)
        server.create_database(SHOP_DATABASE, owner=SHOP_LOGIN)
    except BaseException:
        server.stop()
        raise
    return server, initial
