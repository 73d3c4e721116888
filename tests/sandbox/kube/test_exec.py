"""The ``pods/<name>/exec`` subresource: a real WebSocket for the official client and for kubectl.

Aspects: the official client's ``stream()`` negotiates v5 (or v4 when it asks
for it), reads stdout, stderr and the channel-3 ``Status`` with the exit code;
the result comes from annotations of the pod or of its controller's pod
template (pods made by the workload simulator included); the handshake follows
RFC 6455 (accept key, subprotocol choice, binary and base64 framing, older
protocols' error channel, close handshake with pings answered); refusals come
before the upgrade as the apiserver and kubelet make them (404, 400, 405);
kubectl exec works end to end, exit code included.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client
from kubernetes.stream import stream

from drd.clients.kube import KubeClient
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.exec import EXIT_CODE_ANNOTATION, STDERR_ANNOTATION, STDOUT_ANNOTATION
from drd.sandbox.workloads import WorkloadSimulator, WorkloadTimings
from tests.sandbox.kube.conftest import KUBECTL, Kubectl, a_deployment, raw_request

ACCEPT_OF_RFC_SAMPLE_KEY = ("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")  # RFC 6455 section 1.3
EXEC = "/api/v1/namespaces/default/pods/web-0/exec?command=pg_isready&command=-q"
UPGRADE_WEBSOCKET = {"Connection": "Upgrade", "Upgrade": "websocket"}


def a_pod(
    name: str = "web-0",
    *,
    containers: tuple[str, ...] = ("app",),
    phase: str = "Running",
    annotations: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pod manifest and the status a kubelet reports for it (containers running when the phase is Running)."""
    pod = {
        "metadata": {"name": name, "labels": {"app": "web"}, "annotations": annotations or {}},
        "spec": {"nodeName": "node-1", "containers": [{"name": c, "image": f"example/{c}:1"} for c in containers]},
    }
    state = {"running": {"startedAt": "2026-06-01T10:00:00Z"}} if phase == "Running" else {"waiting": {}}
    statuses = [{"name": c, "ready": phase == "Running", "state": state} for c in containers]
    return pod, {"phase": phase, "containerStatuses": statuses}


def create_pod(emulator: KubeEmulator, name: str = "web-0", **kwargs: Any) -> None:
    pod, status = a_pod(name, **kwargs)
    emulator.store.create("pods", pod, namespace="default")
    emulator.store.patch("pods", name, {"status": status}, namespace="default", subresource="status")


@contextmanager
def exec_stream(core: client.CoreV1Api, command: list[str], **kwargs: Any) -> Iterator[Any]:
    """The official client's WSClient for an exec in ``default/web-0``, read until the server closed.

    ``close()`` alone leaks the socket once the server has closed first (websocket-client
    marks itself disconnected on the server's close frame, and close() then returns at
    once), so the socket is shut down explicitly, as drd's client does.
    """
    ws = stream(
        core.connect_get_namespaced_pod_exec,
        "web-0",
        "default",
        command=command,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
        **kwargs,
    )
    try:
        ws.run_forever(timeout=5)
        yield ws
    finally:
        ws.close()
        ws.sock.shutdown()


# The official client


def test_stream_returns_stdout_and_a_success_status_over_v5(emu: KubeEmulator, core: client.CoreV1Api):
    """stream() negotiates v5.channel.k8s.io; stdout says what ran; channel 3 is a bare Success Status."""
    create_pod(emu)
    with exec_stream(core, ["pg_isready", "-U", "app"]) as ws:
        assert ws.subprotocol == "v5.channel.k8s.io"
        assert (ws.read_stdout(), ws.read_stderr()) == ("pg_isready -U app ok\n", "")
        assert json.loads(ws.read_channel(3)) == {"metadata": {}, "status": "Success"}


def test_stream_reports_a_non_zero_exit_code_from_annotations(emu: KubeEmulator, core: client.CoreV1Api):
    """Annotations set stdout, stderr and the exit code, which the client's own ``returncode`` parses."""
    annotations = {EXIT_CODE_ANNOTATION: "2", STDOUT_ANNOTATION: "no response\n", STDERR_ANNOTATION: "refused\n"}
    create_pod(emu, annotations=annotations)
    with exec_stream(core, ["pg_isready"]) as ws:
        assert (ws.read_stdout(), ws.read_stderr()) == ("no response\n", "refused\n")
        assert ws.returncode == 2


