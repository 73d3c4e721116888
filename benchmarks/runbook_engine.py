"""Runbook engine overhead per step (target < 5 ms with the SQLite store), the actions' own time left out.

Run: ``.venv/bin/python benchmarks/runbook_engine.py [--steps 200] [--runs 5] [--state URL]
[--lock-seconds 3] [--gc-freeze] [--profile]``.

A runbook of ``--steps`` cheap ``assert`` steps goes through the real :class:`~drd.runbooks.engine.runner.Engine`
(built by :func:`drd.runbooks.assembly.assemble`, as the CLI and the daemon build it) over a SQLite store in a
temporary directory (``--state postgresql://…`` uses that database instead, and leaves its runs there),
``--runs`` times per variant, after one warm-up run:

* ``expressions``: each step's ``with`` reads a parameter, the target, the run and the previous step's status
  (three CEL expressions and an interpolated message), every fourth step has a ``when``; the run holds its
  target lock, a Lease in a Kubernetes API emulator (``python -m drd.sandbox.kube``, in its own process so
  that it does not share this one's GIL), and renews its heartbeat every second (``--lock-seconds 3``: the
  heartbeat period is a third of the lease duration, at least 1 s);
* ``static``: the same without any expression (``that: [true]``): the store and the engine's bookkeeping;
* ``no target``: ``expressions`` without a target: no Lease, no heartbeat thread.

Every action is wrapped to time its ``execute``. The overhead of a step is the gap between the end of the
previous action and the start of its own: the end record of the previous step, the context, rendering and
validating the inputs, the write-ahead record. Printed per variant, as medians over the runs: p50 and p95 of
those gaps; the **mean** overhead per step, ``(execute wall time − Σ action time) / steps``, which also spreads
the run's fixed costs over its steps (loading the run, taking and releasing the lock, the ``started`` and
``finished`` records, the outputs), and its ratio to the target; this process's CPU time per step (every
thread: steadier than wall time on a busy machine, but blind to waiting for the disk); the fixed costs; the
action's own time; store transactions and SQL statements per step.

``--gc-freeze`` calls :func:`gc.freeze` after the warm-up, as a process could once started: the full
collections, which otherwise traverse every object of the imported libraries (tens of milliseconds each),
become cheap. ``--profile`` adds a breakdown of one more ``expressions`` run: the time in the store's calls,
context building, template rendering, input validation and redaction (timed by wrappers), then the SQLite
commit, statements and JSON decoding inside the store, and the top functions, from cProfile (a further run,
whose Python code the profiler inflates).

Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import event

from drd import logs
from drd.outcomes import Phase
from drd.policy.loader import Config, load_config
from drd.runbooks.assembly import Assembly, assemble
from drd.runbooks.engine.actions import Action, ActionResult, PlannedStep, StepCall
from drd.runbooks.spec.loader import load_runbook_text
from drd.runbooks.spec.models import Runbook
from drd.settings import Settings
from drd.store import Store, open_store

TARGET_MS = 5.0
CLUSTER = "bench"


# ---------------------------------------------------------------------------------------------- the runbooks


def runbook(name: str, steps: int, *, expressions: bool, target: bool) -> Runbook:
    """The benchmark's runbook: ``steps`` assert steps, with or without expressions and a target."""
    body: list[dict[str, Any]] = []
    for index in range(steps):
        step: dict[str, Any] = {"id": f"s{index}", "type": "assert"}
        if expressions:
            previous = f"steps['s{index - 1}'].status == 'Succeeded'" if index else "true"
            step["with"] = {
                "that": [
                    "${{ params.threshold > 0 }}",
                    f"${{{{ {previous} }}}}",
                    "${{ size(run.id) > 0 && " + ("target.cluster == params.cluster }}" if target else "true }}"),
                ],
                "message": f"step {index} of ${{{{ params.namespace }}}} failed",
            }
            if index % 4 == 3:
                step["when"] = "${{ params.enabled }}"
        else:
            step["with"] = {"that": [True]}
        body.append(step)
    spec: dict[str, Any] = {
        "description": "Benchmark: cheap steps only.",
        "parameters": {
            "namespace": {"type": "string", "default": "shop"},
            "cluster": {"type": "string", "default": CLUSTER},
            "threshold": {"type": "integer", "default": 3},
            "enabled": {"type": "boolean", "default": True},
        },
        "steps": body,
        "outputs": {"last": f"${{{{ steps['s{steps - 1}'].status }}}}"},
    }
    if target:
        spec["target"] = {"cluster": "${{ params.cluster }}", "namespace": "${{ params.namespace }}"}
    document = {"apiVersion": "drd.dev/v1", "kind": "Runbook", "metadata": {"name": name}, "spec": spec}
    return load_runbook_text(yaml.safe_dump(document, sort_keys=False))


