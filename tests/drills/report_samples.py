"""Drill evidence documents as the store keeps them: a passed drill, one that failed early, a partial one.

Each builder returns a fresh dict, so a test may change it freely.
"""

from __future__ import annotations

from typing import Any

SIX_LEVELS = (
    "Restore integrity",
    "Completeness",
    "Readiness",
    "Checks",
    "RTO within objective",
    "RPO within objective",
)

_PREVIOUS = [
    ("01JZ6X4T0B8M2C7N5QKD3RWF9A", "2026-05-31T02:00:04Z", "passed", 40.2),
    ("01JZ4B9E6H3P7R1S8VTY2KMZ4C", "2026-05-30T02:00:02Z", "passed", 44.9),
    ("01JZ1N2C5F8J4L6Q9XWB7DHT3E", "2026-05-29T02:00:03Z", "failed", 61.7),
    ("01JYZ0A7D3G6K9M2P5RSV8XC1F", "2026-05-28T02:00:05Z", "passed", 38.4),
    ("01JYWD5H8K1N4Q7T0VYB3EGJ6G", "2026-05-27T02:00:02Z", "passed", 41.0),
    ("01JYTQ2E5H8L1P4S7WZC0FJM9H", "2026-05-26T02:00:03Z", "passed", 39.6),
    ("01JYS13B6E9H2K5N8RUX1DGL4J", "2026-05-25T02:00:04Z", "passed", 43.3),
]


