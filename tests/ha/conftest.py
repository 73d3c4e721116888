"""Fixtures of the HA tests: a sandbox with Vault, accelerated policies, one shared store, daemons behind proxies.

Every daemon is a real ``drd daemon`` process (``daemon_worker.py``: the CLI with the one-minute floor of
``@every`` lowered to one second) on the files ``drd sandbox up --dir`` writes, with JSON logs in a file.
It reaches the Lease's cluster (primary-east) through a :class:`PartitionableProxy` of its own, named by
its own kubeconfig, so that a test can cut one replica off that cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from drd.clients.kube_resources import NAMESPACES
from drd.policy import schedule
from drd.policy.loader import Config, load_config
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.files import write_files
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import default_topology
from tests.daemon.test_processes import (
    FAST_ELECTION,
    GRACE_SECONDS,
    DaemonProcess,
    sandbox_env,
    throwaway_postgres_database,
)
from tests.ha.partition import PartitionableProxy
from tests.sandbox.velero.support import eventually

WORKER = Path(__file__).with_name("daemon_worker.py")
LEASE_CLUSTER = "primary-east"
BACKUP_EVERY = 5
"""Seconds between the shop's scheduled backups (Velero's Schedule, kept by the leader)."""
DRILL_EVERY = 6
"""Seconds between scheduled drills of the shop into dr-west."""
ROTATION_EVERY = 5
"""Seconds between scheduled rotations of the shop's generated token (through Vault)."""
ROTATION = "ha-token"
ROTATION_PATH = "drd/ha/token"


class Replica(DaemonProcess):
    """A ``drd daemon`` process (through ``daemon_worker.py``) and the proxy it reaches the Lease cluster by."""

    def __init__(self, name: str, env: dict[str, str], log: Path, proxy: PartitionableProxy) -> None:
        self.name = name
        self.log = log
        self.proxy = proxy
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER), "daemon", "--listen", "127.0.0.1:0"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._port: int | None = None


Spawn = Callable[..., Replica]


