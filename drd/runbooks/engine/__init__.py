"""The durable runbook engine: runs, locks, dry runs (see docs/runbooks.md)."""