# ---------------------------------------------------------------------------------------------- instruments


@dataclass
class Spans:
    """When each action started and ended (perf_counter seconds)."""

    items: list[tuple[float, float]] = field(default_factory=list)


class TimedAction:
    """An action whose ``execute`` is timed."""

    def __init__(self, inner: Action, spans: Spans) -> None:
        self.inner = inner
        self.spans = spans

    def execute(self, call: StepCall) -> ActionResult:
        began = time.perf_counter()
        try:
            return self.inner.execute(call)
        finally:
            self.spans.items.append((began, time.perf_counter()))

    def plan(self, call: StepCall) -> PlannedStep:
        return self.inner.plan(call)


@dataclass
class Statements:
    """Store transactions (write and read) and SQL statements, counted on the store's SQLAlchemy engine."""

    writes: int = 0
    reads: int = 0
    statements: int = 0

    def reset(self) -> None:
        self.writes = self.reads = self.statements = 0

    def attach(self, store: Store) -> None:
        engine = store._engine  # the benchmark looks inside: the store has no counters of its own

        def on_begin(conn: Any) -> None:
            if conn.get_execution_options().get("drd_write"):
                self.writes += 1
            else:
                self.reads += 1

        def on_statement(*_args: Any) -> None:
            self.statements += 1

        event.listen(engine, "begin", on_begin)
        event.listen(engine, "before_cursor_execute", on_statement)


@dataclass
class RunFigures:
    """One run's measurements, in milliseconds."""

    gaps: list[float]
    """Between one action's end and the next one's start."""
    head: float
    """From ``execute`` to the first action."""
    tail: float
    """From the last action to the return of ``execute``."""
    per_step: float
    """(wall − Σ action) / steps."""
    cpu: float
    """This process's CPU time (every thread) during ``execute``, per step."""
    action: float
    """Mean action time."""
    submit: float
    writes: float
    reads: float
    statements: float


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# ---------------------------------------------------------------------------------------------- the world


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """A Kubernetes API emulator in a child process; yields its URL."""
    with subprocess.Popen(
        [sys.executable, "-m", "drd.sandbox.kube", "--port", "0"], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def world(directory: Path, url: str, state: str | None) -> tuple[Settings, Config]:
    """Settings and a configuration with one inventory cluster, ``bench``, served by the emulator at ``url``."""
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": CLUSTER, "cluster": {"server": url}}],
                "users": [{"name": CLUSTER, "user": {"token": "bench"}}],
                "contexts": [{"name": CLUSTER, "context": {"cluster": CLUSTER, "user": CLUSTER}}],
                "current-context": CLUSTER,
            }
        )
    )
    config_dir = directory / "config"
    config_dir.mkdir()
    cluster = {
        "apiVersion": "drd.dev/v1",
        "kind": "Cluster",
        "metadata": {"name": CLUSTER},
        "spec": {
            "region": "bench-1",
            "role": "primary",
            "provider": "generic",
            "connection": {"kubeconfig": str(kubeconfig), "context": CLUSTER},
            "veleroNamespace": "velero",
        },
    }
    (config_dir / "clusters.yaml").write_text(yaml.safe_dump(cluster))
    base = Settings.from_env({})
    settings = replace(
        base,
        config=replace(base.config, directory=str(config_dir)),
        kube=replace(base.kube, kubeconfig=str(kubeconfig)),
        store=replace(base.store, url=state or str(directory / "drd.sqlite")),
    )
    return settings, load_config([config_dir])


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Bench:
    assembly: Assembly
    store: Store
    spans: Spans
    counts: Statements

    def one_run(self, book: Runbook, *, profiler: cProfile.Profile | None = None) -> RunFigures:
        engine = self.assembly.engine
        began = time.perf_counter()
        run = engine.submit(book, {}, requested_by="bench@test")
        submitted = time.perf_counter()
        self.spans.items.clear()
        self.counts.reset()
        if profiler is not None:
            profiler.enable()
        cpu = time.process_time()
        started = time.perf_counter()
        final = engine.execute(run.id)
        ended = time.perf_counter()
        cpu = time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
        if final.phase is not Phase.COMPLETED:
            raise SystemExit(f"the benchmark run ended {final.phase.value}: {final.details.get('failure')}")
        spans = self.spans.items
        steps = len(spans)
        acting = sum(end - start for start, end in spans)
        gaps = [(spans[i][0] - spans[i - 1][1]) * 1000 for i in range(1, steps)]
        return RunFigures(
            gaps=gaps,
            head=(spans[0][0] - started) * 1000,
            tail=(ended - spans[-1][1]) * 1000,
            per_step=((ended - started) - acting) / steps * 1000,
            cpu=cpu / steps * 1000,
            action=acting / steps * 1000,
            submit=(submitted - began) * 1000,
            writes=self.counts.writes / steps,
            reads=self.counts.reads / steps,
            statements=self.counts.statements / steps,
        )


