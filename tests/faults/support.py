"""The fault matrix's invariants and fault helpers, shared by every workflow module of ``tests/faults/``.

Invariants (docs/fault-matrix.md):

* **honest**: the outcome in the store says what happened (phase and result), and
  **nothing is reported as passed that did not pass** (:func:`assert_honest_drill`,
  :func:`assert_honest_restore`);
* **TTL**: no drill namespace outlives its TTL: every one left has an ``expires-at``, and the
  daemon's sweeper, run at that moment, deletes them all (:func:`assert_drill_namespaces_expire`);
* **secret**: no secret is left without a valid version: Vault's current version is readable and
  every target Secret holds it (:func:`assert_secret_consistent`);
* **healthy**: the next run of the same workflow succeeds once the fault is cleared (each test).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from drd.clients.errors import VaultNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NAMESPACES, SECRETS
from drd.clients.vault import VaultClient
from drd.daemon.drills import sweep_drill_namespaces
from drd.outcomes import Phase
from drd.policy.loader import Config
from drd.runbooks.engine.runner import Interrupt
from drd.runbooks.steps.drill_steps import DRILL_LABEL, EXPIRES
from drd.sandbox.environment import Sandbox
from drd.velero.timefmt import parse_rfc3339

POINTS = ("after-start", "after-effect", "after-finish")
"""The engine's crash points in each step attempt: before its effect, after it, after it was journaled."""


# -- fault windows driven by the engine's step hooks (deterministic: no timers) ---------------------


def kill_at(point: str, step: str) -> Callable[[str, str], None]:
    """A crash hook killing the engine (as ``kill -9`` would) the first time ``point`` of ``step`` is reached."""
    fired: list[bool] = []

    def hook(at: str, step_id: str) -> None:
        if (at, step_id) == (point, step) and not fired:
            fired.append(True)
            raise Interrupt(f"kill -9 at {point} of {step}")

    return hook


def window(step: str, begin: Callable[[], None], end: Callable[[], None], *, attempts: int = 1) -> Callable[..., None]:
    """A hook starting a fault as ``step``'s first attempt starts and ending it as attempt ``attempts + 1`` starts.

    So exactly the first ``attempts`` attempts of ``step`` meet the fault; with ``attempts`` larger than the
    step's retry budget the fault lasts until the run ends (the test clears it afterwards).
    """
    seen = [0]

    def hook(at: str, step_id: str) -> None:
        if (at, step_id) != ("after-start", step):
            return
        seen[0] += 1
        if seen[0] == 1:
            begin()
        elif seen[0] == attempts + 1:
            end()

    return hook


def hooks(*chain: Callable[[str, str], None]) -> Callable[[str, str], None]:
    """Several crash hooks as one."""

    def hook(at: str, step_id: str) -> None:
        for each in chain:
            each(at, step_id)

    return hook


@contextmanager
def cleared(sandbox: Sandbox) -> Iterator[None]:
    """Whatever a test injects is cleared when the block ends: API faults, outages, Velero and Vault faults."""
    try:
        yield
    finally:
        for cluster in sandbox.clusters.values():
            if not cluster.emulator.is_up:
                cluster.emulator.come_up()
            cluster.emulator.clear_faults()
        sandbox.velero_faults.clear()
        sandbox.resume_replication()
        sandbox.set_replication_lag(0.0)
        sandbox.unseal_vault()


# -- invariants ------------------------------------------------------------------------------------------


def assert_honest_drill(evidence: dict[str, Any], final: Phase) -> None:
    """The recorded verdict matches what happened; ``passed`` only with everything proven."""
    assert evidence["result"] in ("passed", "failed", "error"), evidence
    expected = {"passed": "Completed", "failed": "PartiallyFailed", "error": "Failed"}[evidence["result"]]
    assert evidence["phase"] == expected, evidence
    assert final.terminal
    if evidence["result"] == "passed":
        assert final is Phase.COMPLETED
        assert evidence["restore"]["phase"] == "Completed", evidence["restore"]
        assert evidence["checks"], "a drill that passed ran its checks"
        assert all(check["passed"] for check in evidence["checks"]), evidence["checks"]
        assert evidence["objects"]["missing"] == []
        assert all(level["status"] == "pass" for level in evidence["levels"]), evidence["levels"]
        verify = next(s for s in evidence["steps"] if s["id"] == "verify")
        assert verify["phase"] == "Completed", verify
    else:
        assert final is not Phase.COMPLETED
        found = [c for c in evidence["checks"] if not c["passed"]] + [
            level for level in evidence["levels"] if level["status"] != "pass"
        ]
        assert evidence.get("failure") or found, "a drill that did not pass says why"


