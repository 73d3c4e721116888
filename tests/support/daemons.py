"""A drd daemon over a running sandbox, for tests: alone (no election), HTTP on a free port, a webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from drd.daemon.app import Daemon
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from drd.settings import Settings


class Webhook:
    """A local Slack-compatible webhook receiver recording every message."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0/secret"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def daemon_env(sandbox: Sandbox, directory: Path, webhook: Webhook) -> dict[str, str]:
    """The environment of a daemon on the sandbox's files (written into ``directory``)."""
    paths = write_files(sandbox, directory / "sb")
    return {
        "DRD_CONFIG": str(paths["config"]),
        "DRD_STATE": str(directory / "drd.sqlite"),
        "KUBECONFIG": str(paths["kubeconfig"]),
        "DRD_LISTEN": "127.0.0.1:0",
        "DRD_LEADER_ENABLED": "false",
        "DRD_WEBHOOK_URL": webhook.url,
        "DRD_SHUTDOWN_GRACE_SECONDS": "5",
    }


@contextmanager
def running_daemon(env: Mapping[str, str]) -> Iterator[Daemon]:
    """A started daemon running its loop in a thread; shut down on exit."""
    instance = Daemon(Settings.from_env(dict(env)), identity="test-daemon")
    instance.start()
    stop = threading.Event()
    loop = threading.Thread(target=instance.run, args=(stop,), daemon=True)
    loop.start()
    try:
        yield instance
    finally:
        stop.set()
        loop.join(5)
        instance.shutdown()