def report(name: str, runs: list[RunFigures]) -> None:
    """Print one variant's medians over its runs."""

    def median(figure: Callable[[RunFigures], float]) -> float:
        return statistics.median(figure(r) for r in runs)

    p50 = median(lambda r: statistics.median(r.gaps))
    p95 = median(lambda r: percentile(r.gaps, 0.95))
    mean = median(lambda r: r.per_step)
    each = ", ".join(f"{r.per_step:.2f}" for r in runs)
    print(
        f"{name:<12} overhead per step: p50 {p50:5.2f} ms  p95 {p95:5.2f} ms  mean {mean:5.2f} ms"
        f"  (target < {TARGET_MS:.0f} ms: ratio {mean / TARGET_MS:.2f}; each run: {each})"
    )
    print(
        f"{'':<12} CPU {median(lambda r: r.cpu):4.2f} ms/step"
        f" | fixed per run: head {median(lambda r: r.head):5.1f} ms, tail {median(lambda r: r.tail):5.1f} ms,"
        f" submit {median(lambda r: r.submit):5.1f} ms | action {median(lambda r: r.action) * 1000:4.0f} µs/step"
        f" | store per step: {median(lambda r: r.writes):.2f} write + {median(lambda r: r.reads):.2f} read"
        f" transactions, {median(lambda r: r.statements):.1f} statements"
    )


# ---------------------------------------------------------------------------------------------- the profile


@contextlib.contextmanager
def timers(store: Store) -> Iterator[dict[str, list[float]]]:
    """Time the parts of the engine's overhead with wrappers (a microsecond each, unlike a profiler's inflation).

    Yields part → [seconds, calls]; none of the wrapped calls runs inside another.
    """
    from drd.runbooks.engine import runner
    from drd.runbooks.spec.catalog import StepType
    from drd.runbooks.spec.expressions import Template

    totals: dict[str, list[float]] = {}
    originals: list[tuple[Any, str, Any]] = []
    missing = object()

    def wrap(owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)
        record = totals.setdefault(part, [0.0, 0.0])

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record[0] += time.perf_counter() - began
                record[1] += 1

        originals.append((owner, name, vars(owner).get(name, missing)))
        setattr(owner, name, timed)

    for name in ("start_step", "finish_step", "update_run", "record_event"):
        wrap(store, name, f"store write: {name}")
    for name in ("get_run", "steps", "events"):
        wrap(store, name, "store reads")
    wrap(runner.Engine, "_context", "context building")
    wrap(Template, "render", "template rendering (CEL)")
    wrap(StepType, "parse_inputs", "input validation (pydantic)")
    wrap(runner, "_redacted_inputs", "inputs redacted for the store")
    try:
        yield totals
    finally:
        for owner, name, original in reversed(originals):
            if original is missing:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