@pytest.fixture
def accelerated(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process reads the policies as the replicas do: ``@every`` down to one second."""
    monkeypatch.setattr(schedule, "MIN_INTERVAL", timedelta(seconds=1))


@pytest.fixture
def sandbox(moto: MotoS3) -> Iterator[Sandbox]:
    """Primary and DR clusters with Velero and the sample applications, and a real OpenBao (fast timings)."""
    options = SandboxOptions.fast()
    options.vault_database = False
    options.topology = default_topology(canary=False)
    with Sandbox(options, moto=moto) as environment:
        yield environment


@pytest.fixture
def paths(sandbox: Sandbox, tmp_path: Path, accelerated: None) -> dict[str, Path]:
    """``drd sandbox up --dir``'s files, with the policies on accelerated schedules (see :func:`accelerate`)."""
    written = write_files(sandbox, tmp_path / "sb")
    accelerate(written["config"])
    return written


def accelerate(config: Path) -> None:
    """The shop backed up every 5 s, drilled every 6 s and its token rotated every 5 s; nothing else.

    The catalog's policies are removed (fewer runs to tell apart); retention keeps every backup (so the
    cluster still holds each one to count); clusters name no kubeconfig file, so each replica's
    ``KUBECONFIG`` (and its proxy) decides how it reaches them.
    """
    (config / "catalog-api.yaml").unlink()
    shop = config / "shop.yaml"
    text = shop.read_text()
    for old, new in (
        ("schedule: '@every 1m'", f"schedule: '@every {BACKUP_EVERY}s'"),
        ("schedule: '*/15 * * * *'", f"schedule: '@every {DRILL_EVERY}s'"),
        ("keepLast: 10", "keepLast: 1000"),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    shop.write_text(text)
    clusters = config / "clusters.yaml"
    documents = list(yaml.safe_load_all(clusters.read_text()))
    for document in documents:
        document["spec"]["connection"].pop("kubeconfig")
    clusters.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    rotation = {
        "apiVersion": "drd.dev/v1",
        "kind": "RotationPolicy",
        "metadata": {"name": ROTATION},
        "spec": {
            "source": {"type": "generated", "length": 32},
            "vault": {"path": ROTATION_PATH},
            "schedule": f"@every {ROTATION_EVERY}s",
            "deliver": [{"clusters": ["dr-west"], "namespace": "shop", "secret": ROTATION, "keys": {"token": "value"}}],
            "gracePeriod": "0s",
        },
    }
    (config / "rotation.yaml").write_text(yaml.safe_dump(rotation, sort_keys=False))


@pytest.fixture
def config(paths: dict[str, Path]) -> Config:
    return load_config([str(paths["config"])])


@pytest.fixture
def dr_shop(sandbox: Sandbox) -> None:
    """The namespace the rotation delivers its Secret to, in dr-west."""
    sandbox.cluster("dr-west").kube.create(NAMESPACES, {"metadata": {"name": "shop"}})


@pytest.fixture
def state(request: pytest.FixtureRequest, paths: dict[str, Path]) -> Iterator[str]:
    """``DRD_STATE`` shared by the replicas: the sandbox's SQLite file, or (``@STORES``) a PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield str(paths["state"])
    else:
        yield from throwaway_postgres_database()


@pytest.fixture
def spawn(sandbox: Sandbox, paths: dict[str, Path], state: str, tmp_path: Path, dr_shop: None) -> Iterator[Spawn]:
    """Start replicas (``spawn(**extra_env)``), each with its own proxy to the Lease cluster; killed at the end."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DRD_", "KUBECONFIG", "AWS_", "VAULT_"))}
    base = inherited | sandbox_env(paths["env"]) | FAST_ELECTION | {"DRD_STATE": state}
    base |= {"DRD_LOG_FORMAT": "json", "DRD_LOG_LEVEL": "DEBUG", "DRD_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS)}
    started: list[Replica] = []

    def start(**extra: str) -> Replica:
        name = f"replica-{len(started) + 1}"
        upstream = urlsplit(sandbox.cluster(LEASE_CLUSTER).url)
        assert upstream.hostname is not None
        assert upstream.port is not None
        proxy = PartitionableProxy(upstream.hostname, upstream.port)
        kubeconfig = sandbox.kubeconfig()
        for entry in kubeconfig["clusters"]:
            if entry["name"] == LEASE_CLUSTER:
                entry["cluster"]["server"] = proxy.url
        own = tmp_path / f"{name}.kubeconfig"
        own.write_text(json.dumps(kubeconfig))
        env = base | {"KUBECONFIG": str(own)} | extra
        started.append(Replica(name, env, tmp_path / f"{name}.log", proxy))
        return started[-1]

    try:
        yield start
    finally:
        for replica in started:
            replica.close()
            replica.proxy.close()
            print(f"----- {replica.name} (exit {replica.process.returncode}), last lines of {replica.log}:")
            print(replica.tail())


def leader_among(replicas: list[Replica], *, timeout: float = 60.0) -> Replica:
    """The one replica that leads, once every replica is ready and names the same holder (generous: loaded CI)."""

    def agreed() -> Replica | None:
        answers = [r.readyz() for r in replicas]
        if any(status != 200 for status, _ in answers):
            return None
        holders = {body["leader"]["holder"] for _, body in answers}
        leaders = [r for r, (_, body) in zip(replicas, answers, strict=True) if body["leader"]["self"]]
        return leaders[0] if len(holders) == 1 and len(leaders) == 1 else None

    found: Replica = eventually(agreed, timeout=timeout, interval=0.2)
    return found


def events_of(replicas: list[Replica], event: str, **fields: Any) -> list[dict[str, Any]]:
    """Every replica's ``event`` lines, each with the replica's name under ``replica``."""
    return [entry | {"replica": r.name} for r in replicas for entry in r.events(event, **fields)]
