"""An emulated Kubernetes API server for drd's tests and sandboxes (stdlib only).

Start one cluster with :class:`drd.sandbox.kube.emulator.KubeEmulator`; drive
it over HTTP with the official client or kubectl, or in-process through its
:class:`drd.sandbox.kube.store.Store`. See ``drd/sandbox/README.md``.
"""
