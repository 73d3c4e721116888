"""The daemon's configuration: load, watch for changes, keep the last good set.

A bad file never stops the daemon (design.md): when a reload fails, the last
good :class:`~drd.policy.loader.Config` stays in force and the problems are
kept for ``/readyz``, the ``drd_config_errors`` metric and the log.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from drd.clock import Clock
from drd.errors import PolicyError, Problem
from drd.policy.loader import Config, load_config


@dataclass(frozen=True)
class LoadResult:
    """What the last load attempt found."""

    config: Config | None
    problems: tuple[Problem, ...] = ()
    at: datetime | None = None

    @property
    def errors_by_file(self) -> dict[str, int]:
        return dict(Counter(p.file for p in self.problems))


@dataclass
class ConfigSource:
    """Loads a set of paths and remembers the last good result."""

    paths: Sequence[str]
    clock: Clock
    current: Config | None = None
    loaded_at: datetime | None = None
    last_attempt: LoadResult = field(default_factory=lambda: LoadResult(config=None))
    _fingerprint: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> LoadResult:
        """Load now; on success the new config replaces the current one, on failure the current one stays."""
        with self._lock:
            fingerprint = self.fingerprint()
            now = self.clock.now()
            try:
                config = load_config(self.paths)
            except PolicyError as exc:
                self.last_attempt = LoadResult(config=None, problems=exc.problems, at=now)
            else:
                self.current, self.loaded_at = config, now
                self.last_attempt = LoadResult(config=config, problems=(), at=now)
            self._fingerprint = fingerprint
            return self.last_attempt

    def changed(self) -> bool:
        """Whether any file under the paths changed since the last load (names, sizes, mtimes)."""
        return self.fingerprint() != self._fingerprint

    @property
    def valid(self) -> bool:
        """Whether the last attempt succeeded (a config may still be in force when it did not)."""
        return not self.last_attempt.problems

    def fingerprint(self) -> str:
        """A digest of every YAML file's path, size and modification time."""
        digest = hashlib.sha256()
        for path in sorted(_yaml_files(self.paths)):
            try:
                stat = path.stat()
            except OSError:
                continue
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()


def _yaml_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, names in os.walk(path, followlinks=True):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                files += [Path(root) / n for n in names if n.endswith((".yaml", ".yml")) and not n.startswith(".")]
        else:
            files.append(path)
    return files
