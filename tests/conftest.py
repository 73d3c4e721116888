"""Shared fixtures: one moto S3 server and one real OpenBao dev server per test run, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd import logs
from drd.sandbox.s3 import MotoS3
from drd.sandbox.vault import OpenBaoDevServer

logs.configure(level="WARNING", fmt="console")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoS3]:
    """moto's S3 server on a loopback port for the whole run."""
    with MotoS3() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoS3) -> Iterator[MotoS3]:
    """The moto server, wiped after the test."""
    yield moto_server
    moto_server.reset()


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBaoDevServer]:
    """A real OpenBao dev server (Vault's API) for the whole run; tests use distinct paths."""
    with OpenBaoDevServer() as server:
        yield server


@pytest.fixture
def vault(openbao: OpenBaoDevServer) -> Iterator[OpenBaoDevServer]:
    """The run's OpenBao, unsealed and emptied of KV secrets after the test."""
    yield openbao
    openbao.reset()
