"""The rotation step types: prepare, create, deliver, restart, verify, promote, deactivate, revoke (and undo).

The state machine is AWS Secrets Manager's four steps with Vault as the store
(docs/rotation.md): the new credential is created **pending** and kept in a
record drd owns in Vault (``drd/rotations/<policy>`` in the policy's mount),
never in drd's store, a step output or a log; it is delivered and verified
while the old one stays valid; only then is it promoted to the path consumers
read, with check-and-set against the version read at the start. The old one is
deactivated (undoable) at once and deleted after the grace period.

Every step is safe to run again after a crash: the pending record says what
was created (an IAM key whose secret was lost before it was recorded is
deleted and made again), delivery and restarts converge, promotion detects
that it already happened by comparing digests. Steps carry digests and key
ids, never values.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from drd.clients.errors import KubeError, VaultNotFound, VaultSealed
from drd.errors import DrdError, PermanentError, TemporaryError
from drd.operations import credential_delivery, workloads
from drd.operations.checks import http_check
from drd.policy.models.checks import HttpCheck
from drd.policy.models.rotation import (
    CredentialField,
    DatabaseStaticRoleSource,
    GeneratedSource,
    IamAccessKeySource,
    RotationPolicy,
)
from drd.rotation import credentials
from drd.runbooks.engine.actions import Action, ActionResult, PlannedStep, StepCall
from drd.runbooks.engine.environment import Environment
from drd.velero.timefmt import parse_rfc3339, rfc3339

VELERO_DEFAULT_CREDENTIALS = "cloud-credentials"
"""Velero's default credentials Secret, used by locations that name none."""
RUN_FIELD = "drd.run"
"""In the pending record: the rotation run that created it."""
PREVIOUS_FIELD = "drd.previous"
"""In the pending record: what every target Secret held before delivery (JSON), so a rollback can put it back."""
POLL_SECONDS = 2.0


class AccessKeys(Protocol):
    """What rotation needs of IAM (``drd.clients.iam.IamClient``)."""

    def list_access_keys(self, user: str) -> list[Any]: ...
    def create_access_key(self, user: str) -> Any: ...
    def set_access_key_status(self, user: str, key_id: str, *, active: bool) -> None: ...
    def delete_access_key(self, user: str, key_id: str) -> None: ...
    def check_access(self, key_id: str, secret: str, *, bucket: str | None, prefix: str, region: str) -> None: ...


IamFactory = Callable[[IamAccessKeySource], AccessKeys]


def _default_iam(source: IamAccessKeySource) -> AccessKeys:
    from drd.clients.iam import IamClient

    client: AccessKeys = IamClient()
    return client


def rotation_policy(env: Environment, name: str) -> RotationPolicy:
    """The RotationPolicy, or an error listing the known ones."""
    policies = env.config.of_kind(RotationPolicy)
    if name not in policies:
        known = ", ".join(sorted(policies)) or "none"
        raise PermanentError(f"no RotationPolicy {name!r} in the configuration (known: {known})")
    return policies[name]


def pending_path(policy: RotationPolicy) -> str:
    """Where the pending credential of a rotation of ``policy`` is kept (same mount as the current one)."""
    return f"drd/rotations/{policy.name}"