def assert_honest_restore(evidence: dict[str, Any], final: Phase) -> None:
    """``succeeded`` only when Velero completed the restore and verification passed."""
    assert final.terminal
    expected = {"succeeded": "Completed", "partially_failed": "PartiallyFailed", "failed": "Failed"}
    assert evidence["phase"] == expected[evidence["result"]], evidence
    if evidence["result"] == "succeeded":
        assert evidence["restore"]["phase"] == "Completed", evidence["restore"]
        assert evidence["verification"]["ran"], evidence["verification"]
        assert evidence["verification"]["passed"], evidence["verification"]
        assert all(check["passed"] for check in evidence["verification"]["checks"])
    else:
        assert final is not Phase.COMPLETED or evidence["result"] != "failed"
        assert evidence["restore"]["phase"] != "Completed" or not evidence["verification"]["passed"], (
            "a restore that did not succeed says why"
        )


def drill_namespaces(kube: KubeClient) -> list[dict[str, Any]]:
    """Every drill namespace of a cluster (by drd's drill label)."""
    return kube.list_objects(NAMESPACES, label_selector=DRILL_LABEL).items


class _At:
    """A clock standing at one moment (what the sweeper is given)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        return None


def assert_drill_namespaces_expire(config: Config, kube: KubeClient, connections: Any) -> None:
    """Every drill namespace left has an expiry, and the daemon's sweeper run at the latest one deletes them all."""
    left = drill_namespaces(kube)
    expiries = []
    for ns in left:
        expires = parse_rfc3339((ns["metadata"].get("annotations") or {}).get(EXPIRES))
        assert expires is not None, f"drill namespace {ns['metadata']['name']} has no {EXPIRES}: it would live forever"
        expiries.append(expires)
    moment = max(expiries, default=datetime.now(UTC)) + timedelta(seconds=1)
    outcome = sweep_drill_namespaces(config, connections, clock=_At(moment))
    assert outcome.phase is Phase.COMPLETED, outcome.details
    assert [ns for ns in drill_namespaces(kube) if not ns["metadata"].get("deletionTimestamp")] == []


def secret_values(sandbox: Sandbox, clusters: Iterable[str], name: str, key: str, namespace: str) -> dict[str, Any]:
    """The decoded value of ``key`` in Secret ``name`` per cluster (None where the Secret or key is absent)."""
    values: dict[str, Any] = {}
    for cluster in clusters:
        found = sandbox.cluster(cluster).kube.find(SECRETS, name, namespace=namespace)
        data = (found or {}).get("data") or {}
        values[cluster] = base64.b64decode(data[key]).decode() if key in data else None
    return values


def assert_secret_consistent(
    sandbox: Sandbox,
    vault: VaultClient,
    path: str,
    *,
    clusters: Iterable[str],
    secret: str,
    key: str = "token",
    namespace: str = "shop",
    before: tuple[int, str] | None = None,
) -> tuple[int, str] | None:
    """Vault's current version is readable and every target Secret holds it (or, never promoted, the old one).

    ``before`` is Vault's (version, value) before the rotation (None: the path did not exist). Returns
    Vault's (version, value) now.
    """
    values = secret_values(sandbox, clusters, secret, key, namespace)
    try:
        current = vault.read_kv(path)
    except VaultNotFound:
        assert before is None, f"{path} existed before the rotation and is gone"
        # never promoted and nothing before: no Secret may hold a value Vault does not know
        assert set(values.values()) <= {None}, values
        return None
    now = (current.version, str(current.data["value"]))
    assert before is None or now[0] >= before[0]
    assert set(values.values()) == {now[1]}, f"Vault v{now[0]} is not what every target Secret holds"
    if now[0] == (before or (0, ""))[0]:
        assert now == before, "Vault's current version changed without a new version"
    return now
