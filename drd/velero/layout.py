"""Keys of Velero's object-storage layout (velero.md §2.1).

``P`` is the BSL's ``objectStorage.prefix`` plus ``/`` (or nothing). The
existence of ``P backups/<b>/velero-backup.json`` is what "backup exists" means.
"""

from __future__ import annotations

from dataclasses import dataclass

VALID_TOP_LEVEL_DIRS = frozenset({"backups", "restores", "restic", "metadata", "plugins", "kopia"})


@dataclass(frozen=True, slots=True)
class BucketLayout:
    """Key builder for one storage location's prefix."""

    prefix: str = ""

    @property
    def root(self) -> str:
        """The prefix with a trailing slash, or empty."""
        return f"{self.prefix.strip('/')}/" if self.prefix.strip("/") else ""

    @property
    def backups_dir(self) -> str:
        return f"{self.root}backups/"

    @property
    def restores_dir(self) -> str:
        return f"{self.root}restores/"

    def backup_dir(self, backup: str) -> str:
        return f"{self.backups_dir}{backup}/"

    def backup_metadata(self, backup: str) -> str:
        """``velero-backup.json``: pretty-printed Backup object."""
        return f"{self.backup_dir(backup)}velero-backup.json"

    def backup_contents(self, backup: str) -> str:
        """The resources tarball."""
        return f"{self.backup_dir(backup)}{backup}.tar.gz"

    def backup_log(self, backup: str) -> str:
        return f"{self.backup_dir(backup)}{backup}-logs.gz"

    def backup_resource_list(self, backup: str) -> str:
        return f"{self.backup_dir(backup)}{backup}-resource-list.json.gz"

    def backup_results(self, backup: str) -> str:
        return f"{self.backup_dir(backup)}{backup}-results.gz"

    def backup_volume_snapshots(self, backup: str) -> str:
        return f"{self.backup_dir(backup)}{backup}-volumesnapshots.json.gz"

    def backup_pod_volume_backups(self, backup: str) -> str:
        return f"{self.backup_dir(backup)}{backup}-podvolumebackups.json.gz"

    def backup_item_operations(self, backup: str) -> str:
        return f"{self.backup_dir(backup)}{backup}-itemoperations.json.gz"

    def backup_volume_info(self, backup: str) -> str:
        return f"{self.backup_dir(backup)}{backup}-volumeinfo.json.gz"

    def restore_dir(self, restore: str) -> str:
        return f"{self.restores_dir}{restore}/"

    def restore_log(self, restore: str) -> str:
        return f"{self.restore_dir(restore)}restore-{restore}-logs.gz"

    def restore_results(self, restore: str) -> str:
        return f"{self.restore_dir(restore)}restore-{restore}-results.gz"

    def restore_resource_list(self, restore: str) -> str:
        return f"{self.restore_dir(restore)}restore-{restore}-resource-list.json.gz"

    def restore_item_operations(self, restore: str) -> str:
        return f"{self.restore_dir(restore)}restore-{restore}-itemoperations.json.gz"

    def restore_volume_info(self, restore: str) -> str:
        """Note: no ``restore-`` prefix on this one, as in Velero."""
        return f"{self.restore_dir(restore)}{restore}-volumeinfo.json.gz"

    def backup_name_from_prefix(self, common_prefix: str) -> str | None:
        """``P backups/<b>/`` → ``<b>``; anything else → None."""
        if not common_prefix.startswith(self.backups_dir):
            return None
        name = common_prefix[len(self.backups_dir) :].strip("/")
        return name or None

    def invalid_top_level_dirs(self, common_prefixes: list[str]) -> list[str]:
        """Top-level directories that make a BSL Unavailable (§1.4 IsValid)."""
        names = [p[len(self.root) :].strip("/") for p in common_prefixes if p.startswith(self.root)]
        return sorted(n for n in names if n and n not in VALID_TOP_LEVEL_DIRS)