def passed_drill() -> dict[str, Any]:
    """Every level passes; teardown deleted the drill namespace; a week of history."""
    return {
        "run": "01JZ8Q3M5V7K2F9XWPR4T6HB1N",
        "policy": "shop-nightly",
        "application": "shop",
        "backupPolicy": "shop",
        "result": "passed",
        "phase": "Completed",
        "trigger": "schedule",
        "requestedBy": "drd-0",
        "startedAt": "2026-06-01T02:00:03Z",
        "finishedAt": "2026-06-01T02:00:50Z",
        "source": {"cluster": "primary-east", "region": "us-east-1"},
        "target": {"cluster": "dr-west", "region": "us-west-2"},
        "failure": None,
        "backup": {
            "name": "shop-20260601010000",
            "phase": "Completed",
            "startedAt": "2026-06-01T01:00:00Z",
            "completedAt": "2026-06-01T01:00:09Z",
            "ageSeconds": 3600.0,
            "storageLocation": "default (s3://drd-backups-east, replicated to us-west-2)",
            "partiallyFailed": False,
        },
        "restore": {
            "name": "drill-shop-01jz8q3m",
            "phase": "Completed",
            "warnings": 0,
            "errors": 0,
            "itemsRestored": 118,
            "totalItems": 118,
            "startedAt": "2026-06-01T02:00:04Z",
            "completedAt": "2026-06-01T02:00:24Z",
            "warningMessages": [],
            "errorMessages": [],
        },
        "namespaces": [{"source": "shop", "drill": "drill-shop-7k2f"}],
        "objects": {"expected": 18, "found": 18, "missing": []},
        "checks": [
            {
                "name": "storefront-healthy",
                "type": "http",
                "passed": True,
                "durationMs": 41.0,
                "detail": "GET /healthz → 200 in 41 ms",
            },
            {
                "name": "checkout-ready",
                "type": "workloadsReady",
                "passed": True,
                "durationMs": 8.0,
                "detail": "Deployment checkout: 2/2 replicas ready",
            },
            {
                "name": "orders-table-has-rows",
                "type": "exec",
                "passed": True,
                "durationMs": 1240.0,
                "detail": "SELECT count(*) FROM orders → 48213 (≥ 1)",
            },
            {
                "name": "postgres-listening",
                "type": "tcp",
                "passed": True,
                "durationMs": 3.0,
                "detail": "postgres.drill-shop-7k2f:5432 accepted a connection",
            },
        ],
        "measurements": {
            "rtoSeconds": 42.1,
            "rpoSeconds": 3600.0,
            "phases": {"restore": 20.5, "verify": 21.6, "teardown": 3.2},
        },
        "objectives": {
            "rto": {"objectiveSeconds": 1800, "achievedSeconds": 42.1, "met": True},
            "rpo": {"objectiveSeconds": 7200, "achievedSeconds": 3600, "met": True},
        },
        "levels": [
            {"level": SIX_LEVELS[0], "status": "pass", "detail": "Restore Completed with 0 errors, 0 warnings"},
            {"level": SIX_LEVELS[1], "status": "pass", "detail": "18 of 18 expected objects present"},
            {"level": SIX_LEVELS[2], "status": "pass", "detail": "3 workloads Ready in 14 s"},
            {"level": SIX_LEVELS[3], "status": "pass", "detail": "4 of 4 checks passed"},
            {"level": SIX_LEVELS[4], "status": "pass", "detail": "42 s of 30 m"},
            {"level": SIX_LEVELS[5], "status": "pass", "detail": "1 h of 2 h"},
        ],
        "score": 100,
        "regressions": [],
        "history": [
            {"run": run, "startedAt": started, "result": result, "rtoSeconds": rto}
            for run, started, result, rto in _PREVIOUS
        ],
        "diagnostics": {
            "events": [
                {
                    "type": "Normal",
                    "reason": "Scheduled",
                    "message": "Successfully assigned drill-shop-7k2f/storefront-0 to dr-west-node-2",
                    "kind": "Pod",
                    "name": "storefront-0",
                    "count": 1,
                    "lastTimestamp": "2026-06-01T02:00:25Z",
                },
                {
                    "type": "Normal",
                    "reason": "Started",
                    "message": "Started container storefront",
                    "kind": "Pod",
                    "name": "storefront-0",
                    "count": 1,
                    "lastTimestamp": "2026-06-01T02:00:31Z",
                },
            ],
            "logs": {
                "drill-shop-7k2f/storefront-0": "\n".join(
                    [
                        "2026-06-01T02:00:31Z INFO  starting storefront 4.12.0",
                        "2026-06-01T02:00:32Z INFO  connected to postgres at postgres:5432",
                        "2026-06-01T02:00:33Z INFO  listening on :8080",
                        "2026-06-01T02:00:44Z INFO  GET /healthz 200 2ms",
                    ]
                )
            },
        },
        "teardown": {
            "status": "deleted",
            "keptUntil": None,
            "namespaces": ["drill-shop-7k2f"],
            "message": "Namespace deleted and gone after 3 s",
        },
        "steps": [
            _step("select-backup", "velero.selectBackup", "2026-06-01T02:00:03Z", "2026-06-01T02:00:04Z"),
            _step("restore", "velero.restore", "2026-06-01T02:00:04Z", "2026-06-01T02:00:24Z"),
            _step("wait-ready", "workloads.waitReady", "2026-06-01T02:00:24Z", "2026-06-01T02:00:38Z"),
            _step("verify", "checks.run", "2026-06-01T02:00:38Z", "2026-06-01T02:00:46Z"),
            _step("teardown", "namespaces.delete", "2026-06-01T02:00:46Z", "2026-06-01T02:00:50Z"),
        ],
    }


