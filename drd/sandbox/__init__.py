"""Sandboxes for drd's tests: emulated and real services (Kubernetes API, S3, Vault) on loopback ports."""
