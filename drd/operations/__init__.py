"""The typed operations every workflow and runbook step is built from (create a backup and wait, …)."""
