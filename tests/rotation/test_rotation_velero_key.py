"""Rotating Velero's cloud credentials: a new IAM access key (moto), Vault, every cluster's Velero Secret.

Aspects covered: the rotation creates a second key, delivers it as the ``[default]`` profile of
``velero/cloud-credentials`` in both clusters, proves it with a real S3 call and by every BackupStorageLocation
turning Available after the change (the sandbox's Velero authenticates keys against IAM, as AWS would), promotes
it in Vault, makes the old key Inactive (its status is checked, not just a call: moto accepts Inactive keys)
and deletes it after the grace period; backups work with the new key.
"""

from __future__ import annotations

from collections.abc import Callable

from drd.clients.iam import IamClient
from drd.clients.kube_resources import VELERO_STORAGE_LOCATIONS
from drd.clients.vault import VaultClient
from drd.daemon.rotation_recorder import rotation_result
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.policy.models.rotation import IamAccessKeySource, RotationPolicy
from drd.rotation.run import start_rotation
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox
from drd.sandbox.s3 import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from drd.sandbox.topology import PRIMARY_BUCKET
from drd.settings import Settings
from drd.store import Store
from tests.rotation.support import a_policy, make_engine, secret_value, settings, store, vault, vaulted
from tests.sandbox.velero.support import eventually
from tests.support.hooks import at_step

__all__ = ["make_engine", "settings", "store", "vault", "vaulted"]


def iam_for(sandbox: Sandbox) -> Callable[[IamAccessKeySource], IamClient]:
    """drd's IAM client on the sandbox's moto, with the sandbox's admin credentials."""

    def build(source: IamAccessKeySource) -> IamClient:
        return IamClient(
            endpoint_url=sandbox.moto.url, access_key_id=DUMMY_ACCESS_KEY, secret_access_key=DUMMY_SECRET_KEY
        )

    return build


def profiles(sandbox: Sandbox) -> dict[str, str]:
    """Each cluster's Velero credentials profile."""
    clusters = ("primary-east", "dr-west")
    return {c: secret_value(sandbox, c, "cloud-credentials", "cloud", namespace="velero") for c in clusters}


def velero_policy(settings: Settings) -> None:
    a_policy(
        settings,
        name="velero-cloud-credentials",
        source={"type": "iamAccessKey", "user": "velero", "bucket": PRIMARY_BUCKET, "prefix": "primary-east"},
        vault={"path": "drd/velero/cloud-credentials"},
        deliver=[
            {
                "clusters": ["primary-east", "dr-west"],
                "namespace": "velero",
                "secret": "cloud-credentials",
                "keys": {"cloud": "awsCredentials"},
            }
        ],
        consumers=[],
        verify=[],
        verifyTimeout="60s",
        gracePeriod="1s",
    )


def test_velero_gets_a_new_key_and_the_old_one_is_deactivated_then_deleted(
    vaulted: Sandbox,
    settings: Settings,
    vault: VaultClient,
    store: Store,
    make_engine: Callable[..., Engine],
) -> None:
    """One key left, the new one, in Vault and both Secrets; every location Available; the old key went Inactive."""
    velero_policy(settings)
    iam = iam_for(vaulted)(IamAccessKeySource(type="iamAccessKey", user="velero"))
    (old,) = [k.id for k in iam.list_access_keys("velero")]
    seen_after_deactivation: list[dict[str, str]] = []

    def look() -> None:
        seen_after_deactivation.append({k.id: k.status for k in iam.list_access_keys("velero")})

    engine = make_engine(iam=iam_for(vaulted), crash=at_step("after-finish", "deactivate", look))
    config = load_config([settings.config.directory])
    record = start_rotation(engine, config, config.of_kind(RotationPolicy)["velero-cloud-credentials"], trigger="t")
    final = engine.execute(record.id)
    assert final.phase is Phase.COMPLETED, final.details.get("failure")

    promoted = vault.read_kv("drd/velero/cloud-credentials").data
    new = promoted["accessKeyId"]
    assert new != old
    assert [k.id for k in iam.list_access_keys("velero")] == [new]
    assert seen_after_deactivation == [{old: "Inactive", new: "Active"}]
    for cluster in ("primary-east", "dr-west"):
        profile = secret_value(vaulted, cluster, "cloud-credentials", "cloud", namespace="velero")
        assert f"aws_access_key_id={new}" in profile
    (verify,) = [s for s in store.steps(record.id) if s.name == "verify"]
    names = {c["name"] for c in verify.outputs["checks"] if c["passed"]}
    assert "s3-access" in names
    assert {"primary-east/BackupStorageLocation/default", "dr-west/BackupStorageLocation/primary-east"} <= names

    def all_available() -> bool:
        return all(
            (location.get("status") or {}).get("phase") == "Available"
            for cluster in ("primary-east", "dr-west")
            for location in vaulted.cluster(cluster)
            .kube.list_objects(VELERO_STORAGE_LOCATIONS, namespace="velero")
            .items
        )

    eventually(all_available, timeout=30)