class _Step:
    """Shared plumbing: the policy, Vault, IAM, the pending record."""

    def __init__(self, iam: IamFactory) -> None:
        self._iam = iam

    def policy(self, call: StepCall) -> RotationPolicy:
        i: Any = call.inputs
        return rotation_policy(call.env, i.policy)

    def vault(self, call: StepCall) -> Any:
        vault = call.env.vault()
        health = vault.health()
        if health.sealed:
            raise VaultSealed(
                "sealed: the rotation waits (nothing changes while it is sealed)", system=vault.system, status=503
            )
        return vault

    def iam(self, policy: RotationPolicy) -> AccessKeys:
        assert isinstance(policy.spec.source, IamAccessKeySource)
        return self._iam(policy.spec.source)

    def current(self, vault: Any, policy: RotationPolicy) -> tuple[int, dict[str, str]]:
        """The current credential's version and fields (0 and {} before the first rotation)."""
        try:
            secret = vault.read_kv(policy.spec.vault.path, mount=policy.spec.vault.mount)
        except VaultNotFound:
            return 0, {}
        fields = {k: str(v) for k, v in secret.data.items()}
        credentials.remember(fields)
        return int(secret.version), fields

    def pending(self, vault: Any, policy: RotationPolicy) -> dict[str, str] | None:
        """The pending record (fields and the run that made it), or None."""
        try:
            record = vault.read_kv(pending_path(policy), mount=policy.spec.vault.mount)
        except VaultNotFound:
            return None
        fields = {k: str(v) for k, v in record.data.items()}
        credentials.remember({k: v for k, v in fields.items() if k not in (RUN_FIELD, PREVIOUS_FIELD)})
        if PREVIOUS_FIELD in fields:
            for held in json.loads(fields[PREVIOUS_FIELD]).values():
                credentials.remember({k: v for k, v in held.items() if v})
        return fields

    def mine(self, vault: Any, policy: RotationPolicy, run_id: str) -> dict[str, str]:
        """This run's pending credential (its fields only); PermanentError when there is none."""
        record = self.pending(vault, policy)
        if record is None or record.get(RUN_FIELD) != run_id:
            raise PermanentError(f"rotation {run_id} of {policy.name} has no pending credential in Vault")
        return {k: v for k, v in record.items() if k not in (RUN_FIELD, PREVIOUS_FIELD)}


class Prepare(_Step):
    """Vault unsealed, the current version read, a leftover pending credential discarded, an IAM key slot free."""

    def execute(self, call: StepCall) -> ActionResult:
        policy = self.policy(call)
        vault = self.vault(call)
        version, current = self.current(vault, policy)
        leftover = self.pending(vault, policy)
        if leftover is not None and leftover.get(RUN_FIELD) != call.run_id:
            _undo(self, vault, policy, leftover, call)  # its targets back first, then its key goes
            vault.delete_kv(pending_path(policy), mount=policy.spec.vault.mount)
        old_key = ""
        if isinstance(policy.spec.source, IamAccessKeySource):
            old_key = current.get(CredentialField.ACCESS_KEY_ID.value, "") or self._key_in_use(policy)
            self._free_a_slot(policy, old_key)
        return ActionResult(
            {
                "currentVersion": version,
                "currentDigest": credentials.digest(current) if current else "",
                "oldKeyId": old_key,
            }
        )

    def _key_in_use(self, policy: RotationPolicy) -> str:
        """Before drd's first rotation Vault holds nothing: the user's only active key is the one replaced."""
        assert isinstance(policy.spec.source, IamAccessKeySource)
        active = [k.id for k in self.iam(policy).list_access_keys(policy.spec.source.user) if k.status == "Active"]
        return active[0] if len(active) == 1 else ""

    def _free_a_slot(self, policy: RotationPolicy, current_key: str) -> None:
        source = policy.spec.source
        assert isinstance(source, IamAccessKeySource)
        iam = self.iam(policy)
        keys = iam.list_access_keys(source.user)
        if len(keys) < 2:
            return
        spare = [k for k in keys if k.id != current_key and k.status == "Inactive"]
        if not spare:
            listed = ", ".join(f"{k.id} ({k.status})" for k in keys)
            raise PermanentError(
                f"IAM user {source.user} has two access keys ({listed}) and none is an inactive spare: "
                "a rotation needs a free slot; delete the key that is not in use"
            )
        iam.delete_access_key(source.user, spare[0].id)

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("executed", "checks Vault and reads the current version")


