"""The ``pods/<name>/log`` subresource: plain text the official client and drd's client can read.

Aspects: the official client's ``read_namespaced_pod_log`` gets lines derived
from the pod; ``tailLines`` keeps the last lines (a negative one is a 422); the
kubelet's refusals (a container must be chosen, an unknown container, a
container not started yet) are 400s; discovery lists ``pods/log``; drd's
``KubeClient.get_text`` reads it.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import PODS
from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import status_of


def a_pod(name: str = "web-0", *, containers: tuple[str, ...] = ("app",), started: bool = True) -> dict[str, Any]:
    """A pod on node-1; its containers are running and ready unless not ``started``."""
    pod: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": c, "image": f"example/{c}:1.0", "ports": [{"containerPort": 8080}]} for c in containers
            ],
        },
    }
    return pod if not started else pod | {"status": _running(containers)}


def _running(containers: tuple[str, ...]) -> dict[str, Any]:
    at = "2026-06-01T10:00:00Z"
    statuses = [{"name": c, "ready": True, "state": {"running": {"startedAt": at}}} for c in containers]
    return {"phase": "Running", "startTime": at, "containerStatuses": statuses}


def create_pod(emu: KubeEmulator, pod: dict[str, Any]) -> None:
    status = pod.pop("status", None)
    emu.store.create("pods", pod, namespace="default")
    if status:
        emu.store.patch("pods", pod["metadata"]["name"], {"status": status}, namespace="default", subresource="status")


def test_the_official_client_reads_lines_derived_from_the_pod(emu: KubeEmulator, core: client.CoreV1Api):
    """read_namespaced_pod_log returns a start line naming the image and node, a port line and a ready line."""
    create_pod(emu, a_pod())
    text = core.read_namespaced_pod_log("web-0", "default")
    lines = text.splitlines()
    assert len(lines) == 3
    assert "starting example/app:1.0 as container app of pod default/web-0 on node node-1" in lines[0]
    assert lines[1].endswith("listening on :8080/tcp")
    assert lines[2].endswith("ready to serve requests")


def test_tail_lines_keeps_the_last_lines(emu: KubeEmulator, core: client.CoreV1Api):
    """tailLines=1 returns only the last line."""
    create_pod(emu, a_pod())
    text = core.read_namespaced_pod_log("web-0", "default", tail_lines=1)
    assert text.splitlines() == [text.strip()]
    assert text.strip().endswith("ready to serve requests")


def test_negative_tail_lines_are_invalid(emu: KubeEmulator, core: client.CoreV1Api):
    """tailLines=-1 is a 422 naming the field, as the apiserver's PodLogOptions validation reports it."""
    create_pod(emu, a_pod())
    with pytest.raises(client.ApiException) as raised:
        core.read_namespaced_pod_log("web-0", "default", tail_lines=-1)
    assert (raised.value.status, status_of(raised.value)["message"]) == (
        422,
        'PodLogOptions "web-0" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
    )


def test_a_pod_with_several_containers_needs_one_named(emu: KubeEmulator, core: client.CoreV1Api):
    """Without container, a two-container pod is a 400 listing the choices; naming one works."""
    create_pod(emu, a_pod(containers=("app", "sidecar")))
    with pytest.raises(client.ApiException) as raised:
        core.read_namespaced_pod_log("web-0", "default")
    assert raised.value.status == 400
    assert status_of(raised.value)["message"] == (
        "a container name must be specified for pod web-0, choose one of: [app sidecar]"
    )
    assert "container sidecar of pod" in core.read_namespaced_pod_log("web-0", "default", container="sidecar")


def test_an_unknown_or_unstarted_container_has_no_log(emu: KubeEmulator, core: client.CoreV1Api):
    """An unknown container and a container still being created are both 400s with the kubelet's words."""
    create_pod(emu, a_pod("waiting", started=False))
    with pytest.raises(client.ApiException) as waiting:
        core.read_namespaced_pod_log("waiting", "default")
    assert status_of(waiting.value)["message"] == (
        'container "app" in pod "waiting" is waiting to start: ContainerCreating'
    )
    with pytest.raises(client.ApiException) as unknown:
        core.read_namespaced_pod_log("waiting", "default", container="nope")
    assert (unknown.value.status, status_of(unknown.value)["message"]) == (
        400,
        "container nope is not valid for pod waiting",
    )


def test_discovery_lists_the_log_subresource(core: client.CoreV1Api):
    """/api/v1 lists pods/log with the get verb."""
    resources = {r.name: r for r in core.get_api_resources().resources}
    assert resources["pods/log"].verbs == ["get"]


def test_drd_client_reads_text_through_get_text(emu: KubeEmulator):
    """KubeClient.get_text returns the log as a str and passes tailLines through; None parameters are left out."""
    create_pod(emu, a_pod())
    kube = KubeClient.from_api_url(emu.url, cluster="logs")
    try:
        path = PODS.path(namespace="default", name="web-0", subresource="log")
        assert kube.get_text(path, {"tailLines": "2", "container": None}).splitlines()[0].endswith("/tcp")
    finally:
        kube.close()
