"""A pod's ``log`` subresource: plausible container output derived from the pod, as ``text/plain``.

The emulator runs no containers, so a log is made up from what the pod says
about itself: a start line with the image and node, one line per declared
port, and a readiness line once the container is ready. The errors are the
kubelet's, as the apiserver relays them (400 BadRequest): a pod with several
containers needs ``container``, an unknown container is refused, and a
container that has not started has no log yet. ``tailLines`` keeps the last
lines, as ``kubectl logs --tail`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drd.sandbox.kube import errors


def pod_log(pod: Mapping[str, Any], *, container: str | None = None, tail_lines: int | None = None) -> str:
    """The log text of one container of ``pod`` (newline-terminated lines); raises BadRequest like the kubelet."""
    metadata, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    name = metadata["name"]
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    names = [str(c.get("name", "")) for c in containers]
    if container is None:
        if len(names) != 1:
            raise errors.BadRequest(
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
            )
        container = names[0]
    if container not in names:
        raise errors.BadRequest(f"container {container} is not valid for pod {name}")
    declared = containers[names.index(container)]
    state = next((s for s in status.get("containerStatuses") or [] if s.get("name") == container), None)
    running = ((state or {}).get("state") or {}).get("running")
    if not running:
        raise errors.BadRequest(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    started = str(running.get("startedAt") or status.get("startTime") or "")
    lines = [
        f"{started} starting {declared.get('image', '')} as container {container} "
        f"of pod {metadata.get('namespace', '')}/{name} on node {spec.get('nodeName') or 'unknown'}"
    ]
    lines += [
        f"{started} listening on :{port['containerPort']}/{str(port.get('protocol') or 'TCP').lower()}"
        for port in declared.get("ports") or []
        if isinstance(port, Mapping) and "containerPort" in port
    ]
    if state and state.get("ready"):
        lines.append(f"{started} ready to serve requests")
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    return "".join(f"{line}\n" for line in lines)