def test_stream_over_v4_gets_the_kubelet_failure_status(emu: KubeEmulator, core: client.CoreV1Api):
    """Offered only v4, the server speaks v4; a failure Status has reason NonZeroExitCode and an ExitCode cause."""
    create_pod(emu, annotations={EXIT_CODE_ANNOTATION: "3"})
    with exec_stream(core, ["sh", "-c", "exit 3"], _headers={"sec-websocket-protocol": "v4.channel.k8s.io"}) as ws:
        status = json.loads(ws.read_channel(3))
    assert ws.subprotocol == "v4.channel.k8s.io"
    assert status == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }


def test_output_larger_than_64_kib_arrives_whole(emu: KubeEmulator, core: client.CoreV1Api):
    """Frames with a 64-bit length carry a 100 000-character stdout intact."""
    create_pod(emu, annotations={STDOUT_ANNOTATION: "x" * 100_000})
    with exec_stream(core, ["cat", "big"]) as ws:
        assert len(ws.read_stdout()) == 100_000


def test_the_pod_template_of_the_controller_gives_the_result(emu: KubeEmulator):
    """Pods the workload simulator makes for a Deployment answer with the template's annotations."""
    deployment = a_deployment("db")
    deployment["spec"]["template"]["metadata"]["annotations"] = {EXIT_CODE_ANNOTATION: "7"}
    emu.store.create("deployments", deployment, namespace="default")
    emu.store.create("nodes", {"metadata": {"name": "node-1"}})  # a Ready node for the simulator to schedule on
    emu.store.patch(
        "nodes", "node-1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, subresource="status"
    )
    kube = KubeClient.from_api_url(emu.url, cluster="test", timeout_seconds=5)
    simulator = WorkloadSimulator(kube, timings=WorkloadTimings(ready_delay_seconds=0.01)).start()
    try:
        pod = wait_for_running_pod(emu, "app=db")
        result = kube.exec("default", pod, ["pg_isready"])
    finally:
        simulator.stop()
        kube.close()
    assert (result.exit_code, result.stdout) == (7, "pg_isready ok\n")


def test_the_pod_annotation_wins_over_the_template(emu: KubeEmulator, core: client.CoreV1Api):
    """A pod's own annotation overrides its controller's template, key by key."""
    deployment = a_deployment("web")
    deployment["spec"]["template"]["metadata"]["annotations"] = {EXIT_CODE_ANNOTATION: "7", STDOUT_ANNOTATION: "t\n"}
    owner = emu.store.create("deployments", deployment, namespace="default")
    create_pod(emu, annotations={EXIT_CODE_ANNOTATION: "0"})
    reference = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner["metadata"]["uid"]}
    emu.store.patch(
        "pods", "web-0", {"metadata": {"ownerReferences": [reference | {"controller": True}]}}, namespace="default"
    )
    with exec_stream(core, ["true"]) as ws:
        assert (ws.read_stdout(), ws.returncode) == ("t\n", 0)


