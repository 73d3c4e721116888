"""The sandbox's promise, end to end: `drd sandbox up --dir`, then kubectl and boto3 from outside do a DR round trip.

Runs drd as a separate process, reads the env file it writes, and drives
everything with the real kubectl and boto3 (the way a person with `source
sb/env` would): back up in the primary, watch it complete, find the tarball,
see it synced in the DR cluster, restore it there into a mapped namespace and
find the application with Velero's labels.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

DRD = str(Path(sys.executable).with_name("drd"))


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0]
    return values


@pytest.fixture(scope="module")
def running_sandbox(tmp_path_factory) -> Iterator[dict[str, str]]:
    """`drd sandbox up --dir DIR` as a child process, until SIGTERM."""
    directory = tmp_path_factory.mktemp("sb")
    process = subprocess.Popen(
        [DRD, "sandbox", "up", "--dir", str(directory)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if "sandbox ready" in line:
            break
    else:
        pytest.fail("drd sandbox up exited before it was ready:\n" + "".join(output))
    env = {**os.environ, **read_env(directory / "env")}
    yield env
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    process.stdout.close()


def kubectl(env: dict[str, str], context: str, *args: str, input_text: str | None = None) -> str:
    result = subprocess.run(
        ["kubectl", "--context", context, "--request-timeout=10s", *args],
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_env_file_points_every_client_at_the_sandbox(running_sandbox):
    """The env file exports drd's config and state, KUBECONFIG, the S3 endpoint and Vault's address."""
    for name in ("DRD_CONFIG", "DRD_STATE", "KUBECONFIG", "AWS_ENDPOINT_URL", "VAULT_ADDR", "VAULT_TOKEN"):
        assert running_sandbox[name]
    contexts = kubectl(running_sandbox, "primary-east", "config", "get-contexts", "-o", "name").split()
    assert sorted(contexts) == ["canary-east", "dr-west", "primary-east"]


def test_written_config_validates(running_sandbox):
    """DIR/config holds an inventory and policies that `drd policies validate` accepts."""
    result = subprocess.run(
        [DRD, "policies", "validate"], env=running_sandbox, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_backup_and_cross_region_restore_with_kubectl_and_boto3(running_sandbox):
    """kubectl creates and watches a Backup, boto3 finds the tarball, kubectl restores it in the DR cluster."""
    env = running_sandbox
    backup = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": "kubectl-backup", "namespace": "velero"},
        "spec": {"includedNamespaces": ["shop"]},
    }
    kubectl(env, "primary-east", "apply", "-f", "-", input_text=json.dumps(backup))
    watch = subprocess.Popen(
        [
            "kubectl",
            "--context",
            "primary-east",
            "-n",
            "velero",
            "get",
            "backups.velero.io",
            "kubectl-backup",
            "-w",
            "-o",
            'jsonpath={.status.phase}{"\\n"}',
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert watch.stdout is not None
    phases = []
    deadline = time.monotonic() + 30
    for line in watch.stdout:
        phases.append(line.strip())
        if line.strip() == "Completed" or time.monotonic() > deadline:
            break
    watch.terminate()
    watch.wait(timeout=10)
    watch.stdout.close()
    assert phases[-1] == "Completed"

    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket="drd-backups-us-east-1", Prefix="primary-east/backups/kubectl-backup/")[
            "Contents"
        ]
    ]
    assert "primary-east/backups/kubectl-backup/kubectl-backup.tar.gz" in keys

    synced = wait_for(
        lambda: json.loads(kubectl(env, "dr-west", "-n", "velero", "get", "backups.velero.io", "-o", "json"))["items"]
    )
    assert [b["metadata"]["name"] for b in synced] == ["kubectl-backup"]

    restore = {
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": {"name": "kubectl-restore", "namespace": "velero"},
        "spec": {"backupName": "kubectl-backup", "namespaceMapping": {"shop": "shop-restored"}},
    }
    kubectl(env, "dr-west", "apply", "-f", "-", input_text=json.dumps(restore))
    wait_for(
        lambda: (
            kubectl(
                env,
                "dr-west",
                "-n",
                "velero",
                "get",
                "restores.velero.io",
                "kubectl-restore",
                "-o",
                "jsonpath={.status.phase}",
            )
            == "Completed"
        )
    )
    deployments = json.loads(
        kubectl(
            env,
            "dr-west",
            "-n",
            "shop-restored",
            "get",
            "deployments",
            "-l",
            "velero.io/restore-name=kubectl-restore",
            "-o",
            "json",
        )
    )["items"]
    assert {d["metadata"]["name"] for d in deployments} >= {"storefront", "checkout"}
    assert all(d["metadata"]["labels"]["velero.io/backup-name"] == "kubectl-backup" for d in deployments)
    table = kubectl(env, "dr-west", "-n", "velero", "get", "backups.velero.io")
    assert "kubectl-backup" in table


def test_backup_with_the_official_python_client_and_its_watch(running_sandbox):
    """CustomObjectsApi creates a Backup, watch.Watch().stream sees it reach Completed, then it syncs to dr-west."""
    from kubernetes import client, config, watch

    primary = client.CustomObjectsApi(
        config.new_client_from_config(config_file=running_sandbox["KUBECONFIG"], context="primary-east")
    )
    body = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": "python-backup"},
        "spec": {"includedNamespaces": ["catalog"]},
    }
    primary.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", body)
    phase = None
    for event in watch.Watch().stream(
        primary.list_namespaced_custom_object,
        "velero.io",
        "v1",
        "velero",
        "backups",
        field_selector="metadata.name=python-backup",
        timeout_seconds=30,
        _request_timeout=40,
    ):
        phase = (event["object"].get("status") or {}).get("phase")
        if phase == "Completed":
            break
    assert phase == "Completed"
    dr = client.CustomObjectsApi(
        config.new_client_from_config(config_file=running_sandbox["KUBECONFIG"], context="dr-west")
    )
    synced = wait_for(
        lambda: any(
            b["metadata"]["name"] == "python-backup"
            for b in dr.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")["items"]
        )
    )
    assert synced
