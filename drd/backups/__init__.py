"""Backups from policies: Velero Schedules reconciled from BackupPolicies, on-demand backups, retention."""
