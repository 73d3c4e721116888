"""Secret rotation through Vault: create, deliver, verify, promote, deactivate, revoke (see docs/rotation.md)."""
