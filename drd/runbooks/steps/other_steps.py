"""Checks, Jobs and Vault: ``check.http``, ``check.tcp``, ``check.prometheus``, ``job.run``, ``vault.read``,
``vault.write``."""

from __future__ import annotations

from typing import Any

from drd.clients.prometheus import PrometheusClient
from drd.errors import PermanentError, VerificationFailed
from drd.operations import checks, jobs, metric_gate, secrets
from drd.operations.checks import CheckResult
from drd.operations.metric_gate import Verdict
from drd.runbooks.engine.actions import ActionResult, PlannedStep, StepCall
from drd.runbooks.engine.planner import PLAN_RUN_ID
from drd.runbooks.steps.kube_steps import OWNER_LABEL


def _verdict(result: CheckResult) -> ActionResult:
    if not result.passed:
        raise VerificationFailed(f"{result.name}: {result.detail}")
    return ActionResult({**dict(result.observed), "detail": result.detail, "latencyMs": round(result.duration_ms, 1)})


class HttpCheck:
    """An HTTP GET/HEAD answers as expected: a URL, or a Service through the API server's proxy."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        timeout = min(call.timeout_seconds, 30.0)
        if i.url:
            result = checks.http_check(
                url=i.url, method=i.method, expect_status=i.expect_status, contains=i.contains, timeout=timeout
            )
        else:
            result = checks.http_check(
                kube=call.env.kube(i.cluster),
                namespace=i.namespace,
                service=i.service,
                port=i.port,
                path=i.path or "/",
                method=i.method,
                expect_status=i.expect_status,
                contains=i.contains,
                timeout=timeout,
            )
        return _verdict(result)

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        where = i.url or f"service {i.namespace}/{i.service}:{i.port}{i.path or '/'} in {i.cluster}"
        return PlannedStep("simulated", f"would {i.method} {where} expecting {i.expect_status}")


class TcpCheck:
    """A TCP connection is accepted."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        return _verdict(checks.tcp_check(i.host, int(i.port), timeout=min(call.timeout_seconds, 30.0)))

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("simulated", f"would connect to {i.host}:{i.port}")


class PrometheusCheck:
    """A metric gate: a PromQL query sampled ``samples`` times ``interval`` apart; passed, failed or inconclusive.

    A failed verdict, and an inconclusive one unless ``onInconclusive: report``,
    fail the step *with* its outputs (the values per sample are the evidence),
    so the step's ``onFailure`` decides what happens next (``pause`` waits for
    an operator). In a dry run one sample is taken and judged, with no waiting.
    """

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        url = i.url or call.env.prometheus_url
        if not url:
            raise PermanentError("Prometheus is not configured: set DRD_PROMETHEUS_URL or give the step a url")
        dry_run = call.run_id == PLAN_RUN_ID
        samples = 1 if dry_run else i.samples
        interval = i.interval.total_seconds()
        if (samples - 1) * interval > call.timeout_seconds:
            raise PermanentError(
                f"{samples} samples {interval:g}s apart take {(samples - 1) * interval:g}s, more than the step's "
                f"timeout of {call.timeout_seconds:g}s: raise the step's timeout or take fewer samples"
            )
        client = PrometheusClient(url, timeout_seconds=min(call.timeout_seconds, 30.0))
        try:
            result = metric_gate.measure(
                lambda: client.query(i.query),
                pass_if=i.pass_if,
                fail_if=i.fail_if,
                samples=samples,
                interval_seconds=interval,
                clock=call.env.clock,
            )
        finally:
            client.close()
        reason = f"dry run, one sample: {result.reason}" if dry_run else result.reason
        outputs = {"verdict": str(result.verdict), "reason": reason, "values": result.values(), "query": i.query}
        if result.verdict is Verdict.FAILED:
            return ActionResult(outputs, failure=f"metric gate failed: {reason}")
        if result.verdict is Verdict.INCONCLUSIVE and i.on_inconclusive == "fail":
            return ActionResult(outputs, failure=f"metric gate inconclusive (not a pass): {reason}")
        return ActionResult(outputs)

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("executed", f"samples {i.query!r} once against passIf {i.pass_if}, failIf {i.fail_if}")


class RunJob:
    """A Job named by the step key runs to completion (adopted after a crash); failure fails the step."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        manifest = jobs.job_manifest(
            call.key,
            image=i.image,
            command=list(i.command),
            env=dict(i.env or {}),
            backoff_limit=i.backoff_limit,
            labels={OWNER_LABEL: call.run_id.lower()},
            active_deadline_seconds=max(1, int(call.timeout_seconds)),
        )
        result = jobs.run_job(
            call.env.kube(i.cluster), manifest, namespace=i.namespace, timeout_seconds=call.timeout_seconds
        )
        if not result.succeeded:
            raise VerificationFailed(f"job {result.name} in {i.cluster}/{i.namespace} failed: {result.message}")
        return ActionResult({"name": result.name, "succeeded": True})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep(
            "not executed",
            f"would run {i.image} {' '.join(i.command)}",
            (f"create Job {i.namespace}/{call.key} in {i.cluster}",),
        )


class VaultRead:
    """Read a KV v2 secret field; its value is secret (masked everywhere, never stored)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        if not i.field:
            raise PermanentError("vault.read needs a field: secrets are read one field at a time")
        value = secrets.read_secret(call.env.vault(), i.path, field=i.field, mount=i.mount)
        return ActionResult({"value": value.reveal(), "version": value.version}, secret=frozenset({"value"}))

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("executed", f"reads {i.mount}/{i.path}")


class VaultWrite:
    """Write a new version of a KV v2 secret."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        version = secrets.write_secret(call.env.vault(), i.path, dict(i.data), mount=i.mount)
        return ActionResult({"version": version})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("not executed", f"would write a new version of {i.mount}/{i.path}", (f"write {i.path}",))
