"""Latency of the Kubernetes API emulator as the official client sees it.

Run: ``.venv/bin/python benchmarks/emulator_latency.py [--requests N]``. Prints the
emulator's start-up time (in a thread and as a subprocess) and p50/p95 of GET,
create, merge patch, list (100 objects) and a watch event's delivery, all over
real HTTP through ``kubernetes.client``. Target: p50 GET <= 2 ms. Figures only;
nothing here asserts.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from kubernetes import client, watch

from drd.sandbox.kube.emulator import KubeEmulator


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * 1000, p95 * 1000


def measure(count: int, call: Callable[[int], object]) -> list[float]:
    """Time ``call(i)`` for i in range(count)."""
    samples = []
    for i in range(count):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
    return samples


def report(name: str, samples: list[float]) -> None:
    """Print one line of figures."""
    p50, p95 = percentiles(samples)
    print(f"{name:<28} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   (n={len(samples)})")


def start_times() -> None:
    """Emulator start in a thread, and subprocess time-to-URL."""
    samples = []
    for _ in range(20):
        started = time.perf_counter()
        emulator = KubeEmulator().start()
        samples.append(time.perf_counter() - started)
        emulator.stop()
    report("start (thread)", samples)
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "drd.sandbox.kube", "--port", "0"], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        process.stdout.readline()
        ready = time.perf_counter() - started
        process.terminate()
        process.wait(timeout=10)
    print(f"{'start (subprocess, to URL)':<28} {ready * 1000:7.1f} ms")


def watch_delivery(emulator: KubeEmulator, core: client.CoreV1Api, count: int) -> list[float]:
    """Time from an in-process create to the client receiving its ADDED event."""
    sent: dict[str, float] = {}
    received: list[float] = []
    done = threading.Event()

    def consume() -> None:
        w = watch.Watch()
        rv = core.list_namespaced_config_map("watched").metadata.resource_version
        for event in w.stream(
            core.list_namespaced_config_map, "watched", resource_version=rv, timeout_seconds=30, _request_timeout=60
        ):
            received.append(time.perf_counter() - sent[event["object"].metadata.name])
            if len(received) == count:
                w.stop()
        done.set()

    emulator.store.create("namespaces", {"metadata": {"name": "watched"}})
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    time.sleep(0.3)
    for i in range(count):
        sent[f"w{i}"] = time.perf_counter()
        emulator.store.create("configmaps", {"metadata": {"name": f"w{i}"}}, namespace="watched")
        time.sleep(0.002)
    done.wait(30)
    consumer.join(5)
    return received


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="requests per operation (default: %(default)s)")
    n = parser.parse_args().requests
    start_times()
    with KubeEmulator() as emulator:
        configuration = client.Configuration()
        configuration.host = emulator.url
        with client.ApiClient(configuration) as api:
            core = client.CoreV1Api(api)
            core.create_namespaced_config_map("default", {"metadata": {"name": "target"}, "data": {"k": "v"}})
            measure(50, lambda i: core.read_namespaced_config_map("target", "default"))  # warm-up
            report("GET configmap", measure(n, lambda i: core.read_namespaced_config_map("target", "default")))
            report(
                "POST configmap",
                measure(n, lambda i: core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})),
            )
            report(
                "PATCH configmap (strategic)",
                measure(n, lambda i: core.patch_namespaced_config_map("target", "default", {"data": {"k": str(i)}})),
            )
            core.create_namespace({"metadata": {"name": "hundred"}})
            for i in range(100):
                core.create_namespaced_config_map("hundred", {"metadata": {"name": f"c{i}"}})
            lists = measure(max(20, n // 10), lambda i: core.list_namespaced_config_map("hundred"))
            report("LIST 100 configmaps", lists)
            report("watch event delivery", watch_delivery(emulator, core, min(n, 200)))


if __name__ == "__main__":
    main()
