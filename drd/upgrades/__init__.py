"""Canary-first Kubernetes upgrades: pure pre-flight rules, facts gathered from a cluster, and the plan.

This sitting holds pre-flight and planning only (``drd upgrade plan``); the
per-cluster state machine, providers and metrics come next (docs/upgrades.md).
"""
