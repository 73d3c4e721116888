"""drd keeps Kubernetes clusters recoverable and proves it."""

__version__ = "0.1.0"
