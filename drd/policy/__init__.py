"""The policy language: versioned YAML documents loaded into validated, immutable models.

Pure: no I/O beyond reading the files it is given, no clients, no clock.
Entry points are :func:`drd.policy.loader.load_config`,
:func:`drd.policy.schema.json_schema` and the schedule maths in
:mod:`drd.policy.schedule`.
"""