def failed_early_drill() -> dict[str, Any]:
    """The restore completed but the workloads never became Ready: an error, no checks, no RTO, namespace kept."""
    drill = passed_drill()
    drill.update(
        run="01JZ8R7W2N5D8G1K4M7P0S3V6Y",
        result="error",
        phase="Failed",
        trigger="cli",
        requestedBy="alice@example.com",
        finishedAt="2026-06-01T02:10:31Z",
        failure={
            "step": "readiness",
            "message": "Deployment drill-shop-7k2f/checkout: 0 of 2 replicas Ready after 10 m: "
            "ImagePullBackOff (registry.dr-west.internal/shop/checkout:4.12.0 not found)",
        },
        objects={"expected": 18, "found": 18, "missing": []},
        checks=None,
        measurements={"rtoSeconds": None, "rpoSeconds": 3600.0, "phases": {"restore": 20.5}},
        objectives={
            "rto": {"objectiveSeconds": 1800, "achievedSeconds": None, "met": None},
            "rpo": {"objectiveSeconds": 7200, "achievedSeconds": 3600, "met": True},
        },
        levels=[
            {"level": SIX_LEVELS[0], "status": "pass", "detail": "Restore Completed with 0 errors"},
            {"level": SIX_LEVELS[1], "status": "pass", "detail": "18 of 18 expected objects present"},
            {"level": SIX_LEVELS[2], "status": "fail", "detail": "checkout: 0/2 Ready after 10 m (ImagePullBackOff)"},
            {"level": SIX_LEVELS[3], "status": "skip", "detail": "Not run: readiness failed"},
            {"level": SIX_LEVELS[4], "status": "skip", "detail": "Not measured"},
            {"level": SIX_LEVELS[5], "status": "pass", "detail": "1 h of 2 h"},
        ],
        score=45,
        diagnostics={
            "events": [
                {
                    "type": "Warning",
                    "reason": "Failed",
                    "message": "Failed to pull image registry.dr-west.internal/shop/checkout:4.12.0: not found",
                    "kind": "Pod",
                    "name": "checkout-6f9c7d-x2x7q",
                    "count": 14,
                    "lastTimestamp": "2026-06-01T02:10:12Z",
                },
                {
                    "type": "Warning",
                    "reason": "BackOff",
                    "message": "Back-off pulling image registry.dr-west.internal/shop/checkout:4.12.0",
                    "kind": "Pod",
                    "name": "checkout-6f9c7d-x2x7q",
                    "count": 41,
                    "lastTimestamp": "2026-06-01T02:10:29Z",
                },
            ],
            "logs": {},
        },
        teardown={
            "status": "kept",
            "keptUntil": "2026-06-02T02:10:31Z",
            "namespaces": ["drill-shop-7k2f"],
            "message": "Kept for inspection because the drill failed; deleted by TTL",
        },
        steps=[
            _step("select-backup", "velero.selectBackup", "2026-06-01T02:00:03Z", "2026-06-01T02:00:04Z"),
            _step("restore", "velero.restore", "2026-06-01T02:00:04Z", "2026-06-01T02:00:24Z"),
            _step(
                "wait-ready",
                "workloads.waitReady",
                "2026-06-01T02:00:24Z",
                "2026-06-01T02:10:24Z",
                phase="Failed",
                error="timed out after 10 m: checkout 0/2 Ready",
            ),
        ],
    )
    drill["restore"]["name"] = "drill-shop-01jz8r7w"
    return drill


