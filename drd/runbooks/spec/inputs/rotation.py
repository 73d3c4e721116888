"""Inputs of the rotation step types: each names the RotationPolicy; the rest comes from the configuration."""

from __future__ import annotations

from pydantic import AwareDatetime

from drd.policy.models.base import Model
from drd.policy.names import Name


class RotationInputs(Model):
    """A rotation step: the policy it rotates."""

    policy: Name
    """The RotationPolicy."""


class VerifyInputs(RotationInputs):
    """Prove the new credential, with validations that happened after it was delivered."""

    delivered_at: AwareDatetime
    """When the credential was delivered (a BackupStorageLocation must have validated since)."""


class OldKeyInputs(RotationInputs):
    """Act on the credential the rotation replaces."""

    old_key_id: str = ""
    """The old IAM access key id (empty for sources without one)."""


class PromoteInputs(RotationInputs):
    """Promote the pending credential with check-and-set on the version read at the start."""

    current_version: int = 0
    """The KV version that was current when the rotation started (0: none yet)."""


class RevokeInputs(OldKeyInputs):
    """Delete the old credential once the grace period after promotion is over."""

    promoted_at: AwareDatetime
    """When the new credential was promoted (the grace period runs from there)."""
