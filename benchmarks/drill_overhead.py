"""drd's own overhead in a restore drill (target <= 1 s), and how fast its watches see a Restore finish (p50 <= 100 ms).

Run: ``.venv/bin/python benchmarks/drill_overhead.py [--drills 5] [--restore-seconds 1.0] [--ready-seconds 1.0]
[--samples 20] [--in-process] [--profile]``.

The sandbox (two emulated clusters, simulated Velero, workloads and bucket replication, moto S3) runs in a
child process, as a real API server and Velero run outside drd, so this process is drd alone
(``--in-process`` runs it here instead, as the tests do, sharing the GIL). Its simulated Velero spends
``--restore-seconds`` per restore (spread over the items) and its workloads turn Ready ``--ready-seconds``
after each change; everything else uses the sandbox's fast test timings. The sandbox records, with
``time.monotonic()`` (CLOCK_MONOTONIC, one clock for both processes), when each Restore entered each phase
and when each workload in a ``drill-`` namespace changed readiness, from the emulator's own store (its
callbacks run as a write commits).

**Drills.** A Completed ``shop`` backup is made in primary-east, replicated and synced into dr-west. Then,
``--drills`` times (after a warm-up), drd runs the sandbox's own DrillPolicy ``shop-drill`` as
``drd drill run`` does: a fresh :func:`~drd.runbooks.assembly.assemble` (cold clients, as in the CLI),
:func:`~drd.drills.run.start_drill`, ``engine.execute``, :func:`~drd.daemon.drill_recorder.finish_drill`
(the evidence) over a SQLite store. Its wall time runs from ``start_drill`` to the evidence recorded; from
it we subtract what the simulation took on the drill's critical path:

* **Velero's restore**: from the Restore's creation to its terminal phase, as the emulator saw them;
* **readiness**: when drd's ``workloadsReady`` check had to wait, from the last workload's last change to
  not-Ready (drd scaling it down, or Velero creating it, but not before the restore finished) to its Ready.
  drd's work meanwhile (the object comparison, Velero's DownloadRequests) is hidden behind that delay.

What is left is **drd's overhead** (target <= 1 s); the *nominal* figure subtracts the configured delays
instead. The breakdown splits the wall time into submit, each step (the store's step records), the engine
around the steps and the evidence, each as total = simulated + drd, with the time spent in instrumented
functions (waits, DownloadRequests, store transactions, the Lease…) inside it. A drill can lose a whole
second when the sandbox's HTTP server (socketserver's listen backlog of 5) drops a connection from a burst
(the object comparison opens up to 8 at once) and the kernel resends the SYN 1 s later: the line of such a
drill shows the host's listen-queue overflows meanwhile. Medians hide it; read the per-drill lines.

**Detection.** From the Restore reaching ``Completed`` in the emulator to drd's waiter
(:func:`drd.operations.restores.wait_for_restore`, a list then a watch) returning: one sample per drill,
and ``--samples`` more from standalone Restores of the backup's ConfigMaps, each waited for alone (their
simulated restore then takes 0.3 s). Target: p50 <= 100 ms.

``--profile`` runs one more drill under cProfile (the main thread, where the steps run) and prints what it
was blocked on and its top functions. Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing
import pstats
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

TARGET_OVERHEAD_S = 1.0
TARGET_DETECTION_P50_MS = 100.0
POLICY = "shop-drill"
PRIMARY, DR = "primary-east", "dr-west"
VELERO_NS = "velero"
DETECTION_RESTORE_SECONDS = 0.3
TERMINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
WAIT_RESTORE = "wait_for_restore (list + watch)"
WAIT_READY = "wait_until_ready (list + watch)"


# ---------------------------------------------------------------------------------------------- the sandbox process


@dataclass
class Recorder:
    """What the child saw in dr-west's emulator: Restore phases and workload readiness, with monotonic times."""

    restores: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    """Restore name → [(phase, when)], ``created`` first."""
    ready: list[tuple[float, str, str, bool]] = field(default_factory=list)
    """(when, namespace, kind/name, Ready?) at each change of a drill workload's readiness."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_event(self, event: Any) -> None:
        when = time.monotonic()
        kind = event.resource.kind
        if kind == "Restore":
            self._restore(event, when)
        elif kind in ("Deployment", "StatefulSet", "DaemonSet"):
            self._workload(event, when, kind)

    def _restore(self, event: Any, when: float) -> None:
        name = event.object["metadata"]["name"]
        phase = (event.object.get("status") or {}).get("phase") or ""
        with self.lock:
            seen = self.restores.setdefault(name, [])
            if event.type == "ADDED" and not seen:
                seen.append(("created", when))
            if phase and (len(seen) < 2 or seen[-1][0] != phase):
                seen.append((phase, when))

    def _workload(self, event: Any, when: float, kind: str) -> None:
        from drd.operations.workloads import workload_status

        namespace = event.object["metadata"].get("namespace") or ""
        if not namespace.startswith("drill-") or event.type == "DELETED":
            return
        now = workload_status({**event.object, "kind": kind}).is_ready
        before = workload_status({**event.old, "kind": kind}).is_ready if event.old else None
        if now != before:
            with self.lock:
                self.ready.append((when, namespace, f"{kind}/{event.object['metadata']['name']}", now))

    def take(self) -> dict[str, Any]:
        with self.lock:
            taken = {"restores": dict(self.restores), "ready": list(self.ready)}
            self.ready.clear()
            return taken


class SandboxHost:
    """The sandbox with its recorder, answering :meth:`call` (in the child process, or here with ``--in-process``)."""

    def __init__(self, directory: Path, *, restore_seconds: float, ready_seconds: float) -> None:
        from drd.sandbox.environment import Sandbox, SandboxOptions
        from drd.sandbox.topology import default_topology
        from drd.sandbox.workloads import WorkloadTimings

        options = SandboxOptions.fast()
        options.vault = False
        options.topology = default_topology(canary=False)
        options.velero_timings = replace(options.velero_timings, restore_seconds=restore_seconds)
        options.workload_timings = WorkloadTimings(ready_delay_seconds=ready_seconds, bind_delay_seconds=0.05)
        self.sandbox = Sandbox(options)
        self.directory = directory
        self.recorder = Recorder()
        self.paths: dict[str, str] = {}

    def __enter__(self) -> SandboxHost:
        from drd.sandbox.files import write_files

        self.sandbox.start()
        paths = write_files(self.sandbox, self.directory)
        self.paths = {name: str(path) for name, path in paths.items()}
        store = self.sandbox.cluster(DR).emulator.store
        for resource in ("restores.velero.io", "deployments.apps", "statefulsets.apps", "daemonsets.apps"):
            store.subscribe(self.recorder.on_event, resource=resource)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.sandbox.stop()

    def call(self, command: str, *args: Any) -> Any:
        if command == "backup":
            return _replicated_backup(self.sandbox, *args)
        if command == "slowdown":
            self.sandbox.velero_faults.slowdown = float(args[0])
            return None
        if command == "events":
            return self.recorder.take()
        raise ValueError(f"unknown command {command!r}")


def serve_sandbox(conn: Connection, directory: str, restore_seconds: float, ready_seconds: float) -> None:
    """The child: start the sandbox, write its files into ``directory``, then answer commands until ``quit``."""
    from drd import logs

    logs.configure(level="WARNING", fmt="console")
    with SandboxHost(Path(directory), restore_seconds=restore_seconds, ready_seconds=ready_seconds) as host:
        conn.send(host.paths)
        while (request := conn.recv())[0] != "quit":
            conn.send(host.call(*request))
    conn.send("stopped")


def _replicated_backup(sandbox: Any, name: str) -> str:
    """A Completed ``shop`` backup in the primary, as drd's Schedules label them, replicated and synced to DR."""
    from drd.clients.kube_resources import VELERO_BACKUPS
    from drd.operations import waiting

    primary, dr = sandbox.cluster(PRIMARY).kube, sandbox.cluster(DR).kube
    labels = {"drd.dev/policy": "shop", "app.kubernetes.io/managed-by": "drd"}
    body = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "labels": labels},
        "spec": {"includedNamespaces": ["shop"]},
    }
    primary.create(VELERO_BACKUPS, body, namespace=VELERO_NS)
    done = waiting.wait_for(
        primary,
        VELERO_BACKUPS,
        name,
        namespace=VELERO_NS,
        until=lambda b: b if b and (b.get("status") or {}).get("phase") in TERMINAL else None,
        timeout_seconds=60,
        what=f"backup {name}",
    )
    for replicator in sandbox.replicators:
        replicator.replicate_once()
    sandbox.cluster(DR).velero.run_periodic_now()
    waiting.wait_for(
        dr, VELERO_BACKUPS, name, namespace=VELERO_NS, until=lambda b: b, timeout_seconds=60, what=f"{name} synced"
    )
    return str(done["status"]["phase"])


