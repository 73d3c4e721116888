"""Adapters to external systems: the only code that imports kubernetes, boto3 or hvac.

Each adapter turns its library's exceptions into drd's typed errors
(:mod:`drd.clients.errors`) so that nothing above ever catches
``ApiException`` or ``botocore.exceptions.ClientError``.
"""