def test_a_key_left_by_an_attempt_that_died_is_deleted_never_the_key_in_use(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, make_engine: Callable[..., Engine]
) -> None:
    """A second key appears before ``create`` (as if an attempt died before recording it): that one goes, the
    key Velero uses stays until it is deactivated after promotion."""
    velero_policy(settings)
    iam = iam_for(vaulted)(IamAccessKeySource(type="iamAccessKey", user="velero"))
    (in_use,) = [k.id for k in iam.list_access_keys("velero")]
    orphan: list[str] = []
    seen_after_deactivation: list[dict[str, str]] = []

    def leave_an_orphan() -> None:
        orphan.append(iam.create_access_key("velero").id)

    def look() -> None:
        seen_after_deactivation.append({k.id: k.status for k in iam.list_access_keys("velero")})

    def hooks(point: str, step: str) -> None:
        if (point, step) == ("after-finish", "prepare") and not orphan:
            leave_an_orphan()
        if (point, step) == ("after-finish", "deactivate") and not seen_after_deactivation:
            look()

    engine = make_engine(iam=iam_for(vaulted), crash=hooks)
    config = load_config([settings.config.directory])
    record = start_rotation(engine, config, config.of_kind(RotationPolicy)["velero-cloud-credentials"], trigger="t")
    assert engine.execute(record.id).phase is Phase.COMPLETED
    new = vault.read_kv("drd/velero/cloud-credentials").data["accessKeyId"]
    assert seen_after_deactivation == [{in_use: "Inactive", new: "Active"}]
    assert orphan[0] not in seen_after_deactivation[0]


def test_a_first_rotation_that_fails_puts_velero_back_on_the_key_it_used(
    vaulted: Sandbox, settings: Settings, vault: VaultClient, store: Store, make_engine: Callable[..., Engine]
) -> None:
    """Vault held no key yet and verification fails: every Secret holds the original key again, which stays
    Active; the new key is deleted; the rotation counts as rolled back."""
    velero_policy(settings)
    a_policy(
        settings,
        name="velero-cloud-credentials",
        source={"type": "iamAccessKey", "user": "velero"},
        vault={"path": "drd/velero/cloud-credentials"},
        deliver=[
            {
                "clusters": ["primary-east", "dr-west"],
                "namespace": "velero",
                "secret": "cloud-credentials",
                "keys": {"cloud": "awsCredentials"},
            }
        ],
        consumers=[],
        verify=[{"type": "http", "service": "no-such-service", "port": 80, "timeout": "2s"}],
        verifyTimeout="30s",
    )
    iam = iam_for(vaulted)(IamAccessKeySource(type="iamAccessKey", user="velero"))
    (in_use,) = [k.id for k in iam.list_access_keys("velero")]
    before = {
        c: secret_value(vaulted, c, "cloud-credentials", "cloud", namespace="velero")
        for c in ("primary-east", "dr-west")
    }
    engine = make_engine(iam=iam_for(vaulted))
    config = load_config([settings.config.directory])
    record = start_rotation(engine, config, config.of_kind(RotationPolicy)["velero-cloud-credentials"], trigger="t")
    assert engine.execute(record.id).phase is Phase.FAILED
    after = {
        c: secret_value(vaulted, c, "cloud-credentials", "cloud", namespace="velero")
        for c in ("primary-east", "dr-west")
    }
    assert after == before
    assert [(k.id, k.status) for k in iam.list_access_keys("velero")] == [(in_use, "Active")]
    assert rotation_result(store.get_run(record.id), store.steps(record.id)) == "rolled_back"
