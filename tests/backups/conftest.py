"""Backup workflows run against the fast two-region sandbox, and against a bare cluster without Velero."""

from tests.operations.conftest import bare
from tests.sandbox.fixtures import dr, primary, sandbox

__all__ = ["bare", "dr", "primary", "sandbox"]
