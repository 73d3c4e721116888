"""``exec_check``: a command run in a ready pod picked by labels, judged by its exit code, over the emulator's exec.

Aspects: a zero exit passes with the output observed; the first Running and
Ready pod is used; no matching pod, or none ready, fails with a detail naming
what was found; an unexpected exit code fails naming expected, got and the
first line of stderr (or stdout); an expected non-zero code passes; the
container defaults as in kubectl (annotation, else first) and an unknown one
fails; an unreachable API server fails; output is redacted; a check that
cannot be made as written is ConfigError.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd import redaction
from drd.clients.kube import KubeClient
from drd.errors import ConfigError
from drd.operations.checks import DEFAULT_CONTAINER_ANNOTATION, exec_check
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.exec import EXIT_CODE_ANNOTATION, STDERR_ANNOTATION, STDOUT_ANNOTATION


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emu:
        emu.store.create("namespaces", {"metadata": {"name": "shop"}})
        yield emu


@pytest.fixture
def kube(emulator: KubeEmulator) -> Iterator[KubeClient]:
    client = KubeClient.from_api_url(emulator.url, cluster="dr-west", timeout_seconds=2)
    yield client
    client.close()


def add_pod(
    emulator: KubeEmulator,
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    containers: tuple[str, ...] = ("db",),
    annotations: dict[str, str] | None = None,
) -> None:
    """A pod labelled app=db in namespace shop, with the status a kubelet would report."""
    pod = {
        "metadata": {"name": name, "labels": {"app": "db"}, "annotations": annotations or {}},
        "spec": {"containers": [{"name": c, "image": "postgres:16.4"} for c in containers]},
    }
    emulator.store.create("pods", pod, namespace="shop")
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    emulator.store.patch("pods", name, {"status": status}, namespace="shop", subresource="status")


def check(kube: KubeClient, **overrides: object):
    arguments: dict[str, object] = {"namespace": "shop", "selector": "app=db", "command": ["pg_isready", "-U", "app"]}
    return exec_check(kube, **(arguments | overrides))


def test_a_zero_exit_passes_with_the_output_observed(emulator, kube):
    add_pod(emulator, "db-0")
    result = check(kube)
    assert (result.passed, result.type, result.name) == (True, "exec", "exec pg_isready in app=db")
    assert result.detail == "pg_isready -U app exited 0 as expected (pod shop/db-0)"
    assert result.observed == {
        "target": "pod shop/db-0 container db on dr-west",
        "exit_code": 0,
        "stdout": "pg_isready -U app ok\n",
        "stderr": "",
    }


def test_the_first_running_and_ready_pod_is_used(emulator, kube):
    add_pod(emulator, "db-0", ready=False)
    add_pod(emulator, "db-1", phase="Pending", ready=False)
    add_pod(emulator, "db-2")
    add_pod(emulator, "db-3")
    assert check(kube).observed["target"] == "pod shop/db-2 container db on dr-west"


def test_no_matching_pod_fails_clearly(kube):
    result = check(kube)
    assert (result.passed, result.detail) == (False, 'no pod matches app=db in namespace "shop" on dr-west')


def test_matching_pods_that_are_not_ready_are_named(emulator, kube):
    add_pod(emulator, "db-0", ready=False)
    add_pod(emulator, "db-1", phase="Pending", ready=False)
    result = check(kube)
    assert not result.passed
    assert result.detail == (
        'none of the 2 pods matching app=db in namespace "shop" on dr-west is Running and Ready '
        "(db-0: Running, not ready; db-1: Pending)"
    )


def test_an_unexpected_exit_code_fails_with_the_first_line_of_stderr(emulator, kube):
    annotations = {EXIT_CODE_ANNOTATION: "2", STDERR_ANNOTATION: "connection refused\nretrying\n"}
    add_pod(emulator, "db-0", annotations=annotations)
    result = check(kube)
    assert (result.passed, result.observed["exit_code"]) == (False, 2)
    assert result.detail == "pg_isready -U app exited 2, expected 0 (pod shop/db-0): connection refused"


def test_without_stderr_the_first_line_of_stdout_explains(emulator, kube):
    add_pod(
        emulator, "db-0", annotations={EXIT_CODE_ANNOTATION: "2", STDOUT_ANNOTATION: "localhost:5432 - no response\n"}
    )
    assert check(kube).detail.endswith("(pod shop/db-0): localhost:5432 - no response")


def test_an_expected_non_zero_exit_code_passes(emulator, kube):
    add_pod(emulator, "db-0", annotations={EXIT_CODE_ANNOTATION: "1"})
    assert check(kube, command=["test", "-e", "/tmp/lock"], expect_exit_code=1).passed


@pytest.mark.parametrize(
    ("annotations", "container", "chosen"),
    [
        ({}, None, "db"),
        ({DEFAULT_CONTAINER_ANNOTATION: "exporter"}, None, "exporter"),
        ({DEFAULT_CONTAINER_ANNOTATION: "gone"}, None, "db"),
        ({}, "exporter", "exporter"),
    ],
    ids=["first", "annotated-default", "annotation-names-no-container", "named"],
)
def test_the_container_defaults_as_in_kubectl(emulator, kube, annotations, container, chosen):
    add_pod(emulator, "db-0", containers=("db", "exporter"), annotations=annotations)
    result = check(kube, container=container)
    assert result.passed
    assert result.observed["target"] == f"pod shop/db-0 container {chosen} on dr-west"


def test_an_unknown_container_fails(emulator, kube):
    add_pod(emulator, "db-0", containers=("db", "exporter"))
    result = check(kube, container="psql")
    assert not result.passed
    assert result.detail == "pod db-0 in namespace \"shop\" on dr-west has no container 'psql' (it has: db, exporter)"


def test_an_unreachable_api_server_fails(emulator, kube):
    emulator.go_down()
    result = check(kube)
    assert not result.passed
    assert result.detail.startswith("could not ask the API server: ")
    assert result.observed["error"] == "KubeUnavailable"


def test_a_refused_exec_fails_with_the_servers_reason(emulator, kube):
    """The API server refusing the exec (here a 503 on the exec request only) is a failed result, not an exception."""
    add_pod(emulator, "db-0")
    emulator.fail_next(1, status=503, path_pattern="/exec")
    result = check(kube)
    assert not result.passed
    assert result.detail.startswith("could not run pg_isready -U app in pod shop/db-0 container db on dr-west: ")
    assert result.observed["target"] == "pod shop/db-0 container db on dr-west"


@pytest.fixture
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget_secrets()
    yield
    redaction.forget_secrets()


@pytest.mark.usefixtures("_no_registered_secrets")
def test_output_is_redacted(emulator, kube):
    redaction.register_secret("s3cr3t-password")
    add_pod(
        emulator, "db-0", annotations={EXIT_CODE_ANNOTATION: "1", STDERR_ANNOTATION: "bad password s3cr3t-password\n"}
    )
    result = check(kube)
    assert "s3cr3t-password" not in result.detail
    assert "s3cr3t-password" not in result.observed["stderr"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"command": []},
        {"command": "pg_isready -U app"},
        {"selector": " "},
        {"expect_exit_code": 256},
        {"timeout": 0},
        {"selector": "app in (db"},
    ],
    ids=["empty-command", "string-command", "empty-selector", "exit-code-range", "timeout", "malformed-selector"],
)
def test_a_check_that_cannot_be_made_is_config_error(kube, overrides):
    with pytest.raises(ConfigError, match="exec check"):
        check(kube, **overrides)
