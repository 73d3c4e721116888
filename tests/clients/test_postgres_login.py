"""``check_login`` against a private PostgreSQL that authenticates every connection by password.

Aspects: the right password logs in; a wrong password or an unknown user is
permanent PostgresLoginRefused ("login refused for <user>"); a missing database
is PostgresDatabaseMissing; nobody listening is temporary PostgresUnavailable;
the password is never in a message, and the driver's exception (which holds it)
is not chained.
"""

from __future__ import annotations

import secrets

import pytest

from drd.clients.postgres_login import (
    PostgresDatabaseMissing,
    PostgresLoginRefused,
    PostgresUnavailable,
    check_login,
)
from drd.errors import PermanentError, TemporaryError
from tests.support.web import closed_port


@pytest.fixture
def login(private_postgres):
    """A login role with a known password on the private server, dropped afterwards."""
    username, password = f"login_{secrets.token_hex(4)}", secrets.token_hex(16)
    private_postgres.create_login_role(username, password)
    yield username, password
    private_postgres.drop_role(username)


def test_the_right_password_logs_in(private_postgres, login):
    """With the role's password, the check returns quietly."""
    username, password = login
    check_login(private_postgres.host, private_postgres.port, "postgres", username, password)


def test_a_wrong_password_is_permanent_login_refused_without_the_password(private_postgres, login):
    """A wrong password is PostgresLoginRefused naming the user and server, and not the password tried."""
    username, _ = login
    wrong = "wrong-" + secrets.token_hex(8)
    with pytest.raises(PostgresLoginRefused) as error:
        check_login(private_postgres.host, private_postgres.port, "postgres", username, wrong)
    assert isinstance(error.value, PermanentError)
    assert str(error.value) == (
        f'postgresql "{private_postgres.host}:{private_postgres.port}/postgres": login refused for {username}'
    )
    assert error.value.__cause__ is None
    assert error.value.__context__ is None


def test_an_unknown_user_is_login_refused(private_postgres):
    """A user the server does not know is refused the same way (PostgreSQL does not say which it was)."""
    with pytest.raises(PostgresLoginRefused, match="login refused for nobody_here"):
        check_login(private_postgres.host, private_postgres.port, "postgres", "nobody_here", "pw-123456")


def test_a_missing_database_is_permanent_database_missing(private_postgres, login):
    """The right login against a database that does not exist is PostgresDatabaseMissing."""
    username, password = login
    with pytest.raises(PostgresDatabaseMissing, match="the database does not exist") as error:
        check_login(private_postgres.host, private_postgres.port, "no_such_db", username, password)
    assert isinstance(error.value, PermanentError)
    assert password not in str(error.value)


def test_nobody_listening_is_temporary_unavailable():
    """A refused connection is PostgresUnavailable, a TemporaryError, saying why but not the password."""
    password = "pw-" + secrets.token_hex(8)
    with pytest.raises(PostgresUnavailable, match="Connection refused") as error:
        check_login("127.0.0.1", closed_port(), "shop", "shop_app", password)
    assert isinstance(error.value, TemporaryError)
    assert password not in str(error.value)
