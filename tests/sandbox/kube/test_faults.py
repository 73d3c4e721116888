"""Fault injection: error rates, throttling, latency, scripted failures, and the API going down.

Aspects: a seeded error rate fails the same requests on every run; 429 carries
Retry-After; latency delays responses; ``fail_next`` scripts exact failures and can
target paths; ``go_down`` refuses connections and cuts watches, and ``come_up``
serves again on the same port with the same state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import urllib3
from kubernetes import client, watch

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import api_client_for, raw_request


def _outcomes(emu: KubeEmulator, count: int) -> list[int]:
    return [raw_request(emu, "GET", "/api/v1/namespaces/default").status for _ in range(count)]


def test_error_rate_fails_about_that_fraction(emu: KubeEmulator):
    """error_rate=0.5 fails roughly half of 200 requests with the chosen status."""
    emu.set_faults(error_rate=0.5, status=500)
    outcomes = _outcomes(emu, 200)
    assert {200, 500} == set(outcomes)
    assert 70 < outcomes.count(500) < 130


def test_error_rate_is_deterministic_for_a_seed():
    """Two emulators with the same seed fail the same requests of a single-threaded sequence."""
    runs = []
    for _ in range(2):
        with KubeEmulator(seed=42) as emu:
            emu.set_faults(error_rate=0.3)
            runs.append(_outcomes(emu, 40))
    assert runs[0] == runs[1]


def test_injected_503_is_a_status_with_retry_after(emu: KubeEmulator):
    """A 503 fault answers a ServiceUnavailable Status and a Retry-After header."""
    emu.set_faults(error_rate=1.0, status=503, retry_after=2)
    response = raw_request(emu, "GET", "/api/v1/namespaces/default")
    assert (
        response.status,
        response.body["reason"],
        response.headers["retry-after"],
    ) == (503, "ServiceUnavailable", "2")


@pytest.fixture
def no_retry_core(emu: KubeEmulator) -> Iterator[client.CoreV1Api]:
    """CoreV1Api with urllib3 retries off, so injected failures reach the caller as they are."""
    configuration = client.Configuration()
    configuration.host = emu.url
    configuration.retries = False
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def test_injected_429_is_too_many_requests_with_retry_after(emu: KubeEmulator, no_retry_core: client.CoreV1Api):
    """A 429 fault reaches the client as ApiException 429 with Retry-After."""
    emu.set_faults(error_rate=1.0, status=429, retry_after=3)
    with pytest.raises(client.ApiException) as caught:
        no_retry_core.read_namespace("default")
    assert (caught.value.status, caught.value.headers["Retry-After"]) == (429, "3")


def test_injected_500_is_an_internal_error(emu: KubeEmulator, no_retry_core: client.CoreV1Api):
    """A 500 fault reaches the client as ApiException 500 with reason InternalError in the body."""
    emu.set_faults(error_rate=1.0, status=500)
    with pytest.raises(client.ApiException) as caught:
        no_retry_core.list_namespaced_config_map("default")
    assert (caught.value.status, json.loads(caught.value.body)["reason"]) == (500, "InternalError")


def test_default_client_silently_retries_a_503_with_retry_after(emu: KubeEmulator, core: client.CoreV1Api):
    """The official client's urllib3 layer retries 429/503 carrying Retry-After: one injected 503 goes unnoticed."""
    emu.fail_next(1, status=503, retry_after=0)
    assert core.read_namespace("default").metadata.name == "default"
    assert emu.faults.injected == 1


def test_clear_faults_restores_service(emu: KubeEmulator):
    """clear_faults() makes every request succeed again."""
    emu.set_faults(error_rate=1.0)
    emu.clear_faults()
    assert _outcomes(emu, 3) == [200, 200, 200]


def test_faults_can_target_methods(emu: KubeEmulator, core: client.CoreV1Api):
    """With methods={'POST'}, reads succeed while creates fail."""
    emu.set_faults(error_rate=1.0, methods={"POST"})
    assert core.read_namespace("default").metadata.name == "default"
    with pytest.raises(client.ApiException):
        core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})


def test_latency_delays_responses(emu: KubeEmulator, core: client.CoreV1Api):
    """latency=0.2 makes a request take at least 0.2 s."""
    emu.set_faults(latency=0.2)
    started = time.monotonic()
    core.read_namespace("default")
    assert time.monotonic() - started >= 0.2


def test_fail_next_fails_exactly_that_many(emu: KubeEmulator):
    """fail_next(2) fails the next two requests only."""
    emu.fail_next(2, status=500)
    assert _outcomes(emu, 3) == [500, 500, 200]


def test_fail_next_can_target_a_path(velero_emu: KubeEmulator):
    """fail_next with a path pattern spares other requests."""
    velero_emu.fail_next(1, status=503, path_pattern=r"/apis/velero\.io/")
    assert raw_request(velero_emu, "GET", "/api/v1/namespaces").status == 200
    assert raw_request(velero_emu, "GET", "/apis/velero.io/v1/namespaces/velero/backups").status == 503
    assert raw_request(velero_emu, "GET", "/apis/velero.io/v1/namespaces/velero/backups").status == 200


def test_down_refuses_connections(emu: KubeEmulator):
    """While down, a client gets connection errors, not HTTP answers."""
    configuration = client.Configuration()
    configuration.host = emu.url
    configuration.retries = False
    with client.ApiClient(configuration) as api:
        emu.go_down()
        assert not emu.is_up
        with pytest.raises(urllib3.exceptions.HTTPError):
            client.CoreV1Api(api).read_namespace("default", _request_timeout=2)


def test_come_up_serves_the_same_state_on_the_same_port(emu: KubeEmulator, core: client.CoreV1Api):
    """After go_down/come_up the URL is unchanged and earlier objects are still there."""
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    url = emu.url
    emu.go_down()
    emu.come_up()
    assert url == emu.url
    assert core.read_namespaced_config_map("c", "default").metadata.name == "c"


def test_going_down_cuts_open_watches(emu: KubeEmulator):
    """A watch in progress ends with a protocol error when the API goes down."""
    with api_client_for(emu) as api:
        core = client.CoreV1Api(api)
        w = watch.Watch()
        stream = w.stream(core.list_namespaced_config_map, "default", timeout_seconds=30, _request_timeout=30)
        emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
        assert next(iter(stream))["type"] == "ADDED"
        emu.go_down()
        with pytest.raises(urllib3.exceptions.ProtocolError):
            next(iter(stream))
