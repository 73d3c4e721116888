"""A Velero simulator: one controller per simulated cluster, faithful where drd depends on it.

It talks to its cluster's API server over HTTP the way Velero does (list and
watch its CRs in its namespace, patch status on the main resource because
Velero's CRDs have no status subresource) and writes real tarballs to S3 in
Velero's bucket layout. Each behaviour cites the section of
``shared/reference/velero.md`` it follows; ``drd/sandbox/README.md`` lists
what is deliberately not simulated.
"""
