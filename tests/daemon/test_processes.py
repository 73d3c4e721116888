"""``drd daemon`` as real processes against the sandbox, observed only from the outside.

Aspects covered: two replicas elect exactly one leader (``/metrics`` ``drd_leader``, ``/readyz``
``leader``); a ``kill -9`` of the leader hands over within the lease duration and the new
leader's first reconcile re-creates a Schedule deleted meanwhile; SIGTERM exits 0 within the
shutdown grace and releases the Lease so the other replica takes over at once; Backups made
while the daemon was down reach the store and ``drd_backup_runs_total`` once, and never again
after another restart; SIGHUP with a broken file keeps the daemon running on the last good
configuration, reported in ``drd_config_errors`` and ``/readyz``, until the file is fixed; no
valid configuration at all is exit code 2 with the problems.

The election and the ``kill -9`` fail-over run twice: with the replicas sharing the SQLite
file ``drd sandbox up`` sets, and sharing one PostgreSQL database, as deployed for HA (a
throw-away database per test on ``DRD_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``, dropped after it; ``DRD_TEST_POSTGRES=skip``
skips those, ``-m "not postgres"`` deselects them). On both, only the leader acts, and the
survivor records into the store the old leader used: a backup observed before the kill is
not counted again, one made after it is counted once.

Each daemon is ``drd daemon --listen 127.0.0.1:0`` with the environment ``drd sandbox up``
writes to ``DIR/env``, the store of the test, short leader timings and JSON logs on stderr,
read back from a file under ``tmp_path`` (its port comes from the ``http_listening`` line).
Every process is killed at teardown, and the tail of its log is printed there: pytest shows
it when the test failed.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from drd.backups import run as backups
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import LEASES, VELERO_BACKUPS, VELERO_SCHEDULES
from drd.clock import SystemClock
from drd.operations import labels
from drd.outcomes import Phase
from drd.policy.loader import Config, load_config
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from drd.store import open_store
from drd.velero.vocabulary import BackupPhase
from tests.sandbox.fixtures import primary, sandbox
from tests.sandbox.velero.support import eventually

__all__ = ["primary", "sandbox"]

DRD = Path(sys.executable).with_name("drd")
LEASE_SECONDS, RENEW_SECONDS, RETRY_SECONDS = 3.0, 2.0, 0.5
GRACE_SECONDS = 2.0
FAST_ELECTION = {
    "DRD_LEADER_LEASE_SECONDS": str(LEASE_SECONDS),
    "DRD_LEADER_RENEW_SECONDS": str(RENEW_SECONDS),
    "DRD_LEADER_RETRY_SECONDS": str(RETRY_SECONDS),
}
TAKEOVER_SLACK = 2 * 1.5 * RETRY_SECONDS + 0.5
"""Noticing the last renewal and then the expiry each cost up to one jittered retry period; plus polling."""
START_SECONDS = 15.0
"""Interpreter start-up, imports and the first leader round of a fresh process (~2.5 s on a quiet machine)."""
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
STORES = pytest.mark.parametrize(
    "state", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
"""Run a test with the replicas sharing a SQLite file, then sharing a PostgreSQL database."""
LEADER_ONLY_EVENTS = ("schedule_finished", "retention_finished", "job_unchanged", "backup_finished", "catch_up_started")
"""Log events of acting: reconciling Schedules, pruning, recording backups, catching up."""


class DaemonProcess:
    """One ``drd daemon`` child process, its JSON log file and its HTTP endpoints."""

    def __init__(self, name: str, env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(DRD), "daemon", "--listen", "127.0.0.1:0"],
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._port: int | None = None

    # The log
    def events(self, event: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        """The JSON log lines so far, those of ``event`` with these field values when given."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written, or a non-JSON line (a traceback before logging was set up)
            if not isinstance(entry, dict) or event not in (None, entry.get("event")):
                continue
            if all(entry.get(k) == v for k, v in fields.items()):
                found.append(entry)
        return found

    def tail(self, lines: int = 40) -> str:
        """The last lines of the log, without the access log of our own polling."""
        kept = [line for line in self.log.read_text(errors="replace").splitlines() if '"http_request"' not in line]
        return "\n".join(kept[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for_event(self, event: str, *, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """The first ``event`` line with these fields; fails at once if the process exited."""

        def seen() -> dict[str, Any] | None:
            found = self.events(event, **fields)
            if found:
                return found[0]
            if not self.alive():
                raise AssertionError(f"{self.name} exited {self.process.returncode} before {event}:\n{self.tail()}")
            return None

        result: dict[str, Any] = eventually(seen, timeout=timeout)
        return result

    @property
    def identity(self) -> str:
        return str(self.wait_for_event("daemon_starting", timeout=START_SECONDS)["identity"])

    # The endpoints
    @property
    def port(self) -> int:
        if self._port is None:
            self._port = int(self.wait_for_event("http_listening", timeout=START_SECONDS)["port"])
        return self._port

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()

    def readyz(self) -> tuple[int, dict[str, Any]]:
        status, body = self.get("/readyz")
        return status, json.loads(body)

    def metric(self, name: str, **wanted: str) -> float | None:
        """The value of one series of ``/metrics`` (None when absent)."""
        status, body = self.get("/metrics")
        assert status == 200, body
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name == name and sample.labels == wanted:
                    return float(sample.value)
        return None

    def leading(self) -> bool:
        return self.readyz()[1]["leader"]["self"] is True

    # Stopping
    def stop(self, sig: signal.Signals = signal.SIGTERM, *, timeout: float = 10.0) -> int:
        """Send ``sig`` and wait for the exit; returns the exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()


Spawn = Callable[..., DaemonProcess]


def sandbox_env(env_file: Path) -> dict[str, str]:
    """The variables ``DIR/env`` exports (``export NAME=value`` lines, shell-quoted)."""
    exported = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            exported[name] = shlex.split(value)[0] if value else ""
    return exported


@pytest.fixture
def paths(sandbox: Sandbox, tmp_path: Path) -> dict[str, Path]:
    """``drd sandbox up --dir``'s files for the running sandbox."""
    return write_files(sandbox, tmp_path / "sb")


def throwaway_postgres_database() -> Iterator[str]:
    """URL of a PostgreSQL database made for one test and dropped after it (``WITH (FORCE)``: killed replicas)."""
    if os.environ.get("DRD_TEST_POSTGRES", "").lower() == "skip":
        pytest.skip("DRD_TEST_POSTGRES=skip: PostgreSQL tests not run")
    admin_url = make_url(os.environ.get("DRD_TEST_POSTGRES_URL", POSTGRES_ADMIN_URL)).set(drivername="postgresql")
    try:
        admin = psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        pytest.fail(f"PostgreSQL is required and unreachable at {admin_url}: {e}", pytrace=False)
    name = f"drd_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def state(request: pytest.FixtureRequest, paths: dict[str, Path]) -> Iterator[str]:
    """``DRD_STATE`` of the test's replicas: the sandbox's SQLite file, or (``@STORES``) a PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield str(paths["state"])
    else:
        yield from throwaway_postgres_database()


@pytest.fixture
def spawn(paths: dict[str, Path], state: str, tmp_path: Path) -> Iterator[Spawn]:
    """Start ``drd daemon`` processes (``spawn(**extra_env)``); all are killed at teardown and their logs shown."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DRD_", "KUBECONFIG", "AWS_", "VAULT_"))}
    base = inherited | sandbox_env(paths["env"]) | {"DRD_STATE": state}
    base |= {"DRD_LOG_FORMAT": "json", "DRD_LOG_LEVEL": "DEBUG", "DRD_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS)}
    started: list[DaemonProcess] = []

    def start(**extra: str) -> DaemonProcess:
        name = f"daemon-{len(started) + 1}"
        started.append(DaemonProcess(name, base | FAST_ELECTION | extra, tmp_path / f"{name}.log"))
        return started[-1]

    try:
        yield start
    finally:
        for daemon in started:
            daemon.close()
            print(f"----- {daemon.name} (exit {daemon.process.returncode}), last lines of {daemon.log}:")
            print(daemon.tail())


def leader_of(daemons: list[DaemonProcess]) -> DaemonProcess:
    """The one daemon that leads, once every daemon is ready and agrees on the holder."""

    def agreed() -> DaemonProcess | None:
        answers = [d.readyz() for d in daemons]
        if any(status != 200 for status, _ in answers):
            return None
        holders = {body["leader"]["holder"] for _, body in answers}
        leaders = [d for d, (_, body) in zip(daemons, answers, strict=True) if body["leader"]["self"]]
        return leaders[0] if len(holders) == 1 and len(leaders) == 1 else None

    result: DaemonProcess = eventually(agreed, timeout=START_SECONDS)
    return result


def lease_holder(kube: KubeClient) -> str:
    return str(kube.get(LEASES, "drd-leader", namespace="drd")["spec"].get("holderIdentity") or "")


def acted(daemon: DaemonProcess) -> list[str]:
    """The acting events in a daemon's log (see LEADER_ONLY_EVENTS)."""
    return [entry["event"] for entry in daemon.events() if entry.get("event") in LEADER_ONLY_EVENTS]


def completed_backups_counted(daemon: DaemonProcess, policy: str = "shop") -> float:
    """drd_backup_runs_total{phase="Completed"} of one policy on primary-east, as this daemon counted them."""
    labels_ = {"policy": policy, "cluster": "primary-east", "phase": "Completed"}
    return daemon.metric("drd_backup_runs_total", **labels_) or 0.0


def backup(config: Config, kube: KubeClient, policy: str) -> str:
    """An on-demand backup of ``policy``, waited for; its name."""
    chosen = config.backup_policies[policy]
    outcome = backups.backup_now(
        kube, chosen, config.source_cluster(chosen), wait=True, timeout_seconds=30, clock=SystemClock()
    )
    assert outcome.phase is Phase.COMPLETED, outcome
    return str(outcome.details["backup"])


@STORES
def test_of_two_daemons_exactly_one_leads(spawn):
    """Two replicas on one store: one has drd_leader 1, the other 0; both are ready and name the same holder.

    Only the leader acts: the follower logs no Schedule reconcile, prune, backup or catch-up.
    """
    daemons = [spawn(), spawn()]
    leader = leader_of(daemons)
    follower = next(d for d in daemons if d is not leader)
    assert (leader.metric("drd_leader"), follower.metric("drd_leader")) == (1.0, 0.0)
    assert [d.get("/healthz")[0] for d in daemons] == [200, 200]
    assert leader.identity == follower.readyz()[1]["leader"]["holder"] == leader.readyz()[1]["leader"]["holder"]
    leader.wait_for_event("schedule_finished", subject="shop")
    assert not follower.events("leader_acquired")
    assert acted(follower) == []


@STORES
def test_after_kill_9_of_the_leader_the_other_leads_and_records_into_the_same_store(spawn, paths, primary, state):
    """kill -9: the survivor leads within the lease duration (+ retry slack), re-creates a deleted Schedule, and
    records into the store the old leader used: the backup the old leader recorded is not counted again, a new one
    once.

    The survivor's first list returns the old backup before the new one (names sort by time), so once it logged the
    new one it has handled the old one too.
    """
    config = load_config([str(paths["config"])])
    daemons = [spawn(), spawn()]
    leader = leader_of(daemons)
    survivor = next(d for d in daemons if d is not leader)
    eventually(lambda: primary.find(VELERO_SCHEDULES, "drd-shop", namespace="velero"))
    before = backup(config, primary, "shop")
    leader.wait_for_event("backup_finished", backup=before)
    assert recorded(state)[before] == "Completed"
    assert acted(survivor) == []

    leader.process.kill()
    killed = time.monotonic()
    leader.process.wait(timeout=5)
    primary.delete(VELERO_SCHEDULES, "drd-shop", namespace="velero")
    eventually(survivor.leading, timeout=LEASE_SECONDS + TAKEOVER_SLACK + 2, interval=0.05)
    took = time.monotonic() - killed

    assert LEASE_SECONDS - RETRY_SECONDS - 0.5 <= took <= LEASE_SECONDS + TAKEOVER_SLACK
    assert survivor.metric("drd_leader") == 1.0
    assert lease_holder(primary) == survivor.identity
    recreated = eventually(lambda: primary.find(VELERO_SCHEDULES, "drd-shop", namespace="velero"))
    assert recreated["metadata"]["labels"][labels.MANAGED_BY] == labels.MANAGER
    survivor.wait_for_event("schedule_finished", subject="shop", action="created")

    after = backup(config, primary, "shop")
    survivor.wait_for_event("backup_finished", backup=after)
    assert len(leader.events("backup_finished", backup=before)) == 1
    assert survivor.events("backup_finished", backup=before) == []
    counted = survivor.events("backup_finished", subject="shop", phase="Completed")
    assert completed_backups_counted(survivor) == len(counted) >= 1
    assert {before, after} <= set(recorded(state))
    assert {recorded(state)[name] for name in (before, after)} == {"Completed"}


def test_sigterm_exits_0_within_the_grace_and_hands_the_lease_over_at_once(spawn, primary):
    """SIGTERM: exit 0 within the shutdown grace, daemon_stopped logged, the other leads well before lease expiry."""
    lease = 8.0  # a long lease, so that a hand-over by expiry could not pass for a release
    election = {"DRD_LEADER_LEASE_SECONDS": str(lease), "DRD_LEADER_RENEW_SECONDS": "5"}
    daemons = [spawn(**election), spawn(**election)]
    leader = leader_of(daemons)
    other = next(d for d in daemons if d is not leader)

    signalled = time.monotonic()
    assert leader.stop(signal.SIGTERM, timeout=GRACE_SECONDS + 5) == 0
    exited = time.monotonic() - signalled
    eventually(other.leading, timeout=lease, interval=0.05)
    took_over = time.monotonic() - signalled

    assert exited <= GRACE_SECONDS + 1.0
    assert took_over <= 2 * 1.5 * RETRY_SECONDS + 1.0 < lease
    assert leader.events("leader_released")
    assert leader.events("daemon_stopped", jobs_finished=True)
    assert lease_holder(primary) == other.identity


def terminal_backups(kube: KubeClient) -> set[str]:
    """Names of drd's Backups in a terminal phase."""
    found = kube.list_objects(
        VELERO_BACKUPS, namespace="velero", label_selector=f"{labels.MANAGED_BY}={labels.MANAGER}"
    ).items
    return {b["metadata"]["name"] for b in found if (b.get("status") or {}).get("phase") in BackupPhase.TERMINAL}


def recorded(state: str) -> dict[str, str]:
    """The store's backups of primary-east: name → Velero phase (read with the daemon stopped or running)."""
    with open_store(state) as store:
        return {r.name: r.phase for r in store.backups(cluster="primary-east", include_deleted=True, limit=1000)}


def test_backups_made_during_downtime_are_recorded_and_counted_once(spawn, paths, primary, state):
    """Backups made while drd was down reach the store and drd_backup_runs_total once; a restart does not recount.

    Knowing when a daemon has handled its initial list: the API lists in name order (as etcd
    does) and watch events follow the list, on one thread. ``drd-shop-<timestamp>`` of the
    newest shop backup sorts after every other drd backup, so once its ``backup_finished``
    is logged, every older backup has been handled (counted, or skipped as already known).
    The catalog's ``*/5`` cron would let Velero start a backup of its own in the middle of the
    test; ``@every`` counts from the Schedule's creation, so with it every backup here is ours.
    """
    catalog = paths["config"] / "catalog-api.yaml"
    catalog.write_text(catalog.read_text().replace("schedule: '*/5 * * * *'", "schedule: '@every 10m'", 1))
    config = load_config([str(paths["config"])])
    assert config.backup_policies["catalog-api"].spec.schedule.every is not None

    def counted_after(daemon: DaemonProcess, newest: str) -> Counter[str]:
        """drd_backup_runs_total{phase="Completed"} per policy, once the daemon logged the newest backup."""
        daemon.wait_for_event("backup_finished", backup=newest)
        return Counter(
            {
                policy: daemon.metric("drd_backup_runs_total", policy=policy, cluster="primary-east", phase="Completed")
                or 0
                for policy in config.backup_policies
            }
        )

    first = spawn()
    before = backup(config, primary, "shop")
    assert counted_after(first, before) == Counter(shop=1)
    assert first.stop() == 0

    downtime = [backup(config, primary, policy) for policy in ("catalog-api", "shop", "shop")]
    known = recorded(state)
    assert before in known
    assert not set(downtime) & set(known)

    second = spawn()
    assert counted_after(second, downtime[-1]) == Counter({"shop": 2, "catalog-api": 1})
    assert recorded(state) == dict.fromkeys([before, *downtime], "Completed")
    assert second.stop() == 0

    third = spawn()
    newest = backup(config, primary, "shop")
    assert counted_after(third, newest) == Counter(shop=1)
    assert set(recorded(state)) == terminal_backups(primary) == {before, *downtime, newest}


def test_sighup_with_a_broken_file_keeps_the_last_good_config_until_it_is_fixed(spawn, paths):
    """SIGHUP with a broken file: still running, drd_config_errors 1 and /readyz 503 with why; fixed, both clear."""
    daemon = spawn()
    leader_of([daemon])
    shop = paths["config"] / "shop.yaml"
    good = shop.read_text()
    assert "rpo: 3m" in good

    def edit_unnoticed(text: str) -> None:
        """Rewrite the file keeping its size and mtime, so that only SIGHUP (not the change poll) reloads it."""
        before = shop.stat()
        shop.write_text(text)
        os.utime(shop, ns=(before.st_atime_ns, before.st_mtime_ns))

    edit_unnoticed(good.replace("rpo: 3m", "rpo: 3x"))
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_event("config_invalid")
    status, body = daemon.readyz()
    assert daemon.alive()
    assert daemon.get("/healthz")[0] == 200
    assert daemon.metric("drd_config_errors", file=str(shop)) == 1.0
    assert daemon.metric("drd_rpo_objective_seconds", policy="shop") == 180.0  # the last good config runs on
    assert status == 503
    assert any("spec.objectives.rpo" in reason for reason in body["reasons"])
    assert [str(shop)] == [error["file"] for error in body["config"]["errors"]]

    edit_unnoticed(good)
    daemon.process.send_signal(signal.SIGHUP)
    eventually(lambda: daemon.readyz()[0] == 200)
    assert daemon.metric("drd_config_errors", file=str(shop)) is None
    assert daemon.metric("drd_config_last_reload_successful") == 1.0
    assert len(daemon.events("config_loaded")) == 2


def test_no_valid_configuration_at_start_exits_2_naming_the_problem(spawn, tmp_path):
    """A daemon whose configuration is invalid from the start exits 2 with the problems, without a traceback."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "clusters.yaml").write_text("apiVersion: drd.dev/v1\nkind: Cluster\nmetadata: {name: x}\nspec: {}\n")
    daemon = spawn(DRD_CONFIG=str(broken))
    assert daemon.process.wait(timeout=START_SECONDS) == 2
    output = daemon.log.read_text()
    assert "no valid configuration to start with" in output
    assert "Traceback" not in output
