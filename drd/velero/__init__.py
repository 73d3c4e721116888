"""Velero's vocabulary, bucket layout and archive formats, as pure functions.

Shared by drd's drivers (which read what Velero wrote: resource lists, results)
and by the sandbox's Velero simulator (which writes them). Nothing here does I/O.
Sections cited (§) refer to ``shared/reference/velero.md``.
"""