_STORE_INSIDE = (
    ("SQLite COMMIT (WAL write + fsync)", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
    ("SQLite statements", "~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("JSON decoding (the rows' documents)", "json/decoder.py", "raw_decode"),
)


def breakdown(bench: Bench, book: Runbook, steps: int) -> None:
    """What one run's overhead is made of, per step: timed parts, then SQLite and top functions from cProfile."""
    with timers(bench.store) as totals:
        figures = bench.one_run(book)
    print(f"\n--- where one 'expressions' run's overhead goes ({figures.per_step:.2f} ms per step) ---")
    accounted = 0.0
    for part, (seconds, calls) in totals.items():
        accounted += seconds
        print(f"  {part:<38} {seconds * 1000 / steps:6.3f} ms/step  {calls / steps:5.2f} calls/step")
    rest = figures.per_step - accounted * 1000 / steps
    print(f"  {'the rest (bookkeeping, lock, logs…)':<38} {rest:6.3f} ms/step")

    profiler = cProfile.Profile()
    bench.one_run(book, profiler=profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    table = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    print("\n--- inside the store, from cProfile (C functions: hardly inflated by the profiler) ---")
    for label, file, function in _STORE_INSIDE:
        seconds = calls = 0.0
        for (path, _line, name), (_cc, ncalls, _tt, cumulative, _callers) in table.items():
            if name == function and path.endswith(file):
                seconds += cumulative
                calls += ncalls
        print(f"  {label:<38} {seconds * 1000 / steps:6.3f} ms/step  {calls / steps:5.2f} calls/step")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print("\n--- top functions by own time (cProfile, which inflates Python code) ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="steps per runbook (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs per variant (default: %(default)s)")
    parser.add_argument("--state", help="a store URL (postgresql://…) instead of SQLite in a temporary directory")
    parser.add_argument(
        "--lock-seconds", type=int, default=3, help="target lock duration; heartbeat every third (default: %(default)s)"
    )
    parser.add_argument("--profile", action="store_true", help="a cProfile breakdown of one more run")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after the warm-up: start-up objects never scanned again"
    )
    args = parser.parse_args()
    logs.configure(level="WARNING", fmt="console")

    books = {
        "expressions": runbook("bench-expressions", args.steps, expressions=True, target=True),
        "static": runbook("bench-static", args.steps, expressions=False, target=True),
        "no target": runbook("bench-no-target", args.steps, expressions=True, target=False),
    }
    with tempfile.TemporaryDirectory(prefix="drd-bench-") as tmp, emulator() as url:
        settings, config = world(Path(tmp), url, args.state)
        with open_store(settings.store.url) as store:
            spans = Spans()
            counts = Statements()
            counts.attach(store)
            assembly = assemble(
                settings, config, store, identity="bench@test", executor="bench", lock_seconds=args.lock_seconds
            )
            assembly.engine.actions = _timed(assembly.engine.actions, spans)
            bench = Bench(assembly, store, spans, counts)
            try:
                print(f"store: {store.backend} ({store.database}); {args.steps} steps; {args.runs} runs per variant")
                bench.one_run(books["expressions"])  # warm-up: connections, caches, imports
                if args.gc_freeze:
                    gc.freeze()
                for name, book in books.items():
                    report(name, [bench.one_run(book) for _ in range(args.runs)])
                if args.profile:
                    breakdown(bench, books["expressions"], args.steps)
            finally:
                assembly.close()


def _timed(actions: Mapping[str, Action], spans: Spans) -> dict[str, Action]:
    return {kind: TimedAction(action, spans) for kind, action in actions.items()}


if __name__ == "__main__":
    main()
