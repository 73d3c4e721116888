"""A pod's ``exec`` subresource over a real WebSocket, as ``kubectl exec`` and the official client speak it.

``GET`` or ``POST /api/v1/namespaces/{ns}/pods/{name}/exec?command=…&container=…``
is checked the way the apiserver and the kubelet check it, each refusal an
HTTP error *before* the upgrade: a missing pod is 404; a pod with several
containers and none named, an unknown container, a container that is not
running, a request without command or without any of stdin/stdout/stderr, a
request that is not a WebSocket upgrade (SPDY included) or offers no
subprotocol the server speaks are 400. An accepted request is upgraded
(RFC 6455: ``101``, ``Sec-WebSocket-Accept``) to the first subprotocol the
client offers among ``v5.channel.k8s.io``, ``v4.channel.k8s.io``,
``v4.base64.channel.k8s.io``, ``channel.k8s.io`` and ``base64.channel.k8s.io``
(the kubelet's set plus the apiserver's v5). Each message starts with its
channel (1 stdout, 2 stderr, 3 error); binary protocols send a byte and raw
data, base64 ones a text frame with an ASCII digit and base64 data. Protocols
v4 and v5 end with a ``Status`` on channel 3 (``Success``, or ``Failure`` with
reason ``NonZeroExitCode`` and the code as the ``ExitCode`` cause), older ones
send only a failure's message there; then the server closes (code 1000).

No container runs, so the command's result comes from annotations of the pod,
or else of its controller's pod template (the workload simulator does not copy
template annotations to pods): ``sandbox.drd.dev/exec-exit-code`` (default
``0``), ``sandbox.drd.dev/exec-stdout`` (default ``"<command> ok\\n"``) and
``sandbox.drd.dev/exec-stderr`` (default empty). Every command in a pod gets
the same result; stdin is accepted but never read, and a TTY merges stderr
into stdout.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from io import BufferedIOBase
from typing import Any

from drd.sandbox.kube import errors
from drd.sandbox.kube.store import Store

EXIT_CODE_ANNOTATION = "sandbox.drd.dev/exec-exit-code"
STDOUT_ANNOTATION = "sandbox.drd.dev/exec-stdout"
STDERR_ANNOTATION = "sandbox.drd.dev/exec-stderr"

STDOUT, STDERR, ERROR = 1, 2, 3
_TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_MAX_CLIENT_FRAME = 1 << 20
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_STREAMS = (("stdin", False), ("stdout", True), ("stderr", True), ("tty", False))
"""Query flags and their defaults (``SetDefaults_PodExecOptions`` turns stdout and stderr on)."""


@dataclass(frozen=True, slots=True)
class ChannelProtocol:
    """A channel subprotocol: how channels are framed and what the error channel carries."""

    name: str
    base64: bool
    """Text frames with an ASCII channel digit and base64 data (else binary frames, a channel byte and raw data)."""
    status: bool
    """v4 and later: channel 3 carries a ``Status`` document; earlier: only a failure's message."""


PROTOCOLS: dict[str, ChannelProtocol] = {
    p.name: p
    for p in (
        ChannelProtocol("v5.channel.k8s.io", base64=False, status=True),
        ChannelProtocol("v4.channel.k8s.io", base64=False, status=True),
        ChannelProtocol("v4.base64.channel.k8s.io", base64=True, status=True),
        ChannelProtocol("channel.k8s.io", base64=False, status=False),
        ChannelProtocol("base64.channel.k8s.io", base64=True, status=False),
    )
}
_UNNAMED = ChannelProtocol("", base64=False, status=False)
"""A client that offers no subprotocol gets the original binary channel protocol, and no header naming it."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the simulated command did."""

    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class ExecSession:
    """An exec request the server accepted: the ``101`` headers, then the messages of the whole session."""

    headers: dict[str, str]
    messages: tuple[tuple[int, bytes], ...]
    """``(opcode, payload)`` of each WebSocket message, in order."""

    def run(self, connection: socket.socket, rfile: BufferedIOBase, *, linger: float = 2.0) -> None:
        """Send every message and a normal close, then wait up to ``linger`` s for the client's close.

        Pings are answered meanwhile; anything else the client sends (stdin, the
        v5 close signal, resizes) is read and dropped.
        """
        for opcode, payload in self.messages:
            connection.sendall(_frame(opcode, payload))
        connection.sendall(_frame(_CLOSE, (1000).to_bytes(2, "big")))
        connection.settimeout(linger)
        with contextlib.suppress(OSError, ValueError):
            while (frame := _read_frame(rfile)) is not None and frame[0] != _CLOSE:
                if frame[0] == _PING:
                    connection.sendall(_frame(_PONG, frame[1]))


