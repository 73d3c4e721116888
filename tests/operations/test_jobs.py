"""One-off Jobs against the sandbox's WorkloadSimulator (which finishes Jobs, or fails the annotated ones).

Aspects: the manifest's shape; a Job run to success and to failure (a result,
not an exception); running the same Job again waits for the existing one;
a Job nobody runs times out naming it; deletion.
"""

from __future__ import annotations

import pytest

from drd.clients.kube_resources import JOBS
from drd.operations import jobs, waiting
from drd.sandbox.workloads import JOB_FAILS_ANNOTATION

NS = "shop"


def a_check(name: str = "row-count", *, fails: bool = False) -> dict:
    return jobs.job_manifest(
        name,
        image="postgres:16.4",
        command=["psql", "-c", "select count(*) from orders"],
        env={"PGHOST": "postgres"},
        labels={"drd.dev/run": "run-1"},
        annotations={JOB_FAILS_ANNOTATION: "true"} if fails else None,
    )


def test_job_manifest_runs_the_command_once_without_restarts():
    """The Job runs one container with the command and env, never restarts it, and carries the labels."""
    manifest = jobs.job_manifest(
        "check", image="busybox", command=["true"], env={"A": "1"}, backoff_limit=2, active_deadline_seconds=60
    )
    spec = manifest["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    assert (manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"]) == ("batch/v1", "Job", "check")
    assert container == {"name": "main", "image": "busybox", "command": ["true"], "env": [{"name": "A", "value": "1"}]}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (2, 60)
    assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "drd"
    assert spec["template"]["metadata"]["labels"] == manifest["metadata"]["labels"]


def test_a_job_that_succeeds_is_a_successful_result(primary):
    """run_job waits for the Complete condition and reports success."""
    result = jobs.run_job(primary, a_check(), namespace=NS, timeout_seconds=10)
    assert (result.name, result.succeeded, result.message) == ("row-count", True, "")
    assert {"type": "Complete", "status": "True", "reason": "", "message": ""} in result.conditions


def test_a_job_that_fails_is_a_failed_result_not_an_exception(primary):
    """A Job the simulator fails comes back succeeded=False with its Failed condition."""
    result = jobs.run_job(primary, a_check("broken", fails=True), namespace=NS, timeout_seconds=10)
    assert result.succeeded is False
    assert result.message == "failed"
    assert [c["type"] for c in result.conditions] == ["Failed"]


def test_running_the_same_job_again_waits_for_the_existing_one(primary):
    """A second run_job of the same name makes no new Job: it returns the first one's result."""
    first = jobs.run_job(primary, a_check(), namespace=NS, timeout_seconds=10)
    uid = primary.get(JOBS, "row-count", namespace=NS)["metadata"]["uid"]
    again = jobs.run_job(primary, a_check(), namespace=NS, timeout_seconds=10)
    assert again == first
    assert primary.get(JOBS, "row-count", namespace=NS)["metadata"]["uid"] == uid


def test_a_job_that_never_finishes_times_out_naming_it(bare):
    """Without a Job controller, run_job raises WaitTimedOut naming the job and its namespace."""
    with pytest.raises(waiting.WaitTimedOut, match='waiting for job "row-count" in namespace default to finish'):
        jobs.run_job(bare, a_check(), namespace="default", timeout_seconds=0.3)


def test_job_result_reads_reason_and_message_of_a_failure():
    """The message of a failed Job is its Failed condition's reason and message; a running Job has no result."""
    job = {
        "metadata": {"name": "j"},
        "status": {
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                },
            ]
        },
    }
    result = jobs.job_result(job)
    assert result is not None
    assert result.message == "BackoffLimitExceeded: Job has reached the specified backoff limit"
    assert jobs.job_result({"metadata": {"name": "j"}, "status": {"active": 1}}) is None


def test_deleting_a_job_is_true_once_and_false_when_absent(primary):
    """delete_job removes the Job and answers False when there is none."""
    jobs.run_job(primary, a_check(), namespace=NS, timeout_seconds=10)
    assert jobs.delete_job(primary, "row-count", namespace=NS) is True
    assert jobs.delete_job(primary, "row-count", namespace=NS) is False