class SandboxProcess:
    """The sandbox in a spawned child process; :meth:`call` sends a command and returns the answer."""

    def __init__(self, directory: Path, *, restore_seconds: float, ready_seconds: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=serve_sandbox, args=(child, str(directory), restore_seconds, ready_seconds), daemon=True
        )
        self.paths: dict[str, str] = {}

    def __enter__(self) -> SandboxProcess:
        self.process.start()
        if not self.conn.poll(120):
            raise SystemExit("the sandbox did not start within 120 s")
        self.paths = self.conn.recv()
        return self

    def __exit__(self, *_exc: object) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.conn.send(("quit",))
            if self.conn.poll(30):
                self.conn.recv()
        self.process.join(30)
        if self.process.is_alive():
            self.process.terminate()

    def call(self, *command: Any) -> Any:
        self.conn.send(command)
        return self.conn.recv()


# ---------------------------------------------------------------------------------------------- instruments


Spans = dict[str, list[tuple[float, float]]]
"""Part of drd → [(start, end)] in ``time.monotonic()`` seconds."""


@contextlib.contextmanager
def instrumented(store: Any) -> Iterator[Spans]:
    """Time drd's waits and parts of a drill by wrapping the functions the steps and the engine call (~1 µs each)."""
    from drd.operations import diagnostics, namespaces, restore_verification, restores, velero_downloads, workloads
    from drd.runbooks.engine import locks, runner
    from drd.runbooks.spec.catalog import StepType
    from drd.runbooks.spec.expressions import Template
    from drd.runbooks.steps import drill_steps

    spans: Spans = {}
    originals: list[tuple[Any, str, Any]] = []
    missing = object()

    def wrap(owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)
        record = spans.setdefault(part, [])

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                record.append((began, time.monotonic()))

        originals.append((owner, name, vars(owner).get(name, missing)))
        setattr(owner, name, timed)

    wrap(restores, "newest_restorable_backup", "find the newest restorable backup")
    wrap(namespaces, "create_isolated_namespace", "namespace, NetworkPolicy, quota, LimitRange")
    wrap(restores, "create_restore", "create the Restore")
    wrap(restores, "wait_for_restore", WAIT_RESTORE)
    wrap(velero_downloads, "backup_resource_list", "backup resource list (DownloadRequest)")
    wrap(velero_downloads, "restore_results", "restore results (DownloadRequest)")
    wrap(restore_verification, "verify_objects", "objects against the resource list")
    wrap(workloads, "wait_until_ready", WAIT_READY)
    wrap(drill_steps, "http_check", "HTTP check")
    wrap(diagnostics, "namespace_events", "namespace events")
    wrap(diagnostics, "pod_logs", "pod logs")
    wrap(namespaces, "delete_namespace", "delete the namespace and wait")
    wrap(locks.RunLocks, "acquire", "target lock acquired (Lease)")
    wrap(locks.RunLocks, "release", "target lock released")
    for name in ("create_run", "start_step", "finish_step", "update_run", "record_event"):
        wrap(store, name, "store writes (SQLite transactions)")
    for name in ("get_run", "steps", "events", "list_runs"):
        wrap(store, name, "store reads")
    wrap(runner.Engine, "_context", "expression context built")
    wrap(Template, "render", "templates rendered (CEL)")
    wrap(StepType, "parse_inputs", "inputs validated (pydantic)")
    try:
        yield spans
    finally:
        for owner, name, original in reversed(originals):
            if original is missing:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen queue was full (Linux), else None.

    A dropped SYN is sent again after 1 s: the sandbox's HTTP servers have socketserver's
    backlog of 5, so a burst of new connections while the child is busy costs a whole second.
    """
    try:
        header, values = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()[:2]]
    except (OSError, ValueError):
        return None
    return int(dict(zip(header, values, strict=True)).get("ListenOverflows", 0))


def clear(spans: Spans) -> None:
    for recorded in spans.values():
        recorded.clear()


# ---------------------------------------------------------------------------------------------- one drill


Interval = tuple[float, float]


def overlap(start: float, end: float, intervals: list[Interval]) -> float:
    """How much of [start, end] the (disjoint) intervals cover."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in intervals)


