"""Inputs of the upgrade step types: one cluster of an UpgradePlan moving to the plan's target version.

Each names the UpgradePlan (``plan``) and the cluster (``cluster``); the
implementation reads the target version, drain policy and provider from the
loaded configuration, so an upgrade always runs with the plan as validated.
"""

from __future__ import annotations

from pydantic import AwareDatetime

from drd.policy.models.base import Model
from drd.policy.names import Name
from drd.runbooks.spec.inputs.common import ClusterInputs


class UpgradeInputs(ClusterInputs):
    """An upgrade step: the plan and the cluster it acts on."""

    plan: Name
    """The UpgradePlan."""


class UpgradeVerifyInputs(UpgradeInputs):
    """Prove the cluster healthy on the new version."""

    nodes: bool = False
    """Also require every node's kubelet on the target version (after the node groups rolled)."""


class SoakInputs(Model):
    """Wait until a moment recorded when the stage finished, so a restart never lengthens nor skips the soak."""

    until: AwareDatetime
    """When the soak ends (RFC 3339, with a zone)."""
