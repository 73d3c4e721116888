"""Executable runbooks: YAML documents of typed steps, run durably by one engine.

:mod:`drd.runbooks.spec` is the pure part (the format, its step catalogue,
expressions, parameters and lint); the engine that runs them lives beside it.
"""