class Create(_Step):
    """The new credential, kept pending in Vault at once (adopted when this step runs again)."""

    def execute(self, call: StepCall) -> ActionResult:
        policy = self.policy(call)
        vault = self.vault(call)
        record = self.pending(vault, policy)
        if record is not None and record.get(RUN_FIELD) == call.run_id:
            made = {k: v for k, v in record.items() if k not in (RUN_FIELD, PREVIOUS_FIELD)}
        else:
            made = self._make(vault, policy)
            try:
                vault.write_kv(
                    pending_path(policy), {**made, RUN_FIELD: call.run_id}, mount=policy.spec.vault.mount, cas=0
                )
            except DrdError:
                self._unmake(policy, made)
                raise
        return ActionResult(
            {
                "pendingDigest": credentials.digest(made),
                "newKeyId": made.get(CredentialField.ACCESS_KEY_ID.value, ""),
            }
        )

    def _make(self, vault: Any, policy: RotationPolicy) -> dict[str, str]:
        source = policy.spec.source
        if isinstance(source, GeneratedSource):
            return credentials.generate(source)
        if isinstance(source, IamAccessKeySource):
            iam = self.iam(policy)
            _, current = self.current(vault, policy)
            keys = iam.list_access_keys(source.user)
            if len(keys) >= 2:  # prepare freed a slot, so the second key was made by an attempt that died before
                # recording it (its secret is lost): the newest key that is not Vault's current one, never the
                # older key still in use (before drd's first rotation Vault holds no current key at all)
                current_id = current.get(CredentialField.ACCESS_KEY_ID.value)
                orphans = [k for k in keys if k.id != current_id]
                newest = max(orphans, key=lambda k: k.created or datetime.min.replace(tzinfo=UTC))
                iam.delete_access_key(source.user, newest.id)
            new = iam.create_access_key(source.user)
            made = {
                CredentialField.ACCESS_KEY_ID.value: new.id,
                CredentialField.SECRET_ACCESS_KEY.value: new.secret.value,
            }
            credentials.remember(made)
            return made
        assert isinstance(source, DatabaseStaticRoleSource)
        vault.rotate_static_role(source.role, mount=source.mount)  # Vault's hard cut-over: the old password dies now
        fresh = vault.static_credentials(source.role, mount=source.mount)
        made = {CredentialField.USERNAME.value: fresh.username, CredentialField.PASSWORD.value: fresh.password}
        credentials.remember(made)
        return made

    def _unmake(self, policy: RotationPolicy, made: Mapping[str, str]) -> None:
        if isinstance(policy.spec.source, IamAccessKeySource):
            with contextlib.suppress(DrdError):
                self.iam(policy).delete_access_key(policy.spec.source.user, made["accessKeyId"])

    def plan(self, call: StepCall) -> PlannedStep:
        policy = self.policy(call)
        return PlannedStep("simulated", f"would create a new {policy.spec.source.type} credential, kept pending")


class Deliver(_Step):
    """The pending credential into every target Secret; a required target that cannot be reached holds it back."""

    def execute(self, call: StepCall) -> ActionResult:
        policy = self.policy(call)
        vault = self.vault(call)
        made = self.mine(vault, policy, call.run_id)
        record = self.pending(vault, policy) or {}
        held = json.loads(record.get(PREVIOUS_FIELD, "{}"))
        fresh = _snapshot_everywhere(call.env, policy, skip=set(held))
        if fresh or PREVIOUS_FIELD not in record:  # what the targets hold before delivery, for a rollback; a target
            # unreachable now is snapshotted on a later attempt (it cannot have been delivered to meanwhile)
            held |= fresh
            vault.write_kv(
                pending_path(policy), {**record, PREVIOUS_FIELD: json.dumps(held)}, mount=policy.spec.vault.mount
            )
        delivered, missing, refused, skipped = _deliver_everywhere(call.env, policy, made)
        if refused:
            raise PermanentError(f"cannot deliver to {'; '.join(refused)}: the rotation rolls back")
        if missing:
            raise TemporaryError(
                f"not delivered to {'; '.join(missing)}: the rotation retries, and nothing is promoted before "
                "every required target has the new credential (the old one stays valid meanwhile)"
            )
        outputs = {"delivered": delivered, "deliveredAt": rfc3339(call.env.clock.now())}
        return ActionResult(outputs | ({"skipped": skipped} if skipped else {}))

    def plan(self, call: StepCall) -> PlannedStep:
        policy = self.policy(call)
        targets = [f"{c}/{d.namespace}/{d.secret}" for d in policy.spec.deliver for c in d.clusters]
        return PlannedStep("simulated", f"would update {len(targets)} Secret(s)", tuple(targets))


