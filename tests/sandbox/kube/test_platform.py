"""The emulator's platform endpoint (``/sandbox.drd.dev/v1/controlplane``), the stand-in for EKS UpdateClusterVersion.

Aspects: GET reports the version ``/version`` reports; PUT changes what ``/version`` reports, to drd's client and
the official one; a malformed version is 422 and changes nothing; other methods are 405; other paths under the
prefix are 404.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from drd.clients.errors import KubeInvalid, KubeNotFound
from drd.clients.kube import SANDBOX_CONTROL_PLANE, KubeClient
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.kube.platform import CONTROL_PLANE
from tests.sandbox.kube.conftest import raw_request


@pytest.fixture
def kube(emu: KubeEmulator) -> Iterator[KubeClient]:
    """drd's client of ``emu``."""
    kube = KubeClient.from_api_url(emu.url, cluster="sandbox")
    yield kube
    kube.close()


def test_the_client_and_the_emulator_agree_on_the_path() -> None:
    """drd's client (which may not import the sandbox) addresses the path the emulator serves."""
    assert SANDBOX_CONTROL_PLANE == CONTROL_PLANE


def test_get_reports_the_current_version(kube: KubeClient) -> None:
    """Without a version, the endpoint reports what /version reports."""
    assert kube.sandbox_control_plane() == kube.version()["gitVersion"] == "v1.31.4"


def test_put_changes_what_version_reports(kube: KubeClient, api: client.ApiClient) -> None:
    """After a PUT, /version reports the new version to every client."""
    assert kube.sandbox_control_plane("v1.32.0") == "v1.32.0"
    info = client.VersionApi(api).get_code()
    assert (info.git_version, info.major, info.minor) == ("v1.32.0", "1", "32")


def test_a_malformed_version_is_invalid_and_changes_nothing(kube: KubeClient) -> None:
    """A version without the vMAJOR.MINOR.PATCH form is 422 naming the field."""
    with pytest.raises(KubeInvalid, match="gitVersion"):
        kube.sandbox_control_plane("1.32")
    assert kube.version()["gitVersion"] == "v1.31.4"


def test_other_methods_are_not_allowed(emu: KubeEmulator) -> None:
    """Only GET and PUT are served."""
    assert raw_request(emu, "DELETE", CONTROL_PLANE).status == 405


def test_other_paths_under_the_prefix_are_not_found(kube: KubeClient) -> None:
    """The platform serves one resource; anything else under its prefix is 404."""
    with pytest.raises(KubeNotFound):
        kube.get_path("/sandbox.drd.dev/v1/nodegroups")
