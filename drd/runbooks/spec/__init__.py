"""The runbook language: ``kind: Runbook`` documents, validated and linted at load, with ``${{ CEL }}`` expressions.

Pure, like :mod:`drd.policy`: no clients, no store, no clock, no logging.
Entry points:

* :func:`drd.runbooks.spec.loader.load_runbooks`: files in, a
  :class:`~drd.runbooks.spec.loader.RunbookSet` or one located
  :class:`~drd.errors.PolicyError` out;
* :data:`drd.runbooks.spec.catalog.CATALOG`: the step types, their inputs and contracts;
* :func:`drd.runbooks.spec.parameters.bind`: ``-p name=value`` in, typed values out;
* :class:`drd.runbooks.spec.expressions.Template`: render ``${{ }}`` against a
  :class:`~drd.runbooks.spec.expressions.Context`, with
  :class:`~drd.runbooks.spec.unknown.Unknown` for dry runs;
* :func:`drd.runbooks.spec.effective.settings_for`: a step's timeout, attempts and failure handling;
* :func:`drd.runbooks.spec.taint.is_tainted`: whether a rendered value may hold a secret;
* :func:`drd.runbooks.spec.schema.runbook_json_schema`: the JSON Schema for editors.
"""