def _deliver_everywhere(
    env: Environment, policy: RotationPolicy, credential: Mapping[str, str]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Deliver to every target: (delivered, required ones to retry, required ones refused, optional ones missed)."""
    delivered: list[str] = []
    missing: list[str] = []
    refused: list[str] = []
    skipped: list[str] = []
    for delivery in policy.spec.deliver:
        data = credentials.secret_data(credential, delivery.keys)
        for cluster in delivery.clusters:
            where = f"{cluster}/{delivery.namespace}/{delivery.secret}"
            try:
                credential_delivery.deliver(env.kube(cluster), delivery.namespace, delivery.secret, data)
            except KubeError as exc:
                if not delivery.required:
                    skipped.append(f"{where} ({exc})")
                elif isinstance(exc, TemporaryError):
                    missing.append(f"{where} ({exc})")
                else:  # forbidden, no such namespace: waiting cannot help
                    refused.append(f"{where} ({exc})")
                continue
            delivered.append(where)
    return delivered, missing, refused, skipped


def _snapshot_everywhere(
    env: Environment, policy: RotationPolicy, *, skip: set[str]
) -> dict[str, dict[str, str | None]]:
    """What each target Secret not in ``skip`` holds now for the keys a rotation writes (unreachable: left out)."""
    held: dict[str, dict[str, str | None]] = {}
    for delivery in policy.spec.deliver:
        for cluster in delivery.clusters:
            where = f"{cluster}/{delivery.namespace}/{delivery.secret}"
            if where in skip:
                continue
            with contextlib.suppress(KubeError):
                seen = credential_delivery.snapshot(
                    env.kube(cluster), delivery.namespace, delivery.secret, sorted(delivery.keys)
                )
                credentials.remember({k: v for k, v in seen.items() if v})
                held[where] = seen
    return held


def _restore_everywhere(env: Environment, held: Mapping[str, Mapping[str, str | None]]) -> tuple[list[str], list[str]]:
    """Put every snapshot back: (restored, could not be reached)."""
    restored, missing = [], []
    for where, keys in sorted(held.items()):
        cluster, namespace, name = where.split("/", 2)
        try:
            credential_delivery.restore(env.kube(cluster), namespace, name, keys)
        except KubeError as exc:
            missing.append(f"{where} ({exc})")
            continue
        restored.append(where)
    return restored, missing


class Restart(_Step):
    """Rolling restarts of the consumers (a value unique to this rotation), then every one Ready."""

    def execute(self, call: StepCall) -> ActionResult:
        policy = self.policy(call)
        return ActionResult({"restarted": _restart(call.env, policy, call.run_id, call.timeout_seconds)})

    def plan(self, call: StepCall) -> PlannedStep:
        policy = self.policy(call)
        names = [f"{c}/{w.namespace}/{w.kind}/{w.name}" for w in policy.spec.consumers for c in w.clusters]
        return PlannedStep("simulated", f"would restart {len(names)} workload(s)", tuple(names))


def _restart(env: Environment, policy: RotationPolicy, token: str, timeout: float) -> list[str]:
    restarted = []
    waiting: set[tuple[str, str]] = set()
    for consumer in policy.spec.consumers:
        for cluster in consumer.clusters:
            kube = env.kube(cluster)
            credential_delivery.rollout_restart(
                kube, consumer.kind.value, consumer.name, namespace=consumer.namespace, token=f"{token}-{cluster}"
            )
            restarted.append(f"{cluster}/{consumer.namespace}/{consumer.kind}/{consumer.name}")
            waiting.add((cluster, consumer.namespace))
    for cluster, namespace in sorted(waiting):
        workloads.wait_until_ready(env.kube(cluster), namespace, timeout_seconds=timeout, clock=env.clock)
    return restarted


class Verify(_Step):
    """The new credential proven: it works (S3 call, login), it is in use (BSLs validated), the checks pass."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        policy = self.policy(call)
        made = self.mine(self.vault(call), policy, call.run_id)
        clock = call.env.clock
        deadline = clock.monotonic() + min(call.timeout_seconds, policy.spec.verify_timeout.total_seconds())
        checks: list[dict[str, Any]] = []
        try:
            checks += self._source(call.env, policy, made, i.delivered_at, deadline)
            checks += _policy_checks(call.env, policy)
        except PermanentError as exc:
            checks.append({"name": "verification", "passed": False, "message": str(exc)})
        failed = [c for c in checks if not c["passed"]]
        outputs = {"checks": checks, "verifiedAt": rfc3339(clock.now())}
        if failed:
            listed = "; ".join(f"{c['name']}: {c['message']}" for c in failed)
            return ActionResult(outputs, failure=f"the new credential is not proven: {listed}")
        return ActionResult(outputs)

    def _source(
        self, env: Environment, policy: RotationPolicy, made: Mapping[str, str], delivered: datetime, deadline: float
    ) -> list[dict[str, Any]]:
        source = policy.spec.source
        if isinstance(source, IamAccessKeySource):
            iam = self.iam(policy)
            region = _region(env, policy)
            _until(
                env,
                deadline,
                lambda: iam.check_access(
                    made["accessKeyId"],
                    made["secretAccessKey"],
                    bucket=source.bucket,
                    prefix=source.prefix,
                    region=region,
                ),
                what=f"access key {made['accessKeyId']} to be accepted",
            )
            found = [{"name": "s3-access", "passed": True, "message": f"key {made['accessKeyId']} accepted"}]
            return found + _locations_validated(env, policy, delivered, deadline)
        if isinstance(source, DatabaseStaticRoleSource):
            from drd.clients.postgres_login import check_login

            login = source.login
            _until(
                env,
                deadline,
                lambda: check_login(login.host, login.port, login.database, made["username"], made["password"]),
                what=f"a login as {made['username']}",
            )
            return [{"name": "database-login", "passed": True, "message": f"logged in as {made['username']}"}]
        return []

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("not executed", "would prove the new credential and run the policy's checks")


def _region(env: Environment, policy: RotationPolicy) -> str:
    first = policy.spec.deliver[0].clusters[0]
    return env.cluster(first).spec.region


def _until(env: Environment, deadline: float, attempt: Callable[[], object], *, what: str) -> None:
    """Call ``attempt`` until it returns; temporary errors (IAM propagation, a restarting server) are retried."""
    while True:
        try:
            attempt()
        except TemporaryError as exc:
            if env.clock.monotonic() >= deadline:
                raise PermanentError(f"gave up waiting for {what}: {exc}") from exc
            env.clock.sleep(POLL_SECONDS)
        else:
            return


def _locations_validated(
    env: Environment, policy: RotationPolicy, delivered: datetime, deadline: float
) -> list[dict[str, Any]]:
    """Every BackupStorageLocation reading a delivered Secret is Available, validated after the delivery."""
    from drd.clients.kube_resources import VELERO_STORAGE_LOCATIONS

    results = []
    for delivery in policy.spec.deliver:
        for cluster in delivery.clusters:
            if delivery.namespace != env.velero_namespace(cluster):
                continue
            kube = env.kube(cluster)
            for location in kube.list_objects(VELERO_STORAGE_LOCATIONS, namespace=delivery.namespace).items:
                credential = (location.get("spec") or {}).get("credential") or {}
                uses = credential.get("name") == delivery.secret or (
                    not credential and delivery.secret == VELERO_DEFAULT_CREDENTIALS
                )
                if not uses:
                    continue
                name = location["metadata"]["name"]
                where = (cluster, delivery.namespace, name)
                results.append(_validated(env, kube, where, delivered=delivered, deadline=deadline))
    return results


def _validated(
    env: Environment, kube: Any, where: tuple[str, str, str], *, delivered: datetime, deadline: float
) -> dict[str, Any]:
    from drd.clients.kube_resources import VELERO_STORAGE_LOCATIONS

    cluster, namespace, name = where
    label = f"{cluster}/BackupStorageLocation/{name}"
    while True:
        status = kube.get(VELERO_STORAGE_LOCATIONS, name, namespace=namespace).get("status") or {}
        validated = parse_rfc3339(status.get("lastValidationTime"))
        if validated is not None and validated > delivered:
            if status.get("phase") == "Available":
                return {"name": label, "passed": True, "message": f"Available, validated {rfc3339(validated)}"}
            return {"name": label, "passed": False, "message": f"{status.get('phase')}: {status.get('message', '')}"}
        if env.clock.monotonic() >= deadline:
            return {"name": label, "passed": False, "message": "not validated since the new key was delivered"}
        env.clock.sleep(POLL_SECONDS)


def _policy_checks(env: Environment, policy: RotationPolicy) -> list[dict[str, Any]]:
    results = []
    for delivery in policy.spec.deliver:
        if not delivery.required:
            continue
        for cluster in delivery.clusters:
            kube = env.kube(cluster)
            for index, check in enumerate(policy.spec.verify):
                name = f"{cluster}/{check.name or f'{check.type}-{index + 1}'}"
                if isinstance(check, HttpCheck):
                    result = http_check(
                        kube=kube,
                        namespace=check.namespace or delivery.namespace,
                        service=check.service,
                        port=check.port,
                        path=check.path,
                        scheme=check.scheme,
                        expect_status=check.expect_status,
                        contains=check.body_contains,
                        verify_tls=False,
                        timeout=check.timeout.total_seconds(),
                        label=name,
                    )
                    results.append({"name": name, "passed": result.passed, "message": result.detail})
                else:
                    namespace = check.namespace or delivery.namespace
                    try:
                        workloads.wait_until_ready(kube, namespace, timeout_seconds=check.timeout.total_seconds())
                        results.append({"name": name, "passed": True, "message": f"workloads in {namespace} Ready"})
                    except DrdError as exc:
                        results.append({"name": name, "passed": False, "message": str(exc)})
    return results


class Promote(_Step):
    """The pending credential becomes Vault's current version (check-and-set); labels go to custom metadata."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        policy = self.policy(call)
        vault = self.vault(call)
        made = self.mine(vault, policy, call.run_id)
        location = policy.spec.vault
        from drd.clients.vault import VaultCasMismatch

        try:
            version = vault.write_kv(location.path, made, mount=location.mount, cas=i.current_version)
        except VaultCasMismatch as exc:
            now, current = self.current(vault, policy)
            if credentials.digest(current) != credentials.digest(made):
                raise PermanentError(
                    f"{location.mount}/{location.path} changed during the rotation (now version {now}, the rotation "
                    f"started at {i.current_version}): nothing promoted; an operator decides (the new credential "
                    "stays pending and delivered, the old one valid)"
                ) from exc
            version = now  # promoted by an earlier attempt of this step
        promoted = call.env.clock.now()
        vault.set_kv_custom_metadata(
            location.path,
            {
                "drd/current-version": str(version),
                "drd/previous-version": str(i.current_version),
                "drd/rotated-at": rfc3339(promoted),
                "drd/rotation-run": call.run_id,
            },
            mount=location.mount,
        )
        return ActionResult({"version": version, "previousVersion": i.current_version, "promotedAt": rfc3339(promoted)})

    def plan(self, call: StepCall) -> PlannedStep:
        policy = self.policy(call)
        return PlannedStep("not executed", f"would write {policy.spec.vault.mount}/{policy.spec.vault.path} (CAS)")


class Deactivate(_Step):
    """The old credential made inactive where that can be undone (an IAM key); nothing for other sources."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        policy = self.policy(call)
        source = policy.spec.source
        if not isinstance(source, IamAccessKeySource) or not i.old_key_id:
            return ActionResult({"deactivated": ""})
        self.iam(policy).set_access_key_status(source.user, i.old_key_id, active=False)
        return ActionResult({"deactivated": i.old_key_id})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("not executed", "would deactivate the old IAM key (undoable)")


class Revoke(_Step):
    """After the grace period, the old credential deleted (never one that is current or active again)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        policy = self.policy(call)
        until = i.promoted_at + policy.spec.grace_period
        clock = call.env.clock
        while (left := (until - clock.now()).total_seconds()) > 0:
            clock.sleep(min(left, 60.0))
        source = policy.spec.source
        if not isinstance(source, IamAccessKeySource) or not i.old_key_id:
            return ActionResult({"revoked": ""})
        _, current = self.current(self.vault(call), policy)
        if current.get(CredentialField.ACCESS_KEY_ID.value) == i.old_key_id:
            raise PermanentError(f"old key {i.old_key_id} is Vault's current key again: not deleted")
        iam = self.iam(policy)
        status = {k.id: k.status for k in iam.list_access_keys(source.user)}
        if status.get(i.old_key_id) == "Active":
            raise PermanentError(f"old key {i.old_key_id} was made Active again since the rotation: not deleted")
        if i.old_key_id in status:
            iam.delete_access_key(source.user, i.old_key_id)
        return ActionResult({"revoked": i.old_key_id})

    def plan(self, call: StepCall) -> PlannedStep:
        policy = self.policy(call)
        return PlannedStep("not executed", f"would delete the old credential after {policy.spec.grace_period}")


class Rollback(_Step):
    """Before promotion: every target Secret back to what it held before (consumers restarted), the new one
    discarded. A database static role cannot go back (Vault already changed the password): nothing is restored."""

    def execute(self, call: StepCall) -> ActionResult:
        policy = self.policy(call)
        vault = self.vault(call)
        record = self.pending(vault, policy)
        mine = record is not None and record.get(RUN_FIELD) == call.run_id
        restored, restorable = _undo(self, vault, policy, record if mine else None, call)
        if mine:
            vault.delete_kv(pending_path(policy), mount=policy.spec.vault.mount)
        return ActionResult({"restored": restored, "restorable": restorable})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("not executed", "would restore the old credential everywhere")


def _undo(
    step: _Step, vault: Any, policy: RotationPolicy, record: Mapping[str, str] | None, call: StepCall
) -> tuple[list[str], bool]:
    """Restore the targets from the record's snapshot and delete its new IAM key; (restored, restorable)."""
    env = call.env
    if isinstance(policy.spec.source, DatabaseStaticRoleSource):
        return [], False
    restored: list[str] = []
    held = json.loads(record[PREVIOUS_FIELD]) if record and PREVIOUS_FIELD in record else {}
    if held:
        restored, missing = _restore_everywhere(env, held)
        if missing:
            raise TemporaryError(f"could not put the old credential back in {'; '.join(missing)}")
        _restart(env, policy, f"{call.run_id}-rollback", call.timeout_seconds)
    made = {k: v for k, v in (record or {}).items() if k not in (RUN_FIELD, PREVIOUS_FIELD)}
    if made and isinstance(policy.spec.source, IamAccessKeySource):
        _, current = step.current(vault, policy)
        key = made.get(CredentialField.ACCESS_KEY_ID.value, "")
        if key and key != current.get(CredentialField.ACCESS_KEY_ID.value):
            step.iam(policy).delete_access_key(policy.spec.source.user, key)
    return restored, True


class Cleanup(_Step):
    """This run's pending record removed from Vault (promoted or rolled back, it is not needed any more)."""

    def execute(self, call: StepCall) -> ActionResult:
        policy = self.policy(call)
        vault = self.vault(call)
        record = self.pending(vault, policy)
        if record is None or record.get(RUN_FIELD) != call.run_id:
            return ActionResult({"removed": False})
        vault.delete_kv(pending_path(policy), mount=policy.spec.vault.mount)
        return ActionResult({"removed": True})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("not executed", "would remove the pending record")


def rotation_actions(iam: IamFactory | None = None) -> Mapping[str, Action]:
    """Step type name → implementation, for :func:`drd.runbooks.assembly.assemble`'s ``extra_actions``."""
    factory = iam or _default_iam
    return {
        "rotate.prepare": Prepare(factory),
        "rotate.create": Create(factory),
        "rotate.deliver": Deliver(factory),
        "rotate.restart": Restart(factory),
        "rotate.verify": Verify(factory),
        "rotate.promote": Promote(factory),
        "rotate.deactivate": Deactivate(factory),
        "rotate.revoke": Revoke(factory),
        "rotate.rollback": Rollback(factory),
        "rotate.cleanup": Cleanup(factory),
    }