def open_session(
    store: Store, query: Mapping[str, list[str]], headers: Mapping[str, str], *, namespace: str, name: str
) -> ExecSession:
    """Check an exec request like the apiserver and kubelet (raising their 404/400) and prepare its session."""
    pod = store.get("pods", name, namespace=namespace)
    container = _container(pod, _last(query, "container"))
    _require_running(pod, container)
    stdin, stdout, stderr, tty = (_flag(query, key, default) for key, default in _STREAMS)
    if not (stdin or stdout or stderr):
        raise errors.BadRequest("you must specify at least 1 of stdin, stdout, stderr")
    command = query.get("command") or []
    if not command:
        raise errors.BadRequest("you must specify at least one command for the container")
    protocol, response_headers = _handshake(headers)
    result = simulate(store, pod, command)
    out, err = (result.stdout + result.stderr, "") if tty else (result.stdout, result.stderr)
    messages = []
    if stdout and out:
        messages.append(_message(protocol, STDOUT, out.encode()))
    if stderr and err:
        messages.append(_message(protocol, STDERR, err.encode()))
    status = _status(command, result.exit_code)
    if protocol.status:
        messages.append(_message(protocol, ERROR, json.dumps(status, separators=(",", ":")).encode()))
    elif result.exit_code:
        messages.append(_message(protocol, ERROR, str(status["message"]).encode()))
    return ExecSession(response_headers, tuple(messages))


def simulate(store: Store, pod: Mapping[str, Any], command: list[str]) -> CommandResult:
    """The result of ``command`` in ``pod``, from the pod's (or its controller's template's) annotations."""
    annotations = {**_template_annotations(store, pod), **(pod["metadata"].get("annotations") or {})}
    raw_code = annotations.get(EXIT_CODE_ANNOTATION, "0")
    try:
        exit_code = int(raw_code)
    except ValueError:
        exit_code = -1
    if not 0 <= exit_code <= 255:
        raise errors.InternalError(f"{EXIT_CODE_ANNOTATION}: {raw_code!r} is not an exit code (0-255)")
    stdout = annotations.get(STDOUT_ANNOTATION, f"{' '.join(command)} ok\n")
    return CommandResult(exit_code, str(stdout), str(annotations.get(STDERR_ANNOTATION, "")))