@dataclass
class Part:
    """A stretch of the drill: its length, and how much of it was the simulation's on the critical path."""

    total: float = 0.0
    simulated: float = 0.0
    intervals: list[Interval] = field(default_factory=list)

    def add(self, start: float, end: float, simulated: list[Interval]) -> None:
        self.total += end - start
        self.simulated += overlap(start, end, simulated)
        self.intervals.append((start, end))

    @property
    def drd(self) -> float:
        return self.total - self.simulated


@dataclass
class DrillFigures:
    """One drill's measurements, in seconds (detections in milliseconds)."""

    result: str
    wall: float
    velero: float
    """Restore created → terminal, in the emulator."""
    readiness: float
    """The simulated readiness delay on the critical path (0 when drd started waiting after it)."""
    detection: float
    """Restore terminal in the emulator → drd's waiter returned."""
    ready_detection: float | None
    """Last workload Ready in the emulator → drd's readiness wait returned (when it had to wait)."""
    waits: float
    """Time drd spent inside its restore and readiness waits."""
    cpu: float
    """This process's CPU time (all threads) over the drill."""
    drift: float
    overflows: int | None
    """Connections the kernel dropped from full listen queues meanwhile (anyone's; None off Linux)."""
    parts: dict[str, Part]
    """submit, each step, the engine around the steps, the evidence: they add up to the wall time."""
    inside: dict[str, dict[str, float]]
    """Part → instrumented function → seconds spent in it during that part."""

    @property
    def overhead(self) -> float:
        return self.wall - self.velero - self.readiness


@dataclass
class World:
    sandbox: SandboxProcess | SandboxHost
    settings: Any
    config: Any
    store: Any
    spans: Spans

    def drill(self, *, profiler: cProfile.Profile | None = None) -> DrillFigures:
        """Run one drill as ``drd drill run`` does, and measure it."""
        from drd.daemon.drill_recorder import finish_drill
        from drd.drills.run import start_drill
        from drd.runbooks.assembly import assemble

        self.sandbox.call("events")  # forget what happened before
        clear(self.spans)
        assembly = assemble(self.settings, self.config, self.store, identity="bench@test", executor="bench")
        policy = self.config.drill_policies[POLICY]
        stamps = Stamps(offset=time.time() - time.monotonic())
        overflows = listen_overflows()
        try:
            if profiler is not None:
                profiler.enable()
            cpu = time.process_time()
            stamps.began = time.monotonic()
            record = start_drill(assembly.engine, self.config, policy, trigger="bench", requested_by="bench@test")
            stamps.submitted = time.monotonic()
            final = assembly.engine.execute(record.id)
            stamps.executed = time.monotonic()
            evidence = finish_drill(self.store, record.id, config=self.config)
            stamps.ended = time.monotonic()
            stamps.cpu = time.process_time() - cpu
            stamps.drift = time.time() - time.monotonic() - stamps.offset
            if overflows is not None and (now := listen_overflows()) is not None:
                stamps.overflows = now - overflows
            if profiler is not None:
                profiler.disable()
        finally:
            assembly.close()
        if not final.phase.terminal:
            raise SystemExit(f"the drill did not finish: {final.phase.value}")
        steps = sorted(self.store.steps(record.id), key=lambda s: s.started_at)
        return figures(record.id, evidence, stamps, steps, self.spans, self.sandbox.call("events"))

    def detections(self, samples: int, backup: str, restore_seconds: float) -> list[float]:
        """Standalone Restores of the backup's ConfigMaps, each waited for alone: milliseconds to detection."""
        from drd.clients.kube import KubeClient
        from drd.operations import restores

        kube = KubeClient.from_kubeconfig(self.sandbox.paths["kubeconfig"], context=DR, cluster=DR)
        self.sandbox.call("slowdown", DETECTION_RESTORE_SECONDS / restore_seconds)
        found: list[float] = []
        try:
            for index in range(samples):
                name = f"bench-detect-{index}"
                manifest = restores.restore_manifest(name, backup=backup, namespace_mapping={"shop": name})
                manifest["spec"]["includedResources"] = ["configmaps"]
                self.sandbox.call("events")
                called = time.monotonic()
                restores.create_restore(kube, manifest, namespace=VELERO_NS)
                restores.wait_for_restore(kube, name, namespace=VELERO_NS, timeout_seconds=60)
                returned = time.monotonic()
                phases = dict(self.sandbox.call("events")["restores"][name])
                restores.delete_restore(kube, name, namespace=VELERO_NS)
                if phases["Completed"] - called < DETECTION_RESTORE_SECONDS / 2:
                    print(f"  {name}: finished before the watch could matter; not a sample")
                    continue
                found.append((returned - phases["Completed"]) * 1000)
        finally:
            self.sandbox.call("slowdown", 1.0)
        return found


@dataclass
class Stamps:
    """When the drill was submitted, executed and recorded (``time.monotonic()``), and the CPU time it took."""

    offset: float
    """``time.time() − time.monotonic()``: turns the store's wall-clock datetimes into monotonic seconds."""
    began: float = 0.0
    submitted: float = 0.0
    executed: float = 0.0
    ended: float = 0.0
    cpu: float = 0.0
    overflows: int | None = None
    drift: float = 0.0
    """How far the wall clock moved against the monotonic one during the drill (it skews the step breakdown)."""


def figures(  # noqa: PLR0917 - one drill's raw measurements, turned into figures once
    run_id: str, evidence: dict[str, Any], stamps: Stamps, steps: list[Any], spans: Spans, seen: dict[str, Any]
) -> DrillFigures:
    """The wall time split into simulated waits on the critical path and drd's share, step by step."""
    from drd.runbooks.engine.runner import step_key

    phases = dict(seen["restores"].get(step_key(run_id, "restore"), []))
    completed = next((phases[p] for p in TERMINAL if p in phases), None)
    if completed is None or "created" not in phases:
        raise SystemExit(f"the drill's Restore was not seen finishing: {phases} ({evidence.get('failure')})")
    simulated: list[Interval] = [(phases["created"], completed)]
    (restore_wait,) = spans[WAIT_RESTORE]
    ready_waits = spans[WAIT_READY]
    ready_detection = None
    for start, end in ready_waits:
        on_path = readiness_on_path(seen["ready"], start, end, completed)
        if on_path is not None:
            simulated.append(on_path)
            ready_detection = (end - on_path[1]) * 1000
    parts: dict[str, Part] = {"submit (start_drill)": Part()}
    parts["submit (start_drill)"].add(stamps.began, stamps.submitted, simulated)
    cursor, around = stamps.submitted, Part()
    for step in steps:
        if step.finished_at is None:
            continue
        a, b = step.started_at.timestamp() - stamps.offset, step.finished_at.timestamp() - stamps.offset
        around.add(cursor, a, simulated)
        parts.setdefault(step.name, Part()).add(a, b, simulated)
        cursor = b
    around.add(cursor, stamps.executed, simulated)
    parts["engine, around the steps"] = around
    parts["evidence (finish_drill)"] = Part()
    parts["evidence (finish_drill)"].add(stamps.executed, stamps.ended, simulated)
    inside = {
        name: {label: sum(overlap(x, y, part.intervals) for x, y in recorded) for label, recorded in spans.items()}
        for name, part in parts.items()
    }
    return DrillFigures(
        result=str(evidence["result"]),
        wall=stamps.ended - stamps.began,
        velero=completed - phases["created"],
        readiness=sum(b - a for a, b in simulated[1:]),
        detection=(restore_wait[1] - completed) * 1000,
        ready_detection=ready_detection,
        waits=sum(b - a for a, b in [restore_wait, *ready_waits]),
        cpu=stamps.cpu,
        overflows=stamps.overflows,
        drift=stamps.drift,
        parts=parts,
        inside=inside,
    )


def readiness_on_path(
    changes: list[tuple[float, str, str, bool]], start: float, end: float, restored: float
) -> Interval | None:
    """The simulated readiness delay the wait [start, end] had to sit out, or None if all was Ready before it.

    The wait ends once the last workload turns Ready; the delay on the critical path runs from that
    workload's last change to not-Ready (restored, or scaled by drd) — but not before the restore
    finished, which is already counted as Velero's — to its Ready. drd's work meanwhile is hidden by it.
    """
    turned = [(t, ns, w) for t, ns, w, ready in changes if ready and t <= end]
    if not turned:
        return None
    last, namespace, workload = max(turned)
    if last <= start:
        return None
    unready = [t for t, ns, w, ready in changes if not ready and (ns, w) == (namespace, workload) and t < last]
    return (max([restored, *unready]), last)


# ---------------------------------------------------------------------------------------------- reporting


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def largest(figures: DrillFigures) -> str:
    """The part of the drill with the most drd time, and the instrumented function that took most of it."""
    name, part = max(figures.parts.items(), key=lambda item: item[1].drd)
    label, spent = max(figures.inside[name].items(), key=lambda item: item[1])
    return f"{name} {part.drd * 1000:.0f} ms (in it: {label} {spent * 1000:.0f} ms)"


def report(runs: list[DrillFigures], args: argparse.Namespace) -> None:
    def m(figure: Callable[[DrillFigures], float]) -> float:
        return median([figure(r) for r in runs])

    results = ", ".join(sorted({r.result for r in runs}))
    print(f"\n=== {len(runs)} drills of {POLICY} (results: {results}) ===")
    for index, r in enumerate(runs, start=1):
        print(
            f"  drill {index}: wall {r.wall:.3f} s = Velero {r.velero:.3f} + readiness {r.readiness:.3f}"
            f" + overhead {r.overhead:.3f} s; outside the waits {r.wall - r.waits:.3f} s; CPU {r.cpu:.3f} s;"
            f" largest drd part: {largest(r)}"
            + (f"; listen queue overflows +{r.overflows}" if r.overflows else "")
            + (f"; wall clock moved {r.drift * 1000:+.1f} ms" if abs(r.drift) > 0.001 else "")
        )
    overhead = m(lambda r: r.overhead)
    nominal = m(lambda r: r.wall - args.restore_seconds - args.ready_seconds)
    print("medians:")
    print(
        f"  wall {m(lambda r: r.wall):.3f} s = Velero's restore {m(lambda r: r.velero):.3f} s"
        f" (configured {args.restore_seconds:.2f} s) + readiness delay on the critical path"
        f" {m(lambda r: r.readiness):.3f} s (configured {args.ready_seconds:.2f} s) + drd's overhead"
    )
    print(
        f"  drd's overhead: {overhead:.3f} s  (target <= {TARGET_OVERHEAD_S:.0f} s:"
        f" ratio {overhead / TARGET_OVERHEAD_S:.2f})"
    )
    print(f"  nominal (wall − configured delays): {nominal:.3f} s  (ratio {nominal / TARGET_OVERHEAD_S:.2f})")
    print(
        f"  drd outside its restore and readiness waits (some of it hidden behind the readiness delay):"
        f" {m(lambda r: r.wall - r.waits):.3f} s; drd's CPU time (all threads): {m(lambda r: r.cpu):.3f} s"
    )
    ready = [r.ready_detection for r in runs if r.ready_detection is not None]
    readiness = f"{median(ready):.1f} ms" if ready else "n/a"
    print(
        f"  detection in the drills: Restore {m(lambda r: r.detection):.1f} ms,"
        f" last workload Ready {readiness} ({len(ready)} of {len(runs)} drills waited for readiness)"
    )

    print("\n--- breakdown of the wall time (medians, ms): total = simulated on the critical path + drd ---")
    print(f"  {'':<58} {'total':>8} {'simul.':>8} {'drd':>8}")
    drd_total = 0.0
    for name in runs[0].parts:
        total = median([r.parts[name].total for r in runs]) * 1000
        sim = median([r.parts[name].simulated for r in runs]) * 1000
        drd = median([r.parts[name].drd for r in runs]) * 1000
        drd_total += drd
        print(f"  {name:<58} {total:8.1f} {sim:8.1f} {drd:8.1f}")
        for label in runs[0].inside[name]:
            spent = median([r.inside[name][label] for r in runs]) * 1000
            if spent >= 0.05:  # what is worth a line
                print(f"      {label:<54} {spent:8.1f}")
    print(f"  {'sum of the medians of the drd column':<58} {'':>8} {'':>8} {drd_total:8.1f}")


def report_detection(drills: list[float], standalone: list[float]) -> None:
    every = drills + standalone
    p50 = median(every)
    print(f"\n=== detection: Restore Completed in the emulator → wait_for_restore returned ({len(every)} samples) ===")
    print(
        f"p50 {p50:.1f} ms  p95 {percentile(every, 0.95):.1f} ms  max {max(every):.1f} ms"
        f"  (target p50 <= {TARGET_DETECTION_P50_MS:.0f} ms: ratio {p50 / TARGET_DETECTION_P50_MS:.2f})"
    )
    print(
        f"  in drills: p50 {median(drills):.1f} ms ({len(drills)});"
        f" standalone restores: p50 {median(standalone):.1f} ms, p95 {percentile(standalone, 0.95):.1f} ms"
        f" ({len(standalone)})"
    )


_BLOCKED = (
    ("socket reads outside the two waits (API answers)", "~", "<method 'recv_into' of '_socket.socket' objects>"),
    ("socket writes (requests sent)", "~", "<method 'sendall' of '_socket.socket' objects>"),
    ("connections opened", "~", "<method 'connect' of '_socket.socket' objects>"),
    ("SQLite COMMIT (WAL write + fsync)", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
    ("SQLite statements", "~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("thread joins and locks (lock heartbeat, pools)", "~", "<method 'acquire' of '_thread.lock' objects>"),
)


def profile(world: World) -> None:
    """One more drill under cProfile (the main thread, where the steps run): what its overhead is made of."""
    profiler = cProfile.Profile()
    figures = world.drill(profiler=profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    table = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    waits = 0.0
    for (path, _line, name), (_cc, _n, _tt, cumulative, _callers) in table.items():
        if name in ("wait_for_restore", "wait_until_ready") and path.startswith(str(Path(__file__).parents[1])):
            waits += cumulative
    print(
        f"\n--- cProfile of one drill: wall {figures.wall:.3f} s, overhead {figures.overhead:.3f} s,"
        f" CPU {figures.cpu:.3f} s (the profiler inflates Python code) ---"
    )
    print(f"  {'inside the restore and readiness waits (watches)':<52} {waits * 1000:8.1f} ms")
    for label, file, function in _BLOCKED:
        seconds = 0.0
        for (path, _line, name), (_cc, _n, own, _cumulative, _callers) in table.items():
            if name == function and path.endswith(file):
                seconds += own
        if label.startswith("socket reads"):
            seconds -= waits  # the waits are (nearly) all socket reads on their watch streams
        print(f"  {label:<52} {seconds * 1000:8.1f} ms")
    for order, count in (("cumulative", 40), ("tottime", 20)):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(order)
        stats.print_stats(r"drd/|sqlite|socket" if order == "cumulative" else "", count)
        print(f"\n--- top functions by {order} ---")
        print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drills", type=int, default=5, help="drills measured, after a warm-up (default: %(default)s)")
    parser.add_argument("--restore-seconds", type=float, default=1.0, help="simulated restore time (%(default)s)")
    parser.add_argument("--ready-seconds", type=float, default=1.0, help="simulated readiness delay (%(default)s)")
    parser.add_argument("--samples", type=int, default=20, help="standalone detection samples (%(default)s)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more drill")
    parser.add_argument(
        "--in-process", action="store_true", help="run the sandbox in this process, as the tests do (shares the GIL)"
    )
    args = parser.parse_args()

    from drd import logs
    from drd.policy.loader import load_config
    from drd.settings import Settings
    from drd.store import open_store

    logs.configure(level="WARNING", fmt="console")
    with tempfile.TemporaryDirectory(prefix="drd-bench-") as tmp:
        started = time.monotonic()
        host = SandboxHost if args.in_process else SandboxProcess
        timings = {"restore_seconds": args.restore_seconds, "ready_seconds": args.ready_seconds}
        with host(Path(tmp) / "sb", **timings) as sandbox:
            where = "in this process" if args.in_process else "its own process"
            print(f"sandbox up in {time.monotonic() - started:.1f} s ({where})")
            base = Settings.from_env({})
            settings = replace(
                base,
                config=replace(base.config, directory=sandbox.paths["config"]),
                kube=replace(base.kube, kubeconfig=sandbox.paths["kubeconfig"]),
                store=replace(base.store, url=str(Path(tmp) / "drd.sqlite")),
            )
            config = load_config([settings.config.directory])
            print(f"backup shop-1: {sandbox.call('backup', 'shop-1')}, replicated and synced into {DR}")
            with open_store(settings.store.url) as store, instrumented(store) as spans:
                world = World(sandbox, settings, config, store, spans)
                warm = world.drill()
                print(f"warm-up drill: {warm.result}, wall {warm.wall:.3f} s")
                runs = [world.drill() for _ in range(args.drills)]
                report(runs, args)
                standalone = world.detections(args.samples, "shop-1", args.restore_seconds)
                report_detection([r.detection for r in runs], standalone)
                if args.profile:
                    profile(world)


if __name__ == "__main__":
    main()
