"""The document kinds: ``Cluster``, ``BackupPolicy``, ``DrillPolicy``, one module each, on a shared base."""