def partially_failed_drill() -> dict[str, Any]:
    """Restored with warnings, one object missing, one check failing, RTO over objective, three regressions."""
    drill = passed_drill()
    drill.update(
        run="01JZ8T1C4F7J0M3Q6T9W2Z5B8D",
        result="failed",
        phase="PartiallyFailed",
        finishedAt="2026-06-01T02:34:43Z",
        failure={"step": "verify", "message": "1 of 4 checks failed; 1 expected object is missing"},
        objects={"expected": 18, "found": 17, "missing": ["apps/v1/Deployment drill-shop-7k2f/recommendations"]},
        measurements={
            "rtoSeconds": 2075.0,
            "rpoSeconds": 3600.0,
            "phases": {"restore": 1810.4, "verify": 264.6, "teardown": 3.4},
        },
        objectives={
            "rto": {"objectiveSeconds": 1800, "achievedSeconds": 2075.0, "met": False},
            "rpo": {"objectiveSeconds": 7200, "achievedSeconds": 3600, "met": True},
        },
        levels=[
            {"level": SIX_LEVELS[0], "status": "warn", "detail": "Restore PartiallyFailed: 2 warnings"},
            {"level": SIX_LEVELS[1], "status": "fail", "detail": "17 of 18 expected objects present"},
            {"level": SIX_LEVELS[2], "status": "pass", "detail": "3 workloads Ready in 2 m 11 s"},
            {"level": SIX_LEVELS[3], "status": "fail", "detail": "3 of 4 checks passed"},
            {"level": SIX_LEVELS[4], "status": "fail", "detail": "34 m 35 s of 30 m"},
            {"level": SIX_LEVELS[5], "status": "pass", "detail": "1 h of 2 h"},
        ],
        score=48,
        regressions=[
            {"kind": "check", "detail": "storefront-healthy newly fails (passed in the previous 6 drills)"},
            {"kind": "objects", "detail": "apps/v1/Deployment recommendations is missing (present last time)"},
            {"kind": "rto", "detail": "RTO 34 m 35 s, up from 40 s; over the 30 m objective"},
        ],
    )
    drill["restore"].update(
        name="drill-shop-01jz8t1c",
        phase="PartiallyFailed",
        warnings=2,
        itemsRestored=117,
        completedAt="2026-06-01T02:30:14Z",
        warningMessages=[
            'could not restore, Deployment "recommendations" already exists. Warning: the in-cluster version '
            "is different than the backed-up version",
            "PersistentVolumeClaim data-postgres-0: storage class gp3-east mapped to gp3",
        ],
    )
    drill["steps"] = [
        _step("select-backup", "velero.selectBackup", "2026-06-01T02:00:03Z", "2026-06-01T02:00:04Z"),
        _step("restore", "velero.restore", "2026-06-01T02:00:04Z", "2026-06-01T02:30:14Z", phase="PartiallyFailed"),
        _step("wait-ready", "workloads.waitReady", "2026-06-01T02:30:14Z", "2026-06-01T02:32:25Z"),
        _step("verify", "checks.run", "2026-06-01T02:32:25Z", "2026-06-01T02:34:39Z", phase="PartiallyFailed"),
        _step("teardown", "namespaces.delete", "2026-06-01T02:34:39Z", "2026-06-01T02:34:43Z"),
    ]
    drill["steps"][3]["attempts"] = 3
    drill["steps"][3]["error"] = "check storefront-healthy failed 3 times: HTTP 503"
    drill["diagnostics"] = {
        "events": [
            {
                "type": "Normal",
                "reason": "Started",
                "message": "Started container storefront",
                "kind": "Pod",
                "name": "storefront-0",
                "count": 1,
                "lastTimestamp": "2026-06-01T02:30:41Z",
            },
            {
                "type": "Warning",
                "reason": "Unhealthy",
                "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
                "kind": "Pod",
                "name": "storefront-0",
                "count": 9,
                "lastTimestamp": "2026-06-01T02:34:30Z",
            },
        ],
        "logs": {
            "drill-shop-7k2f/storefront-0": "\n".join(
                [
                    "2026-06-01T02:30:41Z INFO  starting storefront 4.12.0",
                    "2026-06-01T02:30:42Z INFO  connected to postgres at postgres:5432",
                    "2026-06-01T02:30:43Z INFO  listening on :8080",
                    *(
                        f"2026-06-01T02:3{minute}:{second:02d}Z ERROR upstream recommendations unavailable: "
                        "dial tcp: lookup recommendations.drill-shop-7k2f.svc: no such host"
                        for minute in (2, 3, 4)
                        for second in (5, 25, 45)
                    ),
                    "2026-06-01T02:34:31Z WARN  GET /healthz 503 1ms",
                ]
            ),
        },
    }
    drill["checks"][0].update(
        passed=False,
        durationMs=5003.0,
        detail="GET /healthz → 503 \"<script>alert('pwned')</script> upstream recommendations unavailable\"",
    )
    return drill


def _step(
    step_id: str, step_type: str, started: str, finished: str, *, phase: str = "Completed", error: str | None = None
) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": step_type,
        "phase": phase,
        "attempts": 1,
        "startedAt": started,
        "finishedAt": finished,
        "error": error,
    }
