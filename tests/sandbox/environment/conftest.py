"""Environment-level tests run on a fast two-region sandbox."""

from tests.sandbox.fixtures import dr, primary, sandbox

__all__ = ["dr", "primary", "sandbox"]