def wait_for_running_pod(emu: KubeEmulator, selector: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pod in emu.store.list("pods", namespace="default", label_selector=selector):
            if (pod.get("status") or {}).get("phase") == "Running":
                return str(pod["metadata"]["name"])
        time.sleep(0.02)
    pytest.fail(f"no Running pod matches {selector}")


# The WebSocket handshake and framing, byte by byte


@dataclass
class Upgraded:
    status: int
    headers: dict[str, str]
    sock: socket.socket
    buffer: bytes

    def frame(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload); servers never mask."""
        head = self._read(2)
        size = head[1] & 0x7F
        if size >= 126:
            size = int.from_bytes(self._read(2 if size == 126 else 8), "big")
        return head[0] & 0x0F, self._read(size)

    def send(self, opcode: int, payload: bytes) -> None:
        """A masked frame from the client (payload under 126 bytes)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def _read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


@contextmanager
def upgrade(
    emulator: KubeEmulator, path: str = EXEC, *, protocols: str | None, key: str | None = None
) -> Iterator[Upgraded]:
    """Send a WebSocket upgrade request by hand and read the response head."""
    sock = socket.create_connection((emulator.host, emulator.port), timeout=5)
    try:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {emulator.host}:{emulator.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key or base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
        ]
        if protocols is not None:
            lines.append(f"Sec-WebSocket-Protocol: {protocols}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
        yield Upgraded(int(status_line.split()[1]), headers, sock, rest)
    finally:
        sock.close()


def test_the_accept_key_follows_rfc_6455(emu: KubeEmulator):
    """The sample key of RFC 6455 gets its documented Sec-WebSocket-Accept and a 101."""
    create_pod(emu)
    key, accept = ACCEPT_OF_RFC_SAMPLE_KEY
    with upgrade(emu, protocols="v4.channel.k8s.io", key=key) as ws:
        assert ws.status == 101
        assert (ws.headers["upgrade"], ws.headers["connection"]) == ("websocket", "Upgrade")
        assert ws.headers["sec-websocket-accept"] == accept
        assert ws.headers["sec-websocket-protocol"] == "v4.channel.k8s.io"


def test_the_first_protocol_the_client_offers_and_the_server_speaks_wins(emu: KubeEmulator):
    """kubectl's offer (v5, v4, v3, v2, channel.k8s.io) gets v5; an offer of v3 and v4 gets v4."""
    create_pod(emu)
    kubectl_offer = "v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io"
    with upgrade(emu, protocols=kubectl_offer) as ws:
        assert ws.headers["sec-websocket-protocol"] == "v5.channel.k8s.io"
    with upgrade(emu, protocols="v3.channel.k8s.io,v4.channel.k8s.io") as ws:
        assert ws.headers["sec-websocket-protocol"] == "v4.channel.k8s.io"


def test_binary_frames_carry_the_channel_byte_then_close_normally(emu: KubeEmulator):
    """v4: binary stdout on channel 1, Status on channel 3, then a close frame with code 1000."""
    create_pod(emu)
    with upgrade(emu, protocols="v4.channel.k8s.io") as ws:
        frames = [ws.frame() for _ in range(3)]
    assert frames[0] == (0x2, b"\x01pg_isready -q ok\n")
    assert frames[1][0] == 0x2
    assert frames[1][1][:1] == b"\x03"
    assert json.loads(frames[1][1][1:]) == {"metadata": {}, "status": "Success"}
    assert frames[2] == (0x8, (1000).to_bytes(2, "big"))


def test_base64_protocols_send_text_frames(emu: KubeEmulator):
    """v4.base64.channel.k8s.io: text frames, an ASCII channel digit, base64 data."""
    create_pod(emu, annotations={STDERR_ANNOTATION: "careful\n"})
    with upgrade(emu, protocols="v4.base64.channel.k8s.io") as ws:
        frames = [ws.frame() for _ in range(3)]
    assert frames[0] == (0x1, b"1" + base64.b64encode(b"pg_isready -q ok\n"))
    assert frames[1] == (0x1, b"2" + base64.b64encode(b"careful\n"))
    assert frames[2][1][:1] == b"3"
    assert json.loads(base64.b64decode(frames[2][1][1:]))["status"] == "Success"


@pytest.mark.parametrize("protocols", ["channel.k8s.io", None])
def test_pre_v4_protocols_send_only_a_failure_message_on_the_error_channel(emu: KubeEmulator, protocols: str | None):
    """channel.k8s.io (also what a client offering nothing gets, unnamed): success is silent, failure a message."""
    create_pod(emu, annotations={STDOUT_ANNOTATION: "", EXIT_CODE_ANNOTATION: "4"})
    with upgrade(emu, protocols=protocols) as ws:
        assert ("sec-websocket-protocol" in ws.headers) == (protocols is not None)
        opcode, payload = ws.frame()
        assert (opcode, payload[:1]) == (0x2, b"\x03")
        assert payload[1:].decode().startswith("command terminated with non-zero exit code: ")
        assert ws.frame()[0] == 0x8


def test_the_server_answers_pings_and_closes_after_the_clients_close(emu: KubeEmulator):
    """After its close frame the server still answers a ping, then ends the TCP connection on the client's close."""
    create_pod(emu, annotations={STDOUT_ANNOTATION: ""})
    with upgrade(emu, protocols="v4.channel.k8s.io") as ws:
        ws.frame()  # status
        assert ws.frame()[0] == 0x8
        ws.send(0x9, b"are you there")
        assert ws.frame() == (0xA, b"are you there")
        ws.send(0x8, (1000).to_bytes(2, "big"))
        assert ws.sock.recv(1) == b""


def test_tty_merges_stderr_into_stdout(emu: KubeEmulator):
    """With tty=true there is no separate stderr, as on a terminal."""
    create_pod(emu, annotations={STDERR_ANNOTATION: "err\n"})
    with upgrade(emu, EXEC + "&tty=true", protocols="v4.channel.k8s.io") as ws:
        assert ws.frame() == (0x2, b"\x01pg_isready -q ok\nerr\n")


# Refusals before the upgrade


def test_a_missing_pod_is_404(emu: KubeEmulator):
    with upgrade(emu, protocols="v4.channel.k8s.io") as ws:
        assert ws.status == 404


@pytest.mark.parametrize(
    ("query", "containers", "phase", "message"),
    [
        (
            "",
            ("app", "sidecar"),
            "Running",
            "a container name must be specified for pod web-0, choose one of: [app sidecar]",
        ),
        ("&container=nope", ("app",), "Running", "container nope is not valid for pod web-0"),
        ("", ("app",), "Pending", 'container not running ("app")'),
        ("&stdout=false&stderr=false", ("app",), "Running", "you must specify at least 1 of stdin, stdout, stderr"),
        ("&stdout=maybe", ("app",), "Running", 'stdout: invalid value "maybe": strconv.ParseBool: invalid syntax'),
    ],
    ids=["several-containers", "unknown-container", "not-running", "no-streams", "bad-flag"],
)
def test_refusals_are_400_before_the_upgrade(
    emu: KubeEmulator, query: str, containers: tuple[str, ...], phase: str, message: str
):
    """The apiserver's and kubelet's refusals come back as a 400 Status, not as a WebSocket."""
    create_pod(emu, containers=containers, phase=phase)
    response = raw_request(emu, "GET", EXEC + query, headers=websocket_headers())
    assert (response.status, response.body["reason"], response.body["message"]) == (400, "BadRequest", message)


def test_a_named_container_of_several_is_accepted(emu: KubeEmulator):
    create_pod(emu, containers=("app", "sidecar"))
    with upgrade(emu, EXEC + "&container=sidecar", protocols="v4.channel.k8s.io") as ws:
        assert ws.status == 101


def test_a_command_is_required(emu: KubeEmulator):
    create_pod(emu)
    path = "/api/v1/namespaces/default/pods/web-0/exec?stdout=true"
    response = raw_request(emu, "GET", path, headers=websocket_headers())
    assert (response.status, response.body["message"]) == (
        400,
        "you must specify at least one command for the container",
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Upgrade request required"),
        ({"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}, "the emulator speaks WebSocket only, not SPDY"),
        (UPGRADE_WEBSOCKET, "invalid WebSocket handshake"),
        (
            UPGRADE_WEBSOCKET
            | {"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAA==", "Sec-WebSocket-Version": "13"}
            | {"Sec-WebSocket-Protocol": "v9.channel.k8s.io"},
            "requested protocol(s) are not supported: [v9.channel.k8s.io]",
        ),
    ],
    ids=["plain-get", "spdy", "no-key", "unknown-protocol"],
)
def test_anything_but_a_websocket_upgrade_is_400(emu: KubeEmulator, headers: dict[str, str], message: str):
    create_pod(emu)
    response = raw_request(emu, "POST", EXEC, headers=headers)
    assert response.status == 400
    assert response.body["message"].startswith(message)


def test_other_methods_are_405(emu: KubeEmulator):
    create_pod(emu)
    assert raw_request(emu, "PUT", EXEC, headers=websocket_headers()).status == 405


def websocket_headers() -> dict[str, str]:
    return {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": "v4.channel.k8s.io",
    }


# kubectl


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_exec_prints_stdout(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl exec (WebSocket, v5) prints the command's stdout and exits 0."""
    create_pod(velero_emu)
    result = kubectl.run("exec", "web-0", "--", "echo", "hello")
    assert (result.returncode, result.stdout) == (0, "echo hello ok\n")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_exec_exits_with_the_commands_exit_code(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl exec exits with the remote exit code and says so on stderr, after the command's stderr."""
    create_pod(
        velero_emu, containers=("app", "sidecar"), annotations={EXIT_CODE_ANNOTATION: "3", STDERR_ANNOTATION: "boom\n"}
    )
    result = kubectl.run("exec", "web-0", "-c", "sidecar", "--", "sh", "-c", "exit 3", check=False)
    assert result.returncode == 3
    assert result.stderr == "boom\ncommand terminated with exit code 3\n"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_exec_shows_the_servers_refusal(kubectl: Kubectl, velero_emu: KubeEmulator):
    """A container that is not running: kubectl prints the server's 400 message."""
    create_pod(velero_emu, phase="Pending")
    result = kubectl.run("exec", "web-0", "--", "ls", check=False)
    assert result.returncode == 1
    assert 'container not running ("app")' in result.stderr
