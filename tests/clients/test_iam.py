"""drd's IAM adapter against moto's server over real HTTP (real boto3, no stubs)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from drd import redaction
from drd.clients.errors import (
    AccessKeyLimitExceeded,
    CredentialsNotYetValid,
    CredentialsRejected,
    IamNotFound,
)
from drd.clients.iam import IamAccount, NewAccessKey
from drd.clients.objectstore import S3Bucket
from drd.errors import PermanentError, TemporaryError
from drd.sandbox.s3 import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, MotoS3

USER = "velero"
BUCKET = "drd-iam-test"


@pytest.fixture
def iam(moto: MotoS3) -> IamAccount:
    """The adapter on moto with a ``velero`` user allowed to use S3, and a bucket to check against."""
    admin = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=moto.url,
        aws_access_key_id=DUMMY_ACCESS_KEY,
        aws_secret_access_key=DUMMY_SECRET_KEY,
    )
    admin.create_user(UserName=USER)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    admin.put_user_policy(UserName=USER, PolicyName="velero", PolicyDocument=json.dumps(policy))
    S3Bucket(moto.endpoint("us-east-1"), BUCKET).create()
    return moto.iam()


@pytest.fixture
def key(iam: IamAccount) -> NewAccessKey:
    """A key of the ``velero`` user, created before moto enforces authentication."""
    return iam.create_access_key(USER)


@pytest.fixture
def enforced(moto: MotoS3, key: NewAccessKey) -> Iterator[None]:
    """moto checks every request's credentials (for the duration of the test, once ``key`` exists)."""
    moto.enforce_authentication(True)
    try:
        yield
    finally:
        moto.enforce_authentication(False)


def test_create_access_key_returns_an_active_key_listed_for_the_user(iam: IamAccount) -> None:
    """A created key is Active and is the one ListAccessKeys shows."""
    key = iam.create_access_key(USER)
    listed = iam.list_access_keys(USER)
    assert [(k.id, k.status) for k in listed] == [(key.id, "Active")]
    assert listed[0].active
    assert listed[0].created is not None


def test_a_new_keys_secret_shows_nowhere(iam: IamAccount) -> None:
    """repr/str of a new key carry the id, never the secret; the secret is registered for redaction."""
    key = iam.create_access_key(USER)
    secret = key.secret.value
    assert secret not in repr(key)
    assert secret not in str(key)
    assert key.id in str(key)
    assert redaction.redact_text(f"leaked {secret}") == "leaked ***"


def test_a_third_key_is_refused_with_a_permanent_limit_error(iam: IamAccount) -> None:
    """IAM allows two keys per user; the third is a permanent error naming the user."""
    iam.create_access_key(USER)
    iam.create_access_key(USER)
    with pytest.raises(AccessKeyLimitExceeded) as raised:
        iam.create_access_key(USER)
    assert isinstance(raised.value, PermanentError)
    assert USER in str(raised.value)
    assert "two access keys" in str(raised.value)


def test_deactivating_and_reactivating_a_key(iam: IamAccount) -> None:
    """The status change is visible in the listing and can be undone."""
    key = iam.create_access_key(USER)
    iam.set_access_key_status(USER, key.id, active=False)
    assert [k.status for k in iam.list_access_keys(USER)] == ["Inactive"]
    iam.set_access_key_status(USER, key.id, active=True)
    assert [k.status for k in iam.list_access_keys(USER)] == ["Active"]


def test_deleting_a_key_twice_is_idempotent(iam: IamAccount) -> None:
    """The first delete removes the key; the second finds it gone and succeeds."""
    key = iam.create_access_key(USER)
    iam.delete_access_key(USER, key.id)
    iam.delete_access_key(USER, key.id)
    assert iam.list_access_keys(USER) == []


def test_changing_an_unknown_key_is_not_found_naming_the_key(iam: IamAccount) -> None:
    """NoSuchEntity becomes IamNotFound with the key id in the message."""
    with pytest.raises(IamNotFound, match="AKIAUNKNOWN0000000000"):
        iam.set_access_key_status(USER, "AKIAUNKNOWN0000000000", active=False)


def test_access_key_owner(iam: IamAccount) -> None:
    """A key's owner is found by its id; a deleted key has none."""
    key = iam.create_access_key(USER)
    assert iam.access_key_owner(key.id) == USER
    iam.delete_access_key(USER, key.id)
    assert iam.access_key_owner(key.id) is None


@pytest.mark.usefixtures("enforced")
def test_check_access_with_a_good_key(iam: IamAccount, key: NewAccessKey) -> None:
    """STS and an S3 list signed with the key (moto checking every signature) succeed."""
    iam.check_access(key.id, key.secret, bucket=BUCKET, prefix="primary-east/", region="us-east-1")


def test_check_access_with_a_deleted_key_is_temporary(iam: IamAccount, moto: MotoS3, key: NewAccessKey) -> None:
    """An unknown key is CredentialsNotYetValid (IAM propagation): temporary, naming the key, not the secret."""
    iam.delete_access_key(USER, key.id)
    moto.enforce_authentication(True)
    try:
        with pytest.raises(CredentialsNotYetValid) as raised:
            iam.check_access(key.id, key.secret, bucket=BUCKET, region="us-east-1")
    finally:
        moto.enforce_authentication(False)
    assert isinstance(raised.value, TemporaryError)
    assert raised.value.code == "InvalidClientTokenId"
    assert key.id in str(raised.value)
    assert key.secret.value not in str(raised.value)


@pytest.mark.usefixtures("enforced")
def test_check_access_with_a_wrong_secret_is_permanent(iam: IamAccount, key: NewAccessKey) -> None:
    """A wrong secret is CredentialsRejected (SignatureDoesNotMatch): retrying cannot help."""
    with pytest.raises(CredentialsRejected) as raised:
        iam.check_access(key.id, "not-the-secret-of-this-key", bucket=BUCKET, region="us-east-1")
    assert raised.value.code == "SignatureDoesNotMatch"
    assert key.id in str(raised.value)
