"""``KubeClient.exec``: a command run in a container through the API server's WebSocket, as typed results and errors.

Aspects: stdout, stderr and the exit code come back (a non-zero exit is a
result); a container is named when the pod has several; the API server's
refusals become typed errors (missing pod → KubeNotFound, no container named,
unknown or not running → KubeInvalid, 403 → KubeForbidden, no API server →
KubeUnavailable); a server that never ends the command, ends without a status,
or cannot start it is KubeUnavailable; exec does not disturb requests other
threads make through the same client; the sockets are released.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from drd.clients.errors import KubeForbidden, KubeInvalid, KubeNotFound, KubeUnavailable
from drd.clients.kube import ExecResult, KubeClient
from drd.clients.kube_resources import PODS
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.exec import EXIT_CODE_ANNOTATION, STDERR_ANNOTATION, STDOUT_ANNOTATION


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emu:
        yield emu


@pytest.fixture
def kube(emulator: KubeEmulator) -> Iterator[KubeClient]:
    client = KubeClient.from_api_url(emulator.url, cluster="test", timeout_seconds=5)
    yield client
    client.close()


def add_pod(
    emulator: KubeEmulator,
    name: str = "db-0",
    *,
    containers: tuple[str, ...] = ("db",),
    running: bool = True,
    annotations: dict[str, str] | None = None,
) -> None:
    """A pod whose containers are running (or still waiting to start)."""
    pod = {
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"containers": [{"name": c, "image": "postgres:16.4"} for c in containers]},
    }
    state = (
        {"running": {"startedAt": "2026-06-01T10:00:00Z"}} if running else {"waiting": {"reason": "ContainerCreating"}}
    )
    status = {
        "phase": "Running" if running else "Pending",
        "containerStatuses": [{"name": c, "ready": running, "state": state} for c in containers],
    }
    emulator.store.create("pods", pod, namespace="default")
    emulator.store.patch("pods", name, {"status": status}, namespace="default", subresource="status")


def test_stdout_and_a_zero_exit_code(emulator, kube):
    add_pod(emulator)
    assert kube.exec("default", "db-0", ["pg_isready", "-U", "app"]) == ExecResult(0, "pg_isready -U app ok\n", "")


def test_a_non_zero_exit_code_is_a_result(emulator, kube):
    """The exit code comes from channel 3's Status; stdout and stderr are kept apart."""
    annotations = {EXIT_CODE_ANNOTATION: "2", STDOUT_ANNOTATION: "no response\n", STDERR_ANNOTATION: "refused\n"}
    add_pod(emulator, annotations=annotations)
    assert kube.exec("default", "db-0", ["pg_isready"]) == ExecResult(2, "no response\n", "refused\n")


def test_a_container_is_named_when_the_pod_has_several(emulator, kube):
    add_pod(emulator, containers=("db", "exporter"))
    with pytest.raises(
        KubeInvalid, match=r"a container name must be specified for pod db-0, choose one of: \[db exporter\]"
    ):
        kube.exec("default", "db-0", ["true"])
    assert kube.exec("default", "db-0", ["true"], container="exporter").exit_code == 0


@pytest.mark.parametrize(
    ("container", "running", "message"),
    [("nope", True, "container nope is not valid for pod db-0"), (None, False, r'container not running \("db"\)')],
    ids=["unknown-container", "not-running"],
)
def test_containers_the_server_refuses_are_kube_invalid(emulator, kube, container, running, message):
    add_pod(emulator, running=running)
    with pytest.raises(KubeInvalid, match=message) as caught:
        kube.exec("default", "db-0", ["true"], container=container)
    assert caught.value.status == 400


def test_a_missing_pod_is_kube_not_found(kube):
    with pytest.raises(KubeNotFound, match='pods "db-0" not found'):
        kube.exec("default", "db-0", ["true"])


def test_a_forbidden_exec_is_kube_forbidden(emulator, kube):
    """A 403 from the API server (drd may not create pods/exec) is KubeForbidden."""
    add_pod(emulator)
    emulator.fail_next(1, status=403, path_pattern="/exec")
    with pytest.raises(KubeForbidden):
        kube.exec("default", "db-0", ["true"])


def test_an_unreachable_api_server_is_kube_unavailable(emulator, kube):
    emulator.go_down()
    with pytest.raises(KubeUnavailable, match="exec in pod default/db-0: unreachable"):
        kube.exec("default", "db-0", ["true"])


def test_a_command_given_as_a_string_is_refused(kube):
    """A string would be split into characters, one argument each."""
    with pytest.raises(TypeError, match="argv list"):
        kube.exec("default", "db-0", "pg_isready -U app")


def test_exec_does_not_disturb_other_requests_on_the_same_client(emulator, kube):
    """stream() patches the ApiClient it uses: concurrent reads through the same KubeClient stay plain HTTP."""
    add_pod(emulator)

    def execute(_: int) -> int:
        return kube.exec("default", "db-0", ["true"]).exit_code

    def read(_: int) -> str:
        return str(kube.get(PODS, "db-0", namespace="default")["metadata"]["name"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        execs = pool.map(execute, range(20))
        reads = pool.map(read, range(40))
        assert (set(execs), set(reads)) == ({0}, {"db-0"})


# Servers that misbehave after the upgrade


class WebSocketStub:
    """Upgrades every request to v5.channel.k8s.io, sends ``frames``, then holds the connection or closes it."""

    def __init__(self, frames: list[bytes], *, close: bool) -> None:
        self.frames = frames
        self.close = close
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                head += connection.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key")
            )
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            connection.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
            )
            for payload in self.frames:
                connection.sendall(bytes([0x82, len(payload)]) + payload)
            if self.close:
                connection.sendall(b"\x88\x02\x03\xe8")
            self.release.wait(10)

    def stop(self) -> None:
        self.release.set()
        self.thread.join(5)
        self.listener.close()


@contextmanager
def stub_client(frames: list[bytes], *, close: bool) -> Iterator[KubeClient]:
    stub = WebSocketStub(frames, close=close)
    client = KubeClient.from_api_url(stub.url, cluster="stub", timeout_seconds=5)
    try:
        yield client
    finally:
        client.close()
        stub.stop()


def status_frame(status: dict[str, Any]) -> bytes:
    return b"\x03" + json.dumps(status).encode()


def test_a_command_that_does_not_end_in_time_is_kube_unavailable():
    """Output arrives but no status and no close: the client gives up at timeout_seconds."""
    with stub_client([b"\x01still working\n"], close=False) as kube:
        with pytest.raises(KubeUnavailable, match=r"the command did not end within 0.2 s"):
            kube.exec("default", "db-0", ["sleep", "3600"], timeout_seconds=0.2)


def test_a_close_without_an_exit_status_is_kube_unavailable():
    with stub_client([b"\x01partial"], close=True) as kube:
        with pytest.raises(KubeUnavailable, match="closed without an exit status"):
            kube.exec("default", "db-0", ["true"])


def test_a_command_that_cannot_start_is_an_error_not_a_result():
    """A Failure Status without an exit code (the runtime could not start the command) is raised, by its code."""
    status = {"status": "Failure", "reason": "InternalError", "code": 500, "message": 'exec: "nope": not found'}
    with stub_client([status_frame(status)], close=True) as kube:
        with pytest.raises(KubeUnavailable, match='exec: "nope": not found'):
            kube.exec("default", "db-0", ["nope"])