def _last(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[-1] if values else None


def _flag(query: Mapping[str, list[str]], key: str, default: bool) -> bool:
    value = _last(query, key)
    if value is None:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.BadRequest(f'{key}: invalid value "{value}": strconv.ParseBool: invalid syntax')


def _container(pod: Mapping[str, Any], container: str | None) -> str:
    """The addressed container, refused as ``streamLocation`` in ``pkg/registry/core/pod/strategy.go`` does."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    names = [str(c.get("name", "")) for c in spec.get("containers") or []]
    if not container:
        if len(names) == 1:
            return names[0]
        if not names:
            raise errors.BadRequest(f"a container name must be specified for pod {name}")
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        init_names = [str(c.get("name", "")) for c in spec.get("initContainers") or []]
        if init_names:
            message += f" or one of the init containers: [{' '.join(init_names)}]"
        raise errors.BadRequest(message)
    if container not in names:
        raise errors.BadRequest(f"container {container} is not valid for pod {name}")
    return container


def _require_running(pod: Mapping[str, Any], container: str) -> None:
    """The pod is Running and, when its status lists the container, the container is running (ready or not)."""
    status = pod.get("status") or {}
    statuses = [s for s in status.get("containerStatuses") or [] if s.get("name") == container]
    running = status.get("phase") == "Running" and all("running" in (s.get("state") or {}) for s in statuses)
    if not running:
        raise errors.BadRequest(f'container not running ("{container}")')


def _handshake(headers: Mapping[str, str]) -> tuple[ChannelProtocol, dict[str, str]]:
    """The negotiated protocol and the ``101`` headers; 400 for anything but a valid WebSocket upgrade."""
    lowered = {key.lower(): value for key, value in headers.items()}
    upgrade = lowered.get("upgrade", "").strip().lower()
    if upgrade.startswith("spdy"):
        raise errors.BadRequest(
            "the emulator speaks WebSocket only, not SPDY: use a client that offers "
            f"{', '.join(PROTOCOLS)} (kubectl 1.30 or later, kubernetes.stream)"
        )
    connection = {token.strip().lower() for token in lowered.get("connection", "").split(",")}
    if upgrade != "websocket" or "upgrade" not in connection:
        raise errors.BadRequest("Upgrade request required")
    key = lowered.get("sec-websocket-key", "").strip()
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        valid_key = False
    if not valid_key or lowered.get("sec-websocket-version", "").strip() != "13":
        raise errors.BadRequest("invalid WebSocket handshake: a 16-byte Sec-WebSocket-Key and version 13 are required")
    offered = [p.strip() for p in lowered.get("sec-websocket-protocol", "").split(",") if p.strip()]
    protocol = _UNNAMED if not offered else next((PROTOCOLS[p] for p in offered if p in PROTOCOLS), None)
    if protocol is None:
        raise errors.BadRequest(
            f"requested protocol(s) are not supported: [{' '.join(offered)}]; supports [{' '.join(PROTOCOLS)}]"
        )
    accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455 mandates SHA-1
    response = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept}
    if protocol.name:
        response["Sec-WebSocket-Protocol"] = protocol.name
    return protocol, response


def _status(command: list[str], exit_code: int) -> dict[str, Any]:
    """The kubelet's ``Status`` for an ended command (no kind or apiVersion: it is marshalled bare)."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f"command terminated with non-zero exit code: error executing command [{' '.join(command)}], "
            f"exit code {exit_code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def _template_annotations(store: Store, pod: Mapping[str, Any]) -> dict[str, Any]:
    """The annotations of the pod template of the pod's controller (Deployment, StatefulSet, ReplicaSet, Job…)."""
    metadata = pod["metadata"]
    references = metadata.get("ownerReferences") or []
    owner = next((r for r in references if r.get("controller")), references[0] if references else None)
    if owner is None:
        return {}
    rt = store.registry.by_kind(str(owner.get("apiVersion", "")), str(owner.get("kind", "")))
    if rt is None:
        return {}
    try:
        controller = store.get(rt, str(owner.get("name", "")), namespace=metadata.get("namespace"))
    except errors.KubeApiError:
        return {}
    template = (controller.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("annotations") or {})


def _message(protocol: ChannelProtocol, channel: int, data: bytes) -> tuple[int, bytes]:
    if protocol.base64:
        return _TEXT, str(channel).encode() + base64.b64encode(data)
    return _BINARY, bytes([channel]) + data


def _frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (servers never mask)."""
    size = len(payload)
    if size < 126:
        header = bytes([0x80 | opcode, size])
    elif size < 1 << 16:
        header = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
    return header + payload


def _read_frame(rfile: BufferedIOBase) -> tuple[int, bytes] | None:
    """The next frame from the client (unmasked), or ``None`` at end of stream or on an oversized frame."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size >= 126:
        size = int.from_bytes(rfile.read(2 if size == 126 else 8), "big")
    if size > _MAX_CLIENT_FRAME:
        return None
    mask = rfile.read(4) if head[1] & 0x80 else b""
    payload = rfile.read(size)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload
