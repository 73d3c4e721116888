"""One-off Jobs (data checks after a restore, runbook tasks): build, run to completion, delete.

:func:`run_job` is idempotent by name: after a crash, running the same
manifest again finds the Job already made and waits for it rather than
running the check twice. A Job is finished when the Job controller sets its
``Complete`` or ``Failed`` condition (``backoffLimit`` retries are the
controller's business, not drd's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drd.clients.errors import KubeAlreadyExists, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import JOBS
from drd.clock import Clock
from drd.errors import TemporaryError
from drd.operations import labels as drd_labels
from drd.operations import waiting

CONTAINER_NAME = "main"
"""The name of the single container of a Job built by :func:`job_manifest`."""


class JobBeingDeleted(TemporaryError):
    """A Job of that name is being deleted; it can be run again once it is gone."""


class JobGone(KubeNotFound):
    """The Job being waited for was deleted (or never existed)."""


@dataclass(frozen=True, slots=True)
class JobResult:
    """How a Job ended."""

    name: str
    succeeded: bool
    conditions: tuple[dict[str, str], ...]
    """Its status conditions (type, status, reason, message), as the controller left them."""
    message: str
    """Why it failed (the Failed condition's reason and message); empty on success."""


def job_manifest(
    name: str,
    *,
    image: str,
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    backoff_limit: int = 0,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    active_deadline_seconds: int | None = None,
) -> dict[str, Any]:
    """A ``batch/v1`` Job running ``command`` once in ``image`` (``restartPolicy: Never``).

    ``labels`` go on the Job and its pods, with drd's managed-by label;
    ``active_deadline_seconds`` makes Kubernetes itself stop a Job that runs too long.
    """
    all_labels = {drd_labels.MANAGED_BY: drd_labels.MANAGER, **(labels or {})}
    container: dict[str, Any] = {"name": CONTAINER_NAME, "image": image, "command": list(command)}
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    spec: dict[str, Any] = {
        "backoffLimit": backoff_limit,
        "template": {
            "metadata": {"labels": dict(all_labels)},
            "spec": {"restartPolicy": "Never", "containers": [container]},
        },
    }
    if active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = active_deadline_seconds
    metadata: dict[str, Any] = {"name": name, "labels": all_labels}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def run_job(
    kube: KubeClient,
    manifest: Mapping[str, Any],
    *,
    namespace: str,
    timeout_seconds: float,
    clock: Clock | None = None,
) -> JobResult:
    """Create the Job (or find the one of that name) and watch it until Complete or Failed.

    A failed Job is a result (``succeeded=False``), not an exception. Raises
    :class:`JobGone` if it is deleted meanwhile, :class:`JobBeingDeleted` if
    one of that name is on its way out, and
    :class:`~drd.operations.waiting.WaitTimedOut` after ``timeout_seconds``.
    """
    name = str(manifest["metadata"]["name"])
    try:
        kube.create(JOBS, manifest, namespace=namespace)
    except KubeAlreadyExists:
        existing = kube.find(JOBS, name, namespace=namespace)
        if existing is None:  # deleted since: run it now
            kube.create(JOBS, manifest, namespace=namespace)
        elif existing["metadata"].get("deletionTimestamp"):
            raise JobBeingDeleted(
                f'{kube.system}: job "{name}" in namespace {namespace} is being deleted; run it again once gone',
                delay=5.0,
            ) from None

    def finished(job: dict[str, Any] | None) -> JobResult | None:
        if job is None:
            raise JobGone(f'job "{name}" not found in namespace {namespace}', system=kube.system, status=404)
        return job_result(job)

    return waiting.wait_for(
        kube,
        JOBS,
        name,
        namespace=namespace,
        until=finished,
        timeout_seconds=timeout_seconds,
        what=f'job "{name}" in namespace {namespace} to finish',
        clock=clock,
    )


def job_result(job: Mapping[str, Any]) -> JobResult | None:
    """The result of a finished Job, or None while it runs."""
    conditions = tuple(
        {key: str(c.get(key) or "") for key in ("type", "status", "reason", "message")}
        for c in (job.get("status") or {}).get("conditions") or []
        if isinstance(c, Mapping)
    )
    final = {c["type"]: c for c in conditions if c["status"] == "True" and c["type"] in ("Complete", "Failed")}
    if not final:
        return None
    name = str((job.get("metadata") or {}).get("name") or "")
    failed = final.get("Failed")
    if failed is not None:
        message = ": ".join(part for part in (failed["reason"], failed["message"]) if part) or "failed"
        return JobResult(name=name, succeeded=False, conditions=conditions, message=message)
    return JobResult(name=name, succeeded=True, conditions=conditions, message="")


def delete_job(kube: KubeClient, name: str, *, namespace: str) -> bool:
    """Delete the Job and its pods (background propagation); False when it was already gone."""
    try:
        kube.delete(JOBS, name, namespace=namespace, propagation="Background")
    except KubeNotFound:
        return False
    return True
